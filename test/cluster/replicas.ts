/**
 * Herald replicas as real processes (the built CLI) in cluster=kubernetes
 * mode, and what the membership tests ask of them.
 */
import { randomUUID } from 'node:crypto';

import type { MembershipStats } from '../../src/cluster/index.js';
import { spawnServe, type ServeProcess } from '../process.js';

/** Short enough to keep the suite quick, long enough for a busy 2-core runner: renew at duration / 3 as in production. */
export const TEST_LEASE_DURATION_MS = 3_000;
export const TEST_LEASE_RENEW_MS = 1_000;

export interface Replica extends ServeProcess {
  readonly name: string;
}

export interface ReplicaOptions {
  kubeconfig: string;
  namespace: string;
  installation: string;
  name: string;
  extraArgs?: string[];
}

export async function startReplica(o: ReplicaOptions): Promise<Replica> {
  const proc = await spawnServe([
    '--cluster', 'kubernetes',
    '--kubeconfig', o.kubeconfig,
    '--namespace', o.namespace,
    '--pod-name', o.name,
    '--installation', o.installation,
    '--lease-duration-ms', String(TEST_LEASE_DURATION_MS),
    '--lease-renew-ms', String(TEST_LEASE_RENEW_MS),
    '--drain-ms', '0',
    ...(o.extraArgs ?? []),
  ]);
  return Object.assign(proc, { name: o.name });
}

export interface Readyz {
  status: string;
  epoch: string;
  cluster: MembershipStats;
}

export async function readyz(r: Replica): Promise<{ code: number; body: Readyz }> {
  const res = await fetch(`http://127.0.0.1:${r.httpPort}/readyz`);
  return { code: res.status, body: (await res.json()) as Readyz };
}

export async function cluster(r: Replica): Promise<MembershipStats> {
  return (await readyz(r)).body.cluster;
}

export function memberNames(stats: MembershipStats): string[] {
  return stats.members.map((m) => m.name);
}

/** Polls `probe` every 100 ms until `ok` holds; fails with the last value after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await probe();
      if (ok(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(last)}${lastErr ? `; last error: ${String(lastErr)}` : ''}`);
    }
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Ends every replica still running (SIGKILL: cleanup, not a behaviour under test). */
export async function killAll(replicas: Iterable<Replica>): Promise<void> {
  await Promise.all([...replicas].map(async (r) => {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  }));
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function leasePath(namespace: string, name?: string): string {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
  return name === undefined ? base : `${base}/${name}`;
}

/** The parts of a Lease the tests read. */
export interface LeaseJson {
  metadata: { name: string; resourceVersion: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string; leaseTransitions?: number };
}
