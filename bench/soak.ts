/**
 * Soak: does a server's memory stay put under the steady load?
 *
 * One fresh server holds S subscribers on one topic (the steady scenario's
 * 10,000) while the bench publishes 64-byte events at 5/s for N minutes
 * (default 10). Every 10 s it samples the server's RSS (VmRSS of the process
 * tree), its CPU, the deliveries so far and the latency of the last
 * interval. The first two minutes are warm-up (JIT, heap growth to its working
 * size and the heap handed back after connection setup, socket buffers
 * reaching their steady size); the target is that RSS
 * at the end is within 10 % of RSS after warm-up, with no delivery missing.
 *
 * npm run bench -- --soak [--soak-minutes 10] [--servers herald,nchan]
 * Writes bench/results/soak.json and soak.md. Loopback only; every loop is
 * bounded by the event count or the sample count.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { commitLabel, log, machine, SETTLE_MS, waitDeliveries, withServer, withSubscribers, type PhaseLimits } from './harness.js';
import { buildLoadgen, percentileNs, type LoadgenGroup, type LoadgenStats } from './loadgen.js';
import { cpuTimes, hostCpu, rssKiB } from './proc-stats.js';
import { HttpPublisher, makePayload, PAYLOAD_BYTES } from './publishers.js';
import { num, renderMarkdown, renderText, type Table } from './report.js';
import type { RunningServer, ServerName, ServerSpec } from './servers.js';

export const SOAK_DEFAULT_MINUTES = 10;
/** The steady scenario's rate: one event per 200 ms, each written on its own. */
const SOAK_RATE_PER_S = 5;
/** RSS sample interval: 60 samples in 10 minutes, each /proc read costs well under 1 ms. */
const SOAK_SAMPLE_MS = 10_000;
/**
 * RSS after this long is the reference the end is compared with. Two
 * minutes, not one: about 100 s after the streams open, V8's memory reducer
 * hands back the heap that setting up 10,000 connections grew (40-47 MiB in
 * the runs of 2026-12-04), so a one-minute reference measured that one-off
 * drop, not the steady state a leak would grow from.
 */
const SOAK_WARMUP_MS = 120_000;
/** The target: RSS at the end within this fraction of RSS after warm-up. */
const SOAK_RSS_TOLERANCE = 0.1;
/** Keep-alive connections of the publisher: at 5/s one is busy a few ms per event. */
const SOAK_PUBLISH_CONNECTIONS = 2;

export interface SoakOptions extends PhaseLimits {
  quick: boolean;
  servers: ServerName[];
  subscribers: number;
  soakMinutes: number;
  out: string;
}

export interface SoakSample {
  /** Seconds since the first publish. */
  tS: number;
  rssKiB: number;
  /** Cumulative since the first publish. */
  published: number;
  deliveries: number;
  open: number;
  /** In the interval since the previous sample. */
  serverCpuS: number;
  p99Ms: number;
  otherCpuS: number;
}

export interface SoakResult {
  subscribers: number;
  minutes: number;
  ratePerS: number;
  events: number;
  publishErrors: number;
  firstPublishError?: string;
  expected: number;
  deliveries: number;
  missing: number;
  closedByPeer: number;
  openAtEnd: number;
  /** RSS 2 s after the server was ready, and 2 s after the subscribers connected. */
  rssReadyKiB: number;
  rssConnectedKiB: number;
  /** The sample at the end of warm-up, the last sample (after the last delivery), and the largest. */
  warmupAtS: number;
  rssWarmupKiB: number;
  rssEndKiB: number;
  rssMaxKiB: number;
  rssMaxAtS: number;
  endOverWarmup: number;
  serverCpuS: number;
  cpuSPerMillion: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  loadgenCpuS: number;
  otherCpuS: number;
  samples: SoakSample[];
}

interface Snapshot {
  atMs: number;
  rssKiB: number;
  serverCpuS: number;
  hostBusyS: number;
  selfCpuS: number;
  stats: LoadgenStats;
}

async function snapshot(srv: RunningServer, group: LoadgenGroup): Promise<Snapshot> {
  const stats = await group.stats();
  const pids = srv.pids();
  const cpu = cpuTimes(pids);
  const self = process.cpuUsage();
  return {
    atMs: performance.now(),
    rssKiB: rssKiB(pids),
    serverCpuS: cpu.userS + cpu.sysS,
    hostBusyS: hostCpu().busyS,
    selfCpuS: (self.user + self.system) / 1e6,
    stats,
  };
}

