/**
 * The servers under test, each started fresh as a child process and stopped
 * with its whole process tree:
 *   herald  node dist/cli/main.js serve (built by npm run build)
 *   nchan   Debian's nginx + libnginx-mod-nchan, one worker, own config,
 *           prefix and pid under a temp dir (never the system service)
 *   naive   bench/servers/naive-sse.mjs, node:http with res.write per
 *           subscriber per event
 *   floor   bench/servers/floor.c, compiled with gcc: one write() per
 *           subscriber per event and nothing else, the kernel's floor
 *   node-floor  bench/servers/node-floor.mjs: floor's job in Node, one
 *           socket.write() per subscriber per event (only when asked for)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { killTree, track, untrack } from './cleanup.js';
import { buildC } from './gcc.js';
import { FLOOR_BINARY, FLOOR_SOURCE, HERALD_CLI, NAIVE_SERVER, NODE_FLOOR_SERVER, REPO_ROOT, RESULTS_DIR } from './paths.js';
import { processTree } from './proc-stats.js';

export type ServerName = 'herald' | 'nchan' | 'naive' | 'floor' | 'node-floor';
/** The default run, in this order: floor last, as the reference the others are read against. */
export const SERVER_NAMES: readonly ServerName[] = ['herald', 'nchan', 'naive', 'floor'];
/** Servers --servers also accepts: node-floor is a reference for a closer look, not in every run. */
export const ALL_SERVER_NAMES: readonly ServerName[] = [...SERVER_NAMES, 'node-floor'];

export type IngestMode = 'grpcStream' | 'grpcUnary' | 'http';

/** How to publish one event over HTTP to a server. */
export interface HttpPublishTarget {
  origin: string;
  path: string;
  contentType: string;
  body(payload: string): string;
}

export interface ServerSpec {
  readonly name: ServerName;
  readonly httpPort: number;
  /** Subscriber path for the loadgen (same topic everywhere: "bench"). */
  readonly ssePath: string;
  readonly http: HttpPublishTarget;
  /** host:port of the gRPC PublisherService, when the server has one. */
  readonly grpcAddress?: string;
  readonly ingestModes: readonly IngestMode[];
  /** Throws with the reason when the server cannot run on this machine. */
  prepare(): void;
  start(): Promise<RunningServer>;
}

export interface RunningServer {
  readonly pid: number;
  /** The server's process tree now (nginx: master and worker). */
  pids(): number[];
  /** Throws when the server has exited on its own (a crash, or a signal from elsewhere). */
  assertAlive(): void;
  stop(): Promise<void>;
}

export const TOPIC = 'bench';
const READY_TIMEOUT_MS = 30_000;
/** A port freed by the previous server may stay bound for a moment while it exits. */
const PORT_FREE_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    // No host: Node binds [::] (dual stack) or 0.0.0.0, which conflicts with a
    // listener on any local address of that port.
    srv.listen({ port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Waits until nothing listens on the ports (the previous server is gone). */
export async function waitPortsFree(ports: readonly number[]): Promise<void> {
  const deadline = Date.now() + PORT_FREE_TIMEOUT_MS;
  for (const port of ports) {
    while (!(await portIsFree(port))) {
      if (Date.now() > deadline) throw new Error(`port ${port} is still in use after ${PORT_FREE_TIMEOUT_MS} ms`);
      await sleep(200);
    }
  }
}

async function waitReady(child: ChildProcess, url: string, output: string[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before ready:\n${output.join('').slice(-2000)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`not ready at ${url} within ${READY_TIMEOUT_MS} ms:\n${output.join('').slice(-2000)}`);
}

/** Spawns a server, waits for its readiness URL, and returns how to stop it. */
async function launch(
  name: string,
  cmd: string,
  args: string[],
  readyUrl: string,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = REPO_ROOT,
): Promise<RunningServer> {
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const output: string[] = [];
  // Every server's own output, appended to bench/results/logs/<name>.log.
  mkdirSync(join(RESULTS_DIR, 'logs'), { recursive: true });
  const file = createWriteStream(join(RESULTS_DIR, 'logs', `${name}.log`), { flags: 'a' });
  file.write(`--- ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
  const keep = (d: Buffer): void => {
    file.write(d);
    output.push(d.toString());
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  // 'close', not 'exit': a server may still be printing (floor's counters on
  // SIGTERM) when it exits, and writing after end() throws.
  child.once('close', (code, signal) => file.end(`--- exited ${code ?? signal}\n`));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: failed to spawn ${cmd}`);
  try {
    await waitReady(child, readyUrl, output);
  } catch (err) {
    killTree(pid, 'SIGKILL');
    untrack(child);
    throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
  }
  let stopping = false;
  return {
    pid,
    pids: () => processTree(pid),
    assertAlive() {
      if (!stopping && (child.exitCode !== null || child.signalCode !== null)) {
        throw new Error(
          `${name} exited on its own (${child.exitCode ?? child.signalCode}) during the scenario:\n${output.join('').slice(-2000)}`,
        );
      }
    },
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        const tree = processTree(pid);
        child.kill('SIGTERM');
        const killed = await Promise.race([exited.then(() => false), sleep(STOP_GRACE_MS).then(() => true)]);
        if (killed) killTree(pid, 'SIGKILL');
        await exited;
        // nginx workers leave with their master; make sure nothing outlives it.
        for (const p of tree) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // gone, as expected
          }
        }
      }
      untrack(child);
    },
  };
}

