/**
 * The one configuration schema. Flags (`--http-port`), environment
 * (`HERALD_HTTP_PORT`) and defaults all land here; docs/config.md is generated
 * from this table (`npm run docs:config`) and a test fails when it drifts.
 *
 * Units are in the key: `...Ms` is milliseconds, `...Bytes` is bytes.
 */

export type OptionKind = 'int' | 'string' | 'enum' | 'bool';

export interface OptionSpec {
  readonly kind: OptionKind;
  readonly default: number | string | boolean;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** A regular expression a string value must match. */
  readonly pattern?: RegExp;
  readonly doc: string;
}

export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_GRPC_PORT = 9090;
/** Proxies and load balancers commonly cut idle streams at 30-60 s; 15 s stays well inside. */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** EventSource's own default is about 3 s; jitter spreads a mass reconnect over 3-5 s. */
export const DEFAULT_RETRY_MS = 3_000;
export const DEFAULT_RETRY_JITTER_MS = 2_000;
/** Below Kubernetes' default 30 s terminationGracePeriodSeconds, with room to exit. */
export const DEFAULT_DRAIN_MS = 20_000;

/**
 * client-go's leader-election default; long enough that a few slow renewals
 * (a busy apiserver, a GC pause) never drop a healthy replica, short enough
 * that a crashed one leaves peers' view within seconds.
 */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
/** duration / 3: two renewals in a row can fail and the Lease still holds. */
export const DEFAULT_LEASE_RENEW_MS = 5_000;

/** RFC 1123 label: what a namespace name may be. */
const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

const MiB = 1024 * 1024;

