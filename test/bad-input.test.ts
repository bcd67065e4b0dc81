import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Herald } from '../src/main.js';
import { publish, SseProbe, startTestHerald, waitUntil } from './helpers.js';

let herald: Herald;
beforeAll(async () => {
  herald = await startTestHerald({ maxTopicsPerSubscription: 3, maxEventBytes: 1024, maxConnectionBufferedBytes: 64 * 1024 });
});
afterAll(() => herald.close());

async function subscribeError(path: string, headers?: Record<string, string>): Promise<{ status: number; code: string; message: string }> {
  const p = new SseProbe(herald.httpPort, path, headers);
  await p.waitForEnd();
  const body = JSON.parse(p.body);
  return { status: p.status, code: body.error.code, message: body.error.message };
}

function rawRequest(text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(herald.httpPort, '127.0.0.1');
    let out = '';
    s.on('data', (c) => (out += c.toString('latin1')));
    s.on('close', () => resolve(out));
    s.on('error', () => {});
    s.end(text);
  });
}

async function postRaw(body: string, contentType = 'application/json'): Promise<{ status: number; code: string }> {
  const res = await fetch(`http://127.0.0.1:${herald.httpPort}/v1/publish`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, code: ((await res.json()) as any).error?.code };
}

describe('bad input on subscribe', () => {
  it.each([
    ['/v1/events', 400, 'HERALD_ERR_TOPIC_MISSING'],
    ['/v1/events?topic=', 400, 'HERALD_ERR_TOPIC_MISSING'],
    ['/v1/events?topic=a%0Ab', 400, 'HERALD_ERR_TOPIC_INVALID'],
    ['/v1/events?topic=' + 'x'.repeat(129), 400, 'HERALD_ERR_TOPIC_INVALID'],
    ['/v1/events?topic=a&topic=b&topic=c&topic=d', 400, 'HERALD_ERR_TOPIC_TOO_MANY'],
    ['/v1/events?topic=a&minSeverity=loud', 400, 'HERALD_ERR_FILTER_INVALID'],
    ['/v1/events?topic=a&label=nocolon', 400, 'HERALD_ERR_FILTER_INVALID'],
    ['/v1/events?topic=a&topics=b', 400, 'HERALD_ERR_QUERY_UNKNOWN'],
    ['/v1/events?topic=a&lastEventId=garbage', 400, 'HERALD_ERR_CURSOR_MALFORMED'],
  ])('subscribe - %s answers %i %s', async (path, status, code) => {
    const e = await subscribeError(path);
    expect(e).toMatchObject({ status, code });
    expect(e.message.length).toBeGreaterThan(5);
  });

  it('subscribe - a malformed Last-Event-ID header is a 400 with a stable code', async () => {
    for (const bad of ['nope', 'a-b-c-d', 'abc-def-', 'x'.repeat(20_000).slice(0, 9000), 'abc-def-1..2']) {
      const e = await subscribeError('/v1/events?topic=a', { 'Last-Event-ID': bad });
      expect(e).toMatchObject({ status: 400, code: 'HERALD_ERR_CURSOR_MALFORMED' });
    }
  });

  it('subscribe - a malformed or oversized request head is answered and closed, never crashes', async () => {
    expect(await rawRequest('GET /v1/events?topic=a HTTP/1.1\r\nBad Header\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 .*HERALD_ERR_HTTP_HEAD_MALFORMED/s);
    expect(await rawRequest('GET /v1/events?topic=a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello')).toMatch(/^HTTP\/1\.1 400 .*HERALD_ERR_HTTP_HEAD_MALFORMED/s);
    expect(await rawRequest(`GET /v1/events?topic=a HTTP/1.1\r\nX: ${'y'.repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large.*HERALD_ERR_HTTP_HEAD_TOO_LARGE/s);
    expect(await rawRequest('GET /v1/events?topic=a HTTP/9.9\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    // Still serving.
    const ok = new SseProbe(herald.httpPort, '/v1/events?topic=a');
    await ok.waitForStatus();
    expect(ok.status).toBe(200);
    ok.close();
  });
});

describe('bad input on publish', () => {
  it.each([
    ['{"topic":"a","data":"x"', 400, 'HERALD_ERR_PUBLISH_BODY_MALFORMED'],
    ['[1,2]', 400, 'HERALD_ERR_PUBLISH_BODY_MALFORMED'],
    ['{"data":"x"}', 400, 'HERALD_ERR_TOPIC_MISSING'],
    ['{"topic":"a b","data":"x"}', 400, 'HERALD_ERR_TOPIC_INVALID'],
    ['{"topic":"a"}', 400, 'HERALD_ERR_PUBLISH_DATA_EMPTY'],
    ['{"topic":"a","data":""}', 400, 'HERALD_ERR_PUBLISH_DATA_EMPTY'],
    ['{"topic":"a","data":"x","extra":1}', 400, 'HERALD_ERR_PUBLISH_FIELD_UNKNOWN'],
    ['{"topic":"a","data":"x","severity":"loud"}', 400, 'HERALD_ERR_PUBLISH_FIELD_INVALID'],
    ['{"topic":"a","data":"x","type":"bad\\ntype"}', 400, 'HERALD_ERR_PUBLISH_FIELD_INVALID'],
    ['{"topic":"a","data":"x","type":"herald.reset"}', 400, 'HERALD_ERR_PUBLISH_FIELD_INVALID'],
    ['{"topic":"a","data":"x","labels":{"k":1}}', 400, 'HERALD_ERR_PUBLISH_FIELD_INVALID'],
    ['{"topic":"a","data":"x","labels":{"bad key":"v"}}', 400, 'HERALD_ERR_PUBLISH_FIELD_INVALID'],
    ['{"topic":7,"data":"x"}', 400, 'HERALD_ERR_PUBLISH_FIELD_INVALID'],
    [JSON.stringify({ topic: 'a', data: 'x'.repeat(1025) }), 413, 'HERALD_ERR_PUBLISH_DATA_TOO_LARGE'],
    [JSON.stringify({ topic: 'a', data: 'x'.repeat(40_000) }), 413, 'HERALD_ERR_PUBLISH_BODY_TOO_LARGE'],
  ])('publish - %s answers %i %s', async (body, status, code) => {
    expect(await postRaw(body)).toEqual({ status, code });
  });

  it('publish - a wrong media type is 415, a wrong method 405, an unknown path 404', async () => {
    expect(await postRaw('{}', 'text/plain')).toEqual({ status: 415, code: 'HERALD_ERR_PUBLISH_MEDIA_TYPE' });
    const get = await fetch(`http://127.0.0.1:${herald.httpPort}/v1/publish`);
    expect(get.status).toBe(405);
    expect(((await get.json()) as any).error.code).toBe('HERALD_ERR_HTTP_METHOD');
    const nf = await fetch(`http://127.0.0.1:${herald.httpPort}/v2/nothing`);
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as any).error.code).toBe('HERALD_ERR_HTTP_NOT_FOUND');
  });

  it('publish - bad input loses nothing: good events around bad ones are all delivered, in order', async () => {
    const p = new SseProbe(herald.httpPort, '/v1/events?topic=mixed');
    await p.waitForStatus();
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      if (i % 3 === 0) await postRaw('{"topic":"mixed","data":"x","nope":true}');
      else {
        const r = await publish(herald, { topic: 'mixed', data: `ok-${i}` });
        expect(r.status).toBe(200);
        sent.push(`ok-${i}`);
      }
    }
    await p.waitForEvents(sent.length);
    expect(p.data()).toEqual(sent);
    p.close();
  });

  it('publish - data that is a JSON value is delivered as its JSON, a string as its text', async () => {
    const p = new SseProbe(herald.httpPort, '/v1/events?topic=json');
    await p.waitForStatus();
    await publish(herald, { topic: 'json', data: { a: [1, 'two'] } });
    await publish(herald, { topic: 'json', data: 'plain' });
    await publish(herald, { topic: 'json', data: 42 });
    await waitUntil(() => p.events.length === 3);
    expect(p.data()).toEqual(['{"a":[1,"two"]}', 'plain', '42']);
    p.close();
  });
});
