/**
 * Ingest: the two ways events reach the hub, gRPC PublisherService and
 * POST /v1/publish. Both decode into the hub's PublishInput (event-input.ts)
 * and share its validation and error codes.
 *
 * Concurrency: a publish is synchronous in the hub; gRPC streams pace
 * themselves on their own acks (pause while the ack stream is full).
 */
export { GrpcIngest, ERROR_CODE_METADATA } from './grpc-server.js';
export { httpPublishHandler, publishBodyLimit } from './http-publish.js';
export { eventFromJson, eventFromWire } from './event-input.js';
