import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import type { Herald } from '../src/main.js';
import { cuttingProxy, publish, SseProbe, startTestHerald, waitUntil } from './helpers.js';

let herald: Herald | undefined;
afterEach(async () => {
  await herald?.close();
  herald = undefined;
});

describe('sse resume', () => {
  it('sse - a real EventSource that loses its connection at random points gets every event of every topic once, in order', { timeout: 30_000 }, async () => {
    herald = await startTestHerald({ retryMs: 5, retryJitterMs: 10 });
    const proxy = await cuttingProxy(herald.httpPort);
    const got: { topic: string; n: number }[] = [];
    let opens = 0;
    const es = new EventSource(`http://127.0.0.1:${proxy.port}/v1/events?topic=orders&topic=alerts`);
    es.addEventListener('open', () => opens++);
    es.addEventListener('message', (e) => got.push(JSON.parse(e.data)));
    await waitUntil(() => opens === 1, 5000, 'first open');

    // Three topics, two subscribed; cuts land between and during bursts.
    const expected: { topic: string; n: number }[] = [];
    let cuts = 0;
    for (let n = 0; n < 300; n++) {
      const topic = ['orders', 'alerts', 'other'][n % 3]!;
      await publish(herald, { topic, data: { topic, n } });
      if (topic !== 'other') expected.push({ topic, n });
      if (Math.random() < 0.05) cuts += proxy.cutAll();
      if (n % 50 === 0) await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
    await waitUntil(() => got.length >= expected.length, 15000, `all ${expected.length} events (have ${got.length})`);
    await new Promise((r) => setTimeout(r, 100));
    es.close();
    proxy.close();

    expect(cuts).toBeGreaterThan(0);
    expect(opens).toBeGreaterThan(1);
    expect(got).toEqual(expected);
  });

  it('sse - a stream cut before its first event still resumes: the starting cursor comes with the preamble', async () => {
    herald = await startTestHerald();
    const first = new SseProbe(herald.httpPort, '/v1/events?topic=a&topic=b');
    await waitUntil(() => first.ids.length === 1, 5000, 'starting cursor');
    expect(first.events).toEqual([]);
    first.close();
    await publish(herald, { topic: 'b', data: 'while away' });
    const back = new SseProbe(herald.httpPort, '/v1/events?topic=a&topic=b', { 'Last-Event-ID': first.lastId()! });
    await back.waitForEvents(1);
    expect(back.data()).toEqual(['while away']);
    expect(back.resets()).toEqual([]);
    back.close();
  });

  it('sse - resumes every topic from the Last-Event-ID header and from the lastEventId parameter', async () => {
    herald = await startTestHerald();
    const first = new SseProbe(herald.httpPort, '/v1/events?topic=a&topic=b');
    await first.waitForStatus();
    await publish(herald, { topic: 'a', data: 'a1' });
    await publish(herald, { topic: 'b', data: 'b1' });
    await first.waitForEvents(2);
    const cursor = first.lastId()!;
    first.close();
    await publish(herald, { topic: 'b', data: 'b2' });
    await publish(herald, { topic: 'a', data: 'a2' });
    await publish(herald, { topic: 'c', data: 'c1' });

    const byHeader = new SseProbe(herald.httpPort, '/v1/events?topic=b&topic=a', { 'Last-Event-ID': cursor });
    const byParam = new SseProbe(herald.httpPort, `/v1/events?topic=a&topic=b&lastEventId=${encodeURIComponent(cursor)}`);
    await byHeader.waitForEvents(2);
    await byParam.waitForEvents(2);
    await publish(herald, { topic: 'a', data: 'a3' });
    await byHeader.waitForEvents(3);
    await byParam.waitForEvents(3);
    expect(byHeader.data()).toEqual(['b2', 'a2', 'a3']);
    expect(byParam.data()).toEqual(['b2', 'a2', 'a3']);
    // Same topic set, same position: the same cursor, whatever order the URL named the topics in.
    expect(byHeader.lastId()).toBe(byParam.lastId());
    byHeader.close();
    byParam.close();
  });

  it('sse - a cursor before retained history (count bound) starts with herald.reset naming the topic, then continues live', async () => {
    herald = await startTestHerald({ historyMaxEvents: 3 });
    const p = new SseProbe(herald.httpPort, '/v1/events?topic=a&topic=b');
    await p.waitForStatus();
    await publish(herald, { topic: 'a', data: 'a0' });
    await p.waitForEvents(1);
    const cursor = p.lastId()!;
    p.close();
    for (let i = 1; i <= 5; i++) await publish(herald, { topic: 'a', data: `a${i}` });
    await publish(herald, { topic: 'b', data: 'b1' });

    const r = new SseProbe(herald.httpPort, '/v1/events?topic=a&topic=b', { 'Last-Event-ID': cursor });
    await r.waitForEvents(2);
    expect(r.resets()).toEqual([{ topics: ['a'], reason: 'history-trimmed' }]);
    // a skipped to live; b's gap was fillable, so b1 is replayed.
    expect(r.data()).toEqual(['b1']);
    await publish(herald, { topic: 'a', data: 'a6' });
    await r.waitForEvents(3);
    expect(r.data()).toEqual(['b1', 'a6']);
    r.close();
  });

  it('sse - a cursor older than historyMaxAgeMs gets a reset', async () => {
    herald = await startTestHerald({ historyMaxAgeMs: 1000, heartbeatMs: 100 });
    const p = new SseProbe(herald.httpPort, '/v1/events?topic=a');
    await p.waitForStatus();
    await publish(herald, { topic: 'a', data: 'old' });
    await p.waitForEvents(1);
    const cursor = p.lastId()!;
    p.close();
    await publish(herald, { topic: 'a', data: 'missed' });
    // The hub sweep (driven by the transport's one timer) ages the event out.
    await new Promise((r) => setTimeout(r, 2300));
    const r = new SseProbe(herald.httpPort, '/v1/events?topic=a', { 'Last-Event-ID': cursor });
    await r.waitForEvents(1);
    expect(r.resets()).toEqual([{ topics: ['a'], reason: 'history-trimmed' }]);
    expect(r.data()).toEqual([]);
    r.close();
  });

  it('sse - a cursor from another epoch (a restarted process) gets a reset for every topic', async () => {
    const before = await startTestHerald();
    const p = new SseProbe(before.httpPort, '/v1/events?topic=a&topic=b');
    await p.waitForStatus();
    await publish(before, { topic: 'a', data: 'x' });
    await p.waitForEvents(1);
    const cursor = p.lastId()!;
    p.close();
    await before.close();

    herald = await startTestHerald();
    const r = new SseProbe(herald.httpPort, '/v1/events?topic=a&topic=b', { 'Last-Event-ID': cursor });
    await r.waitForEvents(1);
    expect(r.resets()).toEqual([{ topics: ['a', 'b'], reason: 'unknown-epoch' }]);
    // The reset carries a fresh cursor of this epoch, so the next reconnect is exact.
    expect(r.lastId()!.split('-')[0]).toBe(herald.hub.epoch);
    r.close();
  });

  it('sse - a real EventSource receives herald.reset as a named event, then the live stream', async () => {
    herald = await startTestHerald();
    // EventSource cannot set Last-Event-ID on its first request: the lastEventId
    // parameter carries a cursor of another epoch (a restarted replica).
    const es = new EventSource(`http://127.0.0.1:${herald.httpPort}/v1/events?topic=a&lastEventId=zzzzzzzz-1-5`);
    const resets: { data: string; lastEventId: string }[] = [];
    const messages: string[] = [];
    es.addEventListener('herald.reset', (e) => resets.push({ data: e.data, lastEventId: e.lastEventId }));
    es.addEventListener('message', (e) => messages.push(e.data));
    await waitUntil(() => resets.length === 1, 5000, 'the reset event');
    await publish(herald, { topic: 'a', data: 'after reset' });
    await waitUntil(() => messages.length === 1, 5000, 'a live event');
    es.close();
    expect(JSON.parse(resets[0]!.data)).toEqual({ topics: ['a'], reason: 'unknown-epoch' });
    expect(resets[0]!.lastEventId.startsWith(herald.hub.epoch + '-')).toBe(true);
    expect(messages).toEqual(['after reset']);
  });

  it('sse - a cursor replayed against a different topic set gets a reset instead of wrong positions', async () => {
    herald = await startTestHerald();
    const p = new SseProbe(herald.httpPort, '/v1/events?topic=a');
    await p.waitForStatus();
    await publish(herald, { topic: 'a', data: 'x' });
    await p.waitForEvents(1);
    p.close();
    const r = new SseProbe(herald.httpPort, '/v1/events?topic=a&topic=b', { 'Last-Event-ID': p.lastId()! });
    await r.waitForEvents(1);
    expect(r.resets()).toEqual([{ topics: ['a', 'b'], reason: 'topics-changed' }]);
    r.close();
  });
});
