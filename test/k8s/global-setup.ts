/**
 * Vitest global setup for the `k8s` project: builds the control-plane
 * binaries if they are not cached yet (never skips: without them the k8s
 * tests fail, in CI as anywhere), starts ONE etcd + kube-apiserver shared by
 * the project's test files, provides how to reach it, and stops it at
 * teardown. Tests that stop or restart the apiserver start their own cluster
 * with startKubeCluster({ binDir: inject('kube').binDir }).
 */
import type { TestProject } from 'vitest/node';

import { ensureKubeBinaries, startKubeCluster } from './cluster.js';

/** What `inject('kube')` returns in the k8s project's tests. */
export interface ProvidedKube {
  /** Admin kubeconfig (system:masters client cert, CA embedded). */
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT of the shared apiserver. */
  server: string;
  /** PEM of the cluster CA. */
  caPem: string;
  /** Directory holding kube-apiserver and etcd, for startKubeCluster. */
  binDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kube: ProvidedKube;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const binDir = await ensureKubeBinaries();
  const cluster = await startKubeCluster({ binDir });
  project.provide('kube', {
    kubeconfigPath: cluster.kubeconfigPath,
    server: cluster.server,
    caPem: cluster.caPem,
    binDir,
  });
  return () => cluster.stop();
}
