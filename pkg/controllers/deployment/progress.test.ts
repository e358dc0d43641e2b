// progress.test: upstream's TestSyncRolloutStatus / TestRequeueStuckDeployment / calculateStatus cases.
import type { DeploymentCondition } from 'kubernetes-types/apps/v1.js';
import { describe, expect, it } from 'vitest';
import { calculateStatus, pausedCondition, rolloutStatus, stuckRequeueMs } from './progress.ts';
import { cond, dep, rs, T0 } from './testdata.ts';
import { getCondition } from './util.ts';

const NOW = T0 + 3600_000;
/** an old condition time: long before NOW, so a 60 s deadline has passed */
const OLD = T0;

/** current is upstream's currentDeployment(pds, replicas, statusReplicas, updatedReplicas, availableReplicas, conditions). */
function current(pds: number | undefined, replicas: number, statusReplicas: number, updated: number, available: number, conditions: DeploymentCondition[]) {
  const d = dep(replicas, { surge: 0, unavailable: 0, pds });
  d.status = { observedGeneration: 1, replicas: statusReplicas, updatedReplicas: updated, availableReplicas: available, conditions };
  return d;
}

/** rsa is upstream's newRSWithAvailable(name, specReplicas, statusReplicas, availableReplicas). */
const rsa = (name: string, spec: number, status: number, available: number) => rs(name, spec, { statusReplicas: status, available });

describe('rolloutStatus (upstream TestSyncRolloutStatus)', () => {
  const updated = cond('Progressing', 'True', 'ReplicaSetUpdated', OLD);
  const timedOut = cond('Progressing', 'False', 'ProgressDeadlineExceeded', OLD);
  const cases: { name: string; d: ReturnType<typeof current>; all: ReturnType<typeof rsa>[]; newRS?: ReturnType<typeof rsa>; want?: [string, string]; transitionKept?: boolean; updateKept?: boolean }[] = [
    { name: 'no progress deadline: no Progressing condition', d: current(undefined, 3, 2, 2, 2, [updated]), all: [rsa('bar', 0, 1, 1)], newRS: rsa('foo', 3, 2, 2) },
    { name: 'progressing: lastTransitionTime kept when already True', d: current(60, 3, 2, 2, 2, [updated]), all: [rsa('bar', 0, 1, 1)], newRS: rsa('foo', 3, 2, 2), want: ['True', 'ReplicaSetUpdated'], transitionKept: true },
    { name: 'progressing: everything updated after Progressing=False', d: current(60, 3, 2, 2, 2, [timedOut]), all: [rsa('bar', 0, 1, 1)], newRS: rsa('foo', 3, 2, 2), want: ['True', 'ReplicaSetUpdated'] },
    { name: 'progressing: condition created', d: current(60, 3, 2, 2, 2, []), all: [rsa('bar', 0, 1, 1)], newRS: rsa('foo', 3, 2, 2), want: ['True', 'ReplicaSetUpdated'] },
    { name: 'complete: NewReplicaSetAvailable, transition kept', d: current(60, 3, 3, 3, 3, [updated]), all: [], newRS: rsa('foo', 3, 3, 3), want: ['True', 'NewReplicaSetAvailable'], transitionKept: true },
    { name: 'complete after Progressing=False', d: current(60, 3, 3, 3, 3, [timedOut]), all: [], newRS: rsa('foo', 3, 3, 3), want: ['True', 'NewReplicaSetAvailable'] },
    { name: 'complete: condition created', d: current(60, 3, 3, 3, 3, []), all: [], newRS: rsa('foo', 3, 3, 3), want: ['True', 'NewReplicaSetAvailable'] },
    { name: 'complete without a new set (0 replicas)', d: current(60, 0, 3, 3, 3, [updated]), all: [rsa('foo', 0, 0, 0)], want: ['True', 'NewReplicaSetAvailable'], transitionKept: true },
    { name: 'timed out past the deadline', d: current(60, 3, 2, 2, 2, [updated]), all: [], newRS: rsa('foo', 3, 2, 2), want: ['False', 'ProgressDeadlineExceeded'] },
    { name: 'already timed out: unchanged', d: current(60, 3, 2, 2, 2, [timedOut]), all: [], newRS: rsa('foo', 3, 2, 2), want: ['False', 'ProgressDeadlineExceeded'], transitionKept: true, updateKept: true },
  ];
  it.each(cases)('$name', (c) => {
    const all = c.newRS ? [...c.all, c.newRS] : c.all;
    const { status } = rolloutStatus(all, c.newRS, c.d, NOW);
    const p = getCondition(status, 'Progressing');
    if (!c.want) {
      expect(p).toBeUndefined();
      return;
    }
    expect([p?.status, p?.reason]).toEqual(c.want);
    const old = new Date(OLD).toISOString().replace(/\.\d+Z$/, 'Z');
    const now = new Date(NOW).toISOString().replace(/\.\d+Z$/, 'Z');
    expect(p?.lastTransitionTime).toBe(c.transitionKept ? old : now);
    expect(p?.lastUpdateTime).toBe(c.updateKept ? old : now);
  });
  it('messages name the new ReplicaSet', () => {
    const d = current(60, 3, 3, 3, 3, []);
    expect(getCondition(rolloutStatus([rsa('foo-abc', 3, 3, 3)], rsa('foo-abc', 3, 3, 3), d, NOW).status, 'Progressing')?.message).toBe('ReplicaSet "foo-abc" has successfully progressed.');
    const p = current(60, 3, 2, 2, 0, []);
    expect(getCondition(rolloutStatus([rsa('foo-abc', 3, 3, 1)], rsa('foo-abc', 3, 3, 1), p, NOW).status, 'Progressing')?.message).toBe('ReplicaSet "foo-abc" is progressing.');
  });
  it('mirrors a ReplicaFailure condition of the new set', () => {
    const newRS = rsa('foo', 3, 1, 1);
    newRS.status!.conditions = [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'quota', lastTransitionTime: '2024-01-01T00:00:00Z' }];
    const { status } = rolloutStatus([newRS], newRS, current(60, 3, 1, 1, 1, []), NOW);
    expect(getCondition(status, 'ReplicaFailure')?.reason).toBe('FailedCreate');
  });
});

