import { createParser } from 'eventsource-parser';
import { parseArgs } from 'node:util';
import { request } from 'undici';

const USAGE = `usage: herald tail --topic T [--topic T2 ...] [options]

  --server URL              Herald's HTTP address (default http://127.0.0.1:8080)
  --min-severity LEVEL      only events at or above this severity
  --label KEY:VALUE         only events with this label; repeat for more
  --last-event-id ID        start after this cursor instead of now
  --json                    print one JSON object per event (id, event, data)
  --max-events N            exit after N events (scripts and tests)`;

/** A reconnect delay when the server sent no retry: field. */
const DEFAULT_RETRY_MS = 3000;

/**
 * `herald tail`: an SSE client on undici. Prints each event; after a
 * disconnect it waits the server's retry: delay and reconnects with the last
 * id it saw, so nothing is missed while history holds it. A herald.reset
 * event is reported on stderr.
 */
export async function runTail(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string', default: 'http://127.0.0.1:8080' },
      topic: { type: 'string', multiple: true },
      'min-severity': { type: 'string' },
      label: { type: 'string', multiple: true },
      'last-event-id': { type: 'string' },
      json: { type: 'boolean' },
      'max-events': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.topic?.length) {
    console.error(`herald tail: at least one --topic is required\n\n${USAGE}`);
    return 2;
  }
  const url = new URL('/v1/events', values.server);
  for (const t of values.topic) url.searchParams.append('topic', t);
  if (values['min-severity']) url.searchParams.set('minSeverity', values['min-severity']);
  for (const l of values.label ?? []) url.searchParams.append('label', l);

  let lastId = values['last-event-id'];
  let retryMs = DEFAULT_RETRY_MS;
  let remaining = values['max-events'] === undefined ? Infinity : Number(values['max-events']);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());

  while (!abort.signal.aborted && remaining > 0) {
    try {
      const res = await request(url, {
        headers: { accept: 'text/event-stream', ...(lastId !== undefined && { 'last-event-id': lastId }) },
        signal: abort.signal,
      });
      if (res.statusCode !== 200) {
        const body = await res.body.text();
        console.error(`herald tail: HTTP ${res.statusCode}: ${body}`);
        // 4xx will not get better by retrying; 503 and 429 say when to come back.
        if (res.statusCode < 500 && res.statusCode !== 429) return 1;
        const after = Number(res.headers['retry-after']);
        await sleep(Number.isFinite(after) ? after * 1000 : retryMs, abort.signal);
        continue;
      }
      const parser = createParser({
        onId: (id) => (lastId = id),
        onRetry: (ms) => (retryMs = ms),
        onEvent: (ev) => {
          if (remaining <= 0) return;
          if (ev.event === 'herald.reset') {
            console.error(`herald tail: reset ${ev.data}`);
            return;
          }
          remaining--;
          if (values.json) console.log(JSON.stringify({ id: ev.id, event: ev.event ?? 'message', data: ev.data }));
          else console.log(`${ev.event ?? 'message'}\t${ev.data}`);
          if (remaining <= 0) abort.abort();
        },
      });
      res.body.setEncoding('utf8');
      for await (const chunk of res.body) parser.feed(chunk as string);
      if (!abort.signal.aborted) console.error(`herald tail: stream ended; reconnecting in ${retryMs} ms`);
    } catch (err) {
      if (abort.signal.aborted) break;
      console.error(`herald tail: ${(err as Error).message}; reconnecting in ${retryMs} ms`);
    }
    if (!abort.signal.aborted && remaining > 0) await sleep(retryMs, abort.signal);
  }
  return 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