/** The latency histogram of the deliveries between two snapshots. */
function histDiff(a: Map<number, number>, b: Map<number, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [v, c] of b) {
    const d = c - (a.get(v) ?? 0);
    if (d > 0) out.set(v, d);
  }
  return out;
}

function sampleOf(prev: Snapshot, cur: Snapshot, t0Ms: number, published: number): SoakSample {
  const serverCpuS = cur.serverCpuS - prev.serverCpuS;
  const loadgenCpuS = cur.stats.cpuS - prev.stats.cpuS;
  return {
    tS: (cur.atMs - t0Ms) / 1000,
    rssKiB: cur.rssKiB,
    published,
    deliveries: cur.stats.deliveries,
    open: cur.stats.open,
    serverCpuS,
    p99Ms: percentileNs(histDiff(prev.stats.hist, cur.stats.hist), 0.99) / 1e6,
    otherCpuS: cur.hostBusyS - prev.hostBusyS - serverCpuS - loadgenCpuS - (cur.selfCpuS - prev.selfCpuS),
  };
}

async function soakOne(s: ServerSpec, opts: SoakOptions): Promise<SoakResult> {
  const durationMs = opts.soakMinutes * 60_000;
  // A soak shorter than two minutes (a try-out) takes its first half as warm-up.
  const warmupMs = Math.min(SOAK_WARMUP_MS, durationMs / 2);
  const total = Math.max(1, Math.round((durationMs / 1000) * SOAK_RATE_PER_S));
  return withServer(s, async (srv) => {
    await sleep(SETTLE_MS);
    const rssReadyKiB = rssKiB(srv.pids());
    return withSubscribers(s, opts, opts.subscribers, async (group, connected) => {
      await sleep(SETTLE_MS);
      srv.assertAlive();
      const rssConnectedKiB = rssKiB(srv.pids());
      const pub = new HttpPublisher(s.http, SOAK_PUBLISH_CONNECTIONS);
      try {
        await group.reset();
        const first = await snapshot(srv, group);
        const t0 = first.atMs;
        const samples: SoakSample[] = [sampleOf(first, first, t0, 0)];
        let published = 0;
        let errors = 0;
        let firstError: string | undefined;
        let publishing = true;

        // Events at a fixed rate, each stamped when sent; at most `total` of them.
        const publisher = (async () => {
          const pending: Promise<void>[] = [];
          for (let i = 0; i < total; i++) {
            const wait = t0 + (i * 1000) / SOAK_RATE_PER_S - performance.now();
            if (wait > 0) await sleep(wait);
            pending.push(
              pub.publish(makePayload()).then((err) => {
                if (err === undefined) published++;
                else {
                  errors++;
                  firstError ??= err;
                }
              }),
            );
          }
          await Promise.all(pending);
          publishing = false;
        })();

        // One sample every 10 s while publishing; at most duration / interval of them.
        let prev = first;
        const sampler = (async () => {
          const count = Math.ceil(durationMs / SOAK_SAMPLE_MS);
          for (let k = 1; k < count && publishing; k++) {
            const wait = t0 + k * SOAK_SAMPLE_MS - performance.now();
            if (wait > 0) await sleep(wait);
            srv.assertAlive();
            const cur = await snapshot(srv, group);
            const sm = sampleOf(prev, cur, t0, published);
            samples.push(sm);
            prev = cur;
            log(
              `${s.name}: soak t=${sm.tS.toFixed(0)} s: RSS ${(sm.rssKiB / 1024).toFixed(1)} MiB, ` +
                `${sm.deliveries} deliveries, ${sm.open} open, p99 ${sm.p99Ms.toFixed(1)} ms, other ${sm.otherCpuS.toFixed(2)} CPU-s`,
            );
          }
        })();

        await Promise.all([publisher, sampler]);
        const expected = published * connected;
        await waitDeliveries(group, expected, opts);
        srv.assertAlive();
        const last = await snapshot(srv, group);
        samples.push(sampleOf(prev, last, t0, published));

        const st = last.stats;
        // The reference: the first sample at or after the end of warm-up.
        const warm = samples.find((x) => x.tS >= warmupMs / 1000 - 0.5) ?? samples[samples.length - 1];
        const end = samples[samples.length - 1];
        if (!warm || !end) throw new Error('soak took no samples');
        const max = samples.reduce((m, x) => (x.rssKiB > m.rssKiB ? x : m), samples[0] ?? end);
        const serverCpuS = last.serverCpuS - first.serverCpuS;
        const loadgenCpuS = st.cpuS;
        return {
          subscribers: connected,
          minutes: opts.soakMinutes,
          ratePerS: SOAK_RATE_PER_S,
          events: published,
          publishErrors: errors,
          ...(firstError !== undefined ? { firstPublishError: firstError } : {}),
          expected,
          deliveries: st.deliveries,
          missing: expected - st.deliveries,
          closedByPeer: st.closedByPeer,
          openAtEnd: st.open,
          rssReadyKiB,
          rssConnectedKiB,
          warmupAtS: warm.tS,
          rssWarmupKiB: warm.rssKiB,
          rssEndKiB: end.rssKiB,
          rssMaxKiB: max.rssKiB,
          rssMaxAtS: max.tS,
          endOverWarmup: end.rssKiB / warm.rssKiB,
          serverCpuS,
          cpuSPerMillion: (serverCpuS / Math.max(1, st.deliveries)) * 1e6,
          p50Ms: percentileNs(st.hist, 0.5) / 1e6,
          p99Ms: percentileNs(st.hist, 0.99) / 1e6,
          maxMs: st.latMaxNs / 1e6,
          loadgenCpuS,
          otherCpuS: last.hostBusyS - first.hostBusyS - serverCpuS - loadgenCpuS - (last.selfCpuS - first.selfCpuS),
          samples,
        };
      } finally {
        await pub.close();
      }
    });
  });
}

