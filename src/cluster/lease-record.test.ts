import { V1MicroTime } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { ANNOTATION_EPOCH, ANNOTATION_PEER_ADDRESS, LABEL_INSTANCE, LABEL_NAME, labelSelector, leaseBody, toRecord } from './lease-record.js';

const OWN = { namespace: 'ns', name: 'herald-0', installation: 'prod', identity: 'herald-0_abc', durationMs: 15_000, epoch: 'E1', peerAddress: '10.0.0.7:9090' };

describe('lease record', () => {
  it('membership - writes labels, annotations, whole-second duration and MicroTime times', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const body = leaseBody(OWN, { acquired: at, renewed: at }, 2, '42');
    expect(body.metadata?.labels).toMatchObject({ [LABEL_NAME]: 'herald', [LABEL_INSTANCE]: 'prod' });
    expect(body.metadata?.annotations).toEqual({ [ANNOTATION_PEER_ADDRESS]: '10.0.0.7:9090', [ANNOTATION_EPOCH]: 'E1' });
    expect(body.metadata?.resourceVersion).toBe('42');
    expect(body.spec?.leaseDurationSeconds).toBe(15);
    expect(body.spec?.leaseTransitions).toBe(2);
    // The API server takes exactly six fractional digits; V1MicroTime writes them.
    expect(body.spec?.renewTime).toBeInstanceOf(V1MicroTime);
    expect(body.spec?.renewTime?.toISOString()).toBe('2026-01-02T03:04:05.678000Z');
    expect(leaseBody(OWN, { acquired: at, renewed: at }, 0).metadata).not.toHaveProperty('resourceVersion');
  });

  it('membership - reads back a Lease whose renewTime is the wire string', () => {
    const r = toRecord({
      metadata: { name: 'herald-1', resourceVersion: '7', annotations: { [ANNOTATION_EPOCH]: 'E2', [ANNOTATION_PEER_ADDRESS]: 'h:1' } },
      spec: { holderIdentity: 'herald-1_x', leaseDurationSeconds: 3, renewTime: '2026-01-02T03:04:05.678901Z' as unknown as V1MicroTime },
    });
    expect(r).toEqual({ name: 'herald-1', holder: 'herald-1_x', resourceVersion: '7', renewTime: '2026-01-02T03:04:05.678901Z', durationMs: 3000, transitions: 0, epoch: 'E2', peerAddress: 'h:1' });
  });

  it('membership - a Lease with no holder or duration is nobody\'s', () => {
    expect(toRecord({ metadata: { name: 'x' }, spec: { leaseDurationSeconds: 3 } })).toBeUndefined();
    expect(toRecord({ metadata: { name: 'x' }, spec: { holderIdentity: 'h' } })).toBeUndefined();
  });

  it('membership - selects one installation by label', () => {
    expect(labelSelector('prod')).toBe('app.kubernetes.io/name=herald,app.kubernetes.io/instance=prod');
  });
});
