import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { HeraldError, toHeraldError } from '../errors.js';
import { sendError } from './http-response.js';
import type { SseTransport } from './sse-transport.js';
import { EVENTS_PATH, parseHead, sniff } from './sse-request.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpServerOptions {
  host: string;
  port: number;
  requestHeadTimeoutMs: number;
  clientAddressHeader: string;
}

/** Subscription heads are small: a URL with topics and filters, a cursor, a few headers. */
export const MAX_SSE_HEAD_BYTES = 16 * 1024;
/** Keep-alive connections of publishers idle out after this (a load balancer's is usually 60 s). */
const KEEP_ALIVE_MS = 65_000;

/**
 * The one HTTP port. A plain TCP listener reads the first bytes of every
 * connection: a connection that opens with `GET /v1/events` is served by the
 * SSE transport on the raw socket (no ServerResponse, no chunked framing:
 * a few KB per idle stream instead of ~18 KB); every other connection is
 * handed, bytes and all, to a node:http server that does everything else.
 */
export class HttpFrontDoor {
  private readonly net: NetServer;
  private readonly http: HttpServer;
  private readonly pending = new Map<Socket, number>();
  /** Connections handed to node:http: it tracks connections only for servers it listens for. */
  private readonly handedOff = new Set<Socket>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: HttpServerOptions,
    private readonly sse: SseTransport,
    private readonly routes: Readonly<Record<string, RouteHandler>>,
    private readonly log: Logger,
  ) {
    this.http = createHttpServer({ keepAliveTimeout: KEEP_ALIVE_MS, requestTimeout: 30_000, headersTimeout: opts.requestHeadTimeoutMs }, (req, res) => this.route(req, res));
    // node:http enforces requestTimeout only on servers it listens for; an idle
    // timeout per socket covers the connections we hand it.
    this.http.timeout = KEEP_ALIVE_MS + 5_000;
    this.net = createNetServer({ noDelay: true }, (socket) => this.onConnection(socket));
    this.net.on('error', (err) => this.log.error({ err }, 'http listener error'));
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.net.once('error', reject);
      this.net.listen(this.opts.port, this.opts.host, () => {
        this.net.off('error', reject);
        const addr = this.net.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : this.opts.port);
      });
    });
  }

  /** Stops accepting connections; open streams are the SSE transport's to close. */
  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const s of this.pending.keys()) s.destroy();
    for (const s of this.handedOff) s.destroy();
    await new Promise<void>((resolve) => this.net.close(() => resolve()));
  }

  /** Stops accepting new connections but leaves open ones alone (drain). */
  stopAccepting(): void {
    this.net.close();
    // Idle keep-alive connections have no request in flight: close them now.
    for (const s of this.handedOff) if ((s as Socket & { _httpMessage?: unknown })._httpMessage == null) s.destroy();
  }

  private onConnection(socket: Socket): void {
    socket.on('error', ignore);
    let buf: Buffer | undefined;
    let sse = false;
    const onData = (chunk: Buffer): void => {
      buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
      try {
        if (!sse) {
          const kind = sniff(buf);
          if (kind === 'more') return;
          if (kind === 'other') {
            socket.off('data', onData);
            this.pending.delete(socket);
            this.handOff(socket, buf);
            return;
          }
          sse = true;
        }
        const head = parseHead(buf, MAX_SSE_HEAD_BYTES);
        if (head === undefined) return;
        socket.off('data', onData);
        this.pending.delete(socket);
        this.sse.acceptRaw(socket, head, this.opts.clientAddressHeader);
      } catch (err) {
        socket.off('data', onData);
        this.pending.delete(socket);
        this.sse.refuseRaw(socket, toHeraldError(err));
      }
    };
    socket.on('data', onData);
    // No close listener here: it would outlive the head as a closure per
    // stream. The sweep drops sockets that closed while pending.
    this.pending.set(socket, Date.now() + this.opts.requestHeadTimeoutMs);
    this.sweepTimer ??= setInterval(() => this.sweepPending(), 1000).unref();
  }

  /** Clients that never finish their first request head are dropped; one timer for all. */
  private sweepPending(): void {
    const now = Date.now();
    for (const [s, deadline] of this.pending) {
      if (s.destroyed) this.pending.delete(s);
      else if (deadline <= now) {
        this.pending.delete(s);
        s.destroy();
      }
    }
  }

  private handOff(socket: Socket, head: Buffer): void {
    this.handedOff.add(socket);
    socket.once('close', () => this.handedOff.delete(socket));
    socket.pause();
    socket.unshift(head);
    this.http.emit('connection', socket);
    socket.resume();
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    try {
      if (path === EVENTS_PATH && req.method === 'GET') {
        req.socket.setTimeout(0);
        this.sse.acceptHttp(req, res, this.opts.clientAddressHeader);
        return;
      }
      const handler = this.routes[`${req.method} ${path}`];
      if (handler !== undefined) {
        await handler(req, res);
        return;
      }
      const known = path === EVENTS_PATH || Object.keys(this.routes).some((r) => r.endsWith(' ' + path));
      throw known ? new HeraldError('HERALD_ERR_HTTP_METHOD', `${req.method} is not allowed on ${path}`) : new HeraldError('HERALD_ERR_HTTP_NOT_FOUND', `no route for ${path}`);
    } catch (err) {
      const e = toHeraldError(err);
      if (e.code === 'HERALD_ERR_INTERNAL') this.log.error({ err: e.cause }, 'request failed');
      sendError(res, e);
    }
  }
}

function ignore(): void {}
