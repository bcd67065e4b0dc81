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

export type IngestResults = { grpcStream?: IngestResult; grpcUnary?: IngestResult; http?: IngestResult };
export type IngestMode = keyof IngestResults;
const INGEST_MODES: readonly IngestMode[] = ['grpcStream', 'grpcUnary', 'http'];

/** One round of one server: what it measured in that round (a failed scenario leaves its field out). */
export interface RoundResult {
  round: number;
  steady?: FanoutResult;
  burst?: FanoutResult;
  ingest?: IngestResults;
}

export interface ServerResult {
  /**
   * steady, burst and ingest: the median over the rounds of each figure
   * (medianOf), except counts (events, deliveries, missing, errors...),
   * which are sums over the rounds. Every round's own figures are in rounds.
   */
  steady?: FanoutResult;
  burst?: FanoutResult;
  idle?: IdleResult;
  ingest?: IngestResults;
  /** Every round's raw figures, in the order they ran (absent in results written before --rounds). */
  rounds?: RoundResult[];
  errors: Record<string, string>;
}

export type Results = Partial<Record<ServerName, ServerResult>>;

/** A figure over the rounds: its median, range, and each round's value (NaN where that round has none). */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** How many rounds have the figure. */
  n: number;
  perRound: number[];
}

/** Median, min and max of the finite values; undefined when there is none. An even count takes the mean of the middle two. */
export function spread(values: readonly (number | undefined)[]): Spread | undefined {
  const perRound = values.map((v) => (v !== undefined && Number.isFinite(v) ? v : Number.NaN));
  const ok = perRound.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (ok.length === 0) return undefined;
  const m = ok.length >> 1;
  const median = ok.length % 2 ? (ok[m] ?? Number.NaN) : ((ok[m - 1] ?? Number.NaN) + (ok[m] ?? Number.NaN)) / 2;
  return { median, min: ok[0] ?? Number.NaN, max: ok[ok.length - 1] ?? Number.NaN, n: ok.length, perRound };
}

const FANOUT_SUMS = ['events', 'expected', 'deliveries', 'missing', 'publishErrors', 'closedByPeer'] as const;
const INGEST_SUMS = ['events', 'errors'] as const;

/**
 * One record of the same shape from several rounds: each numeric field is
 * the median over the rounds, the fields in `sums` the sum (so a loss in any
 * round shows), any other field the first round's that has it.
 */
export function medianOf<T extends object>(rounds: readonly (T | undefined)[], sums: readonly (keyof T)[]): T | undefined {
  const ok = rounds.filter((r): r is T => r !== undefined);
  if (ok.length === 0) return undefined;
  const keys = new Set(ok.flatMap((r) => Object.keys(r)));
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const vals = ok.map((r) => (r as Record<string, unknown>)[k]).filter((v) => v !== undefined);
    if ((sums as readonly PropertyKey[]).includes(k)) out[k] = vals.reduce<number>((a, v) => a + (v as number), 0);
    else if (typeof vals[0] === 'number') out[k] = spread(vals as number[])?.median ?? Number.NaN;
    else out[k] = vals[0];
  }
  return out as T;
}

/** Sets a server's steady, burst and ingest to the medians of its rounds (no-op without rounds). */
export function summarizeRounds(r: ServerResult): void {
  if (!r.rounds?.length) return;
  const rounds = r.rounds;
  const steady = medianOf(rounds.map((x) => x.steady), FANOUT_SUMS);
  const burst = medianOf(rounds.map((x) => x.burst), FANOUT_SUMS);
  if (steady) r.steady = steady;
  if (burst) r.burst = burst;
  const ingest: IngestResults = {};
  for (const mode of INGEST_MODES) {
    const m = medianOf(rounds.map((x) => x.ingest?.[mode]), INGEST_SUMS);
    if (m) ingest[mode] = m;
  }
  if (Object.keys(ingest).length) r.ingest = ingest;
}

type FanoutKey = 'steady' | 'burst';

/** A server's figures per round for one scenario; results without rounds count as one round. */
function roundsOf<T>(r: ServerResult | undefined, pick: (x: RoundResult | ServerResult) => T | undefined): (T | undefined)[] {
  if (!r) return [];
  if (r.rounds?.length) return r.rounds.map(pick);
  const one = pick(r);
  return one === undefined ? [] : [one];
}