export const OPTIONS = {
  host: { kind: 'string', default: '0.0.0.0', doc: 'Address the HTTP and gRPC listeners bind to.' },
  httpPort: { kind: 'int', default: DEFAULT_HTTP_PORT, min: 0, max: 65535, doc: 'HTTP port: SSE subscriptions, HTTP publish, health. 0 picks a free port.' },
  grpcPort: { kind: 'int', default: DEFAULT_GRPC_PORT, min: 0, max: 65535, doc: 'gRPC port for PublisherService. 0 picks a free port.' },
  logLevel: { kind: 'enum', default: 'info', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], doc: 'Log level of the JSON log on stdout.' },
  heartbeatMs: { kind: 'int', default: DEFAULT_HEARTBEAT_MS, min: 100, max: 600_000, doc: 'Interval of the heartbeat comment on an otherwise quiet stream.' },
  retryMs: { kind: 'int', default: DEFAULT_RETRY_MS, min: 0, max: 600_000, doc: 'Base of the `retry:` reconnect delay sent on connect.' },
  retryJitterMs: { kind: 'int', default: DEFAULT_RETRY_JITTER_MS, min: 0, max: 600_000, doc: 'Random extra reconnect delay per connection (0 to this), so mass reconnects spread out.' },
  historyMaxEvents: { kind: 'int', default: 1000, min: 1, max: 10_000_000, doc: 'Events kept per topic for resume.' },
  historyMaxAgeMs: { kind: 'int', default: 10 * 60_000, min: 1000, max: 7 * 24 * 3_600_000, doc: 'Age after which an event leaves the history.' },
  maxTopics: { kind: 'int', default: 100_000, min: 1, max: 100_000_000, doc: 'Topics one replica tracks; past it, idle empty topics are evicted, else new topics are refused.' },
  maxTopicsPerSubscription: { kind: 'int', default: 32, min: 1, max: 1024, doc: 'Topics one SSE connection may subscribe to.' },
  maxConnections: { kind: 'int', default: 10_000, min: 1, max: 10_000_000, doc: 'Open SSE streams; past it new subscribers get 503 with Retry-After. Keep it below the open-file limit.' },
  maxClientConnections: { kind: 'int', default: 100, min: 1, max: 10_000_000, doc: 'Open SSE streams from one client address; past it 429.' },
  maxBufferedBytes: { kind: 'int', default: 256 * MiB, min: 1024, max: 1024 * 1024 * MiB, doc: 'Outbound bytes buffered across all streams; past it new subscribers get 503.' },
  maxConnectionBufferedBytes: { kind: 'int', default: 1 * MiB, min: 1024, max: 1024 * MiB, doc: 'Outbound bytes one stream may have buffered; past it the stream is closed (the client resumes from its cursor).' },
  conflateTopics: { kind: 'string', default: '', pattern: /^[A-Za-z0-9._:*,-]*$/, doc: 'Topics whose subscribers conflate by default (comma-separated names, a trailing * matches a prefix): a congested stream keeps only the newest pending event per key instead of being closed. A subscriber can opt in or out with conflate=1 or conflate=0.' },
  maxEventBytes: { kind: 'int', default: 64 * 1024, min: 16, max: 16 * MiB, doc: 'Largest event data.' },
  drainMs: { kind: 'int', default: DEFAULT_DRAIN_MS, min: 0, max: 3_600_000, doc: 'On SIGTERM, open streams are closed spread over this window, then the process exits.' },
  idempotencyWindowMs: { kind: 'int', default: 5 * 60_000, min: 0, max: 24 * 3_600_000, doc: 'How long an idempotency_key is remembered.' },
  idempotencyMaxKeys: { kind: 'int', default: 100_000, min: 0, max: 100_000_000, doc: 'Most idempotency keys remembered at once (oldest forgotten first).' },
  clientAddressHeader: { kind: 'string', default: '', pattern: /^[a-z0-9-]*$/, doc: 'Header naming the client address for maxClientConnections, e.g. x-forwarded-for behind an ingress (first entry is used). Empty: the socket peer.' },
  corsAllowOrigin: { kind: 'string', default: '*', doc: 'Access-Control-Allow-Origin on SSE responses. Empty: no CORS header.' },
  retryAfterSeconds: { kind: 'int', default: 5, min: 1, max: 3600, doc: 'Retry-After sent when a subscription is refused (503, 429) or a publish finds maxTopics full.' },
  requestHeadTimeoutMs: { kind: 'int', default: 10_000, min: 100, max: 600_000, doc: 'Time a client has to send its request head.' },
  // cluster membership (src/cluster, docs/cluster.md)
  cluster: { kind: 'enum', default: 'off', values: ['off', 'kubernetes'], doc: 'Replica membership: `off` runs one replica on its own; `kubernetes` holds a coordination.k8s.io Lease per replica and watches the others (docs/cluster.md).' },
  namespace: { kind: 'string', default: 'default', pattern: DNS_LABEL, doc: 'Namespace of the Leases. The chart sets HERALD_NAMESPACE from the downward API (metadata.namespace).' },
  podName: { kind: 'string', default: '', pattern: /^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?)?$/, doc: 'Name of this replica and of its Lease. The chart sets HERALD_POD_NAME from the downward API (metadata.name). Empty: the hostname, lower-cased.' },
  installation: { kind: 'string', default: 'herald', pattern: /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, doc: 'Value of the app.kubernetes.io/instance label on the Leases, so two installations in one namespace never see each other (the chart uses the release name).' },
  kubeconfig: { kind: 'string', default: '', doc: 'Kubeconfig file to reach the API server with. Empty: the in-cluster service account.' },
  leaseDurationMs: { kind: 'int', default: DEFAULT_LEASE_DURATION_MS, min: 1000, max: 3_600_000, doc: 'Lease duration: a replica that stops renewing drops out of its peers\' view this long after they last saw its Lease change. Whole seconds (Lease.spec.leaseDurationSeconds).' },
  leaseRenewMs: { kind: 'int', default: DEFAULT_LEASE_RENEW_MS, min: 100, max: 3_600_000, doc: 'Interval between renewals of the own Lease; must be below leaseDurationMs.' },
  peerAddress: { kind: 'string', default: '', doc: 'host:port peers reach this replica\'s gRPC listener at, published on the Lease. The chart sets it to $(POD_IP):grpcPort. Empty: host (the hostname when host is a wildcard) and the bound gRPC port.' },
} as const satisfies Record<string, OptionSpec>;

export type ConfigKey = keyof typeof OPTIONS;

type ValueOf<S extends OptionSpec> = S['kind'] extends 'int' ? number : S['kind'] extends 'bool' ? boolean : string;

/** The parsed, frozen configuration every module receives. */
export type Config = { readonly [K in ConfigKey]: ValueOf<(typeof OPTIONS)[K]> };

/** `httpPort` -> `HERALD_HTTP_PORT` */
export function envName(key: string): string {
  return 'HERALD_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** `httpPort` -> `--http-port` */
export function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
