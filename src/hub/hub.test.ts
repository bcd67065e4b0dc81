import { describe, expect, it } from 'vitest';
import { Hub, type HubOptions } from './hub.js';
import { NO_FILTER, parseFilter } from './filter.js';
import type { Sink } from './subscription.js';
import { decodeCursor } from './cursor.js';

/** A sink that records frames; `room` bytes before it asks replay to pause. */
class RecordingSink implements Sink {
  frames: string[] = [];
  bytes = 0;
  constructor(private room = Infinity) {}
  write(frame: Buffer): boolean {
    this.frames.push(frame.toString('utf8'));
    this.bytes += frame.length;
    return this.bytes < this.room;
  }
  data(): string[] {
    return this.frames.flatMap((f) => [...f.matchAll(/^data: (.*)$/gm)].map((m) => m[1]!));
  }
  lastId(): string {
    const ids = this.frames.flatMap((f) => [...f.matchAll(/^id: (.*)$/gm)].map((m) => m[1]!));
    return ids.at(-1)!;
  }
}

const opts = (o: Partial<HubOptions> = {}): HubOptions => ({
  historyMaxEvents: 100,
  historyMaxAgeMs: 60_000,
  maxTopics: 1000,
  maxTopicsPerSubscription: 8,
  maxEventBytes: 1024,
  idempotencyWindowMs: 1000,
  idempotencyMaxKeys: 10,
  retryAfterS: 5,
  epoch: 'ep',
  defer: (fn) => fn(),
  ...o,
});
const pub = (hub: Hub, topic: string, data: string, extra = {}) => hub.publish({ topic, data: Buffer.from(data), ...extra });

