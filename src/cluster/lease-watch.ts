import { type CoordinationV1Api, type KubeConfig, type V1Lease, Watch } from '@kubernetes/client-node';

import { withTimeout } from './kube-call.js';

/** What a LeaseWatch reports. Called synchronously from its loop. */
export interface LeaseWatchHandlers {
  /** A full list replaced the view: the watch is in sync. */
  listed(leases: readonly V1Lease[]): void;
  added(lease: V1Lease): void;
  modified(lease: V1Lease): void;
  deleted(lease: V1Lease): void;
  /** The list or the watch failed; the loop re-lists after `retryMs`. */
  failed(err: unknown): void;
}

export interface LeaseWatchOptions {
  readonly namespace: string;
  readonly labelSelector: string;
  /** Bound on the list request. */
  readonly timeoutMs: number;
  /** Pause before re-listing after a failure. */
  readonly retryMs: number;
}

/**
 * A watch that ended cleanly sooner than this is treated as a failure: an
 * API server closing every watch at once (shutting down) must not become a
 * tight re-watch loop.
 */
const MIN_HEALTHY_WATCH_MS = 1_000;

/** An ERROR event with code 410: the resourceVersion is too old, re-list. */
class GoneError extends Error {}

/**
 * An informer for one installation's Leases: list, then watch from the
 * list's resourceVersion; a watch that ends is resumed from the last
 * resourceVersion seen; 410 Gone re-lists at once; any other failure is
 * reported and re-lists after retryMs.
 *
 * Written on client-node's `Watch` rather than its `makeInformer`: that
 * informer stops for good after an error, and its delete-on-relist callbacks
 * would not tell us when it is back in sync.
 */
export class LeaseWatch {
  private readonly watch: Watch;
  private readonly path: string;
  private stopped = false;
  private controller: AbortController | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    kc: KubeConfig,
    private readonly api: CoordinationV1Api,
    private readonly opts: LeaseWatchOptions,
    private readonly on: LeaseWatchHandlers,
  ) {
    this.watch = new Watch(kc);
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(opts.namespace)}/leases`;
  }

  /** Starts the loop; resolves once the first list has succeeded or failed. */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.loop = this.run(resolve);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(firstList: () => void): Promise<void> {
    let resourceVersion = '';
    while (!this.stopped) {
      try {
        if (resourceVersion === '') {
          const list = await withTimeout(
            this.api.listNamespacedLease({ namespace: this.opts.namespace, labelSelector: this.opts.labelSelector }),
            this.opts.timeoutMs,
            'list leases',
          );
          if (this.stopped) break;
          resourceVersion = list.metadata?.resourceVersion ?? '';
          this.on.listed(list.items);
        }
        firstList();
        const started = performance.now();
        await this.watchOnce(resourceVersion, (rv) => (resourceVersion = rv));
        if (performance.now() - started < MIN_HEALTHY_WATCH_MS && !this.stopped) {
          throw new Error('watch ended at once');
        }
      } catch (err) {
        firstList();
        if (this.stopped) break;
        resourceVersion = '';
        if (err instanceof GoneError) continue;
        this.on.failed(err);
        await this.sleep(this.opts.retryMs);
      }
    }
  }

  /** One watch request; resolves when it ends cleanly, rejects on an error or 410. */
  private watchOnce(resourceVersion: string, seen: (rv: string) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      let gone = false;
      const onEvent = (type: string, obj: V1Lease & { code?: number }): void => {
        if (this.stopped) return;
        if (type === 'ERROR') {
          if (obj.code === 410) gone = true;
          this.controller?.abort();
          return;
        }
        const rv = obj.metadata?.resourceVersion;
        if (rv) seen(rv);
        if (type === 'ADDED') this.on.added(obj);
        else if (type === 'MODIFIED') this.on.modified(obj);
        else if (type === 'DELETED') this.on.deleted(obj);
        // BOOKMARK: only the resourceVersion matters.
      };
      const onDone = (err: unknown): void => {
        if (gone) reject(new GoneError('410 Gone'));
        else if (err && !this.stopped) reject(err);
        else resolve();
      };
      this.watch
        .watch(this.path, { resourceVersion, labelSelector: this.opts.labelSelector, allowWatchBookmarks: true }, onEvent, onDone)
        .then((controller) => {
          this.controller = controller;
          if (this.stopped) controller.abort();
        }, reject);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
