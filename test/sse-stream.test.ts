import { request as httpRequest, Agent } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Herald } from '../src/main.js';
import { publish, SseProbe, startTestHerald, waitUntil } from './helpers.js';

let herald: Herald | undefined;
const probes: SseProbe[] = [];
function probe(path: string, headers?: Record<string, string>): SseProbe {
  const p = new SseProbe(herald!.httpPort, path, headers);
  probes.push(p);
  return p;
}
afterEach(async () => {
  for (const p of probes.splice(0)) p.close();
  await herald?.close();
  herald = undefined;
});

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('sse stream', () => {
  it('sse - answers with an event-stream head, a jittered retry per connection and live events', async () => {
    herald = await startTestHerald({ retryMs: 1000, retryJitterMs: 1000 });
    const ps = Array.from({ length: 20 }, () => probe('/v1/events?topic=a'));
    await waitUntil(() => ps.every((p) => p.retry !== undefined));
    expect(ps[0]!.status).toBe(200);
    expect(ps[0]!.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(ps[0]!.headers.get('cache-control')).toContain('no-cache');
    const retries = ps.map((p) => p.retry!);
    for (const r of retries) expect(r).toBeGreaterThanOrEqual(1000), expect(r).toBeLessThanOrEqual(2000);
    // Spread, not one value: a mass reconnect does not come back at one instant.
    expect(new Set(retries).size).toBeGreaterThan(5);
    await publish(herald, { topic: 'a', type: 'alert', data: 'line1\nline2\r\nline3' });
    await Promise.all(ps.map((p) => p.waitForEvents(1)));
    expect(ps[3]!.events[0]).toMatchObject({ event: 'alert', data: 'line1\nline2\nline3' });
  });

  it('sse - heartbeats come from one timer for all connections, not a timer each', async () => {
    herald = await startTestHerald({ heartbeatMs: 200 });
    const first = probe('/v1/events?topic=hb');
    await first.waitForStatus();
    const before = timers();
    const ps = Array.from({ length: 50 }, () => probe('/v1/events?topic=hb'));
    await waitUntil(() => ps.every((p) => p.status === 200));
    // A timer per connection would add 50; unrelated timers (fetch keep-alive) come and go.
    expect(timers()).toBeLessThan(before + 5);
    // Every idle connection gets a heartbeat comment within about one interval.
    await waitUntil(() => ps.every((p) => p.comments.filter((c) => c === '').length >= 2), 2000, 'two heartbeats each');
    expect(timers()).toBeLessThan(before + 5);
  });

  it('sse - a busy stream is not sent heartbeats it does not need', async () => {
    herald = await startTestHerald({ heartbeatMs: 300 });
    const p = probe('/v1/events?topic=busy');
    await p.waitForStatus();
    for (let i = 0; i < 20; i++) {
      await publish(herald, { topic: 'busy', data: String(i) });
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(p.comments.filter((c) => c === '').length).toBeLessThanOrEqual(1);
  });

  it('sse - a slow consumer is closed at its buffer bound, others are unharmed, and it resumes without loss', { timeout: 60_000 }, async () => {
    herald = await startTestHerald({ maxConnectionBufferedBytes: 64 * 1024, maxEventBytes: 16 * 1024, historyMaxEvents: 10_000 });
    const slow = probe('/v1/events?topic=flood');
    const fast = probe('/v1/events?topic=flood');
    await slow.waitForStatus();
    await fast.waitForStatus();
    slow.socket.pause();
    // Loopback socket buffers absorb megabytes before Node buffers anything,
    // so flood in-process (the subject here is the SSE side, not ingest).
    const payload = 'x'.repeat(8 * 1024);
    let n = 0;
    while (herald.sse.stats().shed === 0 && n < 2000) {
      herald.hub.publish({ topic: 'flood', data: Buffer.from(`${n++} ${payload}`) });
      await new Promise((r) => setImmediate(r));
    }
    expect(herald.sse.stats().shed).toBe(1);
    // The slow client reads on: what reached it before the close, then the end.
    slow.socket.resume();
    await slow.waitForEnd();
    for (let i = 0; i < 5; i++) herald.hub.publish({ topic: 'flood', data: Buffer.from(`${n++} after`) });
    await fast.waitForEvents(n, 20_000);
    expect(fast.events.length).toBe(n);

    // The slow client resumes from the last id it actually read and gets the rest.
    const resumed = probe('/v1/events?topic=flood', { 'Last-Event-ID': slow.lastId() ?? '' });
    await resumed.waitForEvents(n - slow.events.length, 20_000);
    const all = [...slow.data(), ...resumed.data()].map((d) => Number(d.split(' ')[0]));
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(resumed.resets()).toEqual([]);
  });

  it('sse - over maxConnections a new subscriber gets 503 with Retry-After and live streams go on', async () => {
    herald = await startTestHerald({ maxConnections: 3, retryAfterSeconds: 7 });
    const live = [probe('/v1/events?topic=a'), probe('/v1/events?topic=a'), probe('/v1/events?topic=a')];
    await waitUntil(() => live.every((p) => p.status === 200));
    const refused = probe('/v1/events?topic=a');
    await refused.waitForEnd();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('7');
    expect(JSON.parse(refused.body).error.code).toBe('HERALD_ERR_SUBSCRIBE_SERVER_FULL');
    await publish(herald, { topic: 'a', data: 'still here' });
    await Promise.all(live.map((p) => p.waitForEvents(1)));
    live[0]!.close();
    await waitUntil(() => herald!.sse.stats().connections === 2);
    const later = probe('/v1/events?topic=a');
    await later.waitForStatus();
    expect(later.status).toBe(200);
  });

  it('sse - one client over maxClientConnections gets 429 while another client still gets in', async () => {
    herald = await startTestHerald({ maxClientConnections: 2, clientAddressHeader: 'x-forwarded-for' });
    const mine = [probe('/v1/events?topic=a', { 'X-Forwarded-For': '10.0.0.1' }), probe('/v1/events?topic=a', { 'X-Forwarded-For': '10.0.0.1, 10.9.9.9' })];
    await waitUntil(() => mine.every((p) => p.status === 200));
    const third = probe('/v1/events?topic=a', { 'X-Forwarded-For': '10.0.0.1' });
    const other = probe('/v1/events?topic=a', { 'X-Forwarded-For': '10.0.0.2' });
    await third.waitForEnd();
    await other.waitForStatus();
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBeDefined();
    expect(JSON.parse(third.body).error.code).toBe('HERALD_ERR_SUBSCRIBE_CLIENT_LIMIT');
    expect(other.status).toBe(200);
  });

  it('sse - over maxBufferedBytes new subscribers are refused with 503 until the backlog clears', { timeout: 30_000 }, async () => {
    herald = await startTestHerald({ maxBufferedBytes: 64 * 1024, maxConnectionBufferedBytes: 64 * 1024 * 1024, heartbeatMs: 100 });
    const stuck = probe('/v1/events?topic=big');
    await stuck.waitForStatus();
    stuck.socket.pause();
    const payload = Buffer.from('y'.repeat(32 * 1024));
    for (let i = 0; i < 2000 && herald.sse.stats().bufferedBytes < 64 * 1024; i++) {
      herald.hub.publish({ topic: 'big', data: payload });
      await new Promise((r) => setTimeout(r, 1));
    }
    await waitUntil(() => herald!.sse.stats().bufferedBytes >= 64 * 1024, 5000, 'backlog over the bound');
    const refused = probe('/v1/events?topic=big');
    await refused.waitForEnd();
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body).error.code).toBe('HERALD_ERR_SUBSCRIBE_SERVER_FULL');
    stuck.close();
    await waitUntil(() => herald!.sse.stats().bufferedBytes === 0, 5000, 'backlog cleared');
    const ok = probe('/v1/events?topic=big');
    await ok.waitForStatus();
    expect(ok.status).toBe(200);
  });

  it('sse - filters by minimum severity and labels, and filtered events still advance the cursor', async () => {
    herald = await startTestHerald({ historyMaxEvents: 5 });
    const f = probe('/v1/events?topic=t&minSeverity=warning&label=region:eu');
    await f.waitForStatus();
    await publish(herald, { topic: 't', data: 'info-eu', severity: 'info', labels: { region: 'eu' } });
    await publish(herald, { topic: 't', data: 'warn-eu', severity: 'warning', labels: { region: 'eu' } });
    await publish(herald, { topic: 't', data: 'crit-us', severity: 'critical', labels: { region: 'us' } });
    await publish(herald, { topic: 't', data: 'err-eu', severity: 'error', labels: { region: 'eu', x: 'y' } });
    for (let i = 0; i < 10; i++) await publish(herald, { topic: 't', data: `debug-${i}`, severity: 'debug', labels: { region: 'eu' } });
    // ids: the starting cursor, warn-eu, err-eu, then one id-only frame for the filtered tail.
    await waitUntil(() => f.ids.length >= 4, 5000, 'id-only frame');
    expect(f.data()).toEqual(['warn-eu', 'err-eu']);
    f.close();
    // The cursor moved past the ten filtered events (more than history holds),
    // so resuming finds no gap: no reset, nothing repeated.
    const r = probe('/v1/events?topic=t&minSeverity=warning&label=region:eu', { 'Last-Event-ID': f.lastId()! });
    await r.waitForStatus();
    await publish(herald, { topic: 't', data: 'crit-eu', severity: 'critical', labels: { region: 'eu' } });
    await r.waitForEvents(1);
    expect(r.resets()).toEqual([]);
    expect(r.data()).toEqual(['crit-eu']);
  });

  it('sse - the envelope option carries topic, type, severity, labels and data as JSON', async () => {
    herald = await startTestHerald();
    const p = probe('/v1/events?topic=a&topic=b&envelope=1');
    await p.waitForStatus();
    await publish(herald, { topic: 'b', type: 'gauge', data: { v: 1 }, severity: 'warning', labels: { pod: 'p1' }, key: 'cpu' });
    await publish(herald, { topic: 'a', data: 'plain text' });
    await p.waitForEvents(2);
    expect(JSON.parse(p.events[0]!.data)).toMatchObject({ topic: 'b', type: 'gauge', severity: 'warning', labels: { pod: 'p1' }, key: 'cpu', data: { v: 1 } });
    expect(JSON.parse(p.events[1]!.data)).toMatchObject({ topic: 'a', type: 'message', severity: 'info', data: 'plain text' });
  });

  it('sse - a subscription on a reused keep-alive connection is served through node:http', async () => {
    herald = await startTestHerald();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<{ status: number; socket: unknown; text: () => string; ended: () => boolean }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: herald!.httpPort, path, agent }, (res) => {
          let text = '';
          let ended = false;
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => (ended = true));
          resolve({ status: res.statusCode!, socket: req.socket, text: () => text, ended: () => ended });
        });
        req.on('error', reject);
        req.end();
      });
    const health = await get('/healthz');
    expect(health.status).toBe(200);
    await waitUntil(health.ended);
    const stream = await get('/v1/events?topic=ka');
    expect(stream.status).toBe(200);
    expect(stream.socket).toBe(health.socket);
    await publish(herald, { topic: 'ka', data: 'hello' });
    await waitUntil(() => stream.text().includes('data: hello'));
    expect(stream.text()).toMatch(/^retry: \d+\n/);
    agent.destroy();
  });
});
