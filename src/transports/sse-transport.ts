import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { HeraldError, toHeraldError } from '../errors.js';
import { type Hub, encodePreamble, HEARTBEAT } from '../hub/index.js';
import { endRawWithError, type Headers, rawHead, sendError } from './http-response.js';
import { type ConnectionOwner, REPLAY_HIGH_WATER_BYTES, SseConnection, type StreamOut } from './sse-connection.js';
import { type RequestHead, parseSubscribe } from './sse-request.js';

export interface SseOptions {
  heartbeatMs: number;
  retryMs: number;
  retryJitterMs: number;
  maxConnections: number;
  maxClientConnections: number;
  maxBufferedBytes: number;
  maxConnectionBufferedBytes: number;
  corsAllowOrigin: string;
  retryAfterSeconds: number;
  conflateTopics: string;
}

export interface SseStats {
  connections: number;
  bufferedBytes: number;
  shed: number;
  refused: number;
  /** Frames dropped by conflation because a newer one with the same key replaced them. */
  conflated: number;
}

/** The sweep runs this often; heartbeats spread over the slots of one interval. */
const TARGET_TICK_MS = 250;
/** Hub upkeep (history age, idempotency window) once a second is plenty. */
const HUB_SWEEP_MS = 1000;

const kConn = Symbol('herald.sse.connection');
type RawSocket = Socket & { [kConn]?: SseConnection };

/**
 * Server-Sent Events: admission, the stream head, and the life of every
 * stream: flushing, heartbeats, slow-consumer shedding, drain.
 *
 * One timer drives everything periodic: each tick sweeps one slot of the
 * heartbeat wheel (a connection that wrote nothing for a heartbeat interval
 * gets a comment), re-sums buffered bytes of backlogged connections for
 * admission, and now and then sweeps the hub.
 */
export class SseTransport implements ConnectionOwner {
  readonly maxConnectionBufferedBytes: number;
  readonly replayHighWaterBytes: number;
  private readonly opts: SseOptions;
  private readonly hub: Hub;
  private readonly log: Logger;
  private readonly slots: SseConnection[][];
  private readonly tickMs: number;
  private tickNo = 0;
  private lastHubSweep = 0;
  private timer: NodeJS.Timeout | undefined;
  private dirty: SseConnection[] = [];
  private flushScheduled = false;
  private readonly backlogged = new Set<SseConnection>();
  private readonly perClient = new Map<string, number>();
  private count = 0;
  private bufferedTotal = 0;
  private shedCount = 0;
  private refusedCount = 0;
  private conflatedCount = 0;
  private readonly conflateByDefault: (topic: string) => boolean;
  /** The drain under way: streams in closing order, how many are closed. Undefined once it finished. */
  private draining: { order: SseConnection[]; closed: number; startedAt: number; windowMs: number; done: () => void } | undefined;
  private drained: Promise<void> | undefined;
  private refusing = false;
  private readonly corsHeaders: Headers;
  private readonly streamHeaders: Headers;
  /** The raw stream's response head, encoded once. */
  private readonly headBytes: Buffer;