function jsonPublish(origin: string): HttpPublishTarget {
  return {
    origin,
    path: '/v1/publish',
    contentType: 'application/json',
    body: (payload) => JSON.stringify({ topic: TOPIC, data: payload }),
  };
}

/** nchan's publisher location, which floor and node-floor copy: the body is the payload. */
function rawPublish(origin: string): HttpPublishTarget {
  return { origin, path: `/pub?topic=${TOPIC}`, contentType: 'text/plain', body: (payload) => payload };
}

export interface ServerPorts {
  heraldHttp: number;
  heraldGrpc: number;
  nchan: number;
  naive: number;
  floor: number;
  nodeFloor: number;
}

/**
 * Flags beyond Herald's fixed bench contract, passed only when this build's
 * `serve --help` lists them (so an older or newer build still starts).
 */
const HERALD_OPTIONAL_FLAGS: readonly [string, string][] = [
  ['--host', '127.0.0.1'],
  // Every bench subscriber comes from 127.0.0.1: the per-address cap must
  // not be what limits them.
  ['--max-client-connections', '20000'],
  // The loadgen closes every stream before the bench stops Herald, so there
  // is nothing to drain; keeps a SIGTERM stop (and --cpu-prof's write) quick.
  ['--drain-ms', '1000'],
];

function heraldHelpFlags(): Set<string> {
  const r = spawnSync(process.execPath, [HERALD_CLI, 'serve', '--help'], { encoding: 'utf8', timeout: 30_000 });
  return new Set(`${r.stdout ?? ''}`.match(/--[a-z][a-z-]*/g) ?? []);
}

export function heraldSpec(ports: ServerPorts, extraArgs: string[], nodeArgs: string[]): ServerSpec {
  const origin = `http://127.0.0.1:${ports.heraldHttp}`;
  let optional: string[] = [];
  return {
    name: 'herald',
    httpPort: ports.heraldHttp,
    ssePath: `/v1/events?topic=${TOPIC}`,
    http: jsonPublish(origin),
    grpcAddress: `127.0.0.1:${ports.heraldGrpc}`,
    ingestModes: ['grpcStream', 'grpcUnary', 'http'],
    prepare() {
      if (!existsSync(HERALD_CLI)) throw new Error(`${HERALD_CLI} not found: run npm run build first`);
      const known = heraldHelpFlags();
      optional = HERALD_OPTIONAL_FLAGS.filter(([flag]) => known.has(flag)).flat();
    },
    async start() {
      await waitPortsFree([ports.heraldHttp, ports.heraldGrpc]);
      const args = [
        ...nodeArgs,
        HERALD_CLI,
        'serve',
        '--http-port',
        String(ports.heraldHttp),
        '--grpc-port',
        String(ports.heraldGrpc),
        '--max-connections',
        '20000',
        // Longer than any scenario, as nchan sends no pings by default.
        '--heartbeat-ms',
        '30000',
        '--log-level',
        'warn',
        ...optional,
        ...extraArgs,
      ];
      return launch('herald', process.execPath, args, `${origin}/readyz`);
    },
  };
}

/**
 * A server that is one process on one port, takes `--port N`, is ready when
 * `GET /readyz` answers 200, and is published to over HTTP only (naive,
 * floor, node-floor).
 */
function onePortSpec(
  name: ServerName,
  port: number,
  publish: (origin: string) => HttpPublishTarget,
  cmd: string,
  args: string[],
  prepare: () => void = () => {},
): ServerSpec {
  const origin = `http://127.0.0.1:${port}`;
  return {
    name,
    httpPort: port,
    ssePath: `/v1/events?topic=${TOPIC}`,
    http: publish(origin),
    ingestModes: ['http'],
    prepare,
    async start() {
      await waitPortsFree([port]);
      return launch(name, cmd, [...args, '--port', String(port)], `${origin}/readyz`);
    },
  };
}

