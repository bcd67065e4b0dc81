/**
 * Publishers for the bench. They must cost the servers as little as a real
 * service would and never be the reason a server looks slow: keep-alive
 * HTTP through an undici Pool, and one gRPC channel (a bidi stream with a
 * window of acks in flight, or many unary calls in flight).
 */
import { credentials, Metadata } from '@grpc/grpc-js';
import { Pool } from 'undici';
import { PublisherServiceClient, Severity, type Event } from '../src/gen/herald/v1/herald.js';
import type { HttpPublishTarget } from './servers.js';
import { TOPIC } from './servers.js';

/** Size of every payload, as the scenarios specify. */
export const PAYLOAD_BYTES = 64;

/**
 * A 64-byte JSON payload carrying the publish time in CLOCK_MONOTONIC ns
 * (process.hrtime reads it; so does the loadgen on the same machine).
 */
export function makePayload(): string {
  const head = `{"t":${process.hrtime.bigint()},"pad":"`;
  const pad = Math.max(0, PAYLOAD_BYTES - head.length - 2);
  return `${head}${'x'.repeat(pad)}"}`;
}

export interface PublishOutcome {
  sent: number;
  errors: number;
  /** The first error seen, to show in the report. */
  firstError?: string;
  wallS: number;
}

export class HttpPublisher {
  private readonly pool: Pool;

  constructor(
    private readonly target: HttpPublishTarget,
    connections: number,
  ) {
    this.pool = new Pool(target.origin, { connections, pipelining: 1 });
  }

  /** Publishes one event; resolves to an error message or undefined. */
  async publish(payload: string): Promise<string | undefined> {
    try {
      const res = await this.pool.request({
        method: 'POST',
        path: this.target.path,
        headers: { 'content-type': this.target.contentType },
        body: this.target.body(payload),
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300 ? undefined : `HTTP ${res.statusCode}`;
    } catch (err) {
      return (err as Error).message;
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** Runs `count` publishes with at most `window` in flight, stopping at the deadline. */
async function windowed(
  count: number,
  window: number,
  deadlineMs: number,
  one: (i: number) => Promise<string | undefined>,
): Promise<PublishOutcome> {
  const start = performance.now();
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < count && performance.now() - start < deadlineMs) {
      const err = await one(next++);
      if (err !== undefined) {
        errors++;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  return { sent: next, errors, firstError, wallS: (performance.now() - start) / 1000 };
}

/** Publishes `count` events at `ratePerS`, each stamped when it is sent. */
export async function publishPaced(pub: HttpPublisher, count: number, ratePerS: number): Promise<PublishOutcome> {
  const start = performance.now();
  const pending: Promise<string | undefined>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / ratePerS;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(pub.publish(makePayload()));
  }
  const results = await Promise.all(pending);
  const errs = results.filter((r) => r !== undefined);
  return { sent: count, errors: errs.length, firstError: errs[0], wallS: (performance.now() - start) / 1000 };
}

/** Publishes `count` events as fast as the server takes them (window in flight). */
export function publishBurst(pub: HttpPublisher, count: number, window: number, deadlineMs: number): Promise<PublishOutcome> {
  return windowed(count, window, deadlineMs, () => pub.publish(makePayload()));
}

function grpcEvent(): Event {
  return {
    topic: TOPIC,
    type: '',
    data: Buffer.from(makePayload()),
    severity: Severity.SEVERITY_UNSPECIFIED,
    labels: {},
    key: '',
    idempotencyKey: '',
  };
}

function grpcClient(address: string): PublisherServiceClient {
  return new PublisherServiceClient(address, credentials.createInsecure());
}

/** Unary Publish calls, `window` in flight on one channel. */
export async function ingestGrpcUnary(address: string, count: number, window: number, deadlineMs: number): Promise<PublishOutcome> {
  const client = grpcClient(address);
  try {
    return await windowed(
      count,
      window,
      deadlineMs,
      (_i) =>
        new Promise((resolve) => {
          client.publish({ event: grpcEvent() }, new Metadata(), { deadline: Date.now() + 30_000 }, (err) => resolve(err ? err.message : undefined));
        }),
    );
  } finally {
    client.close();
  }
}

/**
 * One PublishStream: keeps up to `window` events un-acked, and respects the
 * stream's own backpressure (write() returning false waits for 'drain').
 */
export async function ingestGrpcStream(address: string, count: number, window: number, deadlineMs: number): Promise<PublishOutcome> {
  const client = grpcClient(address);
  const start = performance.now();
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let firstError: string | undefined;
  try {
    await new Promise<void>((resolve) => {
      const call = client.publishStream({ deadline: Date.now() + deadlineMs + 30_000 });
      let waitingDrain = false;
      let finished = false;
      let ended = false;
      const finish = (err?: string): void => {
        if (finished) return;
        finished = true;
        if (err !== undefined) {
          errors += count - acked;
          firstError ??= err;
        }
        resolve();
      };
      const pump = (): void => {
        while (!waitingDrain && sent < count && sent - acked < window) {
          if (performance.now() - start > deadlineMs) {
            count = sent;
            break;
          }
          const ok = call.write({ event: grpcEvent(), ref: BigInt(sent) });
          sent++;
          if (!ok) {
            waitingDrain = true;
            call.once('drain', () => {
              waitingDrain = false;
              pump();
            });
          }
        }
        if (!ended && sent >= count && acked >= count) {
          ended = true;
          call.end();
        }
      };
      call.on('data', (res: { acks: { result?: { $case: string; value: unknown } }[] }) => {
        for (const ack of res.acks) {
          acked++;
          if (ack.result?.$case === 'error') {
            errors++;
            firstError ??= JSON.stringify(ack.result.value);
          }
        }
        pump();
      });
      call.on('error', (err: Error) => finish(err.message));
      call.on('end', () => finish(acked < count ? `stream ended after ${acked} of ${count} acks` : undefined));
      pump();
    });
  } finally {
    client.close();
  }
  return { sent, errors, firstError, wallS: (performance.now() - start) / 1000 };
}

/** HTTP publishes, `window` in flight over keep-alive connections. */
export async function ingestHttp(target: HttpPublishTarget, count: number, window: number, deadlineMs: number): Promise<PublishOutcome> {
  const pub = new HttpPublisher(target, window);
  try {
    return await windowed(count, window, deadlineMs, () => pub.publish(makePayload()));
  } finally {
    await pub.close();
  }
}
