import { createMembership, type Membership } from './cluster/index.js';
import type { Config } from './config/index.js';
import { Hub } from './hub/index.js';
import { GrpcIngest, httpPublishHandler } from './ingest/index.js';
import { createLogger, type Logger } from './telemetry/index.js';
import { HttpFrontDoor, sendJson, SseTransport } from './transports/index.js';

/** A running replica: what the CLI and the tests hold. */
export interface Herald {
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly hub: Hub;
  readonly sse: SseTransport;
  readonly log: Logger;
  readonly membership: Membership;
  /** Readiness off, streams closed over drainMs, listeners closed. */
  shutdown(): Promise<void>;
  /** Everything closed at once (tests). */
  close(): Promise<void>;
}

/** Time gRPC calls in flight get to finish once the streams are drained. */
const GRPC_SHUTDOWN_GRACE_MS = 5_000;

/**
 * The composition root: config, telemetry, hub, ingest, transports, cluster,
 * in that order; shutdown undoes them in reverse.
 */
export async function startHerald(config: Config, log: Logger = createLogger(config.logLevel)): Promise<Herald> {
  const hub = new Hub({
    historyMaxEvents: config.historyMaxEvents,
    historyMaxAgeMs: config.historyMaxAgeMs,
    maxTopics: config.maxTopics,
    maxTopicsPerSubscription: config.maxTopicsPerSubscription,
    maxEventBytes: config.maxEventBytes,
    idempotencyWindowMs: config.idempotencyWindowMs,
    idempotencyMaxKeys: config.idempotencyMaxKeys,
    retryAfterS: config.retryAfterSeconds,
  });

  const grpc = new GrpcIngest(hub, { host: config.host, port: config.grpcPort, maxEventBytes: config.maxEventBytes }, log);

  const sse = new SseTransport(hub, config, log);
  let ready = false;
  let membership: Membership | undefined;
  const http = new HttpFrontDoor(
    { host: config.host, port: config.httpPort, requestHeadTimeoutMs: config.requestHeadTimeoutMs, clientAddressHeader: config.clientAddressHeader },
    sse,
    {
      'POST /v1/publish': httpPublishHandler(hub, config.maxEventBytes),
      'GET /healthz': (_req, res) => sendJson(res, 200, { status: 'ok' }),
      'GET /readyz': (_req, res) => sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not-ready', epoch: hub.epoch, ...sse.stats(), hub: hub.stats(), cluster: membership?.stats() }),
    },
    log,
  );

  sse.start();
  let grpcPort: number;
  let httpPort: number;
  try {
    grpcPort = await grpc.listen();
    httpPort = await http.listen();
    // Cluster last: the Lease publishes the gRPC port, known only now. An
    // unreachable API server does not fail the start (degraded); bad credentials do.
    membership = await createMembership(config, { epoch: hub.epoch, grpcPort }, log);
    await membership.start();
  } catch (err) {
    // A port in use must not leave the other listener holding the process open.
    sse.close();
    await Promise.all([grpc.close(0), http.close()]);
    throw err;
  }
  ready = true;
  log.info({ httpPort, grpcPort, epoch: hub.epoch }, 'listening');

  let stopping: Promise<void> | undefined;
  return {
    httpPort,
    grpcPort,
    hub,
    sse,
    log,
    membership,
    shutdown() {
      stopping ??= (async () => {
        ready = false;
        // Leave at once (the own Lease is deleted) so peers drop us now; the
        // drain does not wait on the API server.
        const leaving = membership.stop();
        sse.refuseNew();
        log.info({ drainMs: config.drainMs, streams: sse.stats().connections }, 'draining');
        await sse.drain(config.drainMs);
        http.stopAccepting();
        await grpc.close(GRPC_SHUTDOWN_GRACE_MS);
        sse.close();
        await http.close();
        await leaving;
        log.info('stopped');
      })();
      return stopping;
    },
    async close() {
      ready = false;
      await membership.stop();
      sse.close();
      await Promise.all([http.close(), grpc.close(0)]);
    },
  };
}

/** SIGTERM and SIGINT drain and exit 0; a second signal exits at once. */
export function exitOnSignals(herald: Herald): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) process.exit(1);
    signalled = true;
    herald.log.info({ signal }, 'shutting down');
    herald.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        herald.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
