import { HeraldError } from '../errors.js';
import { type Event, Severity as WireSeverity } from '../gen/herald/v1/herald.js';
import { type PublishInput, Severity, type SeverityLevel, type SeverityName } from '../hub/index.js';

/**
 * Decoding of events from the two ingest paths into the hub's PublishInput.
 * The hub validates the content; this layer checks shapes and types.
 */

const JSON_FIELDS = new Set(['topic', 'type', 'data', 'severity', 'labels', 'key', 'idempotencyKey', 'idempotency_key']);

/**
 * An event from POST /v1/publish. `data` may be any JSON value: a string is
 * delivered as that text, anything else as its JSON.
 */
export function eventFromJson(body: unknown): PublishInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HeraldError('HERALD_ERR_PUBLISH_BODY_MALFORMED', 'the body must be a JSON object with at least topic and data');
  }
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!JSON_FIELDS.has(k)) throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_UNKNOWN', `unknown field ${JSON.stringify(k.slice(0, 40))}; an event has topic, type, data, severity, labels, key, idempotencyKey`);
  }
  const topic = optString(o, 'topic');
  if (topic === undefined) throw new HeraldError('HERALD_ERR_TOPIC_MISSING', 'topic is required');
  if (o.data === undefined || o.data === null) throw new HeraldError('HERALD_ERR_PUBLISH_DATA_EMPTY', 'data is required');
  const data = typeof o.data === 'string' ? Buffer.from(o.data, 'utf8') : Buffer.from(JSON.stringify(o.data), 'utf8');
  let severity: SeverityLevel | undefined;
  const sev = optString(o, 'severity');
  if (sev !== undefined) {
    if (!(sev in Severity)) throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', `severity ${JSON.stringify(sev.slice(0, 40))} is not one of debug, info, warning, error, critical`);
    severity = Severity[sev as SeverityName];
  }
  let labels: Record<string, string> | undefined;
  if (o.labels !== undefined) {
    if (typeof o.labels !== 'object' || o.labels === null || Array.isArray(o.labels)) throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', 'labels must be an object of strings');
    labels = {};
    for (const [k, v] of Object.entries(o.labels)) {
      if (typeof v !== 'string') throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', `labels.${k.slice(0, 40)} must be a string`);
      labels[k] = v;
    }
  }
  return {
    topic,
    type: optString(o, 'type'),
    data,
    severity,
    labels,
    key: optString(o, 'key'),
    idempotencyKey: optString(o, 'idempotencyKey') ?? optString(o, 'idempotency_key'),
  };
}

function optString(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', `${k} must be a string`);
  return v;
}

/** An event from gRPC. Unset proto3 fields arrive as their zero values. */
export function eventFromWire(ev: Event | undefined): PublishInput {
  if (ev === undefined) throw new HeraldError('HERALD_ERR_PUBLISH_EVENT_MISSING', 'the request has no event');
  let severity: SeverityLevel | undefined;
  if (ev.severity !== WireSeverity.SEVERITY_UNSPECIFIED) {
    if (ev.severity < WireSeverity.SEVERITY_DEBUG || ev.severity > WireSeverity.SEVERITY_CRITICAL) {
      throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', `severity ${ev.severity} is not a known Severity`);
    }
    // The wire enum and the hub's levels share their numbers (debug=1 .. critical=5).
    severity = ev.severity as number as SeverityLevel;
  }
  return {
    topic: ev.topic,
    type: ev.type || undefined,
    // A view into the received message; the hub copies what it keeps.
    data: ev.data,
    severity,
    labels: ev.labels,
    key: ev.key || undefined,
    idempotencyKey: ev.idempotencyKey || undefined,
  };
}
