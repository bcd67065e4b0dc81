import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBody, encodeFrame, encodeIdOnly, encodeReset } from './sse-frame.js';
import { TYPE_PATTERN } from './validate.js';

/** Parses a stream with eventsource-parser: an implementation independent of ours. */
function parse(buf: Buffer): { events: EventSourceMessage[]; ids: string[] } {
  const events: EventSourceMessage[] = [];
  const ids: string[] = [];
  const p = createParser({ onEvent: (e) => events.push(e), onId: (id) => ids.push(id) });
  p.feed(buf.toString('utf8'));
  return { events, ids };
}

// Any text, line terminators and would-be field syntax included.
const text = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1 }).map((s) => s.toWellFormed()),
  fc.array(fc.constantFrom('\n', '\r', '\r\n', 'data: x', 'event: evil', 'id: 1', ': c', 'retry: 1', '\n\n', ' ', 'é', '\u2028'), { minLength: 1 }).map((a) => a.join('')),
);
const type = fc.stringMatching(TYPE_PATTERN);
const cursor = fc.stringMatching(/^[0-9a-z]{1,16}-[0-9a-z]{1,8}-[0-9a-z]{1,11}(\.[0-9a-z]{1,11}){0,4}$/);

/** What a parser must hand back: SSE normalises every line terminator to LF. */
const normalised = (s: string): string => s.replace(/\r\n|\r/g, '\n');

describe('sse-frame', () => {
  it('sse-frame - any data, type and cursor round-trip through an independent parser as exactly one event', () => {
    fc.assert(
      fc.property(text, type, cursor, (data, t, id) => {
        const { events, ids } = parse(encodeFrame(id, encodeBody(t, Buffer.from(data))));
        expect(events).toHaveLength(1);
        expect(events[0]!.data).toBe(normalised(data));
        expect(events[0]!.event ?? 'message').toBe(t);
        expect(events[0]!.id).toBe(id);
        expect(ids).toEqual([id]);
      }),
      { numRuns: 2000 },
    );
  });

  it('sse-frame - a stream of many frames parses back to the same events in order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(text, type, cursor), { minLength: 1, maxLength: 20 }), (frames) => {
        const buf = Buffer.concat(frames.map(([d, t, id]) => encodeFrame(id, encodeBody(t, Buffer.from(d)))));
        const { events } = parse(buf);
        expect(events.map((e) => [e.data, e.event ?? 'message', e.id])).toEqual(frames.map(([d, t, id]) => [normalised(d), t, id]));
      }),
      { numRuns: 300 },
    );
  });

  it('sse-frame - an id-only frame moves the last id without dispatching an event', () => {
    const { events, ids } = parse(Buffer.concat([encodeFrame('e-f-1', encodeBody('message', Buffer.from('x'))), encodeIdOnly('e-f-2')]));
    expect(events.map((e) => e.data)).toEqual(['x']);
    expect(ids).toEqual(['e-f-1', 'e-f-2']);
  });

  it('sse-frame - the reset event carries its topics and reason as JSON, even with odd topic names', () => {
    const { events } = parse(encodeReset('e-f-3', ['a.b', 'c:d-e'], 'history-trimmed'));
    expect(events).toEqual([{ id: 'e-f-3', event: 'herald.reset', data: '{"topics":["a.b","c:d-e"],"reason":"history-trimmed"}' }]);
  });
});
