import { describe, expect, it } from 'vitest';

import { loadConfig } from '../config/index.js';
import { HeraldError } from '../errors.js';
import { createLogger } from '../telemetry/index.js';
import { createMembership, defaultPeerAddress } from './create-membership.js';

const log = createLogger('silent');

describe('createMembership', () => {
  it('membership - cluster off is a static membership of the replica alone', async () => {
    const config = loadConfig(['--pod-name', 'solo', '--host', '127.0.0.1'], {});
    const m = await createMembership(config, { epoch: 'E', grpcPort: 9191 }, log);
    await m.start();
    expect(m.members()).toEqual([{ name: 'solo', epoch: 'E', peerAddress: '127.0.0.1:9191', self: true }]);
    expect(m.stats()).toMatchObject({ mode: 'static', state: 'holding', degraded: false, lastError: null });
    await m.stop();
    expect(m.members()).toEqual([]);
  });

  it('membership - unusable kubeconfig stops the start with HERALD_ERR_CLUSTER_KUBECONFIG', async () => {
    const config = loadConfig(['--cluster', 'kubernetes', '--kubeconfig', '/nonexistent/kubeconfig'], {});
    let err: unknown;
    try {
      await createMembership(config, { epoch: 'E', grpcPort: 1 }, log);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeraldError);
    expect((err as HeraldError).code).toBe('HERALD_ERR_CLUSTER_KUBECONFIG');
    expect((err as HeraldError).message).toContain('/nonexistent/kubeconfig');
  });

  it('membership - the peer address defaults to host and gRPC port, never a wildcard', async () => {
    expect(defaultPeerAddress('10.1.2.3', 9090)).toBe('10.1.2.3:9090');
    expect(defaultPeerAddress('::1', 9090)).toBe('[::1]:9090');
    expect(defaultPeerAddress('0.0.0.0', 9090)).not.toMatch(/^0\.0\.0\.0/);
    const config = loadConfig(['--peer-address', 'herald-0.herald:9090'], {});
    const m = await createMembership(config, { epoch: 'E', grpcPort: 1 }, log);
    await m.start();
    expect(m.members().map((x) => x.peerAddress)).toEqual(['herald-0.herald:9090']);
  });
});
