/**
 * The hub: topics, bounded history, cursors and fan-out.
 *
 * Concurrency: single-threaded and synchronous. publish() appends to history
 * and writes frames to every live subscriber before it returns, so ordering
 * per topic is publish order and a subscriber moving from history replay to
 * live cannot miss or repeat an event.
 *
 * Lifecycle: created by the composition root, swept periodically by the
 * transport (history age, idempotency window); it owns no timers or sockets
 * and imports no transport. Transports implement Sink; ingest adapters call
 * publish().
 */
export { Hub, type HubOptions, type SubscribeRequest, type HubStats } from './hub.js';
export { type Sink, Subscription } from './subscription.js';
export { parseFilter, NO_FILTER, type Filter } from './filter.js';
export { Severity, SEVERITY_NAMES, type PublishInput, type PublishResult, type SeverityLevel, type SeverityName } from './event.js';
export { HEARTBEAT, encodePreamble } from './sse-frame.js';
export { validateTopic } from './validate.js';
