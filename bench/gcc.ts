/**
 * The bench's C programs (loadgen, floor) are built on the machine that runs
 * them, with its own gcc, and cached under bench/.build/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';

/** Compiles `source` into `binary` when the binary is missing or older than the source. */
export function buildC(source: string, binary: string, what: string): string {
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(dirname(binary), { recursive: true });
  const r = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', binary, source], { encoding: 'utf8' });
  if (r.error) throw new Error(`bench needs gcc to build ${what}`, { cause: r.error });
  if (r.status !== 0) throw new Error(`gcc failed to build ${basename(binary)}:\n${r.stderr}`);
  return binary;
}
