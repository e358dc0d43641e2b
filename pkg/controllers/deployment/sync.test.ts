// sync.test: history clean-up (upstream TestDeploymentController_cleanupDeployment cases) and the legacy rollback and Recreate decisions.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { oldPodsRunning } from './recreate.ts';
import { getRollbackTo, planRollback } from './rollback.ts';
import { planCleanup } from './sync.ts';
import { dep, rs } from './testdata.ts';

describe('planCleanup (upstream cleanupDeployment)', () => {
  const empty = (name: string, revision: number) => rs(name, 0, { revision, at: revision });
  it('keeps revisionHistoryLimit old sets, deleting the lowest revisions first', () => {
    const d = dep(1, { history: 2 });
    const sets = [empty('r3', 3), empty('r1', 1), empty('r4', 4), empty('r2', 2)];
    expect(planCleanup(sets, d).map((r) => r.metadata!.name)).toEqual(['r1', 'r2']);
  });
  it('limit 0 deletes every empty old set', () => {
    expect(planCleanup([empty('a', 1), empty('b', 2)], dep(1, { history: 0 })).length).toBe(2);
  });
  it('never deletes sets with replicas, pods still reported, unobserved changes or a deletion under way', () => {
    const d = dep(1, { history: 0 });
    const scaled = rs('scaled', 1, { revision: 1 });
    const pods = rs('pods', 0, { revision: 2, statusReplicas: 1 });
    const unobserved = empty('unobserved', 3);
    (unobserved.metadata as { generation?: number }).generation = 2;
    const deleting = empty('deleting', 4);
    (deleting.metadata as { deletionTimestamp?: string }).deletionTimestamp = '2024-01-01T00:00:00Z';
    expect(planCleanup([scaled, pods, unobserved, deleting], d)).toEqual([]);
  });
  it('no limit: keeps everything', () => {
    const d = dep(1);
    delete d.spec!.revisionHistoryLimit;
    expect(planCleanup([empty('a', 1)], d)).toEqual([]);
  });
});

describe('oldPodsRunning (upstream TestOldPodsRunning)', () => {
  const pod = (phase: string): Pod => ({ metadata: { name: phase }, status: { phase } });
  const newRS = rs('new', 1);
  const oldRS = rs('old', 0, { statusReplicas: 0 });
  it('no pods: false', () => {
    expect(oldPodsRunning(newRS, [oldRS], new Map())).toBe(false);
  });
  it('pods of the new set do not count', () => {
    expect(oldPodsRunning(newRS, [oldRS], new Map([['new-uid', [pod('Running')]]]))).toBe(false);
  });
  it('an old set that still reports replicas counts', () => {
    expect(oldPodsRunning(newRS, [rs('old', 0, { statusReplicas: 1 })], new Map())).toBe(true);
  });
  it.each([
    ['Running', true],
    ['Pending', true],
    ['Unknown', true],
    ['Succeeded', false],
    ['Failed', false],
  ])('an old pod %s → %s', (phase, want) => {
    expect(oldPodsRunning(newRS, [oldRS], new Map([['old-uid', [pod(phase)]]]))).toBe(want);
  });
});

describe('legacy rollback', () => {
  it('reads the deprecated rollbackTo annotation', () => {
    const d = dep(1);
    expect(getRollbackTo(d)).toBeUndefined();
    d.metadata!.annotations!['deprecated.deployment.rollback.to'] = '0';
    expect(getRollbackTo(d)).toBe(0);
  });
  it('revision 0 means the last one; a missing revision is a warning', () => {
    const sets = [rs('a', 0, { revision: 1 }), rs('b', 1, { revision: 3 }), rs('c', 0, { revision: 2 })];
    expect(planRollback(0, sets)).toMatchObject({ revision: 2, rs: { metadata: { name: 'c' } } });
    expect(planRollback(1, sets)).toMatchObject({ revision: 1, rs: { metadata: { name: 'a' } } });
    expect(planRollback(9, sets)).toEqual({ reason: 'DeploymentRollbackRevisionNotFound', warning: 'Unable to find the revision to rollback to.' });
    expect(planRollback(0, [rs('b', 1, { revision: 3 })])).toEqual({ reason: 'DeploymentRollbackRevisionNotFound', warning: 'Unable to find last revision.' });
  });
});
