/**
 * Prints where a V8 .cpuprofile spent its time: self time per function
 * (with file:line), heaviest first. For the profiles written by
 * `npm run bench -- --herald-cpu-prof` into bench/results/profiles/.
 *
 * npm run bench:profile-top -- FILE.cpuprofile [N]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { REPO_ROOT } from './paths.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

function main(): void {
  const [file, nRaw] = process.argv.slice(2);
  if (!file) {
    console.error('usage: profile-top FILE.cpuprofile [N]');
    process.exit(2);
  }
  const n = Number(nRaw ?? 30);
  const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(prof.nodes.map((node) => [node.id, node]));
  // Self time per node from samples and their time deltas (µs).
  const selfUs = new Map<number, number>();
  const samples = prof.samples ?? [];
  const deltas = prof.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  }
  const byFn = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)?.callFrame;
    if (!cf) continue;
    const name = cf.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const where = cf.url ? `${relative(REPO_ROOT, cf.url.replace(/^file:\/\//, ''))}:${cf.lineNumber + 1}` : '';
    const key = `${name}  ${where}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
  }
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s busy, ${(idle / 1e6).toFixed(2)} s idle (self time, heaviest first)`);
  const rows = [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  for (const [key, us] of rows) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${key}`);
  }
}

main();
