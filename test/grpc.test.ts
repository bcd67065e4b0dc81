import * as http2 from 'node:http2';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublisherServiceClient, PublishStreamRequest, PublishStreamResponse, Severity, type PublishResponse, type PublishAck, type Event } from '../src/gen/herald/v1/herald.js';
import { ERROR_CODE_METADATA } from '../src/ingest/index.js';
import type { Herald } from '../src/main.js';
import { SseProbe, startTestHerald } from './helpers.js';

let herald: Herald;
let client: PublisherServiceClient;
beforeAll(async () => {
  herald = await startTestHerald({ maxEventBytes: 1024, maxConnectionBufferedBytes: 64 * 1024 });
  client = new PublisherServiceClient(`127.0.0.1:${herald.grpcPort}`, credentials.createInsecure());
});
afterAll(async () => {
  client.close();
  await herald.close();
});

const ev = (e: Partial<Event>): Event => ({ topic: 't', type: '', data: Buffer.from('x'), severity: Severity.SEVERITY_UNSPECIFIED, labels: {}, key: '', idempotencyKey: '', ...e });

function unary(e: Partial<Event> | undefined): Promise<PublishResponse> {
  return new Promise((resolve, reject) => client.publish({ event: e === undefined ? undefined : ev(e) }, new Metadata(), (err, r) => (err ? reject(err) : resolve(r))));
}

