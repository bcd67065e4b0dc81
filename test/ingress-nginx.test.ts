import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Herald } from '../src/main.js';
import { startTestHerald, waitUntil } from './helpers.js';

/**
 * Herald behind a real nginx reverse proxy, the way an ingress reaches it:
 * the raw SSE responses (HTTP/1.1, close-delimited) and node:http's
 * keep-alive responses both have to survive a proxy that re-frames them.
 * .ci/run installs nginx; a missing nginx fails this test, it does not skip.
 */
const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

let herald: Herald;
let nginx: ChildProcess;
let dir: string;
let port: number;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

beforeAll(async () => {
  herald = await startTestHerald({ retryMs: 20, retryJitterMs: 20 });
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'herald-nginx-'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  upstream herald { server 127.0.0.1:${herald.httpPort}; keepalive 8; }
  server {
    listen 127.0.0.1:${port};
    location /v1/events {
      proxy_pass http://herald;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
    location / {
      proxy_pass http://herald;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  await startNginx();
});

/** Starts nginx on the config above and waits until it proxies. */
async function startNginx(): Promise<void> {
  nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => {
    nginx.once('error', (e) => reject(new Error(`nginx is required for this test (${NGINX}): ${e.message}`)));
    const deadline = Date.now() + 10_000;
    const tryConnect = (): void => {
      fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => (r.ok ? resolve() : setTimeout(tryConnect, 50)),
        () => (Date.now() > deadline ? reject(new Error('nginx did not start')) : setTimeout(tryConnect, 50)),
      );
    };
    tryConnect();
  });
}

afterAll(async () => {
  nginx?.kill('SIGTERM');
  await herald?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function publishVia(base: string, body: unknown): Promise<Response> {
  return fetch(`${base}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('behind nginx', () => {
  it('ingress - a real EventSource streams through nginx, and resumes through it after the upstream cuts the stream', async () => {
    const base = `http://127.0.0.1:${port}`;
    const got: string[] = [];
    let opens = 0;
    const es = new EventSource(`${base}/v1/events?topic=ing`);
    es.addEventListener('open', () => opens++);
    es.addEventListener('message', (e) => got.push(e.data));
    await waitUntil(() => opens === 1);
    for (let i = 0; i < 20; i++) expect((await publishVia(base, { topic: 'ing', data: `m${i}` })).status).toBe(200);
    await waitUntil(() => got.length === 20);
    // The ingress dies and comes back: every stream through it is cut, events
    // published meanwhile go straight to Herald, and EventSource reconnects
    // through the new nginx with Last-Event-ID.
    nginx.kill('SIGKILL');
    await new Promise((r) => nginx.once('exit', r));
    const direct = `http://127.0.0.1:${herald.httpPort}`;
    for (let i = 20; i < 40; i++) await publishVia(direct, { topic: 'ing', data: `m${i}` });
    await startNginx();
    await waitUntil(() => got.length === 40, 10_000, `40 events through nginx (have ${got.length})`);
    es.close();
    expect(opens).toBeGreaterThan(1);
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`));
  });

  it('ingress - keep-alive publishes and errors pass through nginx unchanged', async () => {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 50; i++) expect((await publishVia(base, { topic: 'ka', data: String(i) })).status).toBe(200);
    const bad = await publishVia(base, { topic: 'ka', data: 'x', nope: 1 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('HERALD_ERR_PUBLISH_FIELD_UNKNOWN');
    const full = await fetch(`${base}/v1/events?topic=`);
    expect(full.status).toBe(400);
  });
});
