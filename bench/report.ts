/**
 * Turns bench results into aligned text tables (for the terminal), Markdown
 * tables (bench/results/latest.md, for the README) and the target checks.
 */
import type { ServerName } from './servers.js';

export interface FanoutResult {
  subscribers: number;
  events: number;
  expected: number;
  deliveries: number;
  missing: number;
  publishErrors: number;
  firstPublishError?: string;
  publishWallS: number;
  wallS: number;
  deliveriesPerS: number;
  serverCpuS: number;
  serverUserS: number;
  serverSysS: number;
  /** Whole machine during the phase (both cores): busy, of which softirq, and idle. */
  hostBusyS: number;
  hostSoftirqS: number;
  hostIdleS: number;
  /** CPU of everything else on the machine: host busy - server - loadgen - bench process. */
  otherCpuS: number;
  cpuSPerMillion: number;
  userSPerMillion: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  loadgenCpuS: number;
  closedByPeer: number;
}

export interface IdleResult {
  connections: number;
  failed: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  bytesPerConnection: number;
}

export interface IngestResult {
  events: number;
  errors: number;
  firstError?: string;
  serverCpuS: number;
  serverUserS: number;
  serverSysS: number;
  /** CPU of everything else on the machine meanwhile (host busy - server - bench process). */
  otherCpuS: number;
  eventsPerCpuS: number;
  wallS: number;
  eventsPerS: number;
}

export interface ServerResult {
  steady?: FanoutResult;
  burst?: FanoutResult;
  idle?: IdleResult;
  ingest?: { grpcStream?: IngestResult; grpcUnary?: IngestResult; http?: IngestResult };
  errors: Record<string, string>;
}

export type Results = Partial<Record<ServerName, ServerResult>>;

export interface Table {
  title: string;
  headers: string[];
  rows: string[][];
}

