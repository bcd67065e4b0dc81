import { HeraldError } from '../errors.js';

/**
 * Cursors: the SSE `id:` of every event.
 *
 * A browser sends back only the last id it saw, so one id must position a
 * connection in every topic it subscribes to. A cursor is
 *
 *     <epoch>-<topic-set fingerprint>-<ord>.<ord>...
 *
 * with one ord (base 36) per topic, in the sorted order of the subscription's
 * topics. The epoch names the history the ords belong to (a restarted
 * process starts a new one); the fingerprint catches a cursor replayed
 * against a different topic set. Every subscriber with the same topic set has
 * the same cursor after each event, which is what lets the hub encode a frame
 * once for all of them.
 */

const CURSOR_PATTERN = /^([0-9a-z]{1,16})-([0-9a-z]{1,8})-([0-9a-z]{1,11}(?:\.[0-9a-z]{1,11})*)$/;
/** Long enough for maxTopicsPerSubscription's ceiling, short enough to bound parse work. */
const MAX_CURSOR_LENGTH = 16 * 1024;

export interface DecodedCursor {
  epoch: string;
  fingerprint: string;
  positions: number[];
}

/** FNV-1a over the sorted topic names: a short, stable name for a topic set. */
export function topicSetFingerprint(sortedTopics: readonly string[]): string {
  let h = 0x811c9dc5;
  for (let t = 0; t < sortedTopics.length; t++) {
    const s = sortedTopics[t]!;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0x0a;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

/** The fixed part of a topic set's cursors, computed once per group. */
export function cursorPrefix(epoch: string, fingerprint: string): string {
  return `${epoch}-${fingerprint}-`;
}

export function encodeCursor(prefix: string, positions: ArrayLike<number>): string {
  let s = prefix + positions[0]!.toString(36);
  for (let i = 1; i < positions.length; i++) s += '.' + positions[i]!.toString(36);
  return s;
}

/** Parses a cursor's syntax. Whether it fits this hub is the hub's call. */
export function decodeCursor(raw: string): DecodedCursor {
  const m = raw.length <= MAX_CURSOR_LENGTH ? CURSOR_PATTERN.exec(raw) : null;
  if (m === null) {
    throw new HeraldError('HERALD_ERR_CURSOR_MALFORMED', `Last-Event-ID ${JSON.stringify(raw.slice(0, 64))} is not a Herald cursor`);
  }
  const positions = m[3]!.split('.').map((p) => parseInt(p, 36));
  if (positions.some((p) => !Number.isSafeInteger(p))) {
    throw new HeraldError('HERALD_ERR_CURSOR_MALFORMED', 'Last-Event-ID has a position out of range');
  }
  return { epoch: m[1]!, fingerprint: m[2]!, positions };
}

/** A fresh epoch: 50 random bits, so two processes practically never share one. */
export function newEpoch(): string {
  const hi = Math.floor(Math.random() * 2 ** 25);
  const lo = Math.floor(Math.random() * 2 ** 25);
  return hi.toString(36) + lo.toString(36).padStart(5, '0');
}
