import { encodeCursor } from './cursor.js';
import type { HubEvent } from './event.js';
import { matches } from './filter.js';
import type { Group } from './group.js';
import { encodeFrame, encodeIdOnly, encodeReset } from './sse-frame.js';

/**
 * Where the hub writes a subscriber's frames. A transport implements it; the
 * hub never knows what is behind it.
 */
export interface Sink {
  /**
   * Queues a frame. Returns false when the transport would like no more
   * history frames until it calls `Subscription.pump()` (its buffer is above
   * a low mark). Live frames are sent regardless; the transport enforces
   * its hard bound on buffered bytes by closing the connection, or, for a
   * conflating subscriber, by keeping only the newest frame per `key`.
   */
  write(frame: Buffer, key?: string): boolean;
}

export interface BodySource {
  bodyOf(ev: HubEvent, envelope: boolean): Buffer;
}

/**
 * One subscriber's place in the hub.
 *
 * Lifecycle: `replaying` (sending history after its cursor, paced by the
 * sink) -> `live` (a member of its group, fed by broadcast) -> `closed`.
 * The hub is single-threaded, so the step from replaying to live happens
 * between two publishes: nothing can fall in the gap.
 */
export class Subscription {
  state: 'replaying' | 'live' | 'closed' = 'replaying';
  /** Index in group.members while live. */
  memberIndex = -1;
  readonly group: Group;
  readonly sink: Sink;
  /** Per-topic positions while replaying; null once live (the group's cursor is ours). */
  private positions: number[] | null;
  private readonly bodies: BodySource;
  private readonly onLeave: (sub: Subscription) => void;

  constructor(group: Group, sink: Sink, positions: number[], bodies: BodySource, onLeave: (sub: Subscription) => void) {
    this.group = group;
    this.sink = sink;
    this.positions = positions;
    this.bodies = bodies;
    this.onLeave = onLeave;
  }

  /**
   * Sends history until the sink asks to pause or the subscription reaches
   * every topic's head, where it joins the live group. The transport calls
   * this again when its buffer drains.
   */
  pump(): void {
    const pos = this.positions;
    if (this.state !== 'replaying' || pos === null) return;
    const { topics, filter, envelope, prefix } = this.group;
    let idOwed = false;
    for (;;) {
      // History may have been trimmed under a slow replay: report the gap, skip to live.
      let lost: string[] | null = null;
      for (let i = 0; i < topics.length; i++) {
        if (pos[i]! < topics[i]!.trimmedThrough) {
          pos[i] = topics[i]!.head;
          (lost ??= []).push(topics[i]!.name);
        }
      }
      if (lost !== null) {
        idOwed = false;
        if (!this.sink.write(encodeReset(encodeCursor(prefix, pos), lost, 'history-trimmed'))) return;
      }

      let next: HubEvent | undefined;
      let at = -1;
      for (let i = 0; i < topics.length; i++) {
        const ev = topics[i]!.after(pos[i]!);
        if (ev !== undefined && (next === undefined || ev.ord < next.ord)) {
          next = ev;
          at = i;
        }
      }
      if (next === undefined) break;
      pos[at] = next.ord;
      if (matches(filter, next)) {
        idOwed = false;
        if (!this.sink.write(encodeFrame(encodeCursor(prefix, pos), this.bodies.bodyOf(next, envelope)), next.key)) return;
      } else {
        idOwed = true;
      }
    }
    if (idOwed) this.sink.write(encodeIdOnly(encodeCursor(prefix, pos)));
    this.goLive();
  }

  private goLive(): void {
    this.positions = null;
    this.state = 'live';
    for (const t of this.group.topics) t.replaying--;
    this.memberIndex = this.group.members.length;
    this.group.members.push(this);
  }

  /** Leaves the hub. Idempotent. */
  close(): void {
    if (this.state === 'closed') return;
    if (this.state === 'replaying') {
      for (const t of this.group.topics) t.replaying--;
    } else {
      const m = this.group.members;
      const last = m.pop()!;
      if (last !== this) {
        m[this.memberIndex] = last;
        last.memberIndex = this.memberIndex;
      }
    }
    this.state = 'closed';
    this.positions = null;
    this.onLeave(this);
  }
}
