/**
 * Herald side by side with nchan, a naive Node SSE server and floor, a C
 * server that makes one write() per delivery and nothing else (the kernel's
 * floor on this machine).
 *
 * One run starts each server fresh, one after another, under the same load:
 *   idle    hold N idle subscriptions, measure RSS per connection
 *   steady  S subscribers on one topic, E events at R per second
 *   burst   the same subscribers, B events as fast as the server takes them
 *   ingest  events per server CPU-second for gRPC PublishStream, unary
 *           Publish and HTTP publish (what each server has)
 * idle runs once per server, first. steady + burst and ingest run in
 * --rounds rounds (default 3, 1 with --quick), interleaved: round 1 runs
 * every server, then round 2 every server, and so on; the tables and the
 * target verdicts take the median over the rounds.
 * Subscribers are held by the C loadgen (loadgen/loadgen.c); publishers are
 * keep-alive undici and grpc-js clients in this process.
 *
 * npm run bench [-- --quick] [--rounds 3] [--servers herald,nchan,naive,floor[,node-floor]]
 *   [--scenarios idle,steady,burst,ingest] [--herald-cpu-prof]
 * npm run bench -- --soak [--soak-minutes 10] runs the soak instead
 * (bench/soak.ts): the steady load for minutes, RSS sampled every 10 s.
 * See bench/README.md for what each figure means.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { installCleanup } from './cleanup.js';
import {
  commitLabel,
  log,
  machine,
  SETTLE_MS,
  waitDeliveries,
  withServer,
  withSubscribers,
  type PhaseLimits,
} from './harness.js';
import { buildLoadgen, LoadgenGroup, percentileNs } from './loadgen.js';
import { RESULTS_DIR } from './paths.js';
import { cpuTimes, hostCpu, rssKiB } from './proc-stats.js';
import {
  HttpPublisher,
  ingestGrpcStream,
  ingestGrpcUnary,
  ingestHttp,
  PAYLOAD_BYTES,
  publishBurst,
  publishPaced,
  type PublishOutcome,
} from './publishers.js';
import {
  buildTables,
  checkTargets,
  renderMarkdown,
  renderText,
  type FanoutResult,
  type IdleResult,
  type IngestResult,
  type IngestResults,
  type Results,
  type RoundResult,
  type ServerResult,
  summarize,
  summarizeRounds,
} from './report.js';
import {
  floorSpec,
  nodeFloorSpec,
  heraldSpec,
  naiveSpec,
  nchanSpec,
  ALL_SERVER_NAMES,
  SERVER_NAMES,
  type IngestMode,
  type RunningServer,
  type ServerName,
  type ServerSpec,
} from './servers.js';
import { runSoak, SOAK_DEFAULT_MINUTES } from './soak.js';

type Scenario = 'idle' | 'steady' | 'burst' | 'ingest';
const SCENARIOS: readonly Scenario[] = ['idle', 'steady', 'burst', 'ingest'];

interface Config extends PhaseLimits {
  quick: boolean;
  /** Run the soak (bench/soak.ts) instead of the scenarios. */
  soak: boolean;
  soakMinutes: number;
  servers: ServerName[];
  scenarios: Scenario[];
  /** Rounds of steady + burst and of ingest, interleaved across servers. */
  rounds: number;
  subscribers: number;
  steadyEvents: number;
  steadyRatePerS: number;
  burstEvents: number;
  /** Publishes in flight during the burst. */
  burstWindow: number;
  idleConnections: number;
  ingest: Record<IngestMode, number>;
  ingestWindow: Record<IngestMode, number>;
  heraldArgs: string[];
  heraldNodeArgs: string[];
  out: string;
}

function listOf<T extends string>(raw: string | undefined, all: readonly T[], what: string, byDefault: readonly T[] = all): T[] {
  if (!raw) return [...byDefault];
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const i of items) if (!all.includes(i as T)) throw new Error(`unknown ${what} "${i}" (one of ${all.join(', ')})`);
  return items as T[];
}

function minutesOf(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  // Fractions are for trying the soak out; 24 h bounds a typo.
  if (!Number.isFinite(n) || n <= 0 || n > 24 * 60) throw new Error(`soak minutes must be a number in (0, 1440], got "${raw}"`);
  return n;
}

