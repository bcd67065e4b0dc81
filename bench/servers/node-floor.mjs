// node-floor: floor's job (bench/servers/floor.c) done in Node: the least a
// Node server can do per delivery. net.Socket and one socket.write() per
// subscriber per event, nothing else: one topic, no history, no heartbeats,
// no backpressure. A measuring instrument, not a server to copy. Herald's
// CPU per delivery against it is what Herald adds on top of Node's own
// price for a socket write; floor against it is what Node adds on top of
// the kernel's.
//
// Wire surface, as floor's:
//   GET  /v1/events?topic=bench  200 text/event-stream, Connection: close
//   POST /pub[?topic=bench]      body = the payload -> 204 (keep-alive)
//   GET  /readyz                 200 "ok" (keep-alive)
//
// usage: node bench/servers/node-floor.mjs --port N
import net from 'node:net';

const i = process.argv.indexOf('--port');
const port = Number(i >= 0 ? process.argv[i + 1] : NaN);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('node-floor: --port N is required');
  process.exit(2);
}

const HEAD_MAX = 8192;
const BODY_MAX = 65536;
const STREAM_HEAD = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n', 'latin1');
const READY = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'latin1');
const NO_CONTENT = Buffer.from('HTTP/1.1 204 No Content\r\n\r\n', 'latin1');
const BAD = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 'latin1');

/** @type {Set<net.Socket>} */
const subscribers = new Set();
let nextId = 0;

function publish(body) {
  const frame = Buffer.concat([Buffer.from(`id: ${++nextId}\ndata: `, 'latin1'), body, Buffer.from('\n\n', 'latin1')]);
  for (const s of subscribers) s.write(frame);
}

const server = net.createServer({ noDelay: true }, (sock) => {
  sock.on('error', () => {});
  let buf = Buffer.alloc(0);
  const onData = (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > HEAD_MAX) sock.end(BAD);
        return;
      }
      const head = buf.subarray(0, end).toString('latin1');
      if (head.startsWith('GET /v1/events')) {
        // A subscriber: nothing more is read from it.
        sock.off('data', onData);
        sock.write(STREAM_HEAD);
        subscribers.add(sock);
        sock.once('close', () => subscribers.delete(sock));
        return;
      }
      if (head.startsWith('GET /readyz')) {
        buf = buf.subarray(end + 4);
        sock.write(READY);
        continue;
      }
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!head.startsWith('POST /pub') || m === null || Number(m[1]) > BODY_MAX) {
        sock.end(BAD);
        return;
      }
      const len = Number(m[1]);
      if (buf.length < end + 4 + len) return;
      const body = buf.subarray(end + 4, end + 4 + len);
      buf = buf.subarray(end + 4 + len);
      publish(body);
      sock.write(NO_CONTENT);
    }
  };
  sock.on('data', onData);
});
server.listen({ port, host: '127.0.0.1', backlog: 511 });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
