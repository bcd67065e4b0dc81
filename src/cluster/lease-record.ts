/**
 * The Lease format: what a replica writes and what its peers read back.
 * Pure functions, no I/O; docs/cluster.md documents the same format.
 */
import { type V1Lease, V1MicroTime } from '@kubernetes/client-node';

/** Every Herald Lease carries it; with LABEL_INSTANCE it is the watch's label selector. */
export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_NAME_VALUE = 'herald';
/** The installation (chart release): two installations in one namespace never see each other's Leases. */
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_COMPONENT_VALUE = 'membership';
/** host:port of the replica's gRPC listener. */
export const ANNOTATION_PEER_ADDRESS = 'herald.dev/peer-address';
/** The replica's hub epoch. */
export const ANNOTATION_EPOCH = 'herald.dev/epoch';

/** The label selector of one installation's Leases. */
export function labelSelector(installation: string): string {
  return `${LABEL_NAME}=${LABEL_NAME_VALUE},${LABEL_INSTANCE}=${installation}`;
}

/** A peer's Lease as the member table needs it. */
export interface LeaseRecord {
  readonly name: string;
  readonly holder: string;
  readonly resourceVersion: string;
  /** As read: the wire string (client-node hands back strings although it types V1MicroTime). */
  readonly renewTime: string;
  readonly durationMs: number;
  readonly transitions: number;
  readonly epoch: string;
  readonly peerAddress: string;
}

/**
 * Reads a Lease from a list or a watch event. Returns undefined for one that
 * is not a held Herald Lease (no holder, no duration): it is nobody's.
 */
export function toRecord(lease: V1Lease): LeaseRecord | undefined {
  const name = lease.metadata?.name;
  const holder = lease.spec?.holderIdentity;
  const seconds = lease.spec?.leaseDurationSeconds;
  if (!name || !holder || typeof seconds !== 'number' || seconds <= 0) return undefined;
  const renew: unknown = lease.spec?.renewTime;
  const annotations = lease.metadata?.annotations ?? {};
  return {
    name,
    holder,
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    renewTime: renew instanceof Date ? renew.toISOString() : String(renew ?? ''),
    durationMs: seconds * 1000,
    transitions: lease.spec?.leaseTransitions ?? 0,
    epoch: annotations[ANNOTATION_EPOCH] ?? '',
    peerAddress: annotations[ANNOTATION_PEER_ADDRESS] ?? '',
  };
}

export interface OwnLease {
  readonly namespace: string;
  readonly name: string;
  readonly installation: string;
  readonly identity: string;
  readonly durationMs: number;
  readonly epoch: string;
  readonly peerAddress: string;
}

/**
 * The body of a create (no resourceVersion) or of an update (the
 * resourceVersion last read or written: a stale one is a 409, the optimistic
 * lock). Times are V1MicroTime, which client-node writes with the six
 * fractional digits the API server requires (a Date goes out with three and
 * is refused with 400).
 */
export function leaseBody(own: OwnLease, times: { acquired: Date; renewed: Date }, transitions: number, resourceVersion?: string): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: own.name,
      namespace: own.namespace,
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
      labels: { [LABEL_NAME]: LABEL_NAME_VALUE, [LABEL_INSTANCE]: own.installation, [LABEL_COMPONENT]: LABEL_COMPONENT_VALUE },
      annotations: { [ANNOTATION_PEER_ADDRESS]: own.peerAddress, [ANNOTATION_EPOCH]: own.epoch },
    },
    spec: {
      holderIdentity: own.identity,
      leaseDurationSeconds: Math.ceil(own.durationMs / 1000),
      acquireTime: new V1MicroTime(times.acquired.getTime()),
      renewTime: new V1MicroTime(times.renewed.getTime()),
      leaseTransitions: transitions,
    },
  };
}
