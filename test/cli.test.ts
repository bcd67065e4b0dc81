import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cuttingProxy, waitUntil } from './helpers.js';
import { CLI, runCli, type ServeProcess, spawnServe } from './process.js';

let proc: ServeProcess;
beforeAll(async () => {
  proc = await spawnServe(['--retry-ms', '50', '--retry-jitter-ms', '0']);
});
afterAll(() => {
  proc.child.kill('SIGKILL');
});

describe('cli', () => {
  it('cli - publish prints the id; tail prints the event; both reach the same server', async () => {
    const tail = spawn(process.execPath, [CLI, 'tail', '--server', `http://127.0.0.1:${proc.httpPort}`, '--topic', 'alerts', '--json', '--max-events', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    tail.stdout.on('data', (c) => (out += c));
    const tailExit = new Promise<number | null>((r) => tail.on('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    const a = await runCli(['publish', '--server', `127.0.0.1:${proc.grpcPort}`, '--topic', 'alerts', '--data', '{"msg":"disk full"}', '--severity', 'warning']);
    expect(a.code).toBe(0);
    expect(a.stdout.trim()).toMatch(/^[0-9a-z]+-[0-9a-z]+-[0-9a-z]+$/);
    const b = await runCli(['publish', '--server', `127.0.0.1:${proc.grpcPort}`, '--topic', 'alerts', '--type', 'resolved', '--data', 'ok']);
    expect(b.code).toBe(0);
    expect(await tailExit).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { id: expect.any(String), event: 'message', data: '{"msg":"disk full"}' },
      { id: expect.any(String), event: 'resolved', data: 'ok' },
    ]);
  });

  it('cli - publish of a bad event prints the stable code and exits 1', async () => {
    const r = await runCli(['publish', '--server', `127.0.0.1:${proc.grpcPort}`, '--topic', 'no spaces', '--data', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('HERALD_ERR_TOPIC_INVALID');
  });

  it('cli - tail resumes from its last id after the connection drops', async () => {
    const proxy = await cuttingProxy(proc.httpPort);
    const tail = spawn(process.execPath, [CLI, 'tail', '--server', `http://127.0.0.1:${proxy.port}`, '--topic', 'r', '--max-events', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    tail.stdout.on('data', (c) => (out += c));
    tail.stderr.on('data', (c) => (err += c));
    const exit = new Promise<number | null>((r) => tail.on('exit', r));
    const pub = (data: string) => runCli(['publish', '--server', `127.0.0.1:${proc.grpcPort}`, '--topic', 'r', '--data', data]);
    await new Promise((r) => setTimeout(r, 500));
    await pub('one');
    await waitUntil(() => out.includes('one'));
    expect(proxy.cutAll()).toBe(1);
    // Published while tail is disconnected: it must get them on resume.
    await pub('two');
    await pub('three');
    expect(await exit).toBe(0);
    proxy.close();
    expect(out.trim().split('\n')).toEqual(['message\tone', 'message\ttwo', 'message\tthree']);
    expect(err).toContain('reconnecting');
  });

  it('cli - an unknown command exits 2 with usage', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: herald');
  });
});
