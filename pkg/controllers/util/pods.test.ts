// pods.test: readiness, availability and upstream's deletion ranking (ActivePodsWithRanks), case by case.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { availableInMs, deletionCost, isPodActive, isPodAvailable, isPodReady, logarithmicRankDiff, podsToDelete, preferForDeletion } from './pods.ts';

const T0 = Date.parse('2024-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

interface P {
  name?: string;
  uid?: string;
  node?: string;
  phase?: string;
  readySince?: number;
  created?: number;
  restarts?: number;
  sidecarRestarts?: number;
  cost?: string;
  deleting?: boolean;
}

function pod(p: P): Pod {
  return {
    metadata: {
      name: p.name ?? 'p',
      uid: p.uid ?? p.name ?? 'u',
      creationTimestamp: p.created !== undefined ? iso(p.created) : undefined,
      annotations: p.cost !== undefined ? { 'controller.kubernetes.io/pod-deletion-cost': p.cost } : undefined,
      deletionTimestamp: p.deleting ? iso(T0) : undefined,
    },
    spec: { nodeName: p.node, containers: [{ name: 'c' }], initContainers: [{ name: 'side', restartPolicy: 'Always' }] },
    status: {
      phase: p.phase ?? 'Running',
      conditions: p.readySince !== undefined ? [{ type: 'Ready', status: 'True', lastTransitionTime: iso(p.readySince) }] : [{ type: 'Ready', status: 'False' }],
      containerStatuses: [{ name: 'c', restartCount: p.restarts ?? 0 } as never],
      initContainerStatuses: [{ name: 'side', restartCount: p.sidecarRestarts ?? 0 } as never],
    },
  };
}

describe('readiness', () => {
  it('isPodReady and isPodAvailable follow the Ready condition and minReadySeconds', () => {
    const p = pod({ readySince: T0 });
    expect(isPodReady(p)).toBe(true);
    expect(isPodAvailable(p, 0, T0)).toBe(true);
    expect(isPodAvailable(p, 5, T0 + 5000)).toBe(false);
    expect(isPodAvailable(p, 5, T0 + 5001)).toBe(true);
    expect(availableInMs(p, 5, T0 + 2000)).toBe(3001);
    expect(availableInMs(p, 5, T0 + 6000)).toBe(0);
    expect(isPodReady(pod({}))).toBe(false);
    expect(isPodAvailable(pod({}), 0, T0)).toBe(false);
  });

  it('isPodActive excludes finished and deleting pods', () => {
    expect(isPodActive(pod({ phase: 'Pending' }))).toBe(true);
    expect(isPodActive(pod({ phase: 'Succeeded' }))).toBe(false);
    expect(isPodActive(pod({ phase: 'Failed' }))).toBe(false);
    expect(isPodActive(pod({ deleting: true }))).toBe(false);
  });

  it('deletionCost reads int32 annotations only', () => {
    expect(deletionCost(pod({ cost: '-5' }))).toBe(-5);
    expect(deletionCost(pod({ cost: 'x' }))).toBe(0);
    expect(deletionCost(pod({ cost: '9999999999' }))).toBe(0);
    expect(deletionCost(pod({}))).toBe(0);
  });
});

describe('preferForDeletion (ActivePodsWithRanks.Less)', () => {
  const now = T0 + 3600_000;
  const cases: { name: string; first: P; second: P; rank?: [number, number]; now?: number }[] = [
    { name: 'unassigned before assigned', first: { node: '' }, second: { node: 'n1', phase: 'Pending' } },
    { name: 'Pending before Unknown', first: { node: 'n', phase: 'Pending' }, second: { node: 'n', phase: 'Unknown' } },
    { name: 'Unknown before Running', first: { node: 'n', phase: 'Unknown' }, second: { node: 'n', phase: 'Running' } },
    { name: 'not ready before ready', first: { node: 'n' }, second: { node: 'n', readySince: T0 } },
    { name: 'lower deletion cost first', first: { node: 'n', readySince: T0, cost: '-1' }, second: { node: 'n', readySince: T0 - 1000 } },
    { name: 'doubled up first', first: { node: 'n', readySince: T0 - 1000 }, second: { node: 'm', readySince: T0 }, rank: [2, 1] },
    { name: 'ready shorter first', first: { node: 'n', readySince: T0 }, second: { node: 'n', readySince: T0 - 1000 } },
    { name: 'ready shorter first, log buckets', first: { node: 'n', readySince: now - 1000 }, second: { node: 'n', readySince: now - 5000 }, now },
    { name: 'same log bucket: uid decides', first: { node: 'n', uid: 'a', readySince: now - 6000, restarts: 0 }, second: { node: 'n', uid: 'b', readySince: now - 5000, restarts: 9 }, now },
    { name: 'more restarts first', first: { node: 'n', restarts: 3 }, second: { node: 'n', restarts: 1 } },
    { name: 'more sidecar restarts first', first: { node: 'n', sidecarRestarts: 2 }, second: { node: 'n' } },
    { name: 'newer first', first: { node: 'n', created: T0 }, second: { node: 'n', created: T0 - 1000 } },
    { name: 'no creation time first', first: { node: 'n' }, second: { node: 'n', created: T0 } },
    { name: 'newer first, log buckets', first: { node: 'n', created: now - 1000 }, second: { node: 'n', created: now - 60_000 }, now },
  ];
  it.each(cases)('$name', ({ first, second, rank, now: at }) => {
    const a = { pod: pod(first), rank: rank?.[0] ?? 0 };
    const b = { pod: pod(second), rank: rank?.[1] ?? 0 };
    expect(preferForDeletion(a, b, at)).toBe(true);
    expect(preferForDeletion(b, a, at)).toBe(false);
  });

  it('equal pods are not less', () => {
    const a = { pod: pod({ node: 'n' }), rank: 0 };
    expect(preferForDeletion(a, a)).toBe(false);
  });

  it('logarithmicRankDiff buckets ages by powers of two', () => {
    expect(logarithmicRankDiff(now - 5000, now - 6000, now)).toBe(0);
    expect(logarithmicRankDiff(now - 1000, now - 5000, now)).toBeLessThan(0);
    expect(logarithmicRankDiff(now + 1000, now - 1, now)).toBeLessThan(0);
  });
});

describe('podsToDelete', () => {
  it('takes pods doubled up on a node first', () => {
    const pods = [pod({ name: 'a1', node: 'a', readySince: T0 }), pod({ name: 'b1', node: 'b', readySince: T0 }), pod({ name: 'a2', node: 'a', readySince: T0 })];
    const out = podsToDelete(pods, pods, 1).map((p) => p.metadata!.name);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^a/);
  });

  it('takes unscheduled, then pending, then not-ready pods first', () => {
    const pods = [
      pod({ name: 'ready', node: 'n', readySince: T0 }),
      pod({ name: 'notready', node: 'n' }),
      pod({ name: 'pending', node: 'n', phase: 'Pending' }),
      pod({ name: 'unscheduled', phase: 'Pending' }),
    ];
    expect(podsToDelete(pods, pods, 3).map((p) => p.metadata!.name)).toEqual(['unscheduled', 'pending', 'notready']);
  });

  it('returns every pod when asked for all of them', () => {
    const pods = [pod({ name: 'x' }), pod({ name: 'y' })];
    expect(podsToDelete(pods, pods, 5)).toHaveLength(2);
  });
});
