/**
 * Reads a server's cost from /proc: CPU time (utime + stime of every process
 * in its tree, so nginx's master and worker are summed) and resident memory
 * (VmRSS, summed the same way). Linux only, like the bench.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Kernel clock ticks per second for /proc/<pid>/stat times (getconf CLK_TCK). */
const CLOCK_TICKS_PER_S = 100;

interface StatFields {
  ppid: number;
  userTicks: number;
  sysTicks: number;
}

function readStat(pid: number): StatFields | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: fields start after the last ')'.
  const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { ppid: Number(rest[1]), userTicks: Number(rest[11]), sysTicks: Number(rest[12]) };
}

/** The pid and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const st = readStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid);
    if (list) list.push(pid);
    else children.set(st.ppid, [pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 1000) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

export interface CpuTimes {
  userS: number;
  sysS: number;
}

/** CPU-seconds (user and system) used so far by the given processes. */
export function cpuTimes(pids: readonly number[]): CpuTimes {
  let user = 0;
  let sys = 0;
  for (const pid of pids) {
    const st = readStat(pid);
    user += st?.userTicks ?? 0;
    sys += st?.sysTicks ?? 0;
  }
  return { userS: user / CLOCK_TICKS_PER_S, sysS: sys / CLOCK_TICKS_PER_S };
}

/** CPU-seconds (user + system) used so far by the given processes. */
export function cpuSeconds(pids: readonly number[]): number {
  const t = cpuTimes(pids);
  return t.userS + t.sysS;
}

/** Whole-machine CPU-seconds from /proc/stat, all cores summed. */
export interface HostCpu {
  busyS: number;
  /**
   * Softirq time. Loopback TCP work runs in softirq: mostly inside the
   * sending process's syscall (so it is in that process's stime), but under
   * load the kernel defers it to ksoftirqd, where no process under test is
   * charged for it. Reported so a run can show how much went there.
   */
  softirqS: number;
  idleS: number;
}

export function hostCpu(): HostCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // steal (the hypervisor ran someone else) is neither busy here nor idle.
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0] = f;
  return {
    busyS: (user + nice + system + irq + softirq) / CLOCK_TICKS_PER_S,
    softirqS: softirq / CLOCK_TICKS_PER_S,
    idleS: (idle + iowait) / CLOCK_TICKS_PER_S,
  };
}

/** Resident set size in KiB, summed over the given processes. */
export function rssKiB(pids: readonly number[]): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      kib += m ? Number(m[1]) : 0;
    } catch {
      // the process is gone: it holds no memory
    }
  }
  return kib;
}
