import { isUtf8 } from 'node:buffer';
import { HeraldError } from '../errors.js';
import { type PublishInput, Severity, type SeverityLevel } from './event.js';

/** Topic names stay URL-, header- and label-safe and cannot carry a newline. */
export const TOPIC_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Event names: what `addEventListener(type)` takes, minus anything that could break a line. */
export const TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
const MAX_LABELS = 32;
const MAX_LABEL_VALUE = 256;
const MAX_KEY = 256;

export function validateTopic(topic: string): void {
  if (topic.length === 0) throw new HeraldError('HERALD_ERR_TOPIC_MISSING', 'topic is empty');
  if (!TOPIC_PATTERN.test(topic)) {
    throw new HeraldError('HERALD_ERR_TOPIC_INVALID', `topic ${JSON.stringify(topic.slice(0, 140))} must be 1-128 characters of [A-Za-z0-9._:-] starting with a letter or digit`);
  }
}

/** Checks an event against the rules of the stream it will travel on. Throws HeraldError. */
export function validatePublish(input: PublishInput, maxEventBytes: number): void {
  validateTopic(input.topic);
  if (input.type !== undefined && input.type !== '' && !TYPE_PATTERN.test(input.type)) {
    throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', `type ${JSON.stringify(input.type.slice(0, 80))} must be 1-64 characters of [A-Za-z0-9._:-] starting with a letter or digit`);
  }
  if (input.type !== undefined && input.type.startsWith('herald.')) {
    throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', 'type: names starting with "herald." are reserved for Herald\'s own events');
  }
  if (input.data.length === 0) throw new HeraldError('HERALD_ERR_PUBLISH_DATA_EMPTY', 'data is empty; EventSource never dispatches an event with empty data');
  if (input.data.length > maxEventBytes) {
    throw new HeraldError('HERALD_ERR_PUBLISH_DATA_TOO_LARGE', `data is ${input.data.length} bytes; the limit is ${maxEventBytes} (maxEventBytes)`);
  }
  // isUtf8 checks the bytes in place; decoding to a string just to check would cost a copy per event.
  if (!isUtf8(input.data)) throw new HeraldError('HERALD_ERR_PUBLISH_DATA_NOT_UTF8', 'data is not valid UTF-8');
  if (input.severity !== undefined && !Object.values(Severity).includes(input.severity)) {
    throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', `severity ${String(input.severity)} is not one of debug, info, warning, error, critical`);
  }
  if (input.labels !== undefined) {
    const entries = Object.entries(input.labels);
    if (entries.length > MAX_LABELS) throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', `labels: at most ${MAX_LABELS} labels`);
    for (const [k, v] of entries) {
      if (!LABEL_KEY_PATTERN.test(k)) throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', `labels: key ${JSON.stringify(k.slice(0, 80))} must be 1-63 characters of [A-Za-z0-9._/-]`);
      if (typeof v !== 'string' || v.length > MAX_LABEL_VALUE) throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', `labels: value of ${k} must be a string of at most ${MAX_LABEL_VALUE} characters`);
    }
  }
  if (input.key !== undefined && input.key.length > MAX_KEY) throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', `key: at most ${MAX_KEY} characters`);
  if (input.idempotencyKey !== undefined && input.idempotencyKey.length > MAX_KEY) {
    throw new HeraldError('HERALD_ERR_PUBLISH_FIELD_INVALID', `idempotencyKey: at most ${MAX_KEY} characters`);
  }
}

export function severityOrDefault(s: SeverityLevel | undefined): SeverityLevel {
  return s ?? Severity.info;
}
