import { afterEach, describe, expect, it } from 'vitest';
import type { Herald } from '../src/main.js';
import { SseProbe, startTestHerald, waitUntil } from './helpers.js';

let herald: Herald | undefined;
afterEach(async () => {
  await herald?.close();
  herald = undefined;
});

/** Floods a topic with gauge updates for a few keys and, now and then, an unkeyed alert. */
async function flood(h: Herald, topic: string, n: number): Promise<{ last: Map<string, string>; alerts: string[] }> {
  const last = new Map<string, string>();
  const alerts: string[] = [];
  const pad = 'p'.repeat(1024);
  for (let i = 0; i < n; i++) {
    if (i % 500 === 0) {
      const a = `alert-${i}`;
      h.hub.publish({ topic, type: 'alert', data: Buffer.from(a) });
      alerts.push(a);
    }
    const key = `gauge-${i % 5}`;
    const data = `${key}=${i} ${pad}`;
    h.hub.publish({ topic, type: 'gauge', data: Buffer.from(data), key });
    last.set(key, data);
    if (i % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  return { last, alerts };
}

describe('conflation', () => {
  it('conflation - a stalled conflating reader is not closed; it gets the newest value per key and every unkeyed event, in order', { timeout: 60_000 }, async () => {
    herald = await startTestHerald({ maxConnectionBufferedBytes: 256 * 1024, historyMaxEvents: 100 });
    const p = new SseProbe(herald.httpPort, '/v1/events?topic=metrics&conflate=1');
    await p.waitForStatus();
    p.socket.pause();
    const { last, alerts } = await flood(herald, 'metrics', 20_000);
    expect(herald.sse.stats().shed).toBe(0);
    p.socket.resume();
    // Reads on until the stream is idle at the hub's latest cursor.
    await waitUntil(() => p.events.at(-1)?.data === [...last.values()].at(-1), 20_000, 'the last gauge value');
    expect(herald.sse.stats().conflated).toBeGreaterThan(1000);
    const gauges = p.events.filter((e) => e.event === 'gauge');
    // Far fewer than published, and the final value of every key arrived.
    expect(gauges.length).toBeLessThan(20_000);
    const finalPerKey = new Map<string, string>();
    for (const g of gauges) finalPerKey.set(g.data.split('=')[0]!, g.data);
    expect(finalPerKey).toEqual(last);
    expect(p.events.filter((e) => e.event === 'alert').map((e) => e.data)).toEqual(alerts);
    // Values per key never go backwards: order is kept through conflation.
    for (const key of last.keys()) {
      const seq = gauges.filter((g) => g.data.startsWith(key + '=')).map((g) => Number(g.data.split('=')[1]!.split(' ')[0]));
      expect([...seq].sort((a, b) => a - b)).toEqual(seq);
    }
    // The cursor covers what was replaced: resuming from it repeats nothing.
    const again = new SseProbe(herald.httpPort, '/v1/events?topic=metrics&conflate=1', { 'Last-Event-ID': p.lastId()! });
    await again.waitForStatus();
    await new Promise((r) => setTimeout(r, 200));
    expect(again.events).toEqual([]);
    p.close();
    again.close();
  });

  it('conflation - a conflating subscriber replaying a long history through a stall still reaches live', { timeout: 60_000 }, async () => {
    // Short heartbeats: one lands while the paused socket is congested mid-replay.
    herald = await startTestHerald({ maxConnectionBufferedBytes: 256 * 1024, historyMaxEvents: 50_000, heartbeatMs: 100 });
    const first = new SseProbe(herald.httpPort, '/v1/events?topic=metrics');
    await waitUntil(() => first.ids.length === 1, 5000, 'starting cursor');
    first.close();
    await flood(herald, 'metrics', 20_000);
    const p = new SseProbe(herald.httpPort, '/v1/events?topic=metrics&conflate=1', { 'Last-Event-ID': first.lastId()! });
    p.socket.pause();
    await new Promise((r) => setTimeout(r, 800));
    p.socket.resume();
    await waitUntil(() => p.events.at(-1)?.data === 'gauge-4=19999 ' + 'p'.repeat(1024), 30_000, 'the end of history');
    herald.hub.publish({ topic: 'metrics', type: 'alert', data: Buffer.from('live') });
    await waitUntil(() => p.events.at(-1)?.data === 'live', 5000, 'a live event after the replay');
    expect(herald.sse.stats().shed).toBe(0);
    p.close();
  });

  it('conflation - the same stall without conflation closes the stream (topic default can turn it on)', { timeout: 60_000 }, async () => {
    herald = await startTestHerald({ maxConnectionBufferedBytes: 256 * 1024, conflateTopics: 'gauges.*' });
    const plain = new SseProbe(herald.httpPort, '/v1/events?topic=metrics');
    const byDefault = new SseProbe(herald.httpPort, '/v1/events?topic=gauges.cpu');
    await plain.waitForStatus();
    await byDefault.waitForStatus();
    plain.socket.pause();
    byDefault.socket.pause();
    await flood(herald, 'metrics', 20_000);
    await flood(herald, 'gauges.cpu', 20_000);
    expect(herald.sse.stats().shed).toBe(1);
    expect(herald.sse.stats().connections).toBe(1);
    plain.close();
    byDefault.close();
  });
});