const fanoutRounds = (r: ServerResult | undefined, key: FanoutKey): (FanoutResult | undefined)[] => roundsOf(r, (x) => x[key]);
const ingestRounds = (r: ServerResult | undefined, mode: IngestMode): (IngestResult | undefined)[] => roundsOf(r, (x) => x.ingest?.[mode]);

/** Round by round a / b of one figure (only rounds where both have it), as a spread. */
function ratioSpread<T>(a: readonly (T | undefined)[], b: readonly (T | undefined)[], fig: (x: T) => number): Spread | undefined {
  const n = Math.max(a.length, b.length);
  const per: (number | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    per.push(x !== undefined && y !== undefined && fig(y) !== 0 ? fig(x) / fig(y) : undefined);
  }
  return spread(per);
}

/** Per scenario and server: the figures and ratios over the rounds, as the tables and the targets use them (also in latest.json). */
export interface FanoutSummary {
  rounds: number;
  cpuSPerMillion: Spread | undefined;
  p99Ms: Spread | undefined;
  /** Medians of the per-round ratios: each round's figure / the same round's nchan (floor). */
  xNchan: {
    deliveriesPerS: Spread | undefined;
    cpuSPerMillion: Spread | undefined;
    p50Ms: Spread | undefined;
    p99Ms: Spread | undefined;
  };
  xFloor: { cpuSPerMillion: Spread | undefined };
}

export interface IngestSummary {
  rounds: number;
  eventsPerCpuS: Spread | undefined;
  /** Per round: events/CPU-s / the same round's nchan HTTP publish. */
  xNchanHttp: Spread | undefined;
}

export interface Summary {
  steady: Partial<Record<ServerName, FanoutSummary>>;
  burst: Partial<Record<ServerName, FanoutSummary>>;
  ingest: Partial<Record<ServerName, Partial<Record<IngestMode, IngestSummary>>>>;
}

function fanoutSummary(results: Results, name: ServerName, key: FanoutKey): FanoutSummary | undefined {
  const rs = fanoutRounds(results[name], key);
  if (!rs.some((r) => r !== undefined)) return undefined;
  const nc = fanoutRounds(results.nchan, key);
  const fl = fanoutRounds(results.floor, key);
  return {
    rounds: rs.filter((r) => r !== undefined).length,
    cpuSPerMillion: spread(rs.map((r) => r?.cpuSPerMillion)),
    p99Ms: spread(rs.map((r) => r?.p99Ms)),
    xNchan: {
      deliveriesPerS: ratioSpread(rs, nc, (r) => r.deliveriesPerS),
      cpuSPerMillion: ratioSpread(rs, nc, (r) => r.cpuSPerMillion),
      p50Ms: ratioSpread(rs, nc, (r) => r.p50Ms),
      p99Ms: ratioSpread(rs, nc, (r) => r.p99Ms),
    },
    xFloor: { cpuSPerMillion: ratioSpread(rs, fl, (r) => r.cpuSPerMillion) },
  };
}

function ingestSummary(results: Results, name: ServerName, mode: IngestMode): IngestSummary | undefined {
  const rs = ingestRounds(results[name], mode);
  if (!rs.some((r) => r !== undefined)) return undefined;
  return {
    rounds: rs.filter((r) => r !== undefined).length,
    eventsPerCpuS: spread(rs.map((r) => r?.eventsPerCpuS)),
    xNchanHttp: ratioSpread(rs, ingestRounds(results.nchan, 'http'), (r) => r.eventsPerCpuS),
  };
}

/** The spreads and per-round ratios of every server, for latest.json. */
export function summarize(results: Results): Summary {
  const out: Summary = { steady: {}, burst: {}, ingest: {} };
  for (const name of present(results)) {
    for (const key of ['steady', 'burst'] as const) {
      const s = fanoutSummary(results, name, key);
      if (s) out[key][name] = s;
    }
    const ing: Partial<Record<IngestMode, IngestSummary>> = {};
    for (const mode of INGEST_MODES) {
      const s = ingestSummary(results, name, mode);
      if (s) ing[mode] = s;
    }
    if (Object.keys(ing).length) out.ingest[name] = ing;
  }
  return out;
}

