/**
 * Transports: the HTTP port (front door), and Server-Sent Events on it.
 *
 * Concurrency: everything runs on the event loop. The hub writes frames into
 * connections synchronously; the SSE transport flushes them once per tick.
 * One timer per transport drives heartbeats, slow-consumer accounting and
 * drain; none is created per connection.
 *
 * Lifecycle: start() -> listen() -> [refuseNew() -> drain(window)] -> close().
 * Transports depend on the hub; the hub never imports a transport.
 */
export { HttpFrontDoor, type RouteHandler, type HttpServerOptions } from './http-server.js';
export { sendError, sendJson } from './http-response.js';
export { SseTransport, type SseOptions, type SseStats } from './sse-transport.js';
