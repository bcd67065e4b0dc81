import { HeraldError } from '../errors.js';
import { decodeCursor, encodeCursor, newEpoch, topicSetFingerprint, cursorPrefix } from './cursor.js';
import { type HubEvent, type PublishInput, type PublishResult, SEVERITY_NAMES } from './event.js';
import { type Filter, matches } from './filter.js';
import { Group } from './group.js';
import { IdempotencyWindow } from './idempotency.js';
import { encodeBody, encodeEvent, encodeFrame, encodeIdOnly, encodeReset } from './sse-frame.js';
import { type Sink, Subscription } from './subscription.js';
import { Topic } from './topic.js';
import { validatePublish, validateTopic, severityOrDefault } from './validate.js';

export interface HubOptions {
  historyMaxEvents: number;
  historyMaxAgeMs: number;
  maxTopics: number;
  maxTopicsPerSubscription: number;
  maxEventBytes: number;
  idempotencyWindowMs: number;
  idempotencyMaxKeys: number;
  /** Retry-After of HERALD_ERR_TOPIC_CAPACITY. */
  retryAfterS: number;
  /** Fixed epoch for tests; a fresh random one by default. */
  epoch?: string;
  now?: () => number;
  /** Runs a callback after the current burst of publishes (setImmediate by default). */
  defer?: (fn: () => void) => void;
}

export interface SubscribeRequest {
  topics: readonly string[];
  filter: Filter;
  /** Deliver data wrapped in a JSON envelope with topic, type, severity, labels, key and ts. */
  envelope: boolean;
  /** Last-Event-ID as the client sent it, if any. */
  cursor?: string | undefined;
}

export interface HubStats {
  topics: number;
  groups: number;
  published: number;
  idempotencyKeys: number;
}

/**
 * The hub: topics, history, cursors and fan-out. No I/O: transports hand it
 * a Sink per subscriber, ingest adapters call publish().
 */
export class Hub {
  readonly epoch: string;
  private readonly opts: HubOptions;
  private readonly now: () => number;
  private readonly defer: (fn: () => void) => void;
  private readonly topics = new Map<string, Topic>();
  private readonly groups = new Map<string, Group>();
  private readonly idempotency: IdempotencyWindow;
  /** Hub-wide publish counter; every event's ord. */
  private ord = 0;
  /** Ord at the last topic eviction: a recreated topic cannot vouch for positions below it. */
  private evictedThrough = 0;
  private readonly idPending: Group[] = [];
  private idFlushScheduled = false;
  private readonly leave = (sub: Subscription): void => this.release(sub.group);
  private readonly bodies = { bodyOf: (ev: HubEvent, envelope: boolean) => (envelope ? envelopeBody(ev) : ev.body) };

  constructor(opts: HubOptions) {
    this.opts = opts;
    this.epoch = opts.epoch ?? newEpoch();
    this.now = opts.now ?? Date.now;
    this.defer = opts.defer ?? ((fn) => setImmediate(fn));
    this.idempotency = new IdempotencyWindow(opts.idempotencyWindowMs, opts.idempotencyMaxKeys);
  }

  /** Appends an event to its topic's history and fans it out. Throws HeraldError on bad input. */
  publish(input: PublishInput): PublishResult {
    validatePublish(input, this.opts.maxEventBytes);
    const now = this.now();
    if (input.idempotencyKey) {
      const seen = this.idempotency.get(input.topic, input.idempotencyKey, now);
      if (seen !== undefined) return { id: seen, duplicate: true };
    }
    const topic = this.topicFor(input.topic);
    const type = input.type || 'message';
    // The hub's own copy: input.data may be a view into a receive buffer.
    const { body, data } = encodeEvent(type, input.data);
    const ev: HubEvent = {
      ord: ++this.ord,
      topic: topic.name,
      type,
      data,
      severity: severityOrDefault(input.severity),
      labels: input.labels !== undefined && Object.keys(input.labels).length > 0 ? input.labels : undefined,
      key: input.key || undefined,
      ts: now,
      body,
      envelopeBody: undefined,
    };
    topic.append(ev, this.opts.historyMaxEvents);
    const id = topic.soloPrefix + ev.ord.toString(36);
    if (input.idempotencyKey) this.idempotency.remember(input.topic, input.idempotencyKey, id, now);
    this.fanOut(topic, ev);
    return { id, duplicate: false };
  }

