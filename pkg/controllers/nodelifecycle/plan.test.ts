// plan.test: table tests of the node lifecycle decisions — silence → Unknown, condition taints, tolerations and eviction times.
import type { Node, Pod, Taint } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { toleratesTaint as tolerates } from '../../api/tolerations.ts';
import { evictionFor, notReadyStatus, observe, reconcileTaints, silentConditions, wantedTaints, TAINT, UNKNOWN_MESSAGE } from './plan.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function node(ready: string | undefined, extra: Partial<Node> = {}): Node {
  const conds = ['MemoryPressure', 'DiskPressure', 'PIDPressure'].map((type) => ({ type, status: 'False', reason: 'x', lastHeartbeatTime: iso(T0), lastTransitionTime: iso(T0) }));
  if (ready) conds.push({ type: 'Ready', status: ready, reason: 'KubeletReady', lastHeartbeatTime: iso(T0), lastTransitionTime: iso(T0) });
  return { metadata: { name: 'n1', creationTimestamp: iso(T0) }, spec: {}, status: { conditions: conds }, ...extra };
}

describe('observe + silentConditions', () => {
  it('counts a renewed lease or a new heartbeat as contact, nothing else', () => {
    const n = node('True');
    const p0 = observe(undefined, n, { spec: { renewTime: 'a' } }, T0);
    expect(p0.probedAt).toBe(T0);
    expect(observe(p0, n, { spec: { renewTime: 'a' } }, T0 + 5000)).toBe(p0);
    expect(observe(p0, n, { spec: { renewTime: 'b' } }, T0 + 5000).probedAt).toBe(T0 + 5000);
    const beat = node('True');
    beat.status!.conditions!.find((c) => c.type === 'Ready')!.lastHeartbeatTime = iso(T0 + 4000);
    expect(observe(p0, beat, { spec: { renewTime: 'a' } }, T0 + 6000).probedAt).toBe(T0 + 6000);
  });

  it.each([
    { name: 'within grace: no change', silentMs: 20_000, ready: 'True', changes: false },
    { name: 'past grace: Ready and pressures Unknown', silentMs: 20_001, ready: 'True', changes: true },
    { name: 'already Unknown: no write', silentMs: 60_000, ready: 'Unknown', changes: false },
  ])('$name', ({ silentMs, ready, changes }) => {
    const n = node(ready);
    if (ready === 'Unknown') for (const c of n.status!.conditions!) c.status = 'Unknown';
    const out = silentConditions(n, { probedAt: T0 }, T0 + silentMs, 20_000);
    if (!changes) return expect(out).toBeUndefined();
    expect(out!.map((c) => [c.type, c.status])).toEqual([
      ['MemoryPressure', 'Unknown'],
      ['DiskPressure', 'Unknown'],
      ['PIDPressure', 'Unknown'],
      ['Ready', 'Unknown'],
    ]);
    const r = out!.find((c) => c.type === 'Ready')!;
    expect(r).toMatchObject({ reason: 'NodeStatusUnknown', message: UNKNOWN_MESSAGE, lastHeartbeatTime: iso(T0), lastTransitionTime: iso(T0 + silentMs) });
    expect(n.status!.conditions!.find((c) => c.type === 'Ready')!.status).toBe('True'); // input untouched
  });

  it('adds NodeStatusNeverUpdated conditions to a node that never posted any', () => {
    const n: Node = { metadata: { name: 'n1', creationTimestamp: iso(T0) } };
    const out = silentConditions(n, { probedAt: T0 }, T0 + 30_000, 20_000)!;
    expect(out.find((c) => c.type === 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.' });
  });
});

describe('wantedTaints + reconcileTaints', () => {
  const keys = (ts: Taint[] | undefined) => (ts ?? []).map((t) => `${t.key}:${t.effect}`).sort();
  it.each([
    { ready: 'True', want: [] },
    { ready: 'False', want: [`${TAINT.notReady}:NoExecute`, `${TAINT.notReady}:NoSchedule`] },
    { ready: 'Unknown', want: [`${TAINT.unreachable}:NoExecute`, `${TAINT.unreachable}:NoSchedule`] },
    { ready: undefined, want: [] },
  ])('Ready=$ready → $want', ({ ready, want }) => {
    expect(keys(wantedTaints(node(ready)))).toEqual(want);
  });

  it('adds pressure and unschedulable NoSchedule taints', () => {
    const n = node('True', { spec: { unschedulable: true } });
    n.status!.conditions!.find((c) => c.type === 'DiskPressure')!.status = 'True';
    expect(keys(wantedTaints(n))).toEqual([`${TAINT.diskPressure}:NoSchedule`, `${TAINT.unschedulable}:NoSchedule`]);
  });

  it('stamps new NoExecute taints, keeps times and foreign taints, swaps not-ready for unreachable', () => {
    const foreign: Taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
    const notReady: Taint = { key: TAINT.notReady, effect: 'NoExecute', timeAdded: iso(T0) };
    const out = reconcileTaints([foreign, notReady], wantedTaints(node('Unknown')), T0 + 9000)!;
    expect(out).toEqual([foreign, { key: TAINT.unreachable, effect: 'NoSchedule' }, { key: TAINT.unreachable, effect: 'NoExecute', timeAdded: iso(T0 + 9000) }]);
    expect(reconcileTaints(out, wantedTaints(node('Unknown')), T0 + 20_000)).toBeUndefined();
    expect(reconcileTaints(out, wantedTaints(node('True')), T0 + 30_000)).toEqual([foreign]);
    expect(reconcileTaints(undefined, [], T0)).toBeUndefined();
  });
});

describe('tolerates', () => {
  const taint: Taint = { key: 'k', value: 'v', effect: 'NoExecute' };
  it.each([
    [{ key: 'k', operator: 'Equal', value: 'v', effect: 'NoExecute' }, true],
    [{ key: 'k', value: 'v' }, true],
    [{ key: 'k', value: 'w' }, false],
    [{ key: 'k', operator: 'Exists' }, true],
    [{ operator: 'Exists' }, true],
    // upstream's ToleratesTaint: an empty key matches any key, then Equal compares values (validation rejects it)
    [{ key: '', value: 'v' }, true],
    [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }, false],
    [{ key: 'other', operator: 'Exists' }, false],
  ])('%j → %s', (t, want) => expect(tolerates(t, taint)).toBe(want));
});

describe('evictionFor', () => {
  const unreachable = { taint: { key: TAINT.unreachable, effect: 'NoExecute' }, since: T0 };
  const pod = (tolerations: NonNullable<Pod['spec']>['tolerations'], deleting = false): Pod => ({
    metadata: { name: 'p', namespace: 'default', ...(deleting ? { deletionTimestamp: iso(T0) } : {}) },
    spec: { containers: [], tolerations },
  });
  const defaults = [
    { key: TAINT.notReady, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
    { key: TAINT.unreachable, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
  ];
  it.each([
    { name: 'no toleration: delete now', tol: [], now: T0, want: { action: 'delete' } },
    { name: 'default 30 s, 10 s in: wait 20 s', tol: defaults, now: T0 + 10_000, want: { action: 'wait', ms: 20_000 } },
    { name: 'default 30 s, 30 s in: delete', tol: defaults, now: T0 + 30_000, want: { action: 'delete' } },
    { name: 'tolerated forever: stay', tol: [{ key: TAINT.unreachable, operator: 'Exists' }], now: T0 + 999_999, want: { action: 'none' } },
    { name: 'negative seconds count as 0', tol: [{ operator: 'Exists', tolerationSeconds: -5 }], now: T0, want: { action: 'delete' } },
    { name: 'only a NoSchedule toleration: delete', tol: [{ key: TAINT.unreachable, operator: 'Exists', effect: 'NoSchedule' }], now: T0, want: { action: 'delete' } },
  ])('$name', ({ tol, now, want }) => {
    expect(evictionFor(pod(tol), [unreachable], now)).toMatchObject(want);
  });

  it('uses the earliest deadline over several taints and skips terminating pods', () => {
    const other = { taint: { key: 'maintenance', effect: 'NoExecute' }, since: T0 + 5000 };
    const tol = [...defaults, { key: 'maintenance', operator: 'Exists', tolerationSeconds: 5 }];
    expect(evictionFor(pod(tol), [unreachable, other], T0)).toEqual({ action: 'wait', ms: 10_000 });
    expect(evictionFor(pod([], true), [unreachable], T0)).toEqual({ action: 'none' });
    expect(evictionFor(pod([]), [{ taint: { key: 'x', effect: 'NoSchedule' }, since: T0 }], T0)).toEqual({ action: 'none' });
  });
});

describe('notReadyStatus', () => {
  it('sets a True Ready condition False and leaves others', () => {
    const p: Pod = { metadata: {}, status: { phase: 'Running', conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True', lastTransitionTime: iso(T0) }] } };
    const s = notReadyStatus(p, T0 + 1000)!;
    expect(s.phase).toBe('Running');
    expect(s.conditions).toEqual([{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False', lastTransitionTime: iso(T0 + 1000) }]);
    expect(notReadyStatus({ metadata: {}, status: { conditions: [{ type: 'Ready', status: 'False' }] } }, T0)).toBeUndefined();
    expect(notReadyStatus({ metadata: {} }, T0)).toBeUndefined();
  });
});
