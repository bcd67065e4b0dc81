/** Where things are, wherever the compiled bench runs from. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findRoot(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 10; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench', 'loadgen'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('bench: cannot find the repository root');
}

export const REPO_ROOT = findRoot();
export const BENCH_DIR = join(REPO_ROOT, 'bench');
export const BUILD_DIR = join(BENCH_DIR, '.build');
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const HERALD_CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
export const NAIVE_SERVER = join(BENCH_DIR, 'servers', 'naive-sse.mjs');
export const NODE_FLOOR_SERVER = join(BENCH_DIR, 'servers', 'node-floor.mjs');
export const FLOOR_SOURCE = join(BENCH_DIR, 'servers', 'floor.c');
/** Built by the bench with the machine's gcc, like the loadgen. */
export const FLOOR_BINARY = join(BUILD_DIR, 'floor');