/** The most rounds any server ran. */
export function roundCount(results: Results): number {
  return Math.max(0, ...Object.values(results).map((r) => r?.rounds?.length ?? (r?.steady || r?.burst || r?.ingest ? 1 : 0)));
}

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

const ORDER: ServerName[] = ['herald', 'nchan', 'naive', 'floor', 'node-floor'];

function present(results: Results): ServerName[] {
  return ORDER.filter((n) => results[n] !== undefined);
}

/** "0.93x" for a spread's median, "-" without one. */
function xMedian(s: Spread | undefined): string {
  return s ? `${s.median.toFixed(2)}x` : '-';
}

/** "11.210–12.740" for a spread's min and max. */
function range(s: Spread | undefined, digits: number): string {
  return s ? `${num(s.min, digits)}–${num(s.max, digits)}` : '-';
}

/** The min–max columns only say something with two rounds or more. */
function fanoutTable(results: Results, key: FanoutKey, title: string): Table {
  const many = roundCount(results) > 1;
  const mm = (cell: string): string[] => (many ? [cell] : []);
  // floor makes one write() per delivery and nothing else: CPU/M relative to
  // it is what a server costs above the kernel's own price of a delivery.
  const rows = present(results).map((name) => {
    const r = medianOf(fanoutRounds(results[name], key), FANOUT_SUMS);
    const s = fanoutSummary(results, name, key);
    if (!r || !s) return [name, ...Array<string>(many ? 18 : 16).fill('-')];
    return [
      name,
      num(r.subscribers),
      num(r.deliveries),
      num(r.missing),
      num(r.deliveriesPerS),
      xMedian(s.xNchan.deliveriesPerS),
      num(r.serverCpuS, 2),
      num(r.cpuSPerMillion, 3),
      ...mm(range(s.cpuSPerMillion, 3)),
      xMedian(s.xNchan.cpuSPerMillion),
      xMedian(s.xFloor.cpuSPerMillion),
      num(r.userSPerMillion, 3),
      num(r.p50Ms, 2),
      xMedian(s.xNchan.p50Ms),
      num(r.p99Ms, 2),
      ...mm(range(s.p99Ms, 2)),
      xMedian(s.xNchan.p99Ms),
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
      ...mm('CPU s/M min–max'),
      'x nchan',
      'x floor',
      'user s/M',
      'p50 ms',
      'x nchan',
      'p99 ms',
      ...mm('p99 min–max'),
      'x nchan',
      'loadgen CPU s',
      'other CPU s',
    ],
    rows,
  };
}

/** Every round's own steady or burst figures, round by round, with that round's ratios. */
function fanoutRoundsTable(results: Results, key: FanoutKey, title: string): Table {
  const names = present(results);
  const nc = fanoutRounds(results.nchan, key);
  const fl = fanoutRounds(results.floor, key);
  const rows: string[][] = [];
  if (!names.some((n) => fanoutRounds(results[n], key).some((r) => r !== undefined))) return { title, headers: [], rows };
  for (let i = 0; i < roundCount(results); i++) {
    for (const name of names) {
      const r = fanoutRounds(results[name], key)[i];
      if (!r) {
        if (results[name]?.rounds?.[i]) rows.push([name, String(i + 1), '-', '-', '-', '-', '-', '-']);
        continue;
      }
      rows.push([
        name,
        String(i + 1),
        num(r.cpuSPerMillion, 3),
        ratio(r.cpuSPerMillion, nc[i]?.cpuSPerMillion),
        ratio(r.cpuSPerMillion, fl[i]?.cpuSPerMillion),
        num(r.p99Ms, 2),
        ratio(r.p99Ms, nc[i]?.p99Ms),
        num(r.otherCpuS, 2),
      ]);
    }
  }
  return { title, headers: ['server', 'round', 'CPU s/M deliv', 'x nchan', 'x floor', 'p99 ms', 'x nchan p99', 'other CPU s'], rows };
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
  const many = roundCount(results) > 1;
  const mm = (cell: string): string[] => (many ? [cell] : []);
  const rows: string[][] = [];
  for (const name of present(results)) {
    for (const mode of INGEST_MODES) {
      const r = medianOf(ingestRounds(results[name], mode), INGEST_SUMS);
      const s = ingestSummary(results, name, mode);
      if (!r || !s) continue;
      rows.push([
        name,
        INGEST_LABEL[mode],
        num(r.events),
        num(r.errors),
        num(r.serverCpuS, 2),
        num(r.eventsPerCpuS),
        ...mm(range(s.eventsPerCpuS, 0)),
        xMedian(s.xNchanHttp),
        num(r.eventsPerS),
        num(r.otherCpuS, 2),
      ]);
    }
  }
  return {
    title,
    headers: ['server', 'mode', 'events', 'errors', 'srv CPU s', 'events/CPU-s', ...mm('events/CPU-s min–max'), 'x nchan HTTP', 'events/s wall', 'other CPU s'],
    rows,
  };
}

function ingestRoundsTable(results: Results, title: string): Table {
  const names = present(results);
  const nc = ingestRounds(results.nchan, 'http');
  const rows: string[][] = [];
  for (let i = 0; i < roundCount(results); i++) {
    for (const name of names) {
      for (const mode of INGEST_MODES) {
        const r = ingestRounds(results[name], mode)[i];
        if (!r) continue;
        rows.push([name, String(i + 1), INGEST_LABEL[mode], num(r.eventsPerCpuS), ratio(r.eventsPerCpuS, nc[i]?.eventsPerCpuS), num(r.otherCpuS, 2)]);
      }
    }
  }
  return { title, headers: ['server', 'round', 'mode', 'events/CPU-s', 'x nchan HTTP', 'other CPU s'], rows };
}

export interface TargetCheck {
  target: string;
  measured: string;
  /** info: a reference figure beside the targets, not a target itself. */
  verdict: 'PASS' | 'FAIL' | 'n/a' | 'info';
}

/** "median 0.93x (rounds 0.87x–1.06x)", or "0.93x" when one round has the figure. */
function spreadText(s: Spread, fmt: (v: number) => string): string {
  return s.n > 1 ? `median ${fmt(s.median)} (rounds ${fmt(s.min)}–${fmt(s.max)})` : fmt(s.median);
}
const fx = (v: number): string => `${v.toFixed(2)}x`;

/**
 * Herald's targets from bench/README.md, checked against this run, and two
 * reference rows: how Herald and nchan compare with floor, so a reader sees
 * whether the 0.8 x nchan line lies below what one write() per delivery costs.
 *
 * With several rounds, each verdict is on the median of the per-round
 * figures: for a ratio, the median of each round's Herald figure divided by
 * the same round's nchan (naive, floor) figure, so slow drift of the machine
 * cancels within a round and one lucky or unlucky round cannot decide.
 */
export function checkTargets(results: Results): TargetCheck[] {
  const h = results.herald;
  const v = (ok: boolean | undefined): TargetCheck['verdict'] => (ok === undefined ? 'n/a' : ok ? 'PASS' : 'FAIL');
  const info = (x: unknown): TargetCheck['verdict'] => (x === undefined ? 'n/a' : 'info');
  const hSteady = fanoutRounds(h, 'steady');
  const nSteady = fanoutRounds(results.nchan, 'steady');
  const fSteady = fanoutRounds(results.floor, 'steady');
  const cpu = (r: FanoutResult): number => r.cpuSPerMillion;
  const medCpu = (rs: (FanoutResult | undefined)[]): string => num(spread(rs.map((r) => r?.cpuSPerMillion))?.median, 2);
  const medP99 = (rs: (FanoutResult | undefined)[]): string => num(spread(rs.map((r) => r?.p99Ms))?.median, 2);
  const medianWord = (s: Spread): string => (s.n > 1 ? 'medians ' : '');

  const steadyCpu = ratioSpread(hSteady, nSteady, cpu);
  const steadyP99 = ratioSpread(hSteady, nSteady, (r) => r.p99Ms);
  // Burst: naive / Herald, round by round.
  const burst = ratioSpread(fanoutRounds(results.naive, 'burst'), fanoutRounds(h, 'burst'), cpu);
  const idle = h?.idle && h.idle.connections > 0 ? h.idle : undefined;
  const streamRounds = ingestRounds(h, 'grpcStream');
  const stream = spread(streamRounds.map((r) => r?.eventsPerCpuS));
  const streamErrors = streamRounds.reduce((a, r) => a + (r?.errors ?? 0), 0);
  const heraldFloor = ratioSpread(hSteady, fSteady, cpu);
  const floorNchan = ratioSpread(fSteady, nSteady, cpu);
  const floorLine = (s: Spread): string => {
    // 0.8 x nchan lies below floor when floor / nchan > 0.8.
    const below = s.perRound.filter((x) => Number.isFinite(x) && x > 0.8).length;
    return (
      `${spreadText(s, fx)}; ${medianWord(s)}${medCpu(fSteady)} vs ${medCpu(nSteady)} CPU-s/M; ` +
      `0.8 x nchan is ${s.median > 0.8 ? 'below' : 'at or above'} floor` +
      (s.n > 1 ? ` (below in ${below} of ${s.n} rounds)` : '')
    );
  };
  return [
    {
      target: 'steady: Herald CPU/M deliveries <= 0.8 x nchan',
      measured: steadyCpu ? `${spreadText(steadyCpu, fx)}; ${medianWord(steadyCpu)}${medCpu(hSteady)} vs ${medCpu(nSteady)} CPU-s/M` : '-',
      verdict: v(steadyCpu && steadyCpu.median <= 0.8),
    },
    {
      target: 'steady: Herald p99 <= nchan p99',
      measured: steadyP99 ? `${spreadText(steadyP99, fx)}; ${medianWord(steadyP99)}${medP99(hSteady)} ms vs ${medP99(nSteady)} ms` : '-',
      verdict: v(steadyP99 && steadyP99.median <= 1),
    },
    {
      target: 'burst: naive CPU/delivery >= 5 x Herald',
      measured: burst ? spreadText(burst, fx) : '-',
      verdict: v(burst && burst.median >= 5),
    },
    {
      target: 'idle: Herald <= 5 KB (5,000 bytes) RSS per idle connection',
      measured: idle ? `${num(idle.bytesPerConnection)} bytes` : '-',
      verdict: v(idle && idle.bytesPerConnection <= 5000),
    },
    {
      target: 'ingest: PublishStream >= 80,000 events per server CPU-second',
      measured: stream ? `${spreadText(stream, (x) => num(x))} events/CPU-s` + (streamErrors ? `, ${num(streamErrors)} errors` : '') : '-',
      verdict: v(stream && streamErrors === 0 && stream.median >= 80_000),
    },
    {
      target: 'steady: Herald CPU/M deliveries vs floor',
      measured: heraldFloor ? `${spreadText(heraldFloor, fx)}; ${medianWord(heraldFloor)}${medCpu(hSteady)} vs ${medCpu(fSteady)} CPU-s/M` : '-',
      verdict: info(heraldFloor),
    },
    {
      target: 'steady: floor CPU/M deliveries vs nchan',
      measured: floorNchan ? floorLine(floorNchan) : '-',
      verdict: info(floorNchan),
    },
  ];
}

export function buildTables(results: Results, labels: { steady: string; burst: string; idle: string; ingest: string }, smoke = false): Table[] {
  const rounds = roundCount(results);
  const many = rounds > 1;
  const note = (counts: string): string => (many ? ` — median of ${rounds} rounds, ${counts} summed over them` : '');
  const tables = [
    fanoutTable(results, 'steady', labels.steady + note('deliveries and missing')),
    fanoutTable(results, 'burst', labels.burst + note('deliveries and missing')),
    idleTable(results, labels.idle),
    ingestTable(results, labels.ingest + note('events and errors')),
  ];
  if (many) {
    const perRound = [
      fanoutRoundsTable(results, 'steady', 'steady, round by round (ratios against the same round)'),
      fanoutRoundsTable(results, 'burst', 'burst, round by round (ratios against the same round)'),
      ingestRoundsTable(results, 'ingest, round by round (ratios against the same round)'),
    ];
    tables.push(...perRound.filter((t) => t.rows.length > 0));
  }
  const checks = checkTargets(results);
  // A smoke run's few hundred connections say nothing about the targets:
  // show its figures, but no verdict that could read as a failure.
  const verdict = (c: TargetCheck): string => (smoke && c.verdict !== 'info' ? 'n/a (smoke)' : c.verdict);
  const title = many ? `Herald targets (median of the ${rounds} rounds' figures)` : 'Herald targets';
  tables.push({ title, headers: ['target', 'measured', 'verdict'], rows: checks.map((c) => [c.target, c.measured, verdict(c)]) });
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
