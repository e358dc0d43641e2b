// util.test: upstream's table cases for the Deployment arithmetic — fenceposts, NewRSNewReplicas, proportional scaling, hashes, revisions.
import { describe, expect, it } from 'vitest';
import { annotated, dep, rs } from './testdata.ts';
import {
  computeHash,
  equalIgnoreHash,
  findNewReplicaSet,
  findOldReplicaSets,
  getProportion,
  lastRevision,
  maxRevision,
  maxSurge,
  maxUnavailable,
  newRSNewReplicas,
  planScale,
  resolveFenceposts,
  scaledValue,
  setNewReplicaSetAnnotations,
} from './util.ts';

describe('resolveFenceposts (upstream TestResolveFenceposts)', () => {
  const cases: [string | number | undefined, string | number | undefined, number, number, number][] = [
    ['0%', '0%', 0, 0, 1],
    ['39%', '39%', 10, 4, 3],
    [undefined, '39%', 10, 0, 3],
    ['39%', undefined, 10, 4, 0],
    [undefined, undefined, 10, 0, 1],
    ['25%', '25%', 4, 1, 1],
    ['25%', '25%', 10, 3, 2],
    [1, 0, 3, 1, 0],
    ['0%', '1%', 2, 0, 1],
  ];
  it.each(cases)('surge %s unavailable %s of %i → (%i, %i)', (s, u, desired, es, eu) => {
    expect(resolveFenceposts(s, u, desired)).toEqual({ surge: es, unavailable: eu });
  });
  it('rejects strings that are not percentages', () => {
    expect(() => resolveFenceposts('oops', '39%', 10)).toThrow(/not a percentage/);
    expect(() => resolveFenceposts('55%', 'urg', 10)).toThrow(/not a percentage/);
  });
  it('rounds surge up and unavailable down', () => {
    expect(scaledValue('25%', 5, true)).toBe(2);
    expect(scaledValue('25%', 5, false)).toBe(1);
  });
  it('maxUnavailable never exceeds replicas and is 0 for Recreate or 0 replicas', () => {
    expect(maxUnavailable(dep(2, { unavailable: 5 }))).toBe(2);
    expect(maxUnavailable(dep(0, { unavailable: 5 }))).toBe(0);
    expect(maxUnavailable(dep(4, { recreate: true }))).toBe(0);
    expect(maxSurge(dep(4, { recreate: true }))).toBe(0);
  });
});

describe('newRSNewReplicas (upstream TestNewRSNewReplicas)', () => {
  // allRSs holds only an old set of 5, as upstream's test does
  const cases: [string, boolean, number, number, number, number][] = [
    ['can not scale up - to newRSReplicas', false, 1, 5, 1, 5],
    ['scale up - to depReplicas', false, 6, 2, 10, 6],
    ['recreate - to depReplicas', true, 3, 1, 1, 3],
  ];
  it.each(cases)('%s', (_name, recreate, depReplicas, newReplicas, surge, expected) => {
    const d = dep(depReplicas, { surge, unavailable: 1, recreate });
    expect(newRSNewReplicas(d, [rs('rs5', 5)], rs('new', newReplicas))).toBe(expected);
  });
});