const mib = (kib: number): string => num(kib / 1024, 1);

/** A signed percentage with one decimal; rounding to zero prints "0.0 %", never "-0.0 %". */
function pct(fraction: number): string {
  const v = Math.round(fraction * 1000) / 10;
  return `${v > 0 ? '+' : ''}${(v === 0 ? 0 : v).toFixed(1)} %`;
}

function summaryTable(results: Partial<Record<ServerName, SoakResult>>, title: string): Table {
  const rows = Object.entries(results).map(([name, r]) => [
    name,
    num(r.subscribers),
    num(r.minutes, r.minutes % 1 ? 1 : 0),
    num(r.events),
    num(r.deliveries),
    num(r.missing),
    mib(r.rssReadyKiB),
    mib(r.rssConnectedKiB),
    mib(r.rssWarmupKiB),
    mib(r.rssEndKiB),
    mib(r.rssMaxKiB),
    num(r.rssMaxAtS),
    `${r.endOverWarmup.toFixed(3)}x`,
    num(r.cpuSPerMillion, 3),
    num(r.p50Ms, 2),
    num(r.p99Ms, 2),
    num(r.loadgenCpuS, 2),
    num(r.otherCpuS, 2),
  ]);
  return {
    title,
    headers: [
      'server',
      'subs',
      'min',
      'events',
      'deliveries',
      'missing',
      'RSS ready MiB',
      'RSS connected MiB',
      'RSS warm-up MiB',
      'RSS end MiB',
      'RSS max MiB',
      'max at s',
      'end / warm-up',
      'CPU s/M deliv',
      'p50 ms',
      'p99 ms',
      'loadgen CPU s',
      'other CPU s',
    ],
    rows,
  };
}

function samplesTable(name: string, r: SoakResult): Table {
  return {
    title: `${name}: samples every ${SOAK_SAMPLE_MS / 1000} s (the last one after the last delivery; warm-up ends at t=${num(r.warmupAtS)} s)`,
    headers: ['t s', 'RSS MiB', 'vs warm-up', 'published', 'deliveries', 'open', 'srv CPU s', 'p99 ms', 'other CPU s'],
    rows: r.samples.map((x) => [
      num(x.tS),
      mib(x.rssKiB),
      pct(x.rssKiB / r.rssWarmupKiB - 1),
      num(x.published),
      num(x.deliveries),
      num(x.open),
      num(x.serverCpuS, 2),
      num(x.p99Ms, 2),
      num(x.otherCpuS, 2),
    ]),
  };
}

export interface SoakCheck {
  target: string;
  measured: string;
  verdict: 'PASS' | 'FAIL';
}