describe('grpc ingest', () => {
  it('grpc - Publish returns an id that resumes a one-topic subscription right after the event', async () => {
    const first = await unary({ topic: 'g1', data: Buffer.from('one') });
    await unary({ topic: 'g1', data: Buffer.from('two'), type: 'alert', severity: Severity.SEVERITY_ERROR });
    const p = new SseProbe(herald.httpPort, '/v1/events?topic=g1', { 'Last-Event-ID': first.id });
    await p.waitForEvents(1);
    expect(p.events[0]).toMatchObject({ event: 'alert', data: 'two' });
    expect(p.resets()).toEqual([]);
    p.close();
  });

  it('grpc - bad events get INVALID_ARGUMENT with the stable code in the herald-error-code trailer', async () => {
    const cases: [Partial<Event> | undefined, string, number][] = [
      [undefined, 'HERALD_ERR_PUBLISH_EVENT_MISSING', status.INVALID_ARGUMENT],
      [{ topic: '' }, 'HERALD_ERR_TOPIC_MISSING', status.INVALID_ARGUMENT],
      [{ topic: 'bad topic' }, 'HERALD_ERR_TOPIC_INVALID', status.INVALID_ARGUMENT],
      [{ data: Buffer.alloc(0) }, 'HERALD_ERR_PUBLISH_DATA_EMPTY', status.INVALID_ARGUMENT],
      [{ data: Buffer.from([0xff, 0xfe]) }, 'HERALD_ERR_PUBLISH_DATA_NOT_UTF8', status.INVALID_ARGUMENT],
      [{ data: Buffer.alloc(2000, 0x61) }, 'HERALD_ERR_PUBLISH_DATA_TOO_LARGE', status.INVALID_ARGUMENT],
      [{ severity: 42 as Severity }, 'HERALD_ERR_PUBLISH_FIELD_INVALID', status.INVALID_ARGUMENT],
    ];
    for (const [e, code, grpcStatus] of cases) {
      const err = (await unary(e).then(() => undefined, (x: ServiceError) => x))!;
      expect(err, code).toBeDefined();
      expect(err.code).toBe(grpcStatus);
      expect(err.metadata.get(ERROR_CODE_METADATA)).toEqual([code]);
      expect(err.details).toContain(code);
    }
  });

  it('grpc - a repeated idempotency key returns the first id and is delivered once', async () => {
    const p = new SseProbe(herald.httpPort, '/v1/events?topic=idem');
    await p.waitForStatus();
    const a = await unary({ topic: 'idem', data: Buffer.from('charge'), idempotencyKey: 'k1' });
    const b = await unary({ topic: 'idem', data: Buffer.from('charge'), idempotencyKey: 'k1' });
    const c = await unary({ topic: 'idem', data: Buffer.from('other'), idempotencyKey: 'k2' });
    expect(b).toEqual({ id: a.id, duplicate: true });
    expect(a.duplicate).toBe(false);
    expect(c.id).not.toBe(a.id);
    await p.waitForEvents(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(p.data()).toEqual(['charge', 'other']);
    p.close();
  });

  it('grpc - PublishStream acks every message in order; a bad message gets an error ack and the stream goes on', async () => {
    const p = new SseProbe(herald.httpPort, '/v1/events?topic=s');
    await p.waitForStatus();
    const call = client.publishStream();
    const acks: PublishAck[] = [];
    let responses = 0;
    call.on('data', (r: PublishStreamResponse) => {
      expect(r.acks.length).toBeGreaterThan(0);
      responses++;
      acks.push(...r.acks);
    });
    const done = new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    const N = 2000;
    for (let i = 0; i < N; i++) {
      const bad = i % 100 === 50;
      call.write({ ref: BigInt(i), event: ev({ topic: bad ? 'no way' : 's', data: Buffer.from(String(i)) }) });
    }
    call.end();
    await done;
    expect(acks.map((a) => a.ref)).toEqual(Array.from({ length: N }, (_, i) => BigInt(i)));
    expect(responses).toBeLessThanOrEqual(N);
    const errors = acks.filter((a) => a.result?.$case === 'error');
    expect(errors.length).toBe(N / 100);
    for (const e of errors) expect(e.result).toMatchObject({ $case: 'error', value: { code: 'HERALD_ERR_TOPIC_INVALID' } });
    const good = Array.from({ length: N }, (_, i) => i).filter((i) => i % 100 !== 50).map(String);
    await p.waitForEvents(good.length, 10_000);
    expect(p.data()).toEqual(good);
    p.close();
  });

  it('grpc - PublishStream answers the messages of one read with one response (raw HTTP/2 client, one DATA frame)', async () => {
    // grpc-js clients write one frame per message, so a raw HTTP/2 client is
    // what can put 100 messages into one frame and so into one read.
    const session = http2.connect(`http://127.0.0.1:${herald.grpcPort}`);
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/herald.v1.PublisherService/PublishStream',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const N = 100;
      const frames = Array.from({ length: N }, (_, i) => {
        const bad = i === 37;
        const msg = PublishStreamRequest.encode({ ref: BigInt(1000 + i), event: ev({ topic: bad ? 'no way' : 'raw', data: Buffer.from(`r${i}`) }) }).finish();
        const head = Buffer.alloc(5);
        head.writeUInt32BE(msg.length, 1);
        return Buffer.concat([head, msg]);
      });
      const responses: PublishStreamResponse[] = [];
      let pending = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
          const len = pending.readUInt32BE(1);
          responses.push(PublishStreamResponse.decode(pending.subarray(5, 5 + len)));
          pending = pending.subarray(5 + len);
        }
      });
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('trailers', resolve));
      stream.end(Buffer.concat(frames));
      const t = await trailers;
      expect(t['grpc-status']).toBe('0');
      expect(responses.length).toBe(1);
      const acks = responses[0]!.acks;
      expect(acks.map((a) => a.ref)).toEqual(Array.from({ length: N }, (_, i) => BigInt(1000 + i)));
      expect(acks[37]!.result).toMatchObject({ $case: 'error', value: { code: 'HERALD_ERR_TOPIC_INVALID' } });
      expect(acks.filter((a) => a.result?.$case === 'id').length).toBe(N - 1);
    } finally {
      session.close();
    }
  });

  it('grpc - PublishStream stops reading while its acks are not consumed (flow control reaches the publisher)', { timeout: 30_000 }, async () => {
    const call = client.publishStream();
    call.on('error', () => {});
    call.pause(); // a publisher that never reads its acks
    let written = 0;
    let blocked = false;
    for (let round = 0; round < 20_000 && !blocked; round++) {
      while (call.write({ ref: BigInt(written), event: ev({ topic: 'fc', data: Buffer.from('x') }) })) written++;
      written++;
      const drained = await Promise.race([
        new Promise<boolean>((r) => call.once('drain', () => r(true))),
        new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
      ]);
      blocked = !drained;
    }
    expect(blocked).toBe(true);
    // What the publisher wrote but Herald has not taken waits in HTTP/2
    // windows and the publisher's own buffer, not in Herald's memory.
    expect(herald.hub.stats().published).toBeLessThan(written);
    call.cancel();
  });
});
