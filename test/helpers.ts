import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { loadConfig, type ConfigKey } from '../src/config/index.js';
import { startHerald, type Herald } from '../src/main.js';
import { createLogger } from '../src/telemetry/index.js';

/** A real Herald on free loopback ports, quiet. */
export async function startTestHerald(overrides: Partial<Record<ConfigKey, unknown>> = {}): Promise<Herald> {
  const config = loadConfig([], {}, { host: '127.0.0.1', httpPort: 0, grpcPort: 0, logLevel: 'silent', ...overrides });
  return startHerald(config, createLogger(config.logLevel));
}

export async function publish(h: Herald, body: Record<string, unknown>): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${h.httpPort}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

export function waitUntil(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const check = (): void => {
      if (cond()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(check, 5);
    };
    check();
  });
}

/**
 * A raw-socket SSE client for tests: full control over reading (pause it to
 * play a slow consumer) and over the request head. Parses the response with
 * eventsource-parser, an implementation independent of Herald's encoder.
 */
export class SseProbe {
  readonly socket: Socket;
  status = 0;
  headers = new Map<string, string>();
  readonly events: EventSourceMessage[] = [];
  readonly ids: string[] = [];
  readonly comments: string[] = [];
  retry: number | undefined;
  body = '';
  ended = false;
  private head = Buffer.alloc(0);
  private inBody = false;
  private readonly parser = createParser({
    onEvent: (e) => this.events.push(e),
    onId: (id) => this.ids.push(id),
    onComment: (c) => this.comments.push(c),
    onRetry: (r) => (this.retry = r),
  });

  constructor(port: number, path: string, headers: Record<string, string> = {}) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('error', () => {});
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${extra}\r\n`);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('close', () => (this.ended = true));
  }

  private onData(chunk: Buffer): void {
    if (this.inBody) {
      this.feed(chunk.toString('utf8'));
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    const end = this.head.indexOf('\r\n\r\n');
    if (end === -1) return;
    const lines = this.head.toString('latin1', 0, end).split('\r\n');
    this.status = Number(lines[0]!.split(' ')[1]);
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      this.headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
    }
    this.inBody = true;
    const rest = this.head.subarray(end + 4);
    if (rest.length > 0) this.feed(rest.toString('utf8'));
  }

  private feed(text: string): void {
    this.body += text;
    this.parser.feed(text);
  }

  /** Data of the events that are not Herald's own (herald.reset). */
  data(): string[] {
    return this.events.filter((e) => e.event !== 'herald.reset').map((e) => e.data);
  }

  resets(): { topics: string[]; reason: string }[] {
    return this.events.filter((e) => e.event === 'herald.reset').map((e) => JSON.parse(e.data));
  }

  lastId(): string | undefined {
    return this.ids.at(-1);
  }

  waitForStatus(): Promise<void> {
    return waitUntil(() => this.status !== 0, 5000, 'response status');
  }

  waitForEvents(n: number, timeoutMs = 5000): Promise<void> {
    return waitUntil(() => this.events.length >= n, timeoutMs, `${n} events (have ${this.events.length})`);
  }

  waitForEnd(timeoutMs = 5000): Promise<void> {
    return waitUntil(() => this.ended, timeoutMs, 'the stream to end');
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A TCP proxy that can cut every connection through it, so the real
 * EventSource client sees connections drop at arbitrary points.
 */
export function cuttingProxy(target: number): Promise<{ port: number; cutAll(): number; close(): void }> {
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.on('error', () => {});
    upstream.on('error', () => {});
    client.pipe(upstream).pipe(client);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const cutAll = (): number => {
        const n = pairs.size;
        for (const [a, b] of [...pairs]) {
          a.destroy();
          b.destroy();
        }
        return n;
      };
      resolve({
        port,
        cutAll,
        close() {
          cutAll();
          server.close();
        },
      });
    }),
  );
}

