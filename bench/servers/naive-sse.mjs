// naive-sse: the floor every Node SSE library starts from. node:http, a Set
// of responses per topic, and one res.write per subscriber per event. No
// batching, no shared buffers, no backpressure handling: this is the baseline
// the bench compares Herald against, not a server to copy.
//
// Same wire surface as Herald, so the bench drives both the same way:
//   GET  /v1/events?topic=T   text/event-stream
//   POST /v1/publish          {"topic":"T","data":"..."} -> {"id":"N"}
//   GET  /readyz              200
//
// usage: node bench/servers/naive-sse.mjs --port N   (or NAIVE_PORT)
import http from 'node:http';

function portFromArgs() {
  const i = process.argv.indexOf('--port');
  const raw = i >= 0 ? process.argv[i + 1] : process.env.NAIVE_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port <= 0) {
    console.error('naive-sse: --port N is required');
    process.exit(2);
  }
  return port;
}

/** @type {Map<string, Set<http.ServerResponse>>} */
const topics = new Map();
let nextId = 0;

function subscribe(req, res, topic) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.write('retry: 1000\n\n');
  let subs = topics.get(topic);
  if (!subs) {
    subs = new Set();
    topics.set(topic, subs);
  }
  subs.add(res);
  req.on('close', () => {
    subs.delete(res);
  });
}

function publish(req, res) {
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    let msg;
    try {
      msg = JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const id = String(++nextId);
    const frame = `id: ${id}\ndata: ${msg.data}\n\n`;
    const subs = topics.get(msg.topic);
    if (subs) for (const s of subs) s.write(frame);
    const body = JSON.stringify({ id });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'GET' && url.pathname === '/v1/events') {
    subscribe(req, res, url.searchParams.get('topic') ?? 'default');
  } else if (req.method === 'POST' && url.pathname === '/v1/publish') {
    publish(req, res);
  } else if (url.pathname === '/readyz') {
    res.writeHead(200).end('ok');
  } else {
    res.writeHead(404).end();
  }
});
// Subscriptions are long-lived: no request or idle timeouts.
server.requestTimeout = 0;
server.headersTimeout = 0;
server.keepAliveTimeout = 60_000;
server.listen(portFromArgs(), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', port: server.address().port }));
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
