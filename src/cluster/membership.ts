/** A replica in the live member set. */
export interface Member {
  /** The replica's name: its pod name, and the name of its Lease. */
  readonly name: string;
  /** The replica's hub epoch (hub.epoch): a new value means a restarted replica with new history. */
  readonly epoch: string;
  /** host:port of the replica's gRPC listener. */
  readonly peerAddress: string;
  /** True for the replica holding this view. */
  readonly self: boolean;
}

/** Who joined and who left in one change of the member set; `members` is the set after it. */
export interface MembershipChange {
  readonly joined: readonly Member[];
  readonly left: readonly Member[];
  readonly members: readonly Member[];
}

/** Where this replica stands with its own Lease. */
export type MembershipState =
  /** Not started yet, or started without having created its Lease (API server not reached yet). */
  | 'joining'
  /** Holds its Lease and renews it. */
  | 'holding'
  /** Another process holds the Lease of this name; waiting for it to expire or be deleted. */
  | 'conflict'
  /** Stopped; its Lease was deleted. */
  | 'stopped';

/** What /readyz shows and telemetry reads (OpenTelemetry picks these up later). */
export interface MembershipStats {
  readonly mode: 'static' | 'kubernetes';
  readonly name: string;
  /** The Lease holderIdentity this process writes: `<name>_<random>`, unique per process. */
  readonly identity: string;
  readonly state: MembershipState;
  readonly members: readonly Member[];
  /**
   * True while the API server cannot be reached (or refuses): the member set
   * is the last one seen and nobody is dropped from it. The replica still
   * serves, so readiness stays 200.
   */
  readonly degraded: boolean;
  /** The last problem seen and when (ISO time); kept after recovery for diagnosis: `degraded` and `state` say whether it still applies. */
  readonly lastError: { readonly code: string; readonly message: string; readonly at: string } | null;
  /** Successful writes of the own Lease (create, renew, takeover). */
  readonly renewals: number;
  /** Failed writes of the own Lease. */
  readonly renewFailures: number;
  /** Times the replica went from healthy to degraded. */
  readonly degradedCount: number;
  /** Times the replica found its Lease held by another process. */
  readonly conflicts: number;
  /** Full re-lists of the Leases (start, 410 Gone, after errors). */
  readonly relists: number;
}

/**
 * The replica set as the rest of Herald sees it. Listeners of 'change' run
 * synchronously when the member set changes, never for renewals alone.
 */
export interface Membership {
  /** Joins (best effort: an unreachable API server is retried in the background). */
  start(): Promise<void>;
  /** Leaves: stops renewing and watching and deletes the own Lease, so peers see the leave at once. */
  stop(): Promise<void>;
  /** The live members, this replica included while it holds its Lease, sorted by name. */
  members(): Member[];
  stats(): MembershipStats;
  on(event: 'change', listener: (change: MembershipChange) => void): this;
  off(event: 'change', listener: (change: MembershipChange) => void): this;
}
