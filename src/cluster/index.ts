/**
 * Cluster membership: which Herald replicas are alive, and how to reach
 * each one (its gRPC peer address and hub epoch). Peer links build on it.
 *
 * Model: with cluster=kubernetes every replica holds one
 * coordination.k8s.io/v1 Lease named after its pod, labelled with the
 * installation, renewed every leaseRenewMs with an optimistic-lock update;
 * it watches its installation's Leases (list, watch, re-list on 410 Gone
 * and after errors) and counts a Lease live until leaseDurationMs after it
 * last SAW it change, on its own monotonic clock, so clock skew between
 * nodes does not matter (the rule of client-go's leader election). With
 * cluster=off a StaticMembership reports the replica alone. The format,
 * timings and RBAC are in docs/cluster.md; the state machine in
 * docs/lifecycle.md.
 *
 * Concurrency: single-threaded, event-loop driven. One renewal timer writes
 * the own Lease, one request at a time, each bounded by a timeout so the
 * rhythm holds; one watch loop feeds the member table; one expiry timer
 * wakes at the next expiry. 'change' is emitted synchronously from whichever
 * of those changed the live set. The API server being unreachable is a
 * state (degraded), never an exception: the replica serves on with the last
 * view, nobody expires while it cannot see, and it rejoins (recreating its
 * Lease if needed) when the server answers again.
 *
 * Lifecycle: created by the composition root after the listeners are up
 * (the Lease publishes the bound gRPC port); start() makes the first write
 * and list and resolves whatever their outcome; stop(), first thing in the
 * drain, deletes the own Lease so peers see the leave at once.
 */
// Only types from the Lease modules: importing them would load the
// Kubernetes client into every replica; createMembership loads it on demand.
export { createMembership, defaultPeerAddress, type ReplicaIdentity } from './create-membership.js';
export type { LeaseMembership, LeaseMembershipOptions } from './lease-membership.js';
export { StaticMembership } from './static-membership.js';
export type { Member, Membership, MembershipChange, MembershipState, MembershipStats } from './membership.js';
