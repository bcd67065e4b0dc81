import { HeraldError } from '../errors.js';
import { type Filter, parseFilter } from '../hub/index.js';

/**
 * Parsing of a subscription request: the strict HTTP/1.x head parser the raw
 * SSE listener uses, and the query rules shared with the node:http path.
 */

/** The path the raw listener serves itself; every other request goes to node:http. */
export const EVENTS_PATH = '/v1/events';
const SNIFF = Buffer.from('GET ' + EVENTS_PATH, 'latin1');

export type Sniff = 'sse' | 'other' | 'more';

/** Decides from the first bytes whether a connection opens with an SSE request. */
export function sniff(chunk: Buffer): Sniff {
  const n = Math.min(chunk.length, SNIFF.length);
  if (chunk.compare(SNIFF, 0, n, 0, n) !== 0) return 'other';
  if (chunk.length <= SNIFF.length) return 'more';
  const next = chunk[SNIFF.length];
  return next === 0x3f /* ? */ || next === 0x20 /* SP */ ? 'sse' : 'other';
}

export interface RequestHead {
  target: string;
  /** Lower-cased names; the first occurrence wins. */
  headers: Map<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^GET ([\x21-\x7e]+) HTTP\/1\.[01]$/;
const END = Buffer.from('\r\n\r\n', 'latin1');

/**
 * Parses a complete request head (up to and including the blank line), or
 * returns undefined when more bytes are needed. GET only, no body, no folded
 * headers: anything looser is an error, since this parser only ever sees
 * requests that claim to be subscriptions.
 */
export function parseHead(buf: Buffer, maxBytes: number): RequestHead | undefined {
  const end = buf.indexOf(END);
  if (end === -1) {
    if (buf.length > maxBytes) throw new HeraldError('HERALD_ERR_HTTP_HEAD_TOO_LARGE', `request head exceeds ${maxBytes} bytes`);
    return undefined;
  }
  if (end + 4 > maxBytes) throw new HeraldError('HERALD_ERR_HTTP_HEAD_TOO_LARGE', `request head exceeds ${maxBytes} bytes`);
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const m = REQUEST_LINE.exec(lines[0]!);
  if (m === null) throw new HeraldError('HERALD_ERR_HTTP_HEAD_MALFORMED', 'malformed request line');
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) throw new HeraldError('HERALD_ERR_HTTP_HEAD_MALFORMED', `malformed header line ${i}`);
    const lower = name.toLowerCase();
    if (!headers.has(lower)) headers.set(lower, line.slice(colon + 1).trim());
  }
  const te = headers.get('transfer-encoding');
  const cl = headers.get('content-length');
  if (te !== undefined || (cl !== undefined && cl !== '0')) {
    throw new HeraldError('HERALD_ERR_HTTP_HEAD_MALFORMED', 'a subscription request has no body');
  }
  // Bytes after the head (a pipelined request) are ignored: an event stream never ends to answer them.
  return { target: m[1]!, headers };
}

export interface SubscribeParams {
  topics: string[];
  filter: Filter;
  envelope: boolean;
  /** conflate=1 or 0; undefined leaves it to the topics' default. */
  conflate: boolean | undefined;
  cursor: string | undefined;
}

const KNOWN_PARAMS = new Set(['topic', 'minSeverity', 'label', 'lastEventId', 'envelope', 'conflate']);

/**
 * The subscription a request asks for. The Last-Event-ID header wins over the
 * lastEventId parameter (which exists for clients that cannot set headers).
 */
export function parseSubscribe(target: string, lastEventIdHeader: string | undefined): SubscribeParams {
  const q = new URL(target, 'http://h').searchParams;
  for (const name of q.keys()) {
    if (!KNOWN_PARAMS.has(name)) {
      throw new HeraldError('HERALD_ERR_QUERY_UNKNOWN', `unknown query parameter ${JSON.stringify(name.slice(0, 40))}; known: ${[...KNOWN_PARAMS].join(', ')}`);
    }
  }
  return {
    topics: q.getAll('topic'),
    filter: parseFilter(q.get('minSeverity') ?? undefined, q.getAll('label')),
    envelope: flag(q, 'envelope') ?? false,
    conflate: flag(q, 'conflate'),
    cursor: lastEventIdHeader || q.get('lastEventId') || undefined,
  };
}

function flag(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw new HeraldError('HERALD_ERR_QUERY_UNKNOWN', `${name} must be 1, 0, true or false`);
}
