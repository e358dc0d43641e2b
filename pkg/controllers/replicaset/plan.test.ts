// plan.test: replica arithmetic, slow-start batches and status calculation, as upstream's tables.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { REPLICA_FAILURE, calculateStatus, replicaDiff, slowStart, slowStartBatches, statusChanged } from './plan.ts';
import type { SetView } from './plan.ts';

const T0 = Date.parse('2024-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function pod(labels: Record<string, string>, readySince?: number): Pod {
  return {
    metadata: { labels },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: readySince === undefined ? 'False' : 'True', lastTransitionTime: readySince === undefined ? undefined : iso(readySince) }] },
  };
}

function set(over: Partial<SetView> = {}): SetView {
  return { replicas: 3, minReadySeconds: 0, templateLabels: { app: 'web', tier: 'fe' }, generation: 2, status: { replicas: 0 }, ...over };
}

describe('replicaDiff', () => {
  it.each([
    [0, 3, { create: 3, delete: 0 }],
    [3, 3, { create: 0, delete: 0 }],
    [5, 2, { create: 0, delete: 3 }],
    [0, 1000, { create: 500, delete: 0 }],
    [900, 0, { create: 0, delete: 500 }],
  ])('%i active, %i desired', (active, desired, want) => expect(replicaDiff(active, desired)).toEqual(want));
});

describe('slowStartBatches', () => {
  it.each([
    [0, []],
    [1, [1]],
    [3, [1, 2]],
    [10, [1, 2, 4, 3]],
    [15, [1, 2, 4, 8]],
  ])('%i', (n, want) => expect(slowStartBatches(n)).toEqual(want));

  it('stops after the first failing batch', async () => {
    let calls = 0;
    const r = await slowStart(10, async () => {
      calls++;
      if (calls === 3) throw new Error('quota');
    });
    // batches 1, 2: the second batch (calls 2 and 3) fails once → 2 successes, 3 calls, no third batch
    expect(calls).toBe(3);
    expect(r.successes).toBe(2);
    expect((r.error as Error).message).toBe('quota');
    expect(await slowStart(7, async () => undefined)).toEqual({ successes: 7 });
  });
});

describe('calculateStatus', () => {
  it('counts replicas, fully labeled, ready and available pods', () => {
    const pods = [pod({ app: 'web', tier: 'fe' }, T0 - 10_000), pod({ app: 'web' }, T0 - 1000), pod({ app: 'web', tier: 'fe' })];
    const { status, requeueAfterMs } = calculateStatus(set({ minReadySeconds: 5 }), pods, undefined, T0);
    expect(status).toEqual({ replicas: 3, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 1, observedGeneration: 2 });
    expect(requeueAfterMs).toBe(4001);
  });

  it('leaves zero counts out', () => {
    expect(calculateStatus(set(), [], undefined, T0)).toEqual({ status: { replicas: 0, observedGeneration: 2 } });
  });

  it('sets ReplicaFailure on a create error and removes it after success', () => {
    const failed = calculateStatus(set(), [pod({ app: 'web', tier: 'fe' })], 'pods "x" is forbidden: exceeded quota', T0).status;
    expect(failed.conditions).toEqual([{ type: REPLICA_FAILURE, status: 'True', reason: 'FailedCreate', message: 'pods "x" is forbidden: exceeded quota', lastTransitionTime: iso(T0) }]);
    // an existing condition is kept as it is while errors go on
    const again = calculateStatus(set({ status: failed }), [], 'other', T0 + 1000).status;
    expect(again.conditions).toEqual(failed.conditions);
    expect(calculateStatus(set({ status: failed }), [], undefined, T0).status.conditions).toBeUndefined();
    const del = calculateStatus(set({ replicas: 0 }), [pod({ app: 'web' })], 'boom', T0).status;
    expect(del.conditions?.[0].reason).toBe('FailedDelete');
  });
});

describe('statusChanged', () => {
  it('compares counts, generation and conditions', () => {
    const s = { replicas: 2, readyReplicas: 2, observedGeneration: 1 };
    expect(statusChanged(s, { ...s })).toBe(false);
    expect(statusChanged({ ...s, fullyLabeledReplicas: 0 }, { ...s })).toBe(false);
    expect(statusChanged(s, { ...s, readyReplicas: 1 })).toBe(true);
    expect(statusChanged(s, { ...s, observedGeneration: 2 })).toBe(true);
    expect(statusChanged(s, { ...s, conditions: [{ type: 'ReplicaFailure', status: 'True' }] })).toBe(true);
    expect(statusChanged(undefined, { replicas: 0 })).toBe(false);
  });
});
