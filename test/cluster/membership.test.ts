/**
 * Replica membership through coordination.k8s.io Leases, against the real
 * kube-apiserver of the k8s project's global setup. Every Herald is a real
 * `herald serve` process running as a ServiceAccount bound to the
 * lease-only Role (docs/cluster.md), with a 3 s lease renewed every 1 s.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { kubeAdmin, kubeRequest } from '../k8s/cluster.js';
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
  TEST_LEASE_RENEW_MS,
  uniqueName,
} from './replicas.js';

const kube = inject('kube');
const admin = kubeAdmin(kube.kubeconfigPath);

describe('membership - three replicas', () => {
  const namespace = uniqueName('members');
  const installation = uniqueName('inst');
  const replicas = new Map<string, Replica>();
  let identity = '';

  beforeAll(async () => {
    await admin.createNamespace(namespace);
    identity = await admin.createLeaseOnlyIdentity(namespace, 'herald');
    const started = await Promise.all(
      ['herald-0', 'herald-1', 'herald-2'].map((name) => startReplica({ kubeconfig: identity, namespace, installation, name })),
    );
    for (const r of started) replicas.set(r.name, r);
  });

  afterAll(async () => {
    await killAll(replicas.values());
  });

  const get = (name: string): Replica => replicas.get(name)!;

  it('membership - every replica sees all three, itself once, with epoch and peer address', async () => {
    const all = ['herald-0', 'herald-1', 'herald-2'];
    for (const r of replicas.values()) {
      const stats = await eventually(() => cluster(r), (s) => memberNames(s).join() === all.join(), 10_000, `${r.name} to see all three`);
      expect(stats.mode).toBe('kubernetes');
      expect(stats.state).toBe('holding');
      expect(stats.degraded).toBe(false);
      expect(stats.members.filter((m) => m.self).map((m) => m.name)).toEqual([r.name]);
    }
    // What one replica says of the others is what the others say of themselves.
    const view = (await cluster(get('herald-0'))).members;
    for (const r of replicas.values()) {
      const own = (await readyz(r)).body;
      const seen = view.find((m) => m.name === r.name)!;
      expect(seen.epoch).toBe(own.epoch);
      expect(seen.peerAddress).toBe(`127.0.0.1:${r.grpcPort}`);
    }
    expect(get('herald-0').logs.join('\n')).toMatch(/"member":"herald-2".*"msg":"member joined"/);
  });

  it('membership - the Lease carries labels, annotations, holder, duration and a six-digit renewTime', async () => {
    const r = get('herald-1');
    const stats = await cluster(r);
    const res = await kubeRequest(kube.kubeconfigPath, 'GET', leasePath(namespace, 'herald-1'));
    expect(res.status, res.text).toBe(200);
    const lease = res.body as LeaseJson;
    expect(lease.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'herald', 'app.kubernetes.io/instance': installation });
    expect(lease.metadata.annotations).toEqual({ 'herald.dev/peer-address': `127.0.0.1:${r.grpcPort}`, 'herald.dev/epoch': (await readyz(r)).body.epoch });
    expect(lease.spec.holderIdentity).toBe(stats.identity);
    expect(lease.spec.holderIdentity).toMatch(/^herald-1_[0-9a-f]{12}$/);
    expect(lease.spec.leaseDurationSeconds).toBe(TEST_LEASE_DURATION_MS / 1000);
    expect(lease.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    // Renewed within the interval: the renewTime moves on.
    const next = await eventually(
      async () => (await kubeRequest(kube.kubeconfigPath, 'GET', leasePath(namespace, 'herald-1'))).body as LeaseJson,
      (l) => l.spec.renewTime !== lease.spec.renewTime,
      3 * TEST_LEASE_RENEW_MS,
      'a renewal',
    );
    expect(next.spec.holderIdentity).toBe(stats.identity);
    expect(Date.parse(next.spec.renewTime!)).toBeGreaterThan(Date.parse(lease.spec.renewTime!));
  });

  it('membership - a replica recreates its Lease when it is deleted under it', async () => {
    const identityOf0 = (await cluster(get('herald-0'))).identity;
    const del = await kubeRequest(kube.kubeconfigPath, 'DELETE', leasePath(namespace, 'herald-0'));
    expect(del.status, del.text).toBe(200);
    const back = await eventually(
      () => kubeRequest(kube.kubeconfigPath, 'GET', leasePath(namespace, 'herald-0')),
      (res) => res.status === 200,
      3 * TEST_LEASE_RENEW_MS + 2_000,
      'the lease to be recreated',
    );
    expect((back.body as LeaseJson).spec.holderIdentity).toBe(identityOf0);
    for (const r of replicas.values()) {
      await eventually(() => cluster(r), (s) => memberNames(s).includes('herald-0'), 5_000, `${r.name} to list herald-0 again`);
    }
  });

  it('membership - SIGTERM deletes the Lease and peers drop the replica within about a second', async () => {
    const leaving = get('herald-2');
    const sentAt = Date.now();
    leaving.child.kill('SIGTERM');
    await Promise.all(
      ['herald-0', 'herald-1'].map((name) =>
        eventually(() => cluster(get(name)), (s) => !memberNames(s).includes('herald-2'), 1_500, `${name} to drop herald-2`),
      ),
    );
    // Well inside the 3 s a lapsed lease would take: this was the deletion, not an expiry.
    expect(Date.now() - sentAt).toBeLessThan(1_500);
    expect(await leaving.exited).toBe(0);
    const gone = await kubeRequest(kube.kubeconfigPath, 'GET', leasePath(namespace, 'herald-2'));
    expect(gone.status, gone.text).toBe(404);
    expect(get('herald-0').logs.join('\n')).toMatch(/"member":"herald-2".*"msg":"member left"/);
    replicas.delete('herald-2');
  });

  it('membership - after SIGKILL peers keep the replica until its lease has lapsed, then drop it', async () => {
    const killed = get('herald-1');
    const observer = get('herald-0');
    // Kill right after a renewal, so the lease has (nearly) its whole duration to run.
    const before = (await kubeRequest(kube.kubeconfigPath, 'GET', leasePath(namespace, 'herald-1'))).body as LeaseJson;
    await eventually(
      async () => (await kubeRequest(kube.kubeconfigPath, 'GET', leasePath(namespace, 'herald-1'))).body as LeaseJson,
      (l) => l.spec.renewTime !== before.spec.renewTime,
      3 * TEST_LEASE_RENEW_MS,
      'a renewal',
    );
    const killedAt = Date.now();
    killed.child.kill('SIGKILL');
    await killed.exited;

    // Not before: the lease still runs (it was renewed within the last ~100 ms).
    await sleep(TEST_LEASE_DURATION_MS / 2);
    expect(memberNames(await cluster(observer))).toContain('herald-1');

    // After: dropped once it lapsed by the observer's own clock.
    await eventually(() => cluster(observer), (s) => !memberNames(s).includes('herald-1'), 2 * TEST_LEASE_DURATION_MS, 'herald-0 to drop herald-1');
    const after = Date.now() - killedAt;
    expect(after).toBeGreaterThanOrEqual(TEST_LEASE_DURATION_MS - TEST_LEASE_RENEW_MS);
    expect(after).toBeLessThan(TEST_LEASE_DURATION_MS + 2 * TEST_LEASE_RENEW_MS);
    // Nobody deleted it: the Lease is still there, dropped by liveness alone.
    const stale = await kubeRequest(kube.kubeconfigPath, 'GET', leasePath(namespace, 'herald-1'));
    expect(stale.status, stale.text).toBe(200);
    replicas.delete('herald-1');
    expect(memberNames(await cluster(observer))).toEqual(['herald-0']);
  });
});

describe('membership - least privilege', () => {
  const namespace = uniqueName('rbac');
  const otherNamespace = uniqueName('rbac-other');
  const installation = uniqueName('inst');
  const replicas: Replica[] = [];
  let identity = '';

  beforeAll(async () => {
    await admin.createNamespace(namespace);
    await admin.createNamespace(otherNamespace);
    identity = await admin.createLeaseOnlyIdentity(namespace, 'herald');
  });

  afterAll(async () => {
    await killAll(replicas);
  });

  it('rbac - the lease-only identity runs a replica in its namespace', async () => {
    const r = await startReplica({ kubeconfig: identity, namespace, installation, name: 'herald-0' });
    replicas.push(r);
    const stats = await eventually(() => cluster(r), (s) => s.state === 'holding' && !s.degraded && memberNames(s).includes('herald-0'), 10_000, 'the replica to hold its lease');
    expect(stats.lastError).toBeNull();
  });

  it('rbac - the same identity is refused other namespaces, secrets, pods and configmaps', async () => {
    const refused = [
      await kubeRequest(identity, 'GET', leasePath(otherNamespace)),
      await kubeRequest(identity, 'GET', '/apis/coordination.k8s.io/v1/leases'),
      await kubeRequest(identity, 'GET', `/api/v1/namespaces/${namespace}/secrets`),
      await kubeRequest(identity, 'GET', `/api/v1/namespaces/${namespace}/pods`),
      await kubeRequest(identity, 'POST', `/api/v1/namespaces/${namespace}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403, 403]);
    // ...while the leases of its own namespace are open to it.
    expect((await kubeRequest(identity, 'GET', leasePath(namespace))).status).toBe(200);
  });

  it('rbac - a replica pointed at a namespace it has no rights in serves on, degraded, naming the refusal', async () => {
    const r = await startReplica({ kubeconfig: identity, namespace: otherNamespace, installation, name: 'herald-x' });
    replicas.push(r);
    const res = await readyz(r);
    expect(res.code).toBe(200);
    expect(res.body.cluster.degraded).toBe(true);
    expect(res.body.cluster.state).toBe('joining');
    expect(res.body.cluster.lastError?.code).toBe('HERALD_ERR_CLUSTER_API');
    expect(res.body.cluster.lastError?.message).toMatch(/HTTP 403: .*forbidden/);
    expect(res.body.cluster.members).toEqual([]);
    const created = await kubeRequest(kube.kubeconfigPath, 'GET', leasePath(otherNamespace, 'herald-x'));
    expect(created.status).toBe(404);
  });
});

describe('membership - two replicas racing for one name', () => {
  const namespace = uniqueName('race');
  const installation = uniqueName('inst');
  const replicas: Replica[] = [];
  let identity = '';

  beforeAll(async () => {
    await admin.createNamespace(namespace);
    identity = await admin.createLeaseOnlyIdentity(namespace, 'herald');
  });

  afterAll(async () => {
    await killAll(replicas);
  });

  it('membership - exactly one holds the Lease, the other reports the conflict and does not flap', { timeout: 60_000 }, async () => {
    const twins = await Promise.all([0, 1].map(() => startReplica({ kubeconfig: identity, namespace, installation, name: 'herald-twin' })));
    replicas.push(...twins);

    const states = await eventually(
      () => Promise.all(twins.map(cluster)),
      (s) => s.map((x) => x.state).sort().join() === 'conflict,holding',
      10_000,
      'one holder and one in conflict',
    );
    const winner = twins[states.findIndex((s) => s.state === 'holding')]!;
    const loser = twins[states.findIndex((s) => s.state === 'conflict')]!;
    const winnerId = states.find((s) => s.state === 'holding')!.identity;
    const loserStats = states.find((s) => s.state === 'conflict')!;
    expect(loserStats.conflicts).toBe(1);
    expect(loserStats.lastError?.code).toBe('HERALD_ERR_CLUSTER_LEASE_HELD');
    expect(loserStats.lastError?.message).toContain(winnerId);

    // For more than two lease durations: the holder renews, the loser waits,
    // the Lease never changes hands.
    const lease0 = (await kubeRequest(kube.kubeconfigPath, 'GET', leasePath(namespace, 'herald-twin'))).body as LeaseJson;
    expect(lease0.spec.holderIdentity).toBe(winnerId);
    const until = Date.now() + 2 * TEST_LEASE_DURATION_MS + TEST_LEASE_RENEW_MS;
    const renewTimes = new Set<string>();
    while (Date.now() < until) {
      const lease = (await kubeRequest(kube.kubeconfigPath, 'GET', leasePath(namespace, 'herald-twin'))).body as LeaseJson;
      expect(lease.spec.holderIdentity).toBe(winnerId);
      expect(lease.spec.leaseTransitions ?? 0).toBe(0);
      renewTimes.add(lease.spec.renewTime!);
      const [w, l] = await Promise.all([cluster(winner), cluster(loser)]);
      expect(w.state).toBe('holding');
      expect(l.state).toBe('conflict');
      expect(l.conflicts).toBe(1);
      await sleep(250);
    }
    expect(renewTimes.size).toBeGreaterThanOrEqual(4);

    // The loser sees the name held by the other process, not by itself.
    const [w, l] = await Promise.all([cluster(winner), cluster(loser)]);
    expect(w.members).toEqual([expect.objectContaining({ name: 'herald-twin', self: true, peerAddress: `127.0.0.1:${winner.grpcPort}` })]);
    expect(l.members).toEqual([expect.objectContaining({ name: 'herald-twin', self: false, peerAddress: `127.0.0.1:${winner.grpcPort}` })]);

    // When the holder leaves (its Lease deleted), the loser takes the name at once.
    winner.child.kill('SIGTERM');
    expect(await winner.exited).toBe(0);
    const taken = await eventually(() => cluster(loser), (s) => s.state === 'holding', 3 * TEST_LEASE_RENEW_MS + 1_000, 'the loser to take the lease');
    expect(taken.members).toEqual([expect.objectContaining({ name: 'herald-twin', self: true, peerAddress: `127.0.0.1:${loser.grpcPort}` })]);
    const lease1 = (await kubeRequest(kube.kubeconfigPath, 'GET', leasePath(namespace, 'herald-twin'))).body as LeaseJson;
    expect(lease1.spec.holderIdentity).toBe(taken.identity);
  });
});
