// rolling.test: upstream's rolling_test.go tables — reconcileNewReplicaSet, reconcileOldReplicaSets, cleanupUnhealthyReplicas, scaleDownOldReplicaSetsForRollingUpdate.
import { describe, expect, it } from 'vitest';
import { cleanupUnhealthyReplicas, planNewReplicaSet, planOldReplicaSets, scaleDownOldForRollingUpdate } from './rolling.ts';
import { dep, rs } from './testdata.ts';

describe('planNewReplicaSet (upstream TestDeploymentController_reconcileNewReplicaSet)', () => {
  // [deploymentReplicas, maxSurge, oldReplicas, newReplicas, expected (undefined = no scaling)]
  const cases: [number, number, number, number, number | undefined][] = [
    [10, 0, 10, 0, undefined],
    [10, 2, 10, 0, 2],
    [10, 2, 5, 0, 7],
    [10, 2, 10, 2, undefined],
    [10, 2, 2, 11, 10],
  ];
  it.each(cases)('replicas %i surge %i old %i new %i → %s', (replicas, surge, oldN, newN, want) => {
    const d = dep(replicas, { surge, unavailable: 0 });
    const newRS = rs('foo-v2', newN, { at: 2 });
    const oldRS = rs('foo-v1', oldN, { at: 1 });
    expect(planNewReplicaSet(d, [newRS, oldRS], newRS)).toBe(want);
  });
});

describe('planOldReplicaSets (upstream TestDeploymentController_reconcileOldReplicaSets)', () => {
  // [deploymentReplicas, maxUnavailable, oldReplicas, newReplicas, availableOld, availableNew, expected old size (undefined = no scaling)]
  const cases: [string, number, number, number, number, number, number, number | undefined][] = [
    ['scale down by the fencepost of 1', 10, 0, 10, 0, 10, 0, 9],
    ['scale down by maxUnavailable', 10, 2, 10, 0, 10, 0, 8],
    ['unhealthy old replicas are cleaned up', 10, 2, 10, 0, 8, 0, 8],
    ['1 unhealthy cleaned up and 1 ready scaled down', 10, 2, 10, 0, 9, 0, 8],
    ['unavailable new pods block further scale down', 10, 2, 8, 2, 8, 0, undefined],
  ];
  it.each(cases)('%s', (_n, replicas, unavailable, oldN, newN, availOld, availNew, want) => {
    const d = dep(replicas, { surge: 0, unavailable });
    const oldRS = rs('foo-old', oldN, { at: 1, available: availOld });
    const newRS = rs('foo-new', newN, { at: 2, available: availNew });
    const ops = planOldReplicaSets(d, [oldRS, newRS], [oldRS], newRS);
    expect(ops.length ? ops[ops.length - 1].to : undefined).toBe(want);
  });
  it('never scales below minAvailable while the new set is unavailable', () => {
    // replicas 4, 25 %/25 %: surge 1, unavailable 1 → min available 3
    const d = dep(4, { surge: '25%', unavailable: '25%' });
    const oldRS = rs('old', 4, { at: 1, available: 4 });
    const newRS = rs('new', 1, { at: 2, available: 0 });
    expect(planOldReplicaSets(d, [oldRS, newRS], [oldRS], newRS).map((o) => o.to)).toEqual([3]);
    const afterScale = rs('old', 3, { at: 1, available: 3 });
    expect(planOldReplicaSets(d, [afterScale, newRS], [afterScale], newRS)).toEqual([]);
  });
});

describe('cleanupUnhealthyReplicas (upstream TestDeploymentController_cleanupUnhealthyReplicas)', () => {
  // [oldReplicas, available, maxCleanup, expected count]
  const cases: [number, number, number, number][] = [
    [10, 8, 1, 1],
    [10, 8, 3, 2],
    [10, 8, 0, 0],
    [10, 10, 3, 0],
  ];
  it.each(cases)('old %i available %i max %i → %i', (oldN, available, max, want) => {
    const r = cleanupUnhealthyReplicas([rs('foo-v2', oldN, { available })], max);
    expect(r.count).toBe(want);
    expect(r.oldRSs[0].spec!.replicas).toBe(oldN - want);
  });
  it('goes oldest first', () => {
    const r = cleanupUnhealthyReplicas([rs('b', 2, { at: 2, available: 0 }), rs('a', 2, { at: 1, available: 0 })], 3);
    expect(r.ops.map((o) => [o.rs.metadata!.name, o.to])).toEqual([['a', 0], ['b', 1]]);
  });
});

describe('scaleDownOldForRollingUpdate (upstream TestDeploymentController_scaleDownOldReplicaSetsForRollingUpdate)', () => {
  // [deploymentReplicas, maxUnavailable, available, oldReplicas, expected (undefined = no scaling)]
  const cases: [number, number, number, number, number | undefined][] = [
    [10, 0, 10, 10, 9],
    [10, 2, 10, 10, 8],
    [10, 2, 8, 10, undefined],
    [10, 2, 10, 0, undefined],
    [10, 2, 1, 10, undefined],
  ];
  it.each(cases)('replicas %i maxUnavailable %i available %i old %i → %s', (replicas, unavailable, available, oldN, want) => {
    const d = dep(replicas, { surge: 0, unavailable });
    const oldRS = rs('foo-v2', oldN, { available });
    const r = scaleDownOldForRollingUpdate(d, [oldRS], [oldRS]);
    expect(r.ops.length ? r.ops[0].to : undefined).toBe(want);
  });
});
