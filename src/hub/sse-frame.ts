/**
 * The WHATWG event-stream encoding. Every frame the hub hands a transport is
 * built here, once, and shared by all subscribers that get the same bytes.
 *
 * Injection safety: field values come from validated names (type, cursor)
 * or from data, which is split on every line terminator the parser knows
 * (CRLF, CR, LF), so no value can end a line early, start another field or
 * end the event.
 */

const LINE_BREAK = /\r\n|\r|\n/;
const DATA = Buffer.from('data: ', 'latin1');
const END = Buffer.from('\n\n', 'latin1');

/**
 * `event:` (omitted for "message") and `data:` lines, and the blank line that
 * dispatches. Data is UTF-8 bytes (validated by the hub); single-line data,
 * the common case, is copied as bytes without a round trip through a string.
 */
export function encodeBody(type: string, data: Uint8Array): Buffer {
  return encodeEvent(type, data).body;
}

/**
 * The body, and the event's data as the hub keeps it: for single-line data a
 * view into the body's own bytes, so history holds the bytes once and never
 * a view into a publisher's receive buffer; multi-line data is copied.
 */
export function encodeEvent(type: string, data: Uint8Array): { body: Buffer; data: Buffer } {
  const event = type === 'message' ? '' : 'event: ' + type + '\n';
  if (data.indexOf(0x0a) === -1 && data.indexOf(0x0d) === -1) {
    const out = Buffer.allocUnsafe(event.length + DATA.length + data.length + END.length);
    let at = out.write(event, 0, 'latin1');
    at += DATA.copy(out, at);
    out.set(data, at);
    END.copy(out, at + data.length);
    return { body: out, data: out.subarray(at, at + data.length) };
  }
  const copy = Buffer.from(data);
  let s = event;
  const lines = copy.toString('utf8').split(LINE_BREAK);
  for (let i = 0; i < lines.length; i++) s += 'data: ' + lines[i] + '\n';
  return { body: Buffer.from(s + '\n', 'utf8'), data: copy };
}

/** A whole frame: the subscriber group's cursor, then the event's shared body. */
export function encodeFrame(cursor: string, body: Buffer): Buffer {
  const head = 'id: ' + cursor + '\n';
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  return out;
}

/**
 * An id-only frame. EventSource sets its last event id on dispatch even when
 * the data is empty (and then dispatches nothing), so this moves a filtered
 * subscriber's cursor past events it does not want without showing it any.
 */
export function encodeIdOnly(cursor: string): Buffer {
  return Buffer.from('id: ' + cursor + '\n\n', 'latin1');
}

/** The in-band reset: the named topics lost events that history no longer holds. */
export function encodeReset(cursor: string, topics: readonly string[], reason: string): Buffer {
  return Buffer.from(`id: ${cursor}\nevent: herald.reset\ndata: ${JSON.stringify({ topics, reason })}\n\n`, 'utf8');
}

/** The stream preamble: a jittered reconnect delay and a comment that flushes proxies. */
export function encodePreamble(retryMs: number): Buffer {
  return Buffer.from(`retry: ${retryMs}\n: ok\n\n`, 'latin1');
}

/** Heartbeat: a comment line, ignored by parsers, that keeps proxies from idling the stream out. */
export const HEARTBEAT = Buffer.from(':\n\n', 'latin1');