describe('planScale (upstream TestScale)', () => {
  // each set carries the replica annotations of the Deployment before the change (old replicas, old surge)
  const cases: { name: string; d: ReturnType<typeof dep>; old: number; oldSurge?: number; newRS?: [string, number, number]; oldRSs: [string, number, number][]; want: Record<string, number> }[] = [
    { name: 'normal scaling event: 10 -> 12', d: dep(12), old: 10, newRS: ['foo-v1', 10, 2], oldRSs: [], want: { 'foo-v1': 12 } },
    { name: 'normal scaling event: 10 -> 5', d: dep(5), old: 10, newRS: ['foo-v1', 10, 2], oldRSs: [], want: { 'foo-v1': 5 } },
    { name: 'proportional scaling: 5 -> 10', d: dep(10), old: 5, newRS: ['foo-v2', 2, 2], oldRSs: [['foo-v1', 3, 1]], want: { 'foo-v2': 4, 'foo-v1': 6 } },
    { name: 'proportional scaling: 5 -> 3', d: dep(3), old: 5, newRS: ['foo-v2', 2, 2], oldRSs: [['foo-v1', 3, 1]], want: { 'foo-v2': 1, 'foo-v1': 2 } },
    { name: 'proportional scaling: 9 -> 4', d: dep(4), old: 9, newRS: ['foo-v2', 8, 2], oldRSs: [['foo-v1', 1, 1]], want: { 'foo-v2': 4, 'foo-v1': 0 } },
    { name: 'proportional scaling: 7 -> 10', d: dep(10), old: 7, newRS: ['foo-v3', 2, 3], oldRSs: [['foo-v2', 3, 2], ['foo-v1', 2, 1]], want: { 'foo-v3': 3, 'foo-v2': 4, 'foo-v1': 3 } },
    { name: 'proportional scaling: 13 -> 8', d: dep(8), old: 13, newRS: ['foo-v3', 2, 3], oldRSs: [['foo-v2', 8, 2], ['foo-v1', 3, 1]], want: { 'foo-v3': 1, 'foo-v2': 5, 'foo-v1': 2 } },
    { name: 'leftover distribution: 3 -> 4', d: dep(4), old: 3, newRS: ['foo-v3', 1, 3], oldRSs: [['foo-v2', 1, 2], ['foo-v1', 1, 1]], want: { 'foo-v3': 2, 'foo-v2': 1, 'foo-v1': 1 } },
    { name: 'leftover distribution: 3 -> 2', d: dep(2), old: 3, newRS: ['foo-v3', 1, 3], oldRSs: [['foo-v2', 1, 2], ['foo-v1', 1, 1]], want: { 'foo-v3': 1, 'foo-v2': 1, 'foo-v1': 0 } },
    { name: 'proportional scaling (no new rs): 4 -> 5', d: dep(5), old: 4, oldRSs: [['foo-v2', 2, 2], ['foo-v1', 2, 1]], want: { 'foo-v2': 3, 'foo-v1': 2 } },
    { name: 'proportional scaling: 6 -> 0', d: dep(0), old: 6, newRS: ['foo-v3', 3, 3], oldRSs: [['foo-v2', 2, 2], ['foo-v1', 1, 1]], want: { 'foo-v3': 0, 'foo-v2': 0, 'foo-v1': 0 } },
    { name: 'proportional scaling: 0 -> 6', d: dep(6), old: 6, newRS: ['foo-v3', 0, 3], oldRSs: [['foo-v2', 0, 2], ['foo-v1', 0, 1]], want: { 'foo-v3': 6 } },
    { name: 'deployment with surge pods', d: dep(20, { surge: 2 }), old: 10, oldSurge: 2, newRS: ['foo-v2', 6, 2], oldRSs: [['foo-v1', 6, 1]], want: { 'foo-v2': 11, 'foo-v1': 11 } },
    { name: 'change both surge and size', d: dep(50, { surge: 6 }), old: 10, oldSurge: 3, newRS: ['foo-v2', 5, 2], oldRSs: [['foo-v1', 8, 1]], want: { 'foo-v2': 22, 'foo-v1': 34 } },
  ];
  it.each(cases)('$name', (c) => {
    const mk = ([name, n, at]: [string, number, number]) => annotated(rs(name, n, { at }), c.old, c.oldSurge ?? 0);
    const ops = planScale(c.d, c.newRS && mk(c.newRS), c.oldRSs.map(mk));
    const sizes = Object.fromEntries(ops.filter((o) => o.to !== o.rs.spec!.replicas || c.want[o.rs.metadata!.name!] !== undefined).map((o) => [o.rs.metadata!.name!, o.to]));
    for (const [name, n] of Object.entries(c.want)) {
      const before = [c.newRS, ...c.oldRSs].find((x) => x?.[0] === name)![1];
      expect(sizes[name] ?? before, name).toBe(n);
    }
  });
  it('saturated but broken new replica set does not affect old pods', () => {
    const d = dep(2, { surge: 1, unavailable: 1 });
    const newRS = annotated(rs('foo-v2', 2, { at: 2, available: 0 }), 2, 1);
    const old = annotated(rs('foo-v1', 1, { at: 1 }), 2, 1);
    // not saturated (nothing available): proportional scaling with nothing to add leaves both as they are
    expect(planScale(d, newRS, [old]).filter((o) => o.to !== o.rs.spec!.replicas)).toEqual([]);
  });
  it('a saturated, available new set sends the old sets to 0', () => {
    const d = dep(2, { surge: 1, unavailable: 1 });
    const newRS = annotated(rs('foo-v2', 2, { at: 2 }), 2, 1);
    const old = annotated(rs('foo-v1', 1, { at: 1 }), 2, 1);
    expect(planScale(d, newRS, [old]).map((o) => [o.rs.metadata!.name, o.to])).toEqual([['foo-v1', 0]]);
  });
});

describe('getProportion', () => {
  it('never adds more than what is left', () => {
    const d = dep(10);
    const r = annotated(rs('a', 5), 5);
    expect(getProportion(r, d, 5, 0)).toBe(5);
    expect(getProportion(r, d, 5, 4)).toBe(1);
    expect(getProportion(r, d, 0, 0)).toBe(0);
    expect(getProportion(undefined, d, 5, 0)).toBe(0);
  });
  it('never removes more than what is left', () => {
    const d = dep(2);
    const r = annotated(rs('a', 5), 10);
    expect(getProportion(r, d, -8, 0)).toBe(-4); // round(5·2/10) − 5 = −4
    expect(getProportion(r, d, -8, -6)).toBe(-2);
  });
});