/** A number with thousands separators, or "-" when there is none. */
export function num(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(v: number | undefined, base: number | undefined): string {
  if (v === undefined || base === undefined || !Number.isFinite(v) || !Number.isFinite(base) || base === 0) return '-';
  return `${(v / base).toFixed(2)}x`;
}

const ORDER: ServerName[] = ['herald', 'nchan', 'naive', 'floor'];

function present(results: Results): ServerName[] {
  return ORDER.filter((n) => results[n] !== undefined);
}

function fanoutTable(results: Results, key: 'steady' | 'burst', title: string): Table {
  const base = results.nchan?.[key];
  // floor makes one write() per delivery and nothing else: CPU/M relative to
  // it is what a server costs above the kernel's own price of a delivery.
  const floor = results.floor?.[key];
  const rows = present(results).map((name) => {
    const r = results[name]?.[key];
    if (!r) return [name, ...Array<string>(16).fill('-')];
    return [
      name,
      num(r.subscribers),
      num(r.deliveries),
      num(r.missing),
      num(r.deliveriesPerS),
      ratio(r.deliveriesPerS, base?.deliveriesPerS),
      num(r.serverCpuS, 2),
      num(r.cpuSPerMillion, 3),
      ratio(r.cpuSPerMillion, base?.cpuSPerMillion),
      ratio(r.cpuSPerMillion, floor?.cpuSPerMillion),
      num(r.userSPerMillion, 3),
      num(r.p50Ms, 2),
      ratio(r.p50Ms, base?.p50Ms),
      num(r.p99Ms, 2),
      ratio(r.p99Ms, base?.p99Ms),
      num(r.loadgenCpuS, 2),
      num(r.otherCpuS, 2),
    ];
  });
  return {
    title,
    headers: [
      'server',
      'subs',
      'deliveries',
      'missing',
      'deliv/s',
      'x nchan',
      'srv CPU s',
      'CPU s/M deliv',
      'x nchan',
      'x floor',
      'user s/M',
      'p50 ms',
      'x nchan',
      'p99 ms',
      'x nchan',
      'loadgen CPU s',
      'other CPU s',
    ],
    rows,
  };
}

function idleTable(results: Results, title: string): Table {
  const base = results.nchan?.idle;
  const rows = present(results).map((name) => {
    const r = results[name]?.idle;
    if (!r) return [name, '-', '-', '-', '-', '-'];
    return [
      name,
      num(r.connections),
      num(r.rssBeforeKiB / 1024, 1),
      num(r.rssAfterKiB / 1024, 1),
      num(r.bytesPerConnection),
      ratio(r.bytesPerConnection, base?.bytesPerConnection),
    ];
  });
  return { title, headers: ['server', 'idle conns', 'RSS before MiB', 'RSS after MiB', 'bytes/conn', 'x nchan'], rows };
}

const INGEST_LABEL = { grpcStream: 'gRPC PublishStream', grpcUnary: 'gRPC Publish (unary)', http: 'HTTP publish' } as const;

function ingestTable(results: Results, title: string): Table {
  const base = results.nchan?.ingest?.http?.eventsPerCpuS;
  const rows: string[][] = [];
  for (const name of present(results)) {
    const ing = results[name]?.ingest;
    if (!ing) continue;
    for (const mode of ['grpcStream', 'grpcUnary', 'http'] as const) {
      const r = ing[mode];
      if (!r) continue;
      rows.push([
        name,
        INGEST_LABEL[mode],
        num(r.events),
        num(r.errors),
        num(r.serverCpuS, 2),
        num(r.eventsPerCpuS),
        ratio(r.eventsPerCpuS, base),
        num(r.eventsPerS),
        num(r.otherCpuS, 2),
      ]);
    }
  }
  return {
    title,
    headers: ['server', 'mode', 'events', 'errors', 'srv CPU s', 'events/CPU-s', 'x nchan HTTP', 'events/s wall', 'other CPU s'],
    rows,
  };
}

export interface TargetCheck {
  target: string;
  measured: string;
  /** info: a reference figure beside the targets, not a target itself. */
  verdict: 'PASS' | 'FAIL' | 'n/a' | 'info';
}

/**
 * Herald's targets from bench/README.md, checked against this run, and two
 * reference rows: how Herald and nchan compare with floor, so a reader sees
 * whether the 0.8 x nchan line lies below what one write() per delivery costs.
 */
export function checkTargets(results: Results): TargetCheck[] {
  const h = results.herald;
  const n = results.nchan;
  const v = (ok: boolean | undefined): TargetCheck['verdict'] => (ok === undefined ? 'n/a' : ok ? 'PASS' : 'FAIL');
  const both = <T>(a: T | undefined, b: T | undefined): [T, T] | undefined => (a !== undefined && b !== undefined ? [a, b] : undefined);
  const steady = both(h?.steady, n?.steady);
  const burst = both(h?.burst, results.naive?.burst);
  const idle = h?.idle && h.idle.connections > 0 ? h.idle : undefined;
  const stream = h?.ingest?.grpcStream;
  const heraldFloor = both(h?.steady, results.floor?.steady);
  const floorNchan = both(results.floor?.steady, n?.steady);
  const info = (x: unknown): TargetCheck['verdict'] => (x === undefined ? 'n/a' : 'info');
  const cpuVs = ([a, b]: [FanoutResult, FanoutResult]): string =>
    `${num(a.cpuSPerMillion, 2)} vs ${num(b.cpuSPerMillion, 2)} CPU-s/M = ${ratio(a.cpuSPerMillion, b.cpuSPerMillion)}`;
  const lineVsFloor = ([f, nc]: [FanoutResult, FanoutResult]): string => {
    const line = 0.8 * nc.cpuSPerMillion;
    return `${cpuVs([f, nc])}; 0.8 x nchan = ${num(line, 2)} is ${line < f.cpuSPerMillion ? 'below' : 'at or above'} floor`;
  };
  return [
    {
      target: 'steady: Herald CPU/M deliveries <= 0.8 x nchan',
      measured: steady ? `${ratio(steady[0].cpuSPerMillion, steady[1].cpuSPerMillion)}` : '-',
      verdict: v(steady && steady[0].cpuSPerMillion <= 0.8 * steady[1].cpuSPerMillion),
    },
    {
      target: 'steady: Herald p99 <= nchan p99',
      measured: steady ? `${num(steady[0].p99Ms, 2)} ms vs ${num(steady[1].p99Ms, 2)} ms` : '-',
      verdict: v(steady && steady[0].p99Ms <= steady[1].p99Ms),
    },
    {
      target: 'burst: naive CPU/delivery >= 5 x Herald',
      measured: burst ? `${ratio(burst[1].cpuSPerMillion, burst[0].cpuSPerMillion)}` : '-',
      verdict: v(burst && burst[1].cpuSPerMillion >= 5 * burst[0].cpuSPerMillion),
    },
    {
      target: 'idle: Herald <= 5 KB (5,000 bytes) RSS per idle connection',
      measured: idle ? `${num(idle.bytesPerConnection)} bytes` : '-',
      verdict: v(idle && idle.bytesPerConnection <= 5000),
    },
    {
      target: 'ingest: PublishStream >= 80,000 events per server CPU-second',
      measured: stream ? `${num(stream.eventsPerCpuS)} events/CPU-s` : '-',
      verdict: v(stream && stream.errors === 0 && stream.eventsPerCpuS >= 80_000),
    },
    {
      target: 'steady: Herald CPU/M deliveries vs floor',
      measured: heraldFloor ? cpuVs(heraldFloor) : '-',
      verdict: info(heraldFloor),
    },
    {
      target: 'steady: floor CPU/M deliveries vs nchan',
      measured: floorNchan ? lineVsFloor(floorNchan) : '-',
      verdict: info(floorNchan),
    },
  ];
}

export function buildTables(results: Results, labels: { steady: string; burst: string; idle: string; ingest: string }, smoke = false): Table[] {
  const tables = [
    fanoutTable(results, 'steady', labels.steady),
    fanoutTable(results, 'burst', labels.burst),
    idleTable(results, labels.idle),
    ingestTable(results, labels.ingest),
  ];
  const checks = checkTargets(results);
  // A smoke run's few hundred connections say nothing about the targets:
  // show its figures, but no verdict that could read as a failure.
  const verdict = (c: TargetCheck): string => (smoke && c.verdict !== 'info' ? 'n/a (smoke)' : c.verdict);
  tables.push({ title: 'Herald targets', headers: ['target', 'measured', 'verdict'], rows: checks.map((c) => [c.target, c.measured, verdict(c)]) });
  return tables;
}

export function renderText(t: Table): string {
  const widths = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || !/^[-\d.,x ]+$|^\d/.test(c) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = [t.title, line(t.headers), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)];
  return out.join('\n');
}

export function renderMarkdown(t: Table): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  const out = [
    `**${t.title}**`,
    '',
    `| ${t.headers.map(esc).join(' | ')} |`,
    `| ${t.headers.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
  return out.join('\n');
}
