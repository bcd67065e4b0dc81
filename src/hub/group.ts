import { cursorPrefix, topicSetFingerprint } from './cursor.js';
import type { Filter } from './filter.js';
import type { Subscription } from './subscription.js';
import type { Topic } from './topic.js';

/**
 * Subscribers of the same shape (topic set, filter, envelope) see the same
 * bytes after every event, cursor included: a topic's position is the
 * stream's, not the subscriber's. The hub encodes one frame per event per
 * group and hands that one Buffer to every live member.
 */
export class Group {
  readonly key: string;
  /** Sorted by name; cursor positions follow this order. */
  readonly topics: readonly Topic[];
  readonly filter: Filter;
  readonly envelope: boolean;
  /** `<epoch>-<fingerprint>-`, computed once. */
  readonly prefix: string;
  readonly fingerprint: string;
  /** Live members; a member knows its index, so leaving is a swap-remove. */
  readonly members: Subscription[] = [];
  /** Members plus subscriptions replaying history towards this group. */
  refs = 0;
  /** An event was filtered out since the last frame: members owe an id-only frame. */
  idPending = false;

  constructor(key: string, epoch: string, topics: readonly Topic[], filter: Filter, envelope: boolean) {
    this.key = key;
    this.topics = topics;
    this.filter = filter;
    this.envelope = envelope;
    this.fingerprint = topicSetFingerprint(topics.map((t) => t.name));
    this.prefix = cursorPrefix(epoch, this.fingerprint);
  }

  /** The live cursor: every topic at its head. */
  cursor(): string {
    const t = this.topics;
    let s = this.prefix + t[0]!.head.toString(36);
    for (let i = 1; i < t.length; i++) s += '.' + t[i]!.head.toString(36);
    return s;
  }

  /** Sends one frame to every live member. The hot path of fan-out. */
  broadcast(frame: Buffer, key?: string): void {
    const m = this.members;
    for (let i = 0; i < m.length; i++) m[i]!.sink.write(frame, key);
  }

  static keyOf(sortedTopics: readonly string[], filter: Filter, envelope: boolean): string {
    return sortedTopics.join('\n') + '\0' + filter.key + (envelope ? '\0e' : '');
  }
}