export function checkSoak(results: Partial<Record<ServerName, SoakResult>>): SoakCheck[] {
  return Object.entries(results).flatMap(([name, r]) => [
    {
      target: `${name}: RSS at the end within ${SOAK_RSS_TOLERANCE * 100} % of RSS after warm-up`,
      measured: `${r.endOverWarmup.toFixed(3)}x (${mib(r.rssWarmupKiB)} -> ${mib(r.rssEndKiB)} MiB)`,
      verdict: Math.abs(r.endOverWarmup - 1) <= SOAK_RSS_TOLERANCE ? 'PASS' : 'FAIL',
    },
    {
      target: `${name}: no delivery missing, no stream closed`,
      measured: `${num(r.missing)} of ${num(r.expected)} missing, ${num(r.closedByPeer)} closed, ${num(r.publishErrors)} publish errors`,
      verdict: r.missing === 0 && r.closedByPeer === 0 && r.publishErrors === 0 ? 'PASS' : 'FAIL',
    },
  ]);
}

/** Runs the soak for each server in turn; returns the exit code. */
export async function runSoak(opts: SoakOptions, specOf: (name: ServerName) => ServerSpec): Promise<number> {
  const startedAt = new Date().toISOString();
  log(`soak: servers ${opts.servers.join(', ')}; ${opts.subscribers} subscribers, ${SOAK_RATE_PER_S} events/s for ${opts.soakMinutes} min each`);
  buildLoadgen();
  const results: Partial<Record<ServerName, SoakResult>> = {};
  const errors: Record<string, string> = {};
  let failures = 0;
  for (const name of opts.servers) {
    const s = specOf(name);
    try {
      s.prepare();
      const r = await soakOne(s, opts);
      results[name] = r;
      log(
        `${name}: soak: RSS warm-up ${mib(r.rssWarmupKiB)} MiB, end ${mib(r.rssEndKiB)} MiB (${r.endOverWarmup.toFixed(3)}x), ` +
          `max ${mib(r.rssMaxKiB)} MiB at ${num(r.rssMaxAtS)} s, ${r.deliveries}/${r.expected} deliveries`,
      );
      if (r.missing !== 0 || r.closedByPeer !== 0 || r.publishErrors !== 0) failures++;
    } catch (err) {
      failures++;
      errors[name] = (err as Error).message;
      log(`${name}: soak FAILED: ${(err as Error).message}`);
    }
  }

  const info = machine();
  const title =
    `soak: ${opts.subscribers.toLocaleString('en-US')} subscribers on one topic, ${SOAK_RATE_PER_S} events/s of ${PAYLOAD_BYTES} B ` +
    `for ${opts.soakMinutes} min, RSS every ${SOAK_SAMPLE_MS / 1000} s, warm-up = first ${Math.min(SOAK_WARMUP_MS, (opts.soakMinutes * 60_000) / 2) / 1000} s`;
  const checks = checkSoak(results);
  const tables: Table[] = [
    summaryTable(results, title),
    { title: 'soak targets', headers: ['target', 'measured', 'verdict'], rows: checks.map((c) => [c.target, c.measured, c.verdict]) },
    ...Object.entries(results).map(([name, r]) => samplesTable(name, r)),
  ];
  const header = `Herald soak ${startedAt}, ${info.cores} cores ${info.cpu}, ${info.memoryGiB} GiB, Linux ${info.kernel}, node ${info.node}, ${info.nginx}, ${commitLabel(info)}`;
  process.stdout.write(`\n${header}\n\n${tables.map(renderText).join('\n\n')}\n`);
  const errs = Object.entries(errors);
  if (errs.length) process.stdout.write(`\nerrors:\n${errs.map(([n, e]) => `  ${n}: ${e}`).join('\n')}\n`);

  mkdirSync(opts.out, { recursive: true });
  const config = {
    servers: opts.servers,
    subscribers: opts.subscribers,
    minutes: opts.soakMinutes,
    ratePerS: SOAK_RATE_PER_S,
    payloadBytes: PAYLOAD_BYTES,
    sampleMs: SOAK_SAMPLE_MS,
    warmupMs: SOAK_WARMUP_MS,
    rssTolerance: SOAK_RSS_TOLERANCE,
    loadgenProcesses: opts.loadgenProcesses,
  };
  const json = { startedAt, finishedAt: new Date().toISOString(), machine: info, config, results, errors, targets: checks };
  writeFileSync(join(opts.out, 'soak.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(opts.out, 'soak.md'), `${header}\n\n${tables.map(renderMarkdown).join('\n\n')}\n`);
  log(`wrote ${join(opts.out, 'soak.json')} and soak.md`);
  return failures ? 1 : 0;
}