describe('hub', () => {
  it('hub - subscribers with the same topic set get the very same frame Buffer', () => {
    const hub = new Hub(opts());
    const seen: Buffer[] = [];
    const sink = { write: (f: Buffer) => (seen.push(f), true) };
    hub.subscribe({ topics: ['a', 'b'], filter: NO_FILTER, envelope: false }, sink);
    hub.subscribe({ topics: ['b', 'a'], filter: NO_FILTER, envelope: false }, sink);
    seen.length = 0; // the starting cursors
    pub(hub, 'a', 'x');
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
    expect(hub.stats().groups).toBe(1);
  });

  it('hub - resumes every topic from Last-Event-ID, merged in publish order', () => {
    const hub = new Hub(opts());
    const live = new RecordingSink();
    hub.subscribe({ topics: ['a', 'b'], filter: NO_FILTER, envelope: false }, live);
    pub(hub, 'a', 'a1');
    const cursor = live.lastId();
    pub(hub, 'b', 'b1');
    pub(hub, 'c', 'c1');
    pub(hub, 'a', 'a2');
    const back = new RecordingSink();
    hub.subscribe({ topics: ['a', 'b'], filter: NO_FILTER, envelope: false, cursor }, back);
    expect(back.data()).toEqual(['b1', 'a2']);
    expect(back.lastId()).toBe(live.lastId());
  });

  it('hub - replay pauses when the sink asks and joins live without a gap or a repeat', () => {
    const hub = new Hub(opts({ historyMaxEvents: 1000 }));
    const first = new RecordingSink();
    hub.subscribe({ topics: ['t'], filter: NO_FILTER, envelope: false }, first);
    pub(hub, 't', 'start');
    const cursor = first.lastId();
    for (let i = 0; i < 50; i++) pub(hub, 't', `e${i}`);
    const slow = new RecordingSink(200);
    const sub = hub.subscribe({ topics: ['t'], filter: NO_FILTER, envelope: false, cursor }, slow);
    expect(sub.state).toBe('replaying');
    const before = slow.frames.length;
    expect(before).toBeLessThan(50);
    pub(hub, 't', 'during');
    for (let i = 0; i < 100 && sub.state === 'replaying'; i++) {
      slow.bytes = 0;
      sub.pump();
    }
    expect(sub.state).toBe('live');
    pub(hub, 't', 'after');
    expect(slow.data()).toEqual([...Array.from({ length: 50 }, (_, i) => `e${i}`), 'during', 'after']);
  });

  it('hub - history trimmed under a slow replay is reported as a reset, then the stream goes live', () => {
    const hub = new Hub(opts({ historyMaxEvents: 10 }));
    const first = new RecordingSink();
    hub.subscribe({ topics: ['t'], filter: NO_FILTER, envelope: false }, first);
    pub(hub, 't', 'start');
    const cursor = first.lastId();
    for (let i = 0; i < 5; i++) pub(hub, 't', `e${i}`);
    const slow = new RecordingSink(1);
    const sub = hub.subscribe({ topics: ['t'], filter: NO_FILTER, envelope: false, cursor }, slow);
    for (let i = 0; i < 20; i++) pub(hub, 't', `more${i}`);
    slow.bytes = -Infinity;
    sub.pump();
    expect(slow.frames.some((f) => f.includes('event: herald.reset') && f.includes('"topics":["t"]'))).toBe(true);
    expect(sub.state).toBe('live');
  });

  it('hub - filtered events move the group cursor with one id-only frame per burst', () => {
    const hub = new Hub(opts());
    const s = new RecordingSink();
    hub.subscribe({ topics: ['t'], filter: parseFilter('error', []), envelope: false }, s);
    for (let i = 0; i < 5; i++) pub(hub, 't', `d${i}`, { severity: 1 });
    // defer runs at once in this test: one id-only frame per filtered event at most.
    expect(s.data()).toEqual([]);
    expect(decodeCursor(s.lastId()).positions).toEqual([5]);
  });

  it('hub - a repeated idempotency key is answered with the first id and not delivered', () => {
    const hub = new Hub(opts());
    const s = new RecordingSink();
    hub.subscribe({ topics: ['t'], filter: NO_FILTER, envelope: false }, s);
    const a = pub(hub, 't', 'x', { idempotencyKey: 'k' });
    const b = pub(hub, 't', 'x', { idempotencyKey: 'k' });
    const c = pub(hub, 'u', 'x', { idempotencyKey: 'k' });
    expect(b).toEqual({ id: a.id, duplicate: true });
    expect(c.duplicate).toBe(false);
    expect(s.data()).toEqual(['x']);
  });

  it('hub - the idempotency window forgets keys after its time', () => {
    let now = 0;
    const hub = new Hub(opts({ now: () => now }));
    const a = pub(hub, 't', 'x', { idempotencyKey: 'k' });
    now = 1001;
    const b = pub(hub, 't', 'x', { idempotencyKey: 'k' });
    expect(b.duplicate).toBe(false);
    expect(b.id).not.toBe(a.id);
  });

  it('hub - history ages out on sweep', () => {
    let now = 0;
    const hub = new Hub(opts({ now: () => now, historyMaxAgeMs: 1000 }));
    const s = new RecordingSink();
    hub.subscribe({ topics: ['t'], filter: NO_FILTER, envelope: false }, s);
    pub(hub, 't', 'one');
    const cursor = s.lastId();
    pub(hub, 't', 'two');
    now = 5000;
    hub.sweep();
    const back = new RecordingSink();
    hub.subscribe({ topics: ['t'], filter: NO_FILTER, envelope: false, cursor }, back);
    expect(back.frames.join('')).toContain('"reason":"history-trimmed"');
    expect(back.data()).not.toContain('two');
  });

  it('hub - at maxTopics an idle topic is evicted; with none idle, new topics are refused', () => {
    const hub = new Hub(opts({ maxTopics: 2, historyMaxAgeMs: 1000, now: () => 0 }));
    const onA = hub.subscribe({ topics: ['a'], filter: NO_FILTER, envelope: false }, new RecordingSink());
    hub.subscribe({ topics: ['b'], filter: NO_FILTER, envelope: false }, new RecordingSink());
    expect(() => pub(hub, 'c', 'x')).toThrow(expect.objectContaining({ code: 'HERALD_ERR_TOPIC_CAPACITY' }));
    onA.close();
    expect(pub(hub, 'c', 'x').duplicate).toBe(false);
    expect(hub.stats().topics).toBe(2);
  });

  it('hub - the last subscriber leaving a group removes the group', () => {
    const hub = new Hub(opts());
    const a = hub.subscribe({ topics: ['t'], filter: NO_FILTER, envelope: false }, new RecordingSink());
    const b = hub.subscribe({ topics: ['t'], filter: NO_FILTER, envelope: false }, new RecordingSink());
    a.close();
    expect(hub.stats().groups).toBe(1);
    b.close();
    b.close();
    expect(hub.stats().groups).toBe(0);
  });
  it('hub - history keeps its own copy: a publisher reusing its buffer changes neither replay nor envelope', () => {
    const hub = new Hub(opts());
    const single = Buffer.from('{"v":1}');
    const multi = Buffer.from('line1\nline2');
    const first = hub.publish({ topic: 'own', data: single });
    hub.publish({ topic: 'own', data: multi });
    single.fill(0x78);
    multi.fill(0x78);
    const plain = new RecordingSink();
    hub.subscribe({ topics: ['own'], filter: NO_FILTER, envelope: false, cursor: first.id.replace(/[0-9a-z]+$/, '0') }, plain);
    expect(plain.data()).toEqual(['{"v":1}', 'line1', 'line2']);
    const env = new RecordingSink();
    hub.subscribe({ topics: ['own'], filter: NO_FILTER, envelope: true, cursor: first.id.replace(/[0-9a-z]+$/, '0') }, env);
    expect(env.data().map((d) => (JSON.parse(d) as { data: unknown }).data)).toEqual([{ v: 1 }, 'line1\nline2']);
  });
});