export function naiveSpec(ports: ServerPorts): ServerSpec {
  return onePortSpec('naive', ports.naive, jsonPublish, process.execPath, [NAIVE_SERVER]);
}

const NGINX = '/usr/sbin/nginx';
const NCHAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';
const POLICY_RC = '/usr/sbin/policy-rc.d';

/** Installs nginx and nchan from Debian's packages when they are missing. */
export function ensureNchanInstalled(log: (msg: string) => void): void {
  if (existsSync(NGINX) && existsSync(NCHAN_MODULE)) return;
  if (process.getuid?.() !== 0) throw new Error('nginx/nchan missing and not root: apt-get install nginx libnginx-mod-nchan');
  log('nchan: installing nginx and libnginx-mod-nchan with apt-get (once)');
  // Installing nginx must not start the system service: policy-rc.d exit 101
  // tells invoke-rc.d to leave services alone. Only added when absent.
  const addedPolicy = !existsSync(POLICY_RC);
  if (addedPolicy) writeFileSync(POLICY_RC, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const opts = { env, encoding: 'utf8' as const, timeout: 600_000 };
    const upd = spawnSync('apt-get', ['update', '-qq'], opts);
    if (upd.status !== 0) throw new Error(`apt-get update failed: ${upd.stderr ?? upd.error}`);
    const inst = spawnSync(
      'apt-get',
      ['install', '-y', '-qq', '--no-install-recommends', 'nginx', 'libnginx-mod-nchan'],
      opts,
    );
    if (inst.status !== 0) throw new Error(`apt-get install failed: ${inst.stderr ?? inst.error}`);
  } finally {
    if (addedPolicy) rmSync(POLICY_RC, { force: true });
  }
  if (!existsSync(NCHAN_MODULE)) throw new Error(`nchan module not found at ${NCHAN_MODULE} after install`);
}

function nginxConf(dir: string, port: number): string {
  return `# generated by bench/servers.ts for one bench run
load_module ${NCHAN_MODULE};
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 19000;
  use epoll;
}
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  nchan_shared_memory_size 256m;
  server {
    listen 127.0.0.1:${port};
    location = /v1/events {
      nchan_subscriber eventsource;
      nchan_channel_id $arg_topic;
      nchan_subscriber_first_message newest;
    }
    location = /pub {
      nchan_publisher http;
      nchan_channel_id $arg_topic;
    }
    location = /readyz {
      return 200 "ok";
    }
  }
}
`;
}

export function nchanSpec(ports: ServerPorts, log: (msg: string) => void): ServerSpec {
  const origin = `http://127.0.0.1:${ports.nchan}`;
  return {
    name: 'nchan',
    httpPort: ports.nchan,
    ssePath: `/v1/events?topic=${TOPIC}`,
    http: rawPublish(origin),
    ingestModes: ['http'],
    prepare() {
      ensureNchanInstalled(log);
    },
    async start() {
      await waitPortsFree([ports.nchan]);
      const dir = mkdtempSync(join(tmpdir(), 'herald-bench-nginx-'));
      mkdirSync(join(dir, 'logs'));
      writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, ports.nchan));
      const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
      const running = await launch('nchan', NGINX, args, `${origin}/readyz`);
      return {
        ...running,
        async stop() {
          await running.stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

/** Compiles floor.c when the binary is missing or older than the source (as the loadgen is built). */
export function buildFloor(): string {
  return buildC(FLOOR_SOURCE, FLOOR_BINARY, 'the floor server');
}

/**
 * The kernel's floor: a C server that makes exactly one write() per
 * subscriber per event and does nothing else, published to like nchan
 * (body = payload). A measuring instrument, not a product (see floor.c).
 */
export function floorSpec(ports: ServerPorts): ServerSpec {
  return onePortSpec('floor', ports.floor, rawPublish, FLOOR_BINARY, [], buildFloor);
}

/**
 * Node's floor: floor's job done with net.Socket and one socket.write() per
 * subscriber per event, published to like floor (see node-floor.mjs). Not in
 * the default run; --servers node-floor adds it.
 */
export function nodeFloorSpec(ports: ServerPorts): ServerSpec {
  return onePortSpec('node-floor', ports.nodeFloor, rawPublish, process.execPath, [NODE_FLOOR_SERVER]);
}
