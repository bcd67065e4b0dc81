import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';

import { CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../telemetry/index.js';

import { HeraldError } from '../errors.js';
import { apiError, statusOf, withTimeout } from './kube-call.js';
import { labelSelector, leaseBody, type LeaseRecord, type OwnLease, toRecord } from './lease-record.js';
import { LeaseWatch } from './lease-watch.js';
import { MemberTable } from './member-table.js';
import type { Member, Membership, MembershipChange, MembershipState, MembershipStats } from './membership.js';

export interface LeaseMembershipOptions {
  readonly namespace: string;
  /** The replica's (pod's) name, and its Lease's. */
  readonly name: string;
  /** Value of the app.kubernetes.io/instance label. */
  readonly installation: string;
  /** Kubeconfig file; empty: the in-cluster service account. */
  readonly kubeconfig: string;
  readonly leaseDurationMs: number;
  readonly leaseRenewMs: number;
  readonly epoch: string;
  readonly peerAddress: string;
}

/** Where an in-cluster service account's token is mounted. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Floor on the time one API call may take. A call normally gets one renew
 * interval (an answer later than that is as good as none: the next renewal
 * is due), but a short test interval must not turn a busy API server into an
 * outage.
 */
const MIN_CALL_TIMEOUT_MS = 2_000;

/**
 * Membership through coordination.k8s.io/v1 Leases: one Lease per replica,
 * named after it, renewed every leaseRenewMs, watched by label selector.
 * See src/cluster/index.ts for the model and docs/cluster.md for the format.
 */
export class LeaseMembership extends EventEmitter<{ change: [MembershipChange] }> implements Membership {
  private readonly api: CoordinationV1Api;
  private readonly watch: LeaseWatch;
  private readonly table = new MemberTable(() => performance.now());
  private readonly own: OwnLease;
  private readonly callTimeoutMs: number;

  private state: MembershipState = 'joining';
  private stopped = false;
  /** resourceVersion of the own Lease as last written: the optimistic lock of the next renewal. */
  private ownVersion = '';
  private acquiredAt = new Date();
  private transitions = 0;

  private writeOk = true;
  private watchOk = true;
  private degraded = false;
  private lastError: MembershipStats['lastError'] = null;
  private readonly counts = { renewals: 0, renewFailures: 0, degradedCount: 0, conflicts: 0, relists: 0 };

  private view: Member[] = [];
  private tickTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  /** Loads the kubeconfig; throws HERALD_ERR_CLUSTER_KUBECONFIG when it cannot. No request is sent yet. */
  constructor(
    private readonly opts: LeaseMembershipOptions,
    private readonly log: Logger,
  ) {
    super();
    const kc = loadKubeConfig(opts.kubeconfig);
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.own = {
      namespace: opts.namespace,
      name: opts.name,
      installation: opts.installation,
      // Unique per process, as client-go's `<hostname>_<uuid>`: two processes
      // started with one name never mistake each other's Lease for their own.
      identity: `${opts.name}_${randomBytes(6).toString('hex')}`,
      durationMs: opts.leaseDurationMs,
      epoch: opts.epoch,
      peerAddress: opts.peerAddress,
    };
    this.callTimeoutMs = Math.max(opts.leaseRenewMs, MIN_CALL_TIMEOUT_MS);
    this.watch = new LeaseWatch(
      kc,
      this.api,
      {
        namespace: opts.namespace,
        labelSelector: labelSelector(opts.installation),
        timeoutMs: this.callTimeoutMs,
        // Re-list as often as a renewal would go out: an outage is noticed
        // and left within one interval either way.
        retryMs: opts.leaseRenewMs,
      },
      {
        listed: (leases) => this.onListed(leases),
        added: (lease) => this.onUpsert(lease),
        modified: (lease) => this.onUpsert(lease),
        deleted: (lease) => this.onDeleted(lease),
        failed: (err) => this.onWatchFailed(err),
      },
    );
  }

  async start(): Promise<void> {
    // The first write and the first list both go out now; neither failing
    // stops the start: the replica serves and keeps trying (degraded).
    const first = this.runTick();
    await Promise.all([first, this.watch.start()]);
    this.log.info({ lease: `${this.own.namespace}/${this.own.name}`, identity: this.own.identity, state: this.state, members: this.view.length }, 'membership started');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.tickTimer);
    clearTimeout(this.expiryTimer);
    await this.ticking;
    const held = this.state === 'holding';
    this.state = 'stopped';
    // Delete first, so peers see the leave at once; then stop watching.
    if (held) {
      try {
        await withTimeout(
          this.api.deleteNamespacedLease({
            namespace: this.own.namespace,
            name: this.own.name,
            // Only the Lease as we last wrote it: never one another process took over.
            body: { preconditions: { resourceVersion: this.ownVersion } },
          }),
          this.callTimeoutMs,
          'delete lease',
        );
        this.log.info({ lease: `${this.own.namespace}/${this.own.name}` }, 'lease deleted');
      } catch (err) {
        // 404: already gone; 409: someone else's now. Otherwise it expires on its own.
        const status = statusOf(err);
        if (status !== 404 && status !== 409) this.log.warn({ err: apiError('delete lease', err).message }, 'lease not deleted; it expires after leaseDurationMs');
      }
    }
    await this.watch.stop();
    this.view = [];
  }

  members(): Member[] {
    return [...this.view];
  }

  stats(): MembershipStats {
    return {
      mode: 'kubernetes',
      name: this.own.name,
      identity: this.own.identity,
      state: this.state,
      members: this.members(),
      degraded: this.degraded,
      lastError: this.lastError,
      ...this.counts,
    };
  }

  // ---- own Lease: create, renew, contend -------------------------------

  private runTick(): Promise<void> {
    const started = performance.now();
    this.ticking = this.tick().finally(() => {
      this.ticking = undefined;
      if (this.stopped) return;
      // Renewals keep their rhythm: the next one is due renewMs after this one began.
      const delay = Math.max(0, this.opts.leaseRenewMs - (performance.now() - started));
      this.tickTimer = setTimeout(() => void this.runTick(), delay);
      this.tickTimer.unref();
    });
    return this.ticking;
  }

  private async tick(): Promise<void> {
    if (this.state === 'joining') await this.create();
    else if (this.state === 'holding') await this.renew();
    else if (this.state === 'conflict') await this.contend();
  }

  private async create(): Promise<void> {
    const now = new Date();
    try {
      const lease = await this.call(
        this.api.createNamespacedLease({ namespace: this.own.namespace, body: leaseBody(this.own, { acquired: now, renewed: now }, 0) }),
        'create lease',
      );
      this.acquiredAt = now;
      this.transitions = 0;
      this.held(lease);
    } catch (err) {
      // 409 AlreadyExists: exactly one create of a name wins; see who did.
      if (statusOf(err) === 409) await this.readAfterConflict();
      else this.writeFailed('create lease', err);
    }
  }

  private async renew(): Promise<void> {
    try {
      const lease = await this.call(
        this.api.replaceNamespacedLease({
          namespace: this.own.namespace,
          name: this.own.name,
          body: leaseBody(this.own, { acquired: this.acquiredAt, renewed: new Date() }, this.transitions, this.ownVersion),
        }),
        'renew lease',
      );
      this.held(lease);
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) {
        // Deleted under us (by hand, or expired and cleaned up): join again.
        this.log.info({ lease: this.own.name }, 'own lease was deleted; recreating it');
        this.setState('joining');
        await this.create();
      } else if (status === 409) {
        await this.readAfterConflict();
      } else {
        this.writeFailed('renew lease', err);
      }
    }
  }

  /**
   * The Lease of our name is held by another process. Like leader election,
   * take it over only once it has expired by OUR observation (no change seen
   * for its duration), and only with its resourceVersion, so of several
   * contenders exactly one succeeds. While its holder renews, nothing
   * happens: no flapping.
   */
  private async contend(): Promise<void> {
    if (this.table.isBlind) return; // cannot judge liveness without a view
    const current = this.table.get(this.own.name);
    if (current === undefined) {
      await this.create();
      return;
    }
    if (current.holder === this.own.identity) {
      this.ownVersion = current.resourceVersion;
      this.setState('holding');
      return;
    }
    if (this.table.isLive(this.own.name)) return;
    const now = new Date();
    try {
      const lease = await this.call(
        this.api.replaceNamespacedLease({
          namespace: this.own.namespace,
          name: this.own.name,
          body: leaseBody(this.own, { acquired: now, renewed: now }, current.transitions + 1, current.resourceVersion),
        }),
        'take over lease',
      );
      this.acquiredAt = now;
      this.transitions = current.transitions + 1;
      this.log.info({ lease: this.own.name, previousHolder: current.holder }, 'took over expired lease');
      this.held(lease);
    } catch (err) {
      const status = statusOf(err);
      if (status === 409) await this.readAfterConflict();
      else if (status === 404) await this.create();
      else this.writeFailed('take over lease', err);
    }
  }

  /** After a 409: re-read the Lease and decide whose it is. */
  private async readAfterConflict(): Promise<void> {
    let lease: V1Lease;
    try {
      lease = await this.call(this.api.readNamespacedLease({ namespace: this.own.namespace, name: this.own.name }), 'read lease');
    } catch (err) {
      if (statusOf(err) === 404) this.setState('joining'); // gone in between: create on the next tick
      else this.writeFailed('read lease', err);
      return;
    }
    const record = toRecord(lease);
    if (record !== undefined) this.table.observe(record);
    if (record?.holder === this.own.identity) {
      // Ours (a create or renewal whose answer was lost): carry on from its version.
      this.ownVersion = record.resourceVersion;
      this.setState('holding');
      this.refresh();
      return;
    }
    if (this.state !== 'conflict') {
      this.counts.conflicts++;
      const holder = record?.holder ?? '(none)';
      this.lastError = error(
        new HeraldError('HERALD_ERR_CLUSTER_LEASE_HELD', `lease ${this.own.namespace}/${this.own.name} is held by ${holder}; this replica (${this.own.identity}) waits until it expires`),
      );
      this.log.warn({ lease: this.own.name, holder, identity: this.own.identity }, 'lease held by another process; waiting for it to expire');
      this.setState('conflict');
    }
    this.writeOk = true; // the API answered; a conflict is not an outage
    this.updateDegraded();
    this.refresh();
  }

  private held(lease: V1Lease): void {
    if (this.stopped) return;
    this.ownVersion = lease.metadata?.resourceVersion ?? '';
    this.counts.renewals++;
    this.writeOk = true;
    if (this.state !== 'holding') this.log.info({ lease: this.own.name, identity: this.own.identity }, 'holding lease');
    this.setState('holding');
    this.updateDegraded();
    this.refresh();
  }

  private writeFailed(what: string, err: unknown): void {
    this.counts.renewFailures++;
    this.writeOk = false;
    this.lastError = error(apiError(what, err));
    this.updateDegraded();
    this.refresh();
  }

  private call<T>(p: Promise<T>, what: string): Promise<T> {
    return withTimeout(p, this.callTimeoutMs, what);
  }

  private setState(state: MembershipState): void {
    if (!this.stopped) this.state = state;
  }

  // ---- the watch: everyone's Leases -------------------------------------

  private onListed(leases: readonly V1Lease[]): void {
    this.counts.relists++;
    this.table.replace(leases.map(toRecord).filter((r): r is LeaseRecord => r !== undefined));
    this.watchOk = true;
    this.updateDegraded();
    this.refresh();
  }

  private onUpsert(lease: V1Lease): void {
    const record = toRecord(lease);
    if (record !== undefined) this.table.observe(record);
    else if (lease.metadata?.name) this.table.remove(lease.metadata.name);
    this.refresh();
  }

  private onDeleted(lease: V1Lease): void {
    if (lease.metadata?.name) this.table.remove(lease.metadata.name);
    this.refresh();
  }

  private onWatchFailed(err: unknown): void {
    this.watchOk = false;
    this.lastError = error(apiError('watch leases', err));
    this.updateDegraded();
    this.refresh();
  }

  /**
   * Degraded while either the own writes or the watch fail, and the member
   * table is blind for as long: when this replica cannot renew, its peers
   * (sharing the API server) likely cannot either, so silence says nothing
   * about them. A watch can also outlive the server's readiness: a stopping
   * kube-apiserver refuses new requests but holds open watches, silent, for
   * its whole shutdown.
   */
  private updateDegraded(): void {
    const degraded = !this.writeOk || !this.watchOk;
    if (degraded) this.table.setBlind();
    else this.table.setSighted();
    if (degraded === this.degraded || this.stopped) return;
    this.degraded = degraded;
    if (degraded) {
      this.counts.degradedCount++;
      this.log.warn({ err: this.lastError?.message, members: this.view.length }, 'cluster API unreachable: serving with the last member view (degraded)');
    } else {
      this.log.info({ members: this.view.length }, 'cluster API reachable again');
    }
  }

  // ---- the member view ---------------------------------------------------

  /** Recomputes the live members, emits 'change' when the set differs, and wakes up at the next expiry. */
  private refresh(): void {
    if (this.stopped) return;
    const next: Member[] = this.table.live().map((r) => ({
      name: r.name,
      epoch: r.epoch,
      peerAddress: r.peerAddress,
      self: r.holder === this.own.identity,
    }));
    if (this.state === 'holding' && !next.some((m) => m.self)) {
      // Written but not seen back on the watch yet (or the view is frozen): we know we hold it.
      const i = next.findIndex((m) => m.name === this.own.name);
      const self: Member = { name: this.own.name, epoch: this.own.epoch, peerAddress: this.own.peerAddress, self: true };
      if (i === -1) next.push(self);
      else next[i] = self;
      next.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }

    const key = (m: Member): string => `${m.name}\u0000${m.epoch}\u0000${m.peerAddress}\u0000${m.self}`;
    const before = new Map(this.view.map((m) => [key(m), m]));
    const after = new Map(next.map((m) => [key(m), m]));
    const joined = next.filter((m) => !before.has(key(m)));
    const left = this.view.filter((m) => !after.has(key(m)));
    this.view = next;
    if (joined.length > 0 || left.length > 0) {
      for (const m of left) this.log.info({ member: m.name, epoch: m.epoch, peerAddress: m.peerAddress, self: m.self, members: next.length }, 'member left');
      for (const m of joined) this.log.info({ member: m.name, epoch: m.epoch, peerAddress: m.peerAddress, self: m.self, members: next.length }, 'member joined');
      this.emit('change', { joined, left, members: [...next] });
    }

    clearTimeout(this.expiryTimer);
    const expiry = this.table.nextExpiryMs();
    if (expiry !== undefined) {
      this.expiryTimer = setTimeout(() => this.refresh(), Math.ceil(expiry) + 1);
      this.expiryTimer.unref();
    }
  }
}

function error(e: HeraldError): NonNullable<MembershipStats['lastError']> {
  return { code: e.code, message: e.message, at: new Date().toISOString() };
}

/** A kubeconfig file, or the in-cluster service account when `path` is empty. */
function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path === '') {
      if (!existsSync(SERVICE_ACCOUNT_TOKEN)) {
        throw new Error(`no --kubeconfig given and no in-cluster service account token at ${SERVICE_ACCOUNT_TOKEN}`);
      }
      kc.loadFromCluster();
    } else {
      kc.loadFromFile(path);
    }
  } catch (err) {
    throw new HeraldError('HERALD_ERR_CLUSTER_KUBECONFIG', `cannot load Kubernetes credentials: ${(err as Error).message}`, { cause: err });
  }
  if (kc.getCurrentCluster() === null) {
    throw new HeraldError('HERALD_ERR_CLUSTER_KUBECONFIG', `kubeconfig ${path} has no current cluster`);
  }
  return kc;
}
