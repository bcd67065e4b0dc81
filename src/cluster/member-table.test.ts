import { describe, expect, it } from 'vitest';

import type { LeaseRecord } from './lease-record.js';
import { MemberTable } from './member-table.js';

function record(name: string, renewTime: string, over: Partial<LeaseRecord> = {}): LeaseRecord {
  return { name, holder: `${name}_1`, resourceVersion: renewTime, renewTime, durationMs: 3000, transitions: 0, epoch: 'e', peerAddress: 'a:1', ...over };
}

/** A table on a hand-driven clock. */
function table(): { t: MemberTable; advance(ms: number): void } {
  let now = 1_000_000;
  return { t: new MemberTable(() => now), advance: (ms) => (now += ms) };
}

describe('MemberTable', () => {
  it('membership - a record stays live for its duration after it was last seen to change', () => {
    const { t, advance } = table();
    t.observe(record('a', '1'));
    advance(2999);
    expect(t.isLive('a')).toBe(true);
    advance(1);
    expect(t.isLive('a')).toBe(false);
    expect(t.live()).toEqual([]);
  });

  it('membership - seeing the same record again does not extend it; a renewal does', () => {
    const { t, advance } = table();
    t.observe(record('a', '1'));
    advance(2000);
    t.observe(record('a', '1'));
    advance(1000);
    expect(t.isLive('a')).toBe(false);
    t.observe(record('a', '2'));
    advance(2999);
    expect(t.isLive('a')).toBe(true);
  });

  it('membership - clock skew does not matter: a renewTime far in the past or future is just a change', () => {
    const { t, advance } = table();
    t.observe(record('a', '2001-01-01T00:00:00.000000Z'));
    advance(2500);
    t.observe(record('a', '2099-01-01T00:00:00.000000Z'));
    advance(2500);
    expect(t.isLive('a')).toBe(true);
    advance(500);
    expect(t.isLive('a')).toBe(false);
  });

  it('membership - nothing expires while blind; live records get a full duration once sighted, expired ones stay out', () => {
    const { t, advance } = table();
    t.observe(record('dead', '1'));
    advance(3500); // dead has expired
    t.observe(record('a', '1'));
    advance(1000);
    t.setBlind();
    advance(60_000);
    expect(t.live().map((r) => r.name)).toEqual(['a']);
    expect(t.nextExpiryMs()).toBeUndefined();
    t.setSighted();
    expect(t.live().map((r) => r.name)).toEqual(['a']);
    expect(t.nextExpiryMs()).toBe(3000);
    advance(3000);
    expect(t.live()).toEqual([]);
  });

  it('membership - a full list removes names it does not hold and keeps the rest sorted', () => {
    const { t } = table();
    t.observe(record('c', '1'));
    t.observe(record('b', '1'));
    t.replace([record('b', '1'), record('a', '1')]);
    expect(t.live().map((r) => r.name)).toEqual(['a', 'b']);
    expect(t.get('c')).toBeUndefined();
  });

  it('membership - nextExpiryMs is the time to the earliest expiry', () => {
    const { t, advance } = table();
    t.observe(record('a', '1'));
    advance(1000);
    t.observe(record('b', '1', { durationMs: 10_000 }));
    expect(t.nextExpiryMs()).toBe(2000);
  });
});