describe('calculateStatus', () => {
  it('sums the sets and sets Available from replicas − maxUnavailable', () => {
    const d = dep(4, { surge: 1, unavailable: 1 });
    const oldRS = rs('old', 2, { available: 2, ready: 2 });
    const newRS = rs('new', 3, { statusReplicas: 3, available: 1, ready: 2 });
    const s = calculateStatus([oldRS, newRS], newRS, d, NOW);
    expect(s).toMatchObject({ observedGeneration: 1, replicas: 5, updatedReplicas: 3, readyReplicas: 4, availableReplicas: 3, unavailableReplicas: 2 });
    expect(getCondition(s, 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' });
    const low = calculateStatus([rs('old', 2, { available: 1 }), newRS], newRS, d, NOW);
    expect(getCondition(low, 'Available')).toMatchObject({ status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' });
  });
  it('omits zero counts but keeps collisionCount 0, and is stable when nothing changed', () => {
    const d = dep(0);
    d.status = { collisionCount: 0 };
    const s = calculateStatus([], undefined, d, NOW);
    expect(s.replicas).toBeUndefined();
    expect(s.collisionCount).toBe(0);
    d.status = s;
    expect(calculateStatus([], undefined, d, NOW + 5000)).toEqual(s);
  });
});

describe('stuckRequeueMs (upstream TestRequeueStuckDeployment)', () => {
  const pds = 600;
  it('no deadline or no condition: never', () => {
    expect(stuckRequeueMs(current(undefined, 3, 2, 2, 2, [cond('Progressing', 'True', 'ReplicaSetUpdated', NOW)]), {}, NOW)).toBeUndefined();
    expect(stuckRequeueMs(current(pds, 3, 2, 2, 2, []), {}, NOW)).toBeUndefined();
  });
  it('complete or timed out: never', () => {
    const d = current(pds, 3, 3, 3, 3, [cond('Progressing', 'True', 'ReplicaSetUpdated', NOW)]);
    expect(stuckRequeueMs(d, { observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }, NOW)).toBeUndefined();
    expect(stuckRequeueMs(current(pds, 3, 2, 2, 2, [cond('Progressing', 'False', 'ProgressDeadlineExceeded', NOW)]), {}, NOW)).toBeUndefined();
  });
  it('3 minutes into a 10 minute deadline: 7 minutes and a second', () => {
    const d = current(pds, 3, 2, 2, 2, [cond('Progressing', 'True', 'ReplicaSetUpdated', NOW - 180_000)]);
    expect(stuckRequeueMs(d, d.status!, NOW)).toBe(420_000 + 1000);
  });
  it('less than a second left: just after the deadline', () => {
    const d = current(pds, 3, 2, 2, 2, [cond('Progressing', 'True', 'ReplicaSetUpdated', NOW - 600_000)]);
    expect(stuckRequeueMs(d, d.status!, NOW)).toBe(50);
  });
});

describe('pausedCondition (upstream checkPausedConditions)', () => {
  it('pause and resume are recorded once; a timeout is kept', () => {
    const d = current(60, 3, 3, 3, 3, []);
    d.spec!.paused = true;
    expect(pausedCondition(d, NOW)).toMatchObject({ status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' });
    d.status!.conditions = [cond('Progressing', 'Unknown', 'DeploymentPaused', OLD)];
    expect(pausedCondition(d, NOW)).toBeUndefined();
    d.spec!.paused = false;
    expect(pausedCondition(d, NOW)).toMatchObject({ status: 'Unknown', reason: 'DeploymentResumed', message: 'Deployment is resumed' });
    d.status!.conditions = [cond('Progressing', 'False', 'ProgressDeadlineExceeded', OLD)];
    d.spec!.paused = true;
    expect(pausedCondition(d, NOW)).toBeUndefined();
  });
});
