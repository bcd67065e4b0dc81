/**
 * The one catalog of Herald's error codes.
 *
 * Every error a client can see has a stable code (`HERALD_ERR_<AREA>_<WHAT>`),
 * an HTTP status and a gRPC status, so the same mistake reads the same over
 * both ingest paths and in the SSE endpoint. docs/errors.md lists every code;
 * a test fails when the two drift apart.
 *
 * This module has no dependencies: the hub, the transports and the CLI all
 * import it, and gRPC status numbers are spelled out here instead of pulling
 * grpc-js into the hub.
 */

/** gRPC status codes (grpc/status.h), named so the catalog reads plainly. */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export interface ErrorSpec {
  readonly http: number;
  readonly grpc: number;
  /** One line for docs/errors.md: when the error happens. */
  readonly doc: string;
}

export const ERRORS = {
  HERALD_ERR_TOPIC_MISSING: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'A subscription names no topic, or an event has an empty topic.',
  },
  HERALD_ERR_TOPIC_INVALID: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'A topic name is not 1-128 characters of [A-Za-z0-9._:-] starting with a letter or digit.',
  },
  HERALD_ERR_TOPIC_TOO_MANY: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'A subscription names more topics than maxTopicsPerSubscription.',
  },
  HERALD_ERR_TOPIC_CAPACITY: {
    http: 503,
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    doc: 'The replica holds maxTopics topics and none is idle enough to evict.',
  },
  HERALD_ERR_CURSOR_MALFORMED: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'Last-Event-ID (header or lastEventId parameter) is not a cursor Herald issued.',
  },
  HERALD_ERR_FILTER_INVALID: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'minSeverity is not a severity name, or a label filter is not key:value.',
  },
  HERALD_ERR_QUERY_UNKNOWN: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'The subscription URL has a query parameter Herald does not know.',
  },
  HERALD_ERR_PUBLISH_MEDIA_TYPE: {
    http: 415,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'POST /v1/publish was sent with a Content-Type other than application/json.',
  },
  HERALD_ERR_PUBLISH_BODY_TOO_LARGE: {
    http: 413,
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    doc: 'The publish request body is larger than the limit derived from maxEventBytes.',
  },
  HERALD_ERR_PUBLISH_BODY_MALFORMED: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'The publish request body is not a JSON object.',
  },
  HERALD_ERR_PUBLISH_FIELD_UNKNOWN: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'The publish body has a field that is not part of an event.',
  },
  HERALD_ERR_PUBLISH_FIELD_INVALID: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'A field of the event has the wrong type or an out-of-range value (the message names it).',
  },
  HERALD_ERR_PUBLISH_EVENT_MISSING: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'A gRPC publish request carries no event.',
  },
  HERALD_ERR_PUBLISH_DATA_EMPTY: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'The event has no data; an SSE event with empty data is never dispatched by EventSource.',
  },
  HERALD_ERR_PUBLISH_DATA_TOO_LARGE: {
    http: 413,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'The event data is larger than maxEventBytes.',
  },
  HERALD_ERR_PUBLISH_DATA_NOT_UTF8: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'The event data is not valid UTF-8; an event stream can only carry text.',
  },
  HERALD_ERR_SUBSCRIBE_SERVER_FULL: {
    http: 503,
    grpc: GrpcStatus.UNAVAILABLE,
    doc: 'The replica is at maxConnections or maxBufferedBytes; retry after Retry-After seconds.',
  },
  HERALD_ERR_SUBSCRIBE_CLIENT_LIMIT: {
    http: 429,
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    doc: 'One client address holds maxClientConnections streams already.',
  },
  HERALD_ERR_SERVER_DRAINING: {
    http: 503,
    grpc: GrpcStatus.UNAVAILABLE,
    doc: 'The replica is shutting down; connect to another one.',
  },
  HERALD_ERR_HTTP_NOT_FOUND: {
    http: 404,
    grpc: GrpcStatus.NOT_FOUND,
    doc: 'No such HTTP path.',
  },
  HERALD_ERR_HTTP_METHOD: {
    http: 405,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'The path exists but not for this HTTP method.',
  },
  HERALD_ERR_HTTP_HEAD_TOO_LARGE: {
    http: 431,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'The request line and headers of a subscription exceed the size limit.',
  },
  HERALD_ERR_HTTP_HEAD_MALFORMED: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    doc: 'The request line or a header of a subscription is not valid HTTP/1.x.',
  },
  HERALD_ERR_CONFIG_INVALID: {
    http: 500,
    grpc: GrpcStatus.INTERNAL,
    doc: 'A configuration value (flag or HERALD_* env) is out of range or of the wrong type; the message names the key.',
  },
  HERALD_ERR_CONFIG_UNKNOWN: {
    http: 500,
    grpc: GrpcStatus.INTERNAL,
    doc: 'A flag or HERALD_* variable is not a configuration key; the message suggests the closest one.',
  },
  HERALD_ERR_CLUSTER_KUBECONFIG: {
    http: 500,
    grpc: GrpcStatus.INTERNAL,
    doc: 'cluster=kubernetes, but the kubeconfig file cannot be loaded, or (no --kubeconfig) the process has no in-cluster service account.',
  },
  HERALD_ERR_CLUSTER_API: {
    http: 503,
    grpc: GrpcStatus.UNAVAILABLE,
    doc: 'The Kubernetes API server is unreachable or refused a Lease request; the replica serves on with its last view of the members (degraded).',
  },
  HERALD_ERR_CLUSTER_LEASE_HELD: {
    http: 409,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    doc: 'Another process holds the Lease named after this replica (two replicas with one podName); this one waits for it to expire.',
  },
  HERALD_ERR_INTERNAL: {
    http: 500,
    grpc: GrpcStatus.INTERNAL,
    doc: 'A bug in Herald; the cause is logged, never sent to the client.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a stable code; what the edges turn into an HTTP or gRPC answer. */
export class HeraldError extends Error {
  readonly code: ErrorCode;
  /** Seconds a client should wait before trying again (503 and 429 only). */
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterS?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HeraldError';
    this.code = code;
    this.retryAfterS = options?.retryAfterS;
  }

  get http(): number {
    return ERRORS[this.code].http;
  }

  get grpc(): number {
    return ERRORS[this.code].grpc;
  }

  /** The body clients get: code and message, never a stack or a cause. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/**
 * What an edge sends for any thrown value: HeraldErrors as they are, anything
 * else as INTERNAL with a fixed message so internals never leak.
 */
export function toHeraldError(err: unknown): HeraldError {
  if (err instanceof HeraldError) return err;
  return new HeraldError('HERALD_ERR_INTERNAL', 'internal error', { cause: err });
}
