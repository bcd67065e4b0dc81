/**
 * What every bench mode shares: the log line, a server for the length of a
 * scenario, a group of loadgen subscribers for the length of a phase,
 * waiting for deliveries, and the description of the machine.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoadgenGroup, type LoadgenStats } from './loadgen.js';
import { REPO_ROOT } from './paths.js';
import type { RunningServer, ServerSpec } from './servers.js';

/** Time for RSS to settle after the server starts or after the last connection. */
export const SETTLE_MS = 2_000;
/** How often the loadgens are asked for their counters while waiting for deliveries. */
const POLL_MS = 50;

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** How long a phase may take and how its subscribers are spread. */
export interface PhaseLimits {
  /** Loadgen processes: each is capped by the 20,000 open-file limit. */
  loadgenProcesses: number;
  readyTimeoutMs: number;
  /** Upper bound on waiting for the deliveries of one publishing phase. */
  phaseDeadlineMs: number;
  /** A phase ends when no delivery arrived for this long after the last publish. */
  stallMs: number;
}

/** Starts the server, runs fn, and stops the server whatever happened. */
export async function withServer<T>(s: ServerSpec, fn: (srv: RunningServer) => Promise<T>): Promise<T> {
  const srv = await s.start();
  try {
    return await fn(srv);
  } finally {
    const t0 = performance.now();
    await srv.stop();
    const took = (performance.now() - t0) / 1000;
    if (took > 1) log(`${s.name}: took ${took.toFixed(1)} s to stop`);
  }
}

/** Connects `connections` subscribers, runs fn, and closes them whatever happened. */
export async function withSubscribers<T>(
  s: ServerSpec,
  limits: PhaseLimits,
  connections: number,
  fn: (group: LoadgenGroup, connected: number) => Promise<T>,
): Promise<T> {
  const t0 = performance.now();
  const { group, connected, failed } = await LoadgenGroup.start({
    port: s.httpPort,
    path: s.ssePath,
    connections,
    processes: limits.loadgenProcesses,
    readyTimeoutMs: limits.readyTimeoutMs,
  });
  log(`${s.name}: ${connected} subscribers connected in ${((performance.now() - t0) / 1000).toFixed(1)} s` + (failed ? `, ${failed} FAILED` : ''));
  try {
    if (connected === 0) throw new Error(`no subscriber could connect (${failed} failed)`);
    return await fn(group, connected);
  } finally {
    await group.quit();
  }
}

/** Polls the loadgens until every expected delivery is in, deliveries stall, or the deadline. */
export async function waitDeliveries(group: LoadgenGroup, expected: number, limits: PhaseLimits): Promise<LoadgenStats> {
  const start = performance.now();
  let last = await group.stats();
  let lastProgress = performance.now();
  while (last.deliveries < expected) {
    if (performance.now() - lastProgress > limits.stallMs) break;
    if (performance.now() - start > limits.phaseDeadlineMs) break;
    await sleep(POLL_MS);
    const st = await group.stats();
    if (st.deliveries > last.deliveries) lastProgress = performance.now();
    last = st;
  }
  return last;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  nginx: string;
  gcc: string;
  commit: string;
  /**
   * Files under src/ and proto/ that differ from the commit: the build that
   * was measured is the working tree, so a non-empty list means the commit
   * alone does not reproduce it.
   */
  uncommitted: string[];
}

export function machine(): Machine {
  const sh = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
  };
  let commit = '';
  let uncommitted: string[] = [];
  try {
    commit = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    uncommitted = execFileSync('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--', 'src', 'proto'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.slice(3).trim())
      .filter(Boolean);
  } catch {
    // not a git checkout
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    nginx: sh('/usr/sbin/nginx', ['-v']),
    gcc: sh('gcc', ['--version']),
    commit,
    uncommitted,
  };
}

/** "commit abc1234", plus a note when the measured build had uncommitted changes. */
export function commitLabel(m: Machine): string {
  if (!m.commit) return 'no git commit';
  return m.uncommitted.length ? `commit ${m.commit} + uncommitted changes in ${m.uncommitted.length} src/proto paths` : `commit ${m.commit}`;
}
