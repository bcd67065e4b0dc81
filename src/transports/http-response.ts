import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HeraldError } from '../errors.js';

/**
 * Responses, written either through node:http (ServerResponse) or as raw
 * bytes on a socket the SSE front door owns. Both take the same header
 * objects, so the two paths cannot drift apart.
 */

export type Headers = Readonly<Record<string, string>>;

/** The head of a raw HTTP/1.1 response: status line, headers, blank line. */
export function rawHead(status: number, headers: Headers): string {
  let s = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (const k in headers) s += `${k}: ${headers[k]}\r\n`;
  return s + '\r\n';
}

export function retryAfter(e: HeraldError): Headers {
  return e.retryAfterS !== undefined ? { 'retry-after': String(e.retryAfterS) } : {};
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Writes a HeraldError as the JSON error body, unless a response is already under way. */
export function sendError(res: ServerResponse, e: HeraldError, headers: Headers = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, e.http, e.toJSON(), { ...retryAfter(e), ...headers });
}

/** The same JSON error on a raw socket, which is then closed. */
export function endRawWithError(socket: Socket, e: HeraldError, headers: Headers = {}): void {
  const text = JSON.stringify(e.toJSON());
  const head = rawHead(e.http, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...retryAfter(e), ...headers, connection: 'close' });
  socket.end(head + text);
}
