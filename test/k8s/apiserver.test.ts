/**
 * Proves the k8s test tooling against the real kube-apiserver: admin access,
 * the lease-only identity Herald's cluster code will run as, and an apiserver
 * restart that keeps etcd's data.
 */
import { randomUUID } from 'node:crypto';

import { ApiException, CoordinationV1Api, CoreV1Api, V1MicroTime } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { kubeAdmin, kubeRequest, loadKubeConfig, startKubeCluster, type KubeCluster } from './cluster.js';

const LABEL_KEY = 'herald.test/suite';
const LABEL_VALUE = 'apiserver-tooling';

function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

function leasesPath(namespace: string, name?: string): string {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
  return name === undefined ? base : `${base}/${name}`;
}

function leaseBody(name: string, renewTime: string, holder = 'replica-a'): object {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, labels: { [LABEL_KEY]: LABEL_VALUE } },
    spec: { holderIdentity: holder, leaseDurationSeconds: 15, renewTime },
  };
}

interface LeaseJson {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: { holderIdentity?: string; renewTime?: string };
}

describe('k8s tooling - admin', () => {
  const kube = inject('kube');
  const admin = kubeAdmin(kube.kubeconfigPath);
  const namespace = uniqueName('admin');

  beforeAll(async () => {
    await admin.createNamespace(namespace);
  });

  it('apiserver - stores a Lease renewTime with six fractional digits exactly', async () => {
    const name = uniqueName('micro');
    const renewTime = '2026-03-04T05:06:07.123456Z';

    const created = await kubeRequest(kube.kubeconfigPath, 'POST', leasesPath(namespace), leaseBody(name, renewTime));
    expect(created.status, created.text).toBe(201);

    const read = await kubeRequest(kube.kubeconfigPath, 'GET', leasesPath(namespace, name));
    expect(read.status, read.text).toBe(200);
    expect(read.text).toContain(`"renewTime":"${renewTime}"`);
    expect((read.body as LeaseJson).spec.holderIdentity).toBe('replica-a');
  });

  it('apiserver - refuses a Lease renewTime with three fractional digits', async () => {
    const res = await kubeRequest(
      kube.kubeconfigPath, 'POST', leasesPath(namespace), leaseBody(uniqueName('milli'), '2026-03-04T05:06:07.123Z'),
    );
    expect(res.status, res.text).toBe(400);
  });

  it('client-node - round-trips a Lease through the admin kubeconfig', async () => {
    const leases = loadKubeConfig(kube.kubeconfigPath).makeApiClient(CoordinationV1Api);
    const name = uniqueName('client');
    const renewTime = new V1MicroTime('2026-03-04T05:06:07.890Z');

    await leases.createNamespacedLease({
      namespace,
      body: {
        metadata: { name, labels: { [LABEL_KEY]: LABEL_VALUE } },
        spec: { holderIdentity: 'replica-b', leaseDurationSeconds: 15, renewTime },
      },
    });
    const lease = await leases.readNamespacedLease({ namespace, name });
    expect(lease.spec?.holderIdentity).toBe('replica-b');
    // client-node 2.0 types renewTime as V1MicroTime (a Date) but hands back
    // the wire string at run time; new Date() accepts either.
    expect(new Date(lease.spec?.renewTime ?? 0).getTime()).toBe(renewTime.getTime());

    // The apiserver keeps its own Leases in kube-system; a label selector sees only the tests'.
    const system = await leases.listNamespacedLease({ namespace: 'kube-system' });
    expect(system.items.length).toBeGreaterThan(0);
    const labelled = await leases.listLeaseForAllNamespaces({ labelSelector: `${LABEL_KEY}=${LABEL_VALUE}` });
    expect(labelled.items.some((l) => l.metadata?.namespace === 'kube-system')).toBe(false);
    expect(labelled.items.map((l) => l.metadata?.name)).toContain(name);
  });

  it('client-node - a plain Date renewTime is refused: leases need V1MicroTime', async () => {
    const leases = loadKubeConfig(kube.kubeconfigPath).makeApiClient(CoordinationV1Api);
    const err: unknown = await leases.createNamespacedLease({
      namespace,
      body: { metadata: { name: uniqueName('date') }, spec: { renewTime: new Date() } },
    }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(400);
  });
});

describe('k8s tooling - lease-only identity', () => {
  const kube = inject('kube');
  const admin = kubeAdmin(kube.kubeconfigPath);
  const namespace = uniqueName('leases');
  const otherNamespace = uniqueName('other');
  let identity = '';

  beforeAll(async () => {
    await admin.createNamespace(namespace);
    await admin.createNamespace(otherNamespace);
    identity = await admin.createLeaseOnlyIdentity(namespace, 'herald');
  });

  it('rbac - creates, updates, patches, lists and deletes a Lease in its namespace', async () => {
    const name = uniqueName('lease');
    const created = await kubeRequest(identity, 'POST', leasesPath(namespace), leaseBody(name, '2026-03-04T05:06:07.000001Z'));
    expect(created.status, created.text).toBe(201);

    const current = created.body as LeaseJson;
    const updated = await kubeRequest(identity, 'PUT', leasesPath(namespace, name), {
      ...leaseBody(name, '2026-03-04T05:06:08.000002Z', 'replica-b'),
      metadata: { name, resourceVersion: current.metadata.resourceVersion, labels: { [LABEL_KEY]: LABEL_VALUE } },
    });
    expect(updated.status, updated.text).toBe(200);
    expect((updated.body as LeaseJson).spec.holderIdentity).toBe('replica-b');

    // A stale resourceVersion is a conflict: the optimistic lock leases rely on.
    const stale = await kubeRequest(identity, 'PUT', leasesPath(namespace, name), {
      ...leaseBody(name, '2026-03-04T05:06:09.000003Z', 'replica-c'),
      metadata: { name, resourceVersion: current.metadata.resourceVersion },
    });
    expect(stale.status, stale.text).toBe(409);

    const patched = await kubeRequest(
      identity, 'PATCH', leasesPath(namespace, name),
      { spec: { renewTime: '2026-03-04T05:06:10.000004Z' } }, 'application/merge-patch+json',
    );
    expect(patched.status, patched.text).toBe(200);
    expect((patched.body as LeaseJson).spec.renewTime).toBe('2026-03-04T05:06:10.000004Z');

    const listed = await kubeRequest(
      identity, 'GET', `${leasesPath(namespace)}?labelSelector=${encodeURIComponent(`${LABEL_KEY}=${LABEL_VALUE}`)}`,
    );
    expect(listed.status, listed.text).toBe(200);
    expect((listed.body as { items: LeaseJson[] }).items.map((l) => l.metadata.name)).toEqual([name]);

    const deleted = await kubeRequest(identity, 'DELETE', leasesPath(namespace, name));
    expect(deleted.status, deleted.text).toBe(200);
    const gone = await kubeRequest(identity, 'GET', leasesPath(namespace, name));
    expect(gone.status, gone.text).toBe(404);
  });

  it('rbac - is forbidden a Lease in another namespace', async () => {
    const res = await kubeRequest(identity, 'POST', leasesPath(otherNamespace), leaseBody(uniqueName('x'), '2026-03-04T05:06:07.000000Z'));
    expect(res.status, res.text).toBe(403);
    const list = await kubeRequest(identity, 'GET', leasesPath(otherNamespace));
    expect(list.status, list.text).toBe(403);
  });

  it('rbac - is forbidden to list pods', async () => {
    const core = loadKubeConfig(identity).makeApiClient(CoreV1Api);
    const err: unknown = await core.listNamespacedPod({ namespace }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(403);
  });

  it('rbac - is forbidden to create a ConfigMap', async () => {
    const res = await kubeRequest(identity, 'POST', `/api/v1/namespaces/${namespace}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: uniqueName('cm') },
      data: { k: 'v' },
    });
    expect(res.status, res.text).toBe(403);
  });

  it('rbac - the token authenticates as the ServiceAccount', async () => {
    const res = await kubeRequest(identity, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'SelfSubjectReview',
    });
    expect(res.status, res.text).toBe(201);
    expect((res.body as { status: { userInfo: { username: string } } }).status.userInfo.username)
      .toBe(`system:serviceaccount:${namespace}:herald`);
  });
});

describe('k8s tooling - apiserver restart', () => {
  let cluster: KubeCluster | undefined;

  beforeAll(async () => {
    cluster = await startKubeCluster({ binDir: inject('kube').binDir });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('apiserver - keeps its port and data across a restart while etcd runs', { timeout: 240_000 }, async () => {
    const c = cluster!;
    const namespace = uniqueName('restart');
    await c.createNamespace(namespace);
    const name = uniqueName('lease');
    const renewTime = '2026-03-04T05:06:07.654321Z';
    const created = await kubeRequest(c.kubeconfigPath, 'POST', leasesPath(namespace), leaseBody(name, renewTime));
    expect(created.status, created.text).toBe(201);

    const server = c.server;
    await c.stopApiServer();
    await expect(kubeRequest(c.kubeconfigPath, 'GET', leasesPath(namespace, name))).rejects.toThrow(/ECONNREFUSED/);

    await c.startApiServer();
    expect(c.server).toBe(server);
    const read = await kubeRequest(c.kubeconfigPath, 'GET', leasesPath(namespace, name));
    expect(read.status, read.text).toBe(200);
    expect((read.body as LeaseJson).spec.renewTime).toBe(renewTime);
  });
});
