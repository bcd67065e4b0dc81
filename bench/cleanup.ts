/**
 * Every process the bench starts is tracked here and killed, with its whole
 * process tree, when the bench exits: normally, on an error or on a signal.
 */
import type { ChildProcess } from 'node:child_process';
import { processTree } from './proc-stats.js';

const live = new Set<ChildProcess>();

export function track(child: ChildProcess): void {
  live.add(child);
}

export function untrack(child: ChildProcess): void {
  live.delete(child);
}

/** Kills a process and its descendants (nginx's worker is a grandchild of the bench). */
export function killTree(pid: number, signal: NodeJS.Signals): void {
  const pids = processTree(pid).reverse();
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

function killAll(): void {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      killTree(child.pid, 'SIGKILL');
    }
  }
  live.clear();
}

let installed = false;

/** Installs the exit and signal handlers once. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}
