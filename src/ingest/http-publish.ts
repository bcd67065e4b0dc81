import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeraldError } from '../errors.js';
import type { Hub } from '../hub/index.js';
import { sendJson } from '../transports/index.js';
import { eventFromJson } from './event-input.js';

/**
 * The body limit follows from maxEventBytes: JSON escaping can grow data up
 * to six times (\u00XX), plus room for the other fields.
 */
export function publishBodyLimit(maxEventBytes: number): number {
  return maxEventBytes * 6 + 16 * 1024;
}

/** POST /v1/publish: one event as JSON, for curl and services without gRPC. */
export function httpPublishHandler(hub: Hub, maxEventBytes: number) {
  const limit = publishBodyLimit(maxEventBytes);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      req.resume();
      throw new HeraldError('HERALD_ERR_PUBLISH_MEDIA_TYPE', `Content-Type must be application/json, not ${JSON.stringify(type.slice(0, 60))}`);
    }
    const raw = await readBody(req, limit);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (cause) {
      throw new HeraldError('HERALD_ERR_PUBLISH_BODY_MALFORMED', 'the body is not valid JSON', { cause });
    }
    const result = hub.publish(eventFromJson(body));
    sendJson(res, 200, result);
  };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    // Answer at once; closing afterwards spares reading a body we will not take.
    req.socket.once('finish', () => req.socket.destroy());
    throw new HeraldError('HERALD_ERR_PUBLISH_BODY_TOO_LARGE', `body is ${declared} bytes; the limit is ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HeraldError('HERALD_ERR_PUBLISH_BODY_TOO_LARGE', `body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
