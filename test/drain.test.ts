import { afterEach, describe, expect, it } from 'vitest';
import { SseProbe, waitUntil } from './helpers.js';
import { type ServeProcess, spawnServe } from './process.js';

let proc: ServeProcess | undefined;
afterEach(() => {
  proc?.child.kill('SIGKILL');
  proc = undefined;
});

describe('graceful drain', () => {
  it('drain - SIGTERM turns readiness off, refuses new streams, closes open ones spread over the window, exits 0', { timeout: 30_000 }, async () => {
    const windowMs = 2000;
    proc = await spawnServe(['--drain-ms', String(windowMs), '--heartbeat-ms', '1000']);
    const { httpPort } = proc;
    expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
    const streams = Array.from({ length: 40 }, () => new SseProbe(httpPort, '/v1/events?topic=d'));
    await waitUntil(() => streams.every((s) => s.status === 200));
    const closedAt = new Map<SseProbe, number>();
    for (const s of streams) s.socket.on('close', () => closedAt.set(s, Date.now()));

    const t0 = Date.now();
    proc.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
    expect(ready.status).toBe(503);
    const late = new SseProbe(httpPort, '/v1/events?topic=d');
    await late.waitForEnd();
    expect(late.status).toBe(503);
    expect(JSON.parse(late.body).error.code).toBe('HERALD_ERR_SERVER_DRAINING');
    expect(late.headers.get('retry-after')).toBeDefined();

    expect(await proc.exited).toBe(0);
    expect(closedAt.size).toBe(streams.length);
    const offsets = [...closedAt.values()].map((t) => t - t0).sort((a, b) => a - b);
    // Spread over the window, not a storm: the first and last closes are far
    // apart, and no quarter of the window holds more than half the closes.
    expect(offsets.at(-1)! - offsets[0]!).toBeGreaterThan(windowMs * 0.5);
    for (let q = 0; q < 4; q++) {
      const inQuarter = offsets.filter((o) => o >= (q * windowMs) / 4 && o < ((q + 1) * windowMs) / 4).length;
      expect(inQuarter).toBeLessThanOrEqual(streams.length / 2);
    }
    expect(offsets.at(-1)!).toBeLessThan(windowMs + 1500);
  });

  it('drain - a bad flag exits 2 and names the key and what is allowed', async () => {
    const { runCli } = await import('./process.js');
    const r = await runCli(['serve', '--heartbeat-ms', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('HERALD_ERR_CONFIG_INVALID');
    expect(r.stderr).toContain('heartbeatMs');
    expect(r.stderr).toMatch(/integer from 100 to 600000/);
  });
});