function intOf(raw: string | undefined, fallback: number, what: string): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${what} must be a positive integer, got "${raw}"`);
  return n;
}

function config(): Config {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      servers: { type: 'string' },
      scenarios: { type: 'string' },
      subscribers: { type: 'string' },
      'idle-connections': { type: 'string' },
      'herald-cpu-prof': { type: 'boolean', default: false },
      soak: { type: 'boolean', default: false },
      'soak-minutes': { type: 'string' },
      rounds: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const env = process.env;
  const quick = values.quick || env.BENCH_SMOKE === '1' || env.BENCH_QUICK === '1';
  const cpuProf = values['herald-cpu-prof'] || env.BENCH_HERALD_CPU_PROF === '1';
  const soak = values.soak || env.BENCH_SOAK === '1';
  return {
    quick,
    soak,
    soakMinutes: minutesOf(values['soak-minutes'] ?? env.BENCH_SOAK_MINUTES, quick ? 1 : SOAK_DEFAULT_MINUTES),
    // The soak measures Herald alone unless servers are named.
    servers: listOf(values.servers ?? env.BENCH_SERVERS ?? (soak ? 'herald' : undefined), ALL_SERVER_NAMES, 'server', SERVER_NAMES),
    scenarios: listOf(values.scenarios ?? env.BENCH_SCENARIOS, SCENARIOS, 'scenario'),
    // One round keeps the CI smoke short; three give a median on the noisy 2-core machine.
    rounds: intOf(values.rounds ?? env.BENCH_ROUNDS, quick ? 1 : 3, 'rounds'),
    subscribers: intOf(values.subscribers ?? env.BENCH_SUBSCRIBERS, quick ? 300 : 10_000, 'subscribers'),
    steadyEvents: quick ? 10 : 50,
    steadyRatePerS: quick ? 10 : 5,
    burstEvents: quick ? 50 : 200,
    burstWindow: 8,
    idleConnections: intOf(values['idle-connections'] ?? env.BENCH_IDLE_CONNECTIONS, quick ? 500 : 15_000, 'idle connections'),
    loadgenProcesses: 2,
    ingest: quick
      ? { grpcStream: 5_000, grpcUnary: 1_000, http: 2_000 }
      : { grpcStream: 200_000, grpcUnary: 30_000, http: 50_000 },
    ingestWindow: { grpcStream: 1_000, grpcUnary: 64, http: 32 },
    phaseDeadlineMs: quick ? 20_000 : 120_000,
    stallMs: quick ? 3_000 : 10_000,
    readyTimeoutMs: quick ? 30_000 : 180_000,
    heraldArgs: (env.BENCH_HERALD_ARGS ?? '').split(/\s+/).filter(Boolean),
    heraldNodeArgs: cpuProf ? ['--cpu-prof', '--cpu-prof-dir', join(RESULTS_DIR, 'profiles')] : [],
    out: values.out ?? env.BENCH_OUT ?? RESULTS_DIR,
  };
}

const PORT_BASE = Number(process.env.BENCH_PORT_BASE ?? 18080);
const PORTS = { heraldHttp: PORT_BASE, heraldGrpc: PORT_BASE + 1, nchan: PORT_BASE + 2, naive: PORT_BASE + 3, floor: PORT_BASE + 4, nodeFloor: PORT_BASE + 5 };

function spec(name: ServerName, cfg: Config): ServerSpec {
  switch (name) {
    case 'herald':
      return heraldSpec(PORTS, cfg.heraldArgs, cfg.heraldNodeArgs);
    case 'nchan':
      return nchanSpec(PORTS, log);
    case 'naive':
      return naiveSpec(PORTS);
    case 'floor':
      return floorSpec(PORTS);
    case 'node-floor':
      return nodeFloorSpec(PORTS);
  }
}

async function runIdle(s: ServerSpec, cfg: Config): Promise<IdleResult> {
  return withServer(s, async (srv) => {
    await sleep(SETTLE_MS);
    const before = rssKiB(srv.pids());
    return withSubscribers(s, cfg, cfg.idleConnections, async (group, connected) => {
      await sleep(SETTLE_MS);
      srv.assertAlive();
      const after = rssKiB(srv.pids());
      const st = await group.stats();
      srv.assertAlive();
      if (st.open < connected) log(`${s.name}: idle: ${connected - st.open} connections closed by the server`);
      if (st.open === 0) throw new Error('no idle connection stayed open');
      return {
        connections: st.open,
        failed: cfg.idleConnections - connected,
        rssBeforeKiB: before,
        rssAfterKiB: after,
        bytesPerConnection: ((after - before) * 1024) / Math.max(1, st.open),
      };
    });
  });
}

async function measureFanout(
  srv: RunningServer,
  group: LoadgenGroup,
  subscribers: number,
  cfg: Config,
  publish: () => Promise<PublishOutcome>,
): Promise<FanoutResult> {
  await group.reset();
  const cpu0 = cpuTimes(srv.pids());
  const host0 = hostCpu();
  const self0 = process.cpuUsage();
  const startNs = process.hrtime.bigint();
  const out = await publish();
  const published = out.sent - out.errors;
  const expected = published * subscribers;
  const st = await waitDeliveries(group, expected, cfg);
  srv.assertAlive();
  const cpu1 = cpuTimes(srv.pids());
  const host1 = hostCpu();
  const self = process.cpuUsage(self0);
  const serverCpuS = cpu1.userS + cpu1.sysS - cpu0.userS - cpu0.sysS;
  const hostBusyS = host1.busyS - host0.busyS;
  const wallS = st.lastNs ? Number(BigInt(st.lastNs) - startNs) / 1e9 : Number.NaN;
  return {
    subscribers,
    events: published,
    expected,
    deliveries: st.deliveries,
    missing: expected - st.deliveries,
    publishErrors: out.errors,
    ...(out.firstError !== undefined ? { firstPublishError: out.firstError } : {}),
    publishWallS: out.wallS,
    wallS,
    deliveriesPerS: st.deliveries / wallS,
    serverCpuS,
    serverUserS: cpu1.userS - cpu0.userS,
    serverSysS: cpu1.sysS - cpu0.sysS,
    hostBusyS,
    hostSoftirqS: host1.softirqS - host0.softirqS,
    hostIdleS: host1.idleS - host0.idleS,
    otherCpuS: hostBusyS - serverCpuS - st.cpuS - (self.user + self.system) / 1e6,
    cpuSPerMillion: (serverCpuS / st.deliveries) * 1e6,
    userSPerMillion: ((cpu1.userS - cpu0.userS) / st.deliveries) * 1e6,
    p50Ms: percentileNs(st.hist, 0.5) / 1e6,
    p99Ms: percentileNs(st.hist, 0.99) / 1e6,
    maxMs: st.latMaxNs / 1e6,
    meanMs: st.latSumNs / Math.max(1, st.deliveries - st.noTimestamp) / 1e6,
    loadgenCpuS: st.cpuS,
    closedByPeer: st.closedByPeer,
  };
}

function describeFanout(name: string, what: string, r: FanoutResult): string {
  return (
    `${name}: ${what}: ${r.deliveries}/${r.expected} deliveries, ${r.serverCpuS.toFixed(2)} server CPU-s, ` +
    `(user ${r.serverUserS.toFixed(2)}, sys ${r.serverSysS.toFixed(2)}), ` +
    `${r.cpuSPerMillion.toFixed(3)} CPU-s/M, host busy ${r.hostBusyS.toFixed(2)} / idle ${r.hostIdleS.toFixed(2)} / softirq ${r.hostSoftirqS.toFixed(2)} CPU-s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ` +
    `loadgen ${r.loadgenCpuS.toFixed(2)} CPU-s, other ${r.otherCpuS.toFixed(2)} CPU-s` +
    (r.publishErrors ? `, ${r.publishErrors} publish errors (${r.firstPublishError})` : '')
  );
}

async function runFanout(s: ServerSpec, cfg: Config, result: RoundResult, tag: string): Promise<void> {
  const doSteady = cfg.scenarios.includes('steady');
  const doBurst = cfg.scenarios.includes('burst');
  await withServer(s, (srv) =>
    withSubscribers(s, cfg, cfg.subscribers, async (group, connected) => {
      const pub = new HttpPublisher(s.http, cfg.burstWindow);
      try {
        // One event first, not counted, so each server has taken its
        // publish and fan-out paths once (JIT, lazy allocations) before measuring.
        await measureFanout(srv, group, connected, cfg, () => publishPaced(pub, 1, 1));
        if (doSteady) {
          result.steady = await measureFanout(srv, group, connected, cfg, () =>
            publishPaced(pub, cfg.steadyEvents, cfg.steadyRatePerS),
          );
          log(describeFanout(s.name, `steady${tag}`, result.steady));
        }
        if (doBurst) {
          await sleep(1_000);
          result.burst = await measureFanout(srv, group, connected, cfg, () =>
            publishBurst(pub, cfg.burstEvents, cfg.burstWindow, cfg.phaseDeadlineMs),
          );
          log(describeFanout(s.name, `burst${tag}`, result.burst));
        }
      } finally {
        await pub.close();
      }
    }),
  );
}

async function runIngest(s: ServerSpec, cfg: Config, tag: string): Promise<IngestResults> {
  const out: IngestResults = {};
  await withServer(s, async (srv) => {
    for (const mode of s.ingestModes) {
      const count = cfg.ingest[mode];
      const window = cfg.ingestWindow[mode];
      const run = (n: number): Promise<PublishOutcome> => {
        switch (mode) {
          case 'grpcStream':
            return ingestGrpcStream(s.grpcAddress ?? '', n, window, cfg.phaseDeadlineMs);
          case 'grpcUnary':
            return ingestGrpcUnary(s.grpcAddress ?? '', n, window, cfg.phaseDeadlineMs);
          case 'http':
            return ingestHttp(s.http, n, window, cfg.phaseDeadlineMs);
        }
      };
      await run(Math.max(100, Math.floor(count / 10))); // warm-up, not counted
      const cpu0 = cpuTimes(srv.pids());
      const host0 = hostCpu();
      const self0 = process.cpuUsage();
      const o = await run(count);
      srv.assertAlive();
      const cpu1 = cpuTimes(srv.pids());
      const self = process.cpuUsage(self0);
      const hostBusyS = hostCpu().busyS - host0.busyS;
      const serverCpuS = cpu1.userS + cpu1.sysS - cpu0.userS - cpu0.sysS;
      const events = o.sent - o.errors;
      const r: IngestResult = {
        events,
        errors: o.errors,
        ...(o.firstError !== undefined ? { firstError: o.firstError } : {}),
        serverCpuS,
        serverUserS: cpu1.userS - cpu0.userS,
        serverSysS: cpu1.sysS - cpu0.sysS,
        otherCpuS: hostBusyS - serverCpuS - (self.user + self.system) / 1e6,
        eventsPerCpuS: events / serverCpuS,
        wallS: o.wallS,
        eventsPerS: events / o.wallS,
      };
      out[mode] = r;
      log(
        `${s.name}: ingest ${mode}${tag}: ${events} events, ${serverCpuS.toFixed(2)} server CPU-s, ` +
          `${Math.round(r.eventsPerCpuS)} events/CPU-s, ${Math.round(r.eventsPerS)} events/s` +
          (o.errors ? `, ${o.errors} errors (${o.firstError})` : ''),
      );
    }
  });
  return out;
}

async function main(): Promise<number> {
  installCleanup();
  const cfg = config();
  if (cfg.soak) return runSoak(cfg, (name) => spec(name, cfg));
  const startedAt = new Date().toISOString();
  const inRounds = cfg.scenarios.filter((x) => x !== 'idle');
  log(
    `${cfg.quick ? 'quick smoke' : 'full'} run: servers ${cfg.servers.join(', ')}; scenarios ${cfg.scenarios.join(', ')}` +
      (inRounds.length ? `; ${cfg.rounds} round${cfg.rounds > 1 ? 's' : ''} of ${inRounds.join(', ')}` : ''),
  );
  buildLoadgen();
  const results: Results = {};
  let failures = 0;
  const attempt = async (name: ServerName, what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      failures++;
      const result = results[name];
      if (result) result.errors[what] = (err as Error).message;
      log(`${name}: ${what} FAILED: ${(err as Error).message}`);
    }
  };
  // Each server is prepared and runs idle once; the servers that prepared go into the rounds.
  const ready: [ServerName, ServerSpec][] = [];
  for (const name of cfg.servers) {
    const s = spec(name, cfg);
    const result: ServerResult = { errors: {} };
    results[name] = result;
    await attempt(name, 'prepare', async () => s.prepare());
    if (result.errors.prepare) continue;
    ready.push([name, s]);
    if (cfg.scenarios.includes('idle')) {
      await attempt(name, 'idle', async () => {
        result.idle = await runIdle(s, cfg);
        log(`${name}: idle: ${result.idle.connections} conns, ${Math.round(result.idle.bytesPerConnection)} bytes RSS per connection`);
      });
    }
    if (result.idle && (result.idle.failed > 0 || result.idle.connections < cfg.idleConnections)) failures++;
  }

  // Rounds, interleaved (herald, nchan, naive, floor, herald, nchan, ...), so
  // slow drift of the machine hits every server alike. Each round gives each
  // server a fresh instance for steady + burst and another for ingest.
  const fanout = cfg.scenarios.includes('steady') || cfg.scenarios.includes('burst');
  const ingest = cfg.scenarios.includes('ingest');
  if (fanout || ingest) {
    for (let round = 1; round <= cfg.rounds; round++) {
      const many = cfg.rounds > 1;
      const tag = many ? ` (round ${round}/${cfg.rounds})` : '';
      if (many) log(`round ${round} of ${cfg.rounds}: ${ready.map(([n]) => n).join(', ')}`);
      for (const [name, s] of ready) {
        const result = results[name];
        if (!result) continue;
        const rr: RoundResult = { round };
        (result.rounds ??= []).push(rr);
        if (fanout) await attempt(name, many ? `fanout round ${round}` : 'fanout', () => runFanout(s, cfg, rr, tag));
        if (ingest) {
          await attempt(name, many ? `ingest round ${round}` : 'ingest', async () => {
            rr.ingest = await runIngest(s, cfg, tag);
          });
        }
        // A round that lost deliveries or connections is not a clean measurement.
        for (const r of [rr.steady, rr.burst]) if (r && (r.missing > 0 || r.closedByPeer > 0)) failures++;
        for (const r of Object.values(rr.ingest ?? {})) if (r.errors > 0) failures++;
      }
    }
  }
  // steady, burst and ingest of each server: the medians of its rounds.
  for (const r of Object.values(results)) if (r) summarizeRounds(r);

  const labels = {
    steady: `steady: ${cfg.subscribers.toLocaleString('en-US')} subscribers, ${cfg.steadyEvents} events at ${cfg.steadyRatePerS}/s, ${PAYLOAD_BYTES} B`,
    burst: `burst: ${cfg.subscribers.toLocaleString('en-US')} subscribers, ${cfg.burstEvents} events as fast as possible (${cfg.burstWindow} in flight)`,
    idle: `idle: ${cfg.idleConnections.toLocaleString('en-US')} idle SSE connections`,
    ingest: `ingest: events per server CPU-second (gRPC stream ${cfg.ingest.grpcStream.toLocaleString('en-US')}, unary ${cfg.ingest.grpcUnary.toLocaleString('en-US')}, HTTP ${cfg.ingest.http.toLocaleString('en-US')} events)`,
  };
  const tables = buildTables(results, labels, cfg.quick);
  const info = machine();
  const roundsLabel = fanout || ingest ? `, ${cfg.rounds} round${cfg.rounds > 1 ? 's' : ''}` : '';
  const header = `Herald bench ${startedAt} (${cfg.quick ? 'quick smoke' : 'full'}${roundsLabel}), ${info.cores} cores ${info.cpu}, node ${info.node}, ${info.nginx}, ${commitLabel(info)}`;
  process.stdout.write(`\n${header}\n\n${tables.map(renderText).join('\n\n')}\n`);
  const errors = Object.entries(results).flatMap(([n, r]) => Object.entries(r?.errors ?? {}).map(([k, v]) => `${n} ${k}: ${v}`));
  if (errors.length) process.stdout.write(`\nerrors:\n${errors.map((e) => `  ${e}`).join('\n')}\n`);

  mkdirSync(cfg.out, { recursive: true });
  const { out: _out, ...cfgOut } = cfg;
  // results: per server the medians (steady, burst, ingest) and every round's raw figures (rounds);
  // summary: the spreads and per-round ratios the tables and the verdicts use.
  const json = {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: info,
    config: cfgOut,
    results,
    summary: summarize(results),
    targets: checkTargets(results),
  };
  // A smoke run keeps its own files, so it never overwrites a full run's results.
  const base = cfg.quick ? 'smoke' : 'latest';
  writeFileSync(join(cfg.out, `${base}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(cfg.out, `${base}.md`), `${header}\n\n${tables.map(renderMarkdown).join('\n\n')}\n`);
  log(`wrote ${join(cfg.out, `${base}.json`)} and ${base}.md`);
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
