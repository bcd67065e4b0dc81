/**
 * The API server goes away under three replicas and comes back: they keep
 * serving subscribers and publishers with their last view, report
 * themselves degraded, drop nobody while blind, and rejoin afterwards. The
 * test starts a cluster of its own, since it stops that apiserver.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { kubeRequest, startKubeCluster, type KubeCluster } from '../k8s/cluster.js';
import { SseProbe } from '../helpers.js';
import {
  cluster,
  eventually,
  killAll,
  leasePath,
  memberNames,
  readyz,
  type LeaseJson,
  type Replica,
  sleep,
  startReplica,
  TEST_LEASE_DURATION_MS,
  uniqueName,
} from './replicas.js';

const NAMES = ['herald-0', 'herald-1', 'herald-2'];

async function publish(r: Replica, topic: string, data: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${r.httpPort}/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic, data }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('membership - API server outage', () => {
  let kube: KubeCluster | undefined;
  const replicas: Replica[] = [];
  const probes: SseProbe[] = [];
  const namespace = uniqueName('outage');
  const installation = uniqueName('inst');

  beforeAll(async () => {
    kube = await startKubeCluster({ binDir: inject('kube').binDir });
    await kube.createNamespace(namespace);
    const identity = await kube.createLeaseOnlyIdentity(namespace, 'herald');
    replicas.push(...(await Promise.all(NAMES.map((name) => startReplica({ kubeconfig: identity, namespace, installation, name })))));
  });

  afterAll(async () => {
    for (const p of probes) p.close();
    await killAll(replicas);
    await kube?.stop();
  });

  it('membership - replicas serve on degraded with their last view while the API server is down, then rejoin', { timeout: 240_000 }, async () => {
    const c = kube!;
    for (const r of replicas) {
      await eventually(() => cluster(r), (s) => memberNames(s).join() === NAMES.join() && !s.degraded, 10_000, `${r.name} to see all three`);
    }
    const early = new SseProbe(replicas[0]!.httpPort, '/v1/events?topic=alerts');
    probes.push(early);
    await early.waitForStatus();
    expect(early.status).toBe(200);

    await c.stopApiServer();

    // Degraded, noticed within a renewal or two.
    for (const r of replicas) {
      const stats = await eventually(() => cluster(r), (s) => s.degraded, 10_000, `${r.name} to report degraded`);
      expect(stats.lastError?.code).toBe('HERALD_ERR_CLUSTER_API');
      expect(stats.degradedCount).toBe(1);
    }
    // Longer than a lease duration with no renewal seen: nobody is dropped while blind.
    await sleep(TEST_LEASE_DURATION_MS + 1_000);
    for (const r of replicas) {
      const res = await readyz(r);
      expect(res.code, `${r.name} stays ready`).toBe(200);
      expect(res.body.cluster.degraded).toBe(true);
      expect(memberNames(res.body.cluster), `${r.name} keeps its last view`).toEqual(NAMES);
      expect(res.body.cluster.renewFailures).toBeGreaterThan(0);
    }

    // Still serving: publish reaches the stream opened before, and new streams open.
    const late = new SseProbe(replicas[1]!.httpPort, '/v1/events?topic=alerts');
    probes.push(late);
    await late.waitForStatus();
    expect(late.status).toBe(200);
    expect(await publish(replicas[0]!, 'alerts', 'during-outage-0')).toBe(200);
    expect(await publish(replicas[1]!, 'alerts', 'during-outage-1')).toBe(200);
    await eventually(async () => early.data(), (d) => d.includes('during-outage-0'), 5_000, 'the early stream to get the event');
    await eventually(async () => late.data(), (d) => d.includes('during-outage-1'), 5_000, 'the new stream to get the event');

    await c.startApiServer();

    // Recovered: healthy again, all three see each other, every Lease renewed by its own holder.
    for (const r of replicas) {
      const stats = await eventually(
        () => cluster(r),
        (s) => !s.degraded && s.state === 'holding' && memberNames(s).join() === NAMES.join(),
        30_000,
        `${r.name} to recover`,
      );
      expect(stats.relists).toBeGreaterThanOrEqual(2);
      const before = (await kubeRequest(c.kubeconfigPath, 'GET', leasePath(namespace, r.name))).body as LeaseJson;
      expect(before.spec.holderIdentity).toBe(stats.identity);
      const renewed = await eventually(
        async () => (await kubeRequest(c.kubeconfigPath, 'GET', leasePath(namespace, r.name))).body as LeaseJson,
        (l) => l.spec.renewTime !== before.spec.renewTime,
        5_000,
        `${r.name}'s lease to be renewed`,
      );
      expect(renewed.spec.holderIdentity).toBe(stats.identity);
    }
    // Streams opened before and during the outage were never interrupted.
    expect(early.ended).toBe(false);
    expect(late.ended).toBe(false);
  });

  it('membership - a Lease deleted during the outage is recreated when the API server returns', { timeout: 240_000 }, async () => {
    const c = kube!;
    const r = replicas[2]!;
    const identity = (await cluster(r)).identity;
    await c.stopApiServer();
    await eventually(() => cluster(r), (s) => s.degraded, 10_000, 'degraded');
    // Delete it behind the replica's back: straight after the restart, before
    // the replica's next renewal can reach the server.
    await c.startApiServer();
    const del = await kubeRequest(c.kubeconfigPath, 'DELETE', leasePath(namespace, r.name));
    expect(del.status, del.text).toBe(200);
    const back = await eventually(
      () => kubeRequest(c.kubeconfigPath, 'GET', leasePath(namespace, r.name)),
      (res) => res.status === 200,
      15_000,
      'the lease to be recreated',
    );
    expect((back.body as LeaseJson).spec.holderIdentity).toBe(identity);
    for (const peer of replicas) {
      await eventually(() => cluster(peer), (s) => !s.degraded && memberNames(s).join() === NAMES.join(), 15_000, `${peer.name} to see all three`);
    }
  });
});