  private fanOut(topic: Topic, ev: HubEvent): void {
    const groups = topic.groups;
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      if (group.members.length === 0) continue;
      if (!matches(group.filter, ev)) {
        if (!group.idPending) {
          group.idPending = true;
          this.idPending.push(group);
          this.scheduleIdFlush();
        }
        continue;
      }
      group.idPending = false;
      group.broadcast(encodeFrame(group.cursor(), group.envelope ? envelopeBody(ev) : ev.body), ev.key);
    }
  }

  private scheduleIdFlush(): void {
    if (this.idFlushScheduled) return;
    this.idFlushScheduled = true;
    this.defer(() => {
      this.idFlushScheduled = false;
      for (const group of this.idPending.splice(0)) {
        if (!group.idPending) continue;
        group.idPending = false;
        if (group.members.length > 0) group.broadcast(encodeIdOnly(group.cursor()));
      }
    });
  }

  /**
   * Adds a subscriber. Frames start flowing into `sink` synchronously: a
   * reset if the cursor cannot be honoured in full, then history after the
   * cursor, then live events. Throws HeraldError on bad topics or cursor.
   */
  subscribe(req: SubscribeRequest, sink: Sink): Subscription {
    const names = [...new Set(req.topics)].sort();
    if (names.length === 0) throw new HeraldError('HERALD_ERR_TOPIC_MISSING', 'subscribe to at least one topic (?topic=name)');
    if (names.length > this.opts.maxTopicsPerSubscription) {
      throw new HeraldError('HERALD_ERR_TOPIC_TOO_MANY', `${names.length} topics; at most ${this.opts.maxTopicsPerSubscription} per subscription`);
    }
    for (const n of names) validateTopic(n);
    const decoded = req.cursor === undefined || req.cursor === '' ? undefined : decodeCursor(req.cursor);

    const topics = names.map((n) => this.topicFor(n));
    const key = Group.keyOf(names, req.filter, req.envelope);
    let group = this.groups.get(key);
    if (group === undefined) {
      group = new Group(key, this.epoch, topics, req.filter, req.envelope);
      this.groups.set(key, group);
      for (const t of topics) t.groups.push(group);
    }
    group.refs++;

    const positions = topics.map((t) => t.head);
    let lost: string[] = [];
    let reason = '';
    if (decoded !== undefined) {
      if (decoded.epoch !== this.epoch) {
        lost = names;
        reason = 'unknown-epoch';
      } else if (decoded.fingerprint !== group.fingerprint || decoded.positions.length !== topics.length) {
        lost = names;
        reason = 'topics-changed';
      } else {
        for (let i = 0; i < topics.length; i++) {
          const p = decoded.positions[i]!;
          if (p > topics[i]!.head || p < topics[i]!.trimmedThrough) {
            lost.push(names[i]!);
            reason = p > topics[i]!.head ? 'unknown-position' : 'history-trimmed';
          } else {
            positions[i] = p;
          }
        }
      }
    }

    for (const t of topics) t.replaying++;
    const sub = new Subscription(group, sink, positions, this.bodies, this.leave);
    if (lost.length > 0) sink.write(encodeReset(encodeCursor(group.prefix, positions), lost, reason));
    // A new subscriber gets its starting cursor at once (an id-only frame), so
    // if the connection drops before the first event it resumes from here
    // instead of reconnecting without an id and missing what came between.
    else if (decoded === undefined) sink.write(encodeIdOnly(encodeCursor(group.prefix, positions)));
    sub.pump();
    return sub;
  }

  /** Periodic upkeep: age out history and idempotency keys. Called by the transport's sweep. */
  sweep(): void {
    const now = this.now();
    const cutoff = now - this.opts.historyMaxAgeMs;
    for (const t of this.topics.values()) if (t.size > 0) t.trimOlderThan(cutoff);
    this.idempotency.expire(now);
  }

  stats(): HubStats {
    return { topics: this.topics.size, groups: this.groups.size, published: this.ord, idempotencyKeys: this.idempotency.size };
  }

  private release(group: Group): void {
    if (--group.refs > 0) return;
    this.groups.delete(group.key);
    for (const t of group.topics) t.groups.splice(t.groups.indexOf(group), 1);
  }

  private topicFor(name: string): Topic {
    let t = this.topics.get(name);
    if (t !== undefined) return t;
    if (this.topics.size >= this.opts.maxTopics) this.evictIdleTopic();
    t = new Topic(name, this.evictedThrough, cursorPrefix(this.epoch, topicSetFingerprint([name])));
    this.topics.set(name, t);
    return t;
  }

  /**
   * Makes room for a new topic. Only idle topics (no subscribers, no history)
   * go, oldest first; evicting one forgets its head, so positions from before
   * the eviction are treated as gaps on a topic that comes back.
   */
  private evictIdleTopic(): void {
    const MAX_SCAN = 1024;
    let scanned = 0;
    for (const [name, t] of this.topics) {
      if (t.isIdle()) {
        this.topics.delete(name);
        this.evictedThrough = this.ord;
        return;
      }
      if (++scanned >= MAX_SCAN) break;
    }
    throw new HeraldError('HERALD_ERR_TOPIC_CAPACITY', `this replica holds ${this.topics.size} topics (maxTopics) and none is idle`, { retryAfterS: this.opts.retryAfterS });
  }
}

/** The JSON envelope: data plus what a multi-topic subscriber needs to route it. Encoded on first use. */
function envelopeBody(ev: HubEvent): Buffer {
  if (ev.envelopeBody !== undefined) return ev.envelopeBody;
  const text = ev.data.toString('utf8');
  let data: unknown = text;
  try {
    data = JSON.parse(text);
  } catch {
    // Not JSON: carried as a string.
  }
  const env = {
    topic: ev.topic,
    type: ev.type,
    severity: SEVERITY_NAMES[ev.severity - 1],
    ...(ev.labels !== undefined && { labels: ev.labels }),
    ...(ev.key !== undefined && { key: ev.key }),
    ts: ev.ts,
    data,
  };
  (ev as { envelopeBody: Buffer | undefined }).envelopeBody = encodeBody(ev.type, Buffer.from(JSON.stringify(env), 'utf8'));
  return ev.envelopeBody!;
}
