import { hostname } from 'node:os';

import type { Config } from '../config/index.js';
import type { Logger } from '../telemetry/index.js';
import type { Membership } from './membership.js';
import { StaticMembership } from './static-membership.js';

/** What only the running replica knows: its hub epoch and the port its gRPC listener got. */
export interface ReplicaIdentity {
  readonly epoch: string;
  readonly grpcPort: number;
}

/**
 * The membership `config.cluster` asks for. Rejects with
 * HERALD_ERR_CLUSTER_KUBECONFIG for unusable credentials. The Kubernetes
 * client is loaded only for cluster=kubernetes: it costs tens of MiB of heap
 * a single replica has no use for.
 */
export async function createMembership(config: Config, replica: ReplicaIdentity, log: Logger): Promise<Membership> {
  const peerAddress = config.peerAddress !== '' ? config.peerAddress : defaultPeerAddress(config.host, replica.grpcPort);
  if (config.cluster === 'off') return new StaticMembership({ name: config.podName, epoch: replica.epoch, peerAddress });
  const { LeaseMembership } = await import('./lease-membership.js');
  return new LeaseMembership(
    {
      namespace: config.namespace,
      name: config.podName,
      installation: config.installation,
      kubeconfig: config.kubeconfig,
      leaseDurationMs: config.leaseDurationMs,
      leaseRenewMs: config.leaseRenewMs,
      epoch: replica.epoch,
      peerAddress,
    },
    log,
  );
}

/** `host:port`, with the hostname for a wildcard host (peers cannot dial 0.0.0.0) and brackets for IPv6. */
export function defaultPeerAddress(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? hostname() : host;
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}
