import { Metadata, Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { type HeraldError, toHeraldError } from '../errors.js';
import { type PublishAck, type PublishRequest, type PublishResponse, type PublishStreamRequest, type PublishStreamResponse, PublisherServiceService, type PublisherServiceServer } from '../gen/herald/v1/herald.js';
import type { Hub } from '../hub/index.js';
import { eventFromWire } from './event-input.js';

/** Trailer carrying the stable error code next to the gRPC status. */
export const ERROR_CODE_METADATA = 'herald-error-code';

/**
 * PublisherService over gRPC. Unary Publish answers with the event id or a
 * status whose trailer names the stable code; PublishStream acks every
 * message in order, the acks of one read in one response, and stops reading
 * while its responses are not consumed, so HTTP/2 flow control pushes back
 * on a publisher that outruns it.
 */
export class GrpcIngest {
  private readonly server: Server;

  constructor(
    private readonly hub: Hub,
    private readonly opts: { host: string; port: number; maxEventBytes: number },
    private readonly log: Logger,
  ) {
    // A message is an event plus its envelope; anything far larger is refused by grpc-js itself.
    this.server = new Server({ 'grpc.max_receive_message_length': opts.maxEventBytes * 2 + 64 * 1024 });
    const impl: PublisherServiceServer = {
      publish: (call, cb) => this.publish(call, cb),
      publishStream: (call) => this.publishStream(call),
    };
    this.server.addService(PublisherServiceService, impl);
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${this.opts.host}:${this.opts.port}`, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
  }

  /** Finishes calls in flight, refuses new ones, then closes. */
  close(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private publish(call: ServerUnaryCall<PublishRequest, PublishResponse>, cb: sendUnaryData<PublishResponse>): void {
    try {
      const r = this.hub.publish(eventFromWire(call.request.event));
      cb(null, { id: r.id, duplicate: r.duplicate });
    } catch (err) {
      cb(this.toStatus(toHeraldError(err)));
    }
  }

  private publishStream(call: ServerDuplexStream<PublishStreamRequest, PublishStreamResponse>): void {
    // grpc-js emits one 'data' per message and one socket read brings many;
    // the acks of one read go out as one response, flushed in the check
    // phase after the reads of this loop turn. One response per event would
    // cost a serialisation, an HTTP/2 frame and a stream write per event.
    let acks: PublishAck[] = [];
    let scheduled = false;
    let ending = false;
    const flush = (): void => {
      scheduled = false;
      if (call.cancelled) return;
      if (acks.length > 0) {
        const batch = acks;
        acks = [];
        if (!call.write({ acks: batch })) {
          call.pause();
          call.once('drain', () => call.resume());
        }
      }
      if (ending) call.end();
    };
    const schedule = (): void => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(flush);
    };
    call.on('data', (req: PublishStreamRequest) => {
      try {
        const r = this.hub.publish(eventFromWire(req.event));
        acks.push({ ref: req.ref, result: { $case: 'id', value: r.id }, duplicate: r.duplicate });
      } catch (err) {
        const e = this.logged(toHeraldError(err));
        acks.push({ ref: req.ref, result: { $case: 'error', value: { code: e.code, message: e.message } }, duplicate: false });
      }
      schedule();
    });
    call.on('end', () => {
      ending = true;
      schedule();
    });
    call.on('error', (err) => this.log.debug({ err }, 'publish stream error'));
  }

  private toStatus(e: HeraldError): Partial<ServiceError> {
    this.logged(e);
    const metadata = new Metadata();
    metadata.set(ERROR_CODE_METADATA, e.code);
    return { code: e.grpc, details: `${e.code}: ${e.message}`, metadata };
  }

  private logged(e: HeraldError): HeraldError {
    if (e.code === 'HERALD_ERR_INTERNAL') this.log.error({ err: e.cause }, 'publish failed');
    return e;
  }
}
