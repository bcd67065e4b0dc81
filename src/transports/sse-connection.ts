import type { Sink, Subscription } from '../hub/index.js';
import { HeldFrames } from './held-frames.js';

/**
 * What a stream writes to: a raw net.Socket (the fast path) or a node:http
 * ServerResponse (a subscription that arrived on a keep-alive connection
 * node:http already owned). Both have this surface.
 */
export interface StreamOut {
  write(chunk: Buffer): boolean;
  cork(): void;
  uncork(): void;
  end(): void;
  destroy(): void;
  readonly writableLength: number;
  readonly writableNeedDrain: boolean;
  once(event: 'drain', fn: () => void): unknown;
}

/** The transport's side of a connection: where flushes and closes are reported. */
export interface ConnectionOwner {
  markDirty(conn: SseConnection): void;
  shed(conn: SseConnection, reason: string): void;
  /** Counts frames conflation dropped (for stats). */
  conflated(replaced: number): void;
  readonly maxConnectionBufferedBytes: number;
  /** Buffered bytes at which history replay pauses; well below the hard bound. */
  readonly replayHighWaterBytes: number;
}

/**
 * Replay pauses at this many buffered bytes (or a quarter of the connection's
 * bound, if smaller): enough to keep a socket busy, far from being shed.
 */
export const REPLAY_HIGH_WATER_BYTES = 64 * 1024;

/**
 * One SSE stream. It is the hub's Sink: frames are queued, and the owner
 * flushes every dirty connection once per tick, so a burst of events costs
 * one write (writev) per connection, not one per event.
 *
 * Kept small on purpose: idle connections are most of a replica's memory,
 * so no closures or timers live here; the owner's one timer sweeps
 * heartbeats and the owner's shared listeners handle socket events.
 */
export class SseConnection implements Sink {
  readonly out: StreamOut;
  readonly owner: ConnectionOwner;
  /** Client address, for per-client admission. */
  readonly client: string;
  sub: Subscription | undefined;
  /** Queued frames: one Buffer, or several once a second arrives in the same tick. */
  private pending: Buffer | Buffer[] | undefined;
  pendingBytes = 0;
  /** Anything queued since the heartbeat sweep last passed (then no heartbeat is needed). */
  active = false;
  /** Replay paused on the buffer mark; resumes after the next flush drains. */
  private replayWaiting = false;
  /**
   * Conflation: when the socket is congested, keyed frames replace older
   * ones with the same key instead of piling up (telemetry gauges).
   */
  conflate = false;
  /** Frames held back while a conflating stream is congested; undefined otherwise. */
  private held: HeldFrames | undefined;
  closed = false;
  /** Heartbeat wheel slot and index in it (owner's bookkeeping). */
  slot = -1;
  slotIndex = -1;

  constructor(out: StreamOut, owner: ConnectionOwner, client: string) {
    this.out = out;
    this.owner = owner;
    this.client = client;
  }

  write(frame: Buffer, key?: string): boolean {
    if (this.closed) return false;
    this.active = true;
    if (this.held !== undefined || (this.conflate && this.congested())) {
      this.hold(frame, key);
      // A replay paused here goes on after the held frames are released and flushed.
      this.replayWaiting = true;
      return false;
    }
    this.queue(frame);
    const buffered = this.pendingBytes + this.out.writableLength;
    if (buffered > this.owner.maxConnectionBufferedBytes) {
      this.owner.shed(this, 'slow-consumer');
      return false;
    }
    if (buffered >= this.owner.replayHighWaterBytes) {
      this.replayWaiting = true;
      return false;
    }
    return true;
  }

  private queue(frame: Buffer): void {
    const p = this.pending;
    if (p === undefined) {
      this.pending = frame;
      this.owner.markDirty(this);
    } else if (Array.isArray(p)) p.push(frame);
    else this.pending = [p, frame];
    this.pendingBytes += frame.length;
  }

  /** The socket holds a backlog and will say when it drained. */
  private congested(): boolean {
    return this.out.writableNeedDrain && this.out.writableLength >= this.owner.replayHighWaterBytes;
  }

  private hold(frame: Buffer, key: string | undefined): void {
    if (this.held === undefined) {
      this.held = new HeldFrames();
      this.out.once('drain', () => this.release());
    }
    this.held.push(frame, key);
    // Unkeyed frames cannot be conflated: past the bound, shed as usual.
    if (this.held.bytes + this.out.writableLength > this.owner.maxConnectionBufferedBytes) this.owner.shed(this, 'slow-consumer');
  }

  /** The socket drained: what survived conflation goes out, in order. */
  private release(): void {
    const held = this.held;
    this.held = undefined;
    if (held === undefined || this.closed) return;
    this.owner.conflated(held.replaced);
    for (const f of held.frames()) this.queue(f);
  }

  /** Hands everything queued to the socket in one write. Called by the owner once per tick. */
  flush(): void {
    const p = this.pending;
    this.pending = undefined;
    this.pendingBytes = 0;
    if (this.closed || p === undefined) return;
    const out = this.out;
    // write() returns false once the socket holds its high-water mark; it
    // then emits 'drain', which is when a paused replay goes on.
    let drained: boolean;
    if (Array.isArray(p)) {
      // cork/uncork turns the queued frames into one writev.
      out.cork();
      drained = true;
      for (let i = 0; i < p.length; i++) drained = out.write(p[i]!);
      out.uncork();
    } else {
      drained = out.write(p);
    }
    if (this.replayWaiting) {
      this.replayWaiting = false;
      if (drained) this.sub?.pump();
      else out.once('drain', () => this.sub?.pump());
    }
  }

  /** Bytes held in Node for this client: queued plus handed to the socket but not yet sent. */
  buffered(): number {
    return this.pendingBytes + this.out.writableLength + (this.held?.bytes ?? 0);
  }
}