  constructor(hub: Hub, opts: SseOptions, log: Logger) {
    this.hub = hub;
    this.opts = opts;
    this.log = log;
    this.maxConnectionBufferedBytes = opts.maxConnectionBufferedBytes;
    this.replayHighWaterBytes = Math.min(REPLAY_HIGH_WATER_BYTES, Math.floor(opts.maxConnectionBufferedBytes / 4));
    const nSlots = Math.max(1, Math.round(opts.heartbeatMs / TARGET_TICK_MS));
    this.tickMs = opts.heartbeatMs / nSlots;
    this.slots = Array.from({ length: nSlots }, () => []);
    this.conflateByDefault = topicMatcher(opts.conflateTopics);
    this.corsHeaders = opts.corsAllowOrigin === '' ? {} : { 'access-control-allow-origin': opts.corsAllowOrigin };
    // The body is delimited by the close: no Content-Length, no chunked framing.
    this.streamHeaders = {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      ...this.corsHeaders,
      connection: 'close',
    };
    this.headBytes = Buffer.from(rawHead(200, this.streamHeaders), 'latin1');
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  /** Serves a subscription whose head the raw listener parsed. Owns the socket from here on. */
  acceptRaw(socket: Socket, head: RequestHead, clientHeader: string): void {
    const client = clientAddress(head.headers.get(clientHeader), socket.remoteAddress);
    let conn: SseConnection;
    try {
      const params = parseSubscribe(head.target, head.headers.get('last-event-id'));
      this.admit(client);
      conn = new SseConnection(socket, this, client);
      this.register(conn, params);
      // Frames are only queued so far (flushed next tick), so the head goes out first.
      socket.write(this.headBytes);
    } catch (err) {
      this.refuseRaw(socket, toHeraldError(err));
      return;
    }
    const raw = socket as RawSocket;
    raw[kConn] = conn;
    raw.on('close', onRawClose);
    raw.on('data', discard);
  }

  /** Serves a subscription that arrived through node:http (a reused keep-alive connection). */
  acceptHttp(req: IncomingMessage, res: ServerResponse, clientHeader: string): void {
    const header = req.headers[clientHeader];
    const client = clientAddress(Array.isArray(header) ? header[0] : header, req.socket.remoteAddress);
    try {
      const lastId = req.headers['last-event-id'];
      const params = parseSubscribe(req.url ?? '/', Array.isArray(lastId) ? lastId[0] : lastId);
      this.admit(client);
      const conn = new SseConnection(res as unknown as StreamOut, this, client);
      this.register(conn, params);
      res.writeHead(200, this.streamHeaders);
      res.on('close', () => this.closed(conn));
    } catch (err) {
      const e = toHeraldError(err);
      sendError(res, e, { ...this.corsHeaders, connection: 'close' });
      this.noteRefusal(e, client);
    }
  }

  /** Throws a HeraldError when the replica cannot take one more stream from this client. */
  private admit(client: string): void {
    const retryAfterS = this.opts.retryAfterSeconds;
    if (this.refusing) throw new HeraldError('HERALD_ERR_SERVER_DRAINING', 'this replica is shutting down; reconnect to another', { retryAfterS });
    if (this.count >= this.opts.maxConnections) throw new HeraldError('HERALD_ERR_SUBSCRIBE_SERVER_FULL', 'this replica is at maxConnections', { retryAfterS });
    if (this.bufferedTotal >= this.opts.maxBufferedBytes) throw new HeraldError('HERALD_ERR_SUBSCRIBE_SERVER_FULL', 'this replica is at maxBufferedBytes', { retryAfterS });
    if ((this.perClient.get(client) ?? 0) >= this.opts.maxClientConnections) {
      throw new HeraldError('HERALD_ERR_SUBSCRIBE_CLIENT_LIMIT', 'this client holds maxClientConnections streams already', { retryAfterS });
    }
  }

  private register(conn: SseConnection, params: ReturnType<typeof parseSubscribe>): void {
    const retry = this.opts.retryMs + Math.floor(Math.random() * (this.opts.retryJitterMs + 1));
    conn.conflate = params.conflate ?? params.topics.some(this.conflateByDefault);
    conn.write(encodePreamble(retry));
    try {
      conn.sub = this.hub.subscribe({ topics: params.topics, filter: params.filter, envelope: params.envelope, cursor: params.cursor }, conn);
    } catch (err) {
      // Refused before it was counted: nothing queued may reach the socket.
      conn.closed = true;
      throw err;
    }
    this.count++;
    this.perClient.set(conn.client, (this.perClient.get(conn.client) ?? 0) + 1);
    conn.slot = this.count % this.slots.length;
    const slot = this.slots[conn.slot]!;
    conn.slotIndex = slot.length;
    slot.push(conn);
  }

  markDirty(conn: SseConnection): void {
    this.dirty.push(conn);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushAll);
    }
  }

  /** Writes what every dirty connection queued this tick: one write per connection. */
  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    const list = this.dirty;
    this.dirty = [];
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      c.flush();
      if (!c.closed && c.out.writableLength > 0) this.backlogged.add(c);
    }
  };

  conflated(replaced: number): void {
    this.conflatedCount += replaced;
  }

  shed(conn: SseConnection, reason: string): void {
    if (conn.closed) return;
    // Called from inside a broadcast: only stop writing and drop the socket
    // here; leaving the group waits for the socket's close event, so the
    // member list is never changed under the loop that is walking it.
    conn.closed = true;
    this.shedCount++;
    this.log.info({ client: conn.client, buffered: conn.buffered(), reason }, 'closing stream');
    // The client resumes from its last id; destroying frees the buffer at once.
    conn.out.destroy();
  }

  private closeConnection(conn: SseConnection): void {
    conn.flush();
    conn.out.end();
    this.closed(conn);
  }

  /** Bookkeeping when a stream ends, however it ends. Idempotent. */
  closed(conn: SseConnection): void {
    conn.closed = true;
    conn.sub?.close();
    conn.sub = undefined;
    this.backlogged.delete(conn);
    if (conn.slot >= 0) {
      const slot = this.slots[conn.slot]!;
      const last = slot.pop()!;
      if (last !== conn) {
        slot[conn.slotIndex] = last;
        last.slotIndex = conn.slotIndex;
      }
      conn.slot = -1;
      this.count--;
      const n = (this.perClient.get(conn.client) ?? 1) - 1;
      if (n === 0) this.perClient.delete(conn.client);
      else this.perClient.set(conn.client, n);
    }
  }

  private tick(): void {
    const slot = this.slots[this.tickNo++ % this.slots.length]!;
    for (let i = 0; i < slot.length; i++) {
      const c = slot[i]!;
      if (!c.active) c.write(HEARTBEAT);
      c.active = false;
    }
    let total = 0;
    for (const c of this.backlogged) {
      const b = c.buffered();
      if (b === 0 || c.closed) this.backlogged.delete(c);
      else total += b;
    }
    this.bufferedTotal = total;
    const now = Date.now();
    if (now - this.lastHubSweep >= HUB_SWEEP_MS) {
      this.lastHubSweep = now;
      this.hub.sweep();
    }
    if (this.draining) this.drainStep(now);
  }

  /** Refuses new streams from now on (readiness has turned false). */
  refuseNew(): void {
    this.refusing = true;
  }

  /**
   * Closes every open stream, spread evenly over the window in random order,
   * so clients reconnect to other replicas over the window instead of all at
   * once. Resolves when the last stream is closed.
   */
  drain(windowMs: number): Promise<void> {
    this.refusing = true;
    this.drained ??= new Promise((done) => {
      const order = this.slots.flat();
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      this.draining = { order, closed: 0, startedAt: Date.now(), windowMs, done };
      this.drainStep(Date.now());
    });
    return this.drained;
  }

  private drainStep(now: number): void {
    const d = this.draining!;
    const due = d.windowMs <= 0 ? d.order.length : Math.floor((d.order.length * (now - d.startedAt)) / d.windowMs);
    while (d.closed < Math.min(due, d.order.length)) {
      const c = d.order[d.closed++]!;
      if (!c.closed) this.closeConnection(c);
    }
    if (d.closed >= d.order.length) {
      this.draining = undefined;
      d.done();
    }
  }

  /** Destroys every stream and stops the timer. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const c of this.slots.flat()) {
      c.out.destroy();
      this.closed(c);
    }
  }

  stats(): SseStats {
    return { connections: this.count, bufferedBytes: this.bufferedTotal, shed: this.shedCount, refused: this.refusedCount, conflated: this.conflatedCount };
  }

  /** Answers a refused subscription on a raw socket with the JSON error, then closes it. */
  refuseRaw(socket: Socket, e: HeraldError): void {
    endRawWithError(socket, e, this.corsHeaders);
    this.noteRefusal(e, socket.remoteAddress ?? '');
  }

  private noteRefusal(e: HeraldError, client: string): void {
    this.refusedCount++;
    if (e.code === 'HERALD_ERR_INTERNAL') this.log.error({ err: e.cause, client }, 'subscription failed');
    else this.log.debug({ code: e.code, client }, 'subscription refused');
  }
}


/** `a,metrics.*` -> matches topic a and every topic starting with "metrics.". */
function topicMatcher(spec: string): (topic: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  if (exact.size === 0 && prefixes.length === 0) return () => false;
  return (t) => exact.has(t) || prefixes.some((p) => t.startsWith(p));
}

function clientAddress(header: string | undefined, peer: string | undefined): string {
  if (header) {
    const comma = header.indexOf(',');
    return (comma === -1 ? header : header.slice(0, comma)).trim();
  }
  return peer ?? 'unknown';
}

// Shared listeners: one function for every socket instead of a closure each.
function onRawClose(this: RawSocket): void {
  const c = this[kConn];
  if (c !== undefined) (c.owner as SseTransport).closed(c);
}
function discard(): void {}
