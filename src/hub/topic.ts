import type { HubEvent } from './event.js';
import type { Group } from './group.js';

/**
 * One topic: its bounded history and the subscriber groups that include it.
 *
 * History is a queue of events ordered by ord. Trimming only ever removes
 * from the front (by count on publish, by age on the sweep), so the events a
 * topic has lost are exactly those with ord <= trimmedThrough: a cursor
 * position below that has a gap only a reset can report.
 */
export class Topic {
  readonly name: string;
  /** Ord of the newest event ever published here (or the floor it started at). */
  head: number;
  /** Ord of the newest event that left the history; a position below it has a gap. */
  trimmedThrough: number;
  /** Groups (distinct subscription shapes) that include this topic. */
  readonly groups: Group[] = [];
  /** Subscriptions still replaying history on this topic; they pin it against eviction. */
  replaying = 0;
  /** Cursor prefix of a one-topic subscription: what an event id returned to a publisher starts with. */
  readonly soloPrefix: string;

  private events: HubEvent[] = [];
  private start = 0;

  constructor(name: string, floor: number, soloPrefix: string) {
    this.name = name;
    this.soloPrefix = soloPrefix;
    this.head = floor;
    this.trimmedThrough = floor;
  }

  get size(): number {
    return this.events.length - this.start;
  }

  /** Appends and trims by count. */
  append(ev: HubEvent, maxEvents: number): void {
    this.events.push(ev);
    this.head = ev.ord;
    while (this.size > maxEvents) this.dropFirst();
  }

  /** Drops events published before `cutoffTs`. */
  trimOlderThan(cutoffTs: number): void {
    while (this.size > 0 && this.events[this.start]!.ts < cutoffTs) this.dropFirst();
  }

  /** The first retained event with ord > pos, or undefined when pos is at the head. */
  after(pos: number): HubEvent | undefined {
    if (pos >= this.head) return undefined;
    // Binary search: ords within a topic increase but are not contiguous.
    let lo = this.start;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.ord <= pos) lo = mid + 1;
      else hi = mid;
    }
    return this.events[lo];
  }

  isIdle(): boolean {
    return this.groups.length === 0 && this.replaying === 0 && this.size === 0;
  }

  private dropFirst(): void {
    this.trimmedThrough = this.events[this.start]!.ord;
    this.events[this.start] = undefined as unknown as HubEvent;
    this.start++;
    // Compact once the dead prefix dominates, so memory stays bounded by the live size.
    if (this.start > 64 && this.start * 2 > this.events.length) {
      this.events = this.events.slice(this.start);
      this.start = 0;
    }
  }
}