describe('computeHash', () => {
  const t = dep(1).spec!.template;
  it('is a short safe string, stable for equal templates whatever the key order', () => {
    const h = computeHash(t);
    expect(h).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    const reordered = { spec: t.spec, metadata: t.metadata };
    expect(computeHash(reordered)).toBe(h);
  });
  it('changes with the template and with collisionCount (0 differs from none)', () => {
    const h = computeHash(t);
    expect(computeHash(dep(1, { image: 'img:2' }).spec!.template)).not.toBe(h);
    expect(computeHash(t, 0)).not.toBe(h);
    expect(computeHash(t, 1)).not.toBe(computeHash(t, 0));
  });
});

describe('templates and revisions', () => {
  it('equalIgnoreHash ignores pod-template-hash and empty values', () => {
    const d = dep(1);
    const r = rs('x', 1);
    expect(equalIgnoreHash(d.spec!.template, r.spec!.template)).toBe(true);
    const withEmpty = structuredClone(d.spec!.template);
    withEmpty.metadata!.annotations = {};
    expect(equalIgnoreHash(withEmpty, r.spec!.template)).toBe(true);
    expect(equalIgnoreHash(dep(1, { image: 'img:2' }).spec!.template, r.spec!.template)).toBe(false);
  });
  it('findNewReplicaSet picks the oldest set with the template; the rest are old', () => {
    const d = dep(3);
    const a = rs('a', 1, { at: 5 });
    const b = rs('b', 1, { at: 1 });
    const c = rs('c', 0, { at: 0, image: 'img:0' });
    const e = rs('e', 2, { at: 0, image: 'img:0' });
    expect(findNewReplicaSet(d, [a, b, c])?.metadata?.name).toBe('b');
    const old = findOldReplicaSets(d, [a, b, c, e]);
    expect(old.all.map((x) => x.metadata!.name)).toEqual(['a', 'c', 'e']);
    expect(old.withReplicas.map((x) => x.metadata!.name)).toEqual(['a', 'e']);
  });
  it('maxRevision and lastRevision', () => {
    const sets = [rs('a', 0, { revision: 1 }), rs('b', 0, { revision: 4 }), rs('c', 0, { revision: 2 })];
    expect(maxRevision(sets)).toBe(4);
    expect(lastRevision(sets)).toBe(2);
    expect(lastRevision([rs('a', 0, { revision: 3 })])).toBe(0);
  });
  it('setNewReplicaSetAnnotations copies change-cause, sets revision and replica annotations on a new set', () => {
    const d = dep(4, { surge: 1 });
    d.metadata!.annotations = { 'kubernetes.io/change-cause': 'v2', 'deployment.kubernetes.io/revision': '1', 'kubectl.kubernetes.io/last-applied-configuration': '{}' };
    const r = rs('n', 0);
    expect(setNewReplicaSetAnnotations(d, r, '2', false)).toBe(true);
    expect(r.metadata!.annotations).toEqual({
      'kubernetes.io/change-cause': 'v2',
      'deployment.kubernetes.io/revision': '2',
      'deployment.kubernetes.io/desired-replicas': '4',
      'deployment.kubernetes.io/max-replicas': '5',
    });
    expect(setNewReplicaSetAnnotations(d, r, '2', true)).toBe(false);
  });
  it('re-using an old set (rollback) moves its old revision into revision-history', () => {
    const d = dep(1);
    const r = rs('old', 1, { revision: 1 });
    setNewReplicaSetAnnotations(d, r, '3', true);
    expect(r.metadata!.annotations!['deployment.kubernetes.io/revision']).toBe('3');
    expect(r.metadata!.annotations!['deployment.kubernetes.io/revision-history']).toBe('1');
    setNewReplicaSetAnnotations(d, r, '5', true);
    expect(r.metadata!.annotations!['deployment.kubernetes.io/revision-history']).toBe('1,3');
    // a lower revision never lowers the set's
    expect(setNewReplicaSetAnnotations(d, r, '4', true)).toBe(false);
  });
  it('revision-history is bounded in characters, dropping the oldest', () => {
    const d = dep(1);
    const r = rs('old', 1, { revision: 10 });
    r.metadata!.annotations!['deployment.kubernetes.io/revision-history'] = '1,2,3';
    setNewReplicaSetAnnotations(d, r, '11', true, 7);
    expect(r.metadata!.annotations!['deployment.kubernetes.io/revision-history']).toBe('2,3,10');
  });
});
