/**
 * Drives the C subscriber load generator (loadgen/loadgen.c): builds it with
 * the machine's gcc, splits the connections over a few processes (each is
 * capped by the per-process open-file limit), and merges their counters and
 * latency histograms.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { track, untrack } from './cleanup.js';
import { buildC } from './gcc.js';
import { BENCH_DIR, BUILD_DIR } from './paths.js';

const SOURCE = join(BENCH_DIR, 'loadgen', 'loadgen.c');
const BINARY = join(BUILD_DIR, 'loadgen');

/** Compiles loadgen.c when the binary is missing or older than the source. */
export function buildLoadgen(): string {
  return buildC(SOURCE, BINARY, 'the load generator');
}

/** Counters of every loadgen process since the last reset, merged. */
export interface LoadgenStats {
  open: number;
  connected: number;
  failed: number;
  closedByPeer: number;
  badStatus: number;
  deliveries: number;
  noTimestamp: number;
  comments: number;
  bytes: number;
  latSumNs: number;
  latMaxNs: number;
  /** CLOCK_MONOTONIC ns of the first and last delivery; 0 when none. */
  firstNs: number;
  lastNs: number;
  cpuS: number;
  /** Latency histogram: bucket midpoint in ns -> count. */
  hist: Map<number, number>;
}

interface RawStats {
  event: string;
  open: number;
  connected: number;
  failed: number;
  closed_by_peer: number;
  bad_status: number;
  deliveries: number;
  no_timestamp: number;
  comments: number;
  bytes: number;
  lat_sum_ns: number;
  lat_max_ns: number;
  first_ns: number;
  last_ns: number;
  cpu_user_s: number;
  cpu_sys_s: number;
  hist: [number, number][];
}

/** The latency in ns under which the fraction q of deliveries fell. */
export function percentileNs(hist: Map<number, number>, q: number): number {
  const entries = [...hist.entries()].sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((s, [, c]) => s + c, 0);
  if (total === 0) return Number.NaN;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const [v, c] of entries) {
    seen += c;
    if (seen >= rank) return v;
  }
  return entries[entries.length - 1]?.[0] ?? Number.NaN;
}

class LoadgenProcess {
  private readonly waiters: { event: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  private exited = false;
  readonly output: string[] = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.output.push(line);
        return;
      }
      const i = this.waiters.findIndex((w) => w.event === msg.event);
      if (i >= 0) this.waiters.splice(i, 1)[0]?.resolve(msg);
    });
    child.stderr.on('data', (d: Buffer) => this.output.push(d.toString()));
    child.on('exit', () => {
      this.exited = true;
    });
  }

  next(event: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.exited) {
        reject(new Error(`loadgen exited: ${this.output.join('').slice(-500)}`));
        return;
      }
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`loadgen: no "${event}" within ${timeoutMs} ms ${this.output.join('').slice(-500)}`));
      }, timeoutMs);
      const waiter = {
        event,
        resolve: (m: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.waiters.push(waiter);
    });
  }

  command(cmd: string, event: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const p = this.next(event, timeoutMs);
    this.child.stdin.write(`${cmd}\n`);
    return p;
  }
}

export interface LoadgenOptions {
  port: number;
  path: string;
  connections: number;
  processes: number;
  /** Connections a process has in flight (connect sent, no response head yet). */
  concurrency?: number;
  readyTimeoutMs: number;
}

/** A set of loadgen processes holding `connections` subscriptions together. */
export class LoadgenGroup {
  private constructor(private readonly procs: LoadgenProcess[]) {}

  /** Starts the processes and resolves once every connection is up or has failed. */
  static async start(opts: LoadgenOptions): Promise<{ group: LoadgenGroup; connected: number; failed: number }> {
    const bin = buildLoadgen();
    const n = Math.max(1, Math.min(opts.processes, opts.connections));
    const procs: LoadgenProcess[] = [];
    for (let i = 0; i < n; i++) {
      const share = Math.floor(opts.connections / n) + (i < opts.connections % n ? 1 : 0);
      const args = ['--port', String(opts.port), '--path', opts.path, '--conns', String(share)];
      args.push('--concurrency', String(opts.concurrency ?? 200));
      const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      track(child);
      procs.push(new LoadgenProcess(child));
    }
    const group = new LoadgenGroup(procs);
    try {
      const ready = await Promise.all(procs.map((p) => p.next('ready', opts.readyTimeoutMs)));
      const connected = ready.reduce((s, r) => s + Number(r.connected), 0);
      const failed = ready.reduce((s, r) => s + Number(r.failed), 0);
      return { group, connected, failed };
    } catch (err) {
      await group.quit();
      throw err;
    }
  }

  async reset(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.command('reset', 'reset')));
  }

  async stats(): Promise<LoadgenStats> {
    const raws = (await Promise.all(this.procs.map((p) => p.command('stats', 'stats')))) as unknown as RawStats[];
    const out: LoadgenStats = {
      open: 0,
      connected: 0,
      failed: 0,
      closedByPeer: 0,
      badStatus: 0,
      deliveries: 0,
      noTimestamp: 0,
      comments: 0,
      bytes: 0,
      latSumNs: 0,
      latMaxNs: 0,
      firstNs: 0,
      lastNs: 0,
      cpuS: 0,
      hist: new Map(),
    };
    for (const r of raws) {
      out.open += r.open;
      out.connected += r.connected;
      out.failed += r.failed;
      out.closedByPeer += r.closed_by_peer;
      out.badStatus += r.bad_status;
      out.deliveries += r.deliveries;
      out.noTimestamp += r.no_timestamp;
      out.comments += r.comments;
      out.bytes += r.bytes;
      out.latSumNs += r.lat_sum_ns;
      out.latMaxNs = Math.max(out.latMaxNs, r.lat_max_ns);
      if (r.first_ns && (!out.firstNs || r.first_ns < out.firstNs)) out.firstNs = r.first_ns;
      out.lastNs = Math.max(out.lastNs, r.last_ns);
      out.cpuS += r.cpu_user_s + r.cpu_sys_s;
      for (const [v, c] of r.hist) out.hist.set(v, (out.hist.get(v) ?? 0) + c);
    }
    return out;
  }

  /** Closes every connection (RST, so no TIME_WAIT) and waits for the processes to exit. */
  async quit(): Promise<void> {
    await Promise.all(
      this.procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            const child = p.child;
            if (child.exitCode !== null || child.signalCode !== null) {
              untrack(child);
              resolve();
              return;
            }
            const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
            child.once('exit', () => {
              clearTimeout(timer);
              untrack(child);
              resolve();
            });
            child.stdin.end('quit\n');
          }),
      ),
    );
  }
}
