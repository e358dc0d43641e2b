// plan.test: table tests of the garbage collector's decisions for dependents and for owners being deleted.
import { describe, expect, it } from 'vitest';
import type { KubeObject, OwnerReference } from '../../api/types.ts';
import { ownerStateOf, planDependent, planOwner, withoutFinalizer, withoutReferencesTo, type OwnerState } from './plan.ts';

const ref = (uid: string, extra: Partial<OwnerReference> = {}): OwnerReference => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${uid}`, uid, ...extra });
const obj = (uid: string, meta: Partial<KubeObject['metadata']> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `o-${uid}`, namespace: 'default', uid, ...meta } });
const deleting = '2024-01-01T00:00:00Z';

describe('ownerStateOf', () => {
  const cases: [string, KubeObject | undefined, OwnerState][] = [
    ['not found', undefined, 'dangling'],
    ['recreated under the same name (other uid)', obj('other'), 'dangling'],
    ['live', obj('a'), 'solid'],
    ['being deleted in the background', obj('a', { deletionTimestamp: deleting }), 'solid'],
    ['being deleted with orphan', obj('a', { deletionTimestamp: deleting, finalizers: ['orphan'] }), 'solid'],
    ['foreground deletion', obj('a', { deletionTimestamp: deleting, finalizers: ['foregroundDeletion'] }), 'waiting'],
  ];
  it.each(cases)('%s', (_n, owner, want) => expect(ownerStateOf(ref('a'), owner)).toBe(want));
});

describe('planDependent', () => {
  const cases: [string, KubeObject, [OwnerReference, OwnerState][], boolean, ReturnType<typeof planDependent>][] = [
    ['no owners', obj('d'), [], false, { action: 'none' }],
    ['solid owner', obj('d', { ownerReferences: [ref('a')] }), [[ref('a'), 'solid']], false, { action: 'none' }],
    ['owner gone → background delete', obj('d', { ownerReferences: [ref('a')] }), [[ref('a'), 'dangling']], false, { action: 'delete', propagationPolicy: 'Background' }],
    ['every owner gone', obj('d', { ownerReferences: [ref('a'), ref('b')] }), [[ref('a'), 'dangling'], [ref('b'), 'dangling']], true, { action: 'delete', propagationPolicy: 'Background' }],
    [
      'one owner gone, another live → only the dead reference goes',
      obj('d', { ownerReferences: [ref('a'), ref('b')] }),
      [[ref('a'), 'dangling'], [ref('b'), 'solid']],
      false,
      { action: 'patchOwners', ownerReferences: [ref('b')] },
    ],
    [
      'live owner and a waiting one → unblock the waiting reference',
      obj('d', { ownerReferences: [ref('a', { blockOwnerDeletion: true }), ref('b')] }),
      [[ref('a', { blockOwnerDeletion: true }), 'waiting'], [ref('b'), 'solid']],
      false,
      { action: 'patchOwners', ownerReferences: [ref('a', { blockOwnerDeletion: false }), ref('b')] },
    ],
    [
      'live owner and a waiting one not blocking → nothing to write',
      obj('d', { ownerReferences: [ref('a'), ref('b')] }),
      [[ref('a'), 'waiting'], [ref('b'), 'solid']],
      false,
      { action: 'none' },
    ],
    ['owner waiting, no grandchildren → background delete', obj('d', { ownerReferences: [ref('a', { blockOwnerDeletion: true })] }), [[ref('a', { blockOwnerDeletion: true }), 'waiting']], false, { action: 'delete', propagationPolicy: 'Background' }],
    ['owner waiting, with grandchildren → foreground delete', obj('d', { ownerReferences: [ref('a')] }), [[ref('a'), 'waiting']], true, { action: 'delete', propagationPolicy: 'Foreground' }],
    ['owner gone, own orphan finalizer → orphan delete', obj('d', { ownerReferences: [ref('a')], finalizers: ['orphan'] }), [[ref('a'), 'dangling']], false, { action: 'delete', propagationPolicy: 'Orphan' }],
    ['unresolvable owner → never guessed', obj('d', { ownerReferences: [ref('a'), ref('b')] }), [[ref('a'), 'dangling'], [ref('b'), 'unresolvable']], false, { action: 'none' }],
    ['already being deleted', obj('d', { ownerReferences: [ref('a')], deletionTimestamp: deleting }), [[ref('a'), 'dangling']], false, { action: 'none' }],
  ];
  it.each(cases)('%s', (_n, item, verdicts, hasDeps, want) => {
    expect(planDependent(item, verdicts.map(([r, state]) => ({ ref: r, state })), hasDeps)).toEqual(want);
  });
});

describe('planOwner', () => {
  const owner = (finalizers: string[]) => obj('own', { finalizers, deletionTimestamp: deleting });
  const dep = (name: string, refs: OwnerReference[], meta: Partial<KubeObject['metadata']> = {}) => obj(name, { ownerReferences: refs, ...meta });
  const blocking = dep('p1', [ref('own', { blockOwnerDeletion: true })]);
  const nonBlocking = dep('p2', [ref('own')]);
  const other = dep('p3', [ref('zzz', { blockOwnerDeletion: true })]);
  const deletingItsOwn = dep('p4', [ref('own', { blockOwnerDeletion: true })], { deletionTimestamp: deleting, finalizers: ['foregroundDeletion'] });

  it('does nothing for an owner not being deleted', () => {
    expect(planOwner(obj('own', { finalizers: ['orphan'] }), [blocking])).toEqual({ action: 'none' });
  });
  it('does nothing for an owner without GC finalizers', () => {
    expect(planOwner(owner(['example.com/x']), [blocking])).toEqual({ action: 'none' });
  });
  it('orphans every dependent first, then drops the finalizer', () => {
    expect(planOwner(owner(['orphan']), [blocking, nonBlocking, other])).toEqual({ action: 'orphan', dependents: [blocking, nonBlocking] });
    expect(planOwner(owner(['orphan']), [other])).toEqual({ action: 'removeFinalizer', finalizer: 'orphan' });
  });
  it('foreground: deletes dependents and waits for the blocking ones', () => {
    expect(planOwner(owner(['foregroundDeletion']), [blocking, nonBlocking, deletingItsOwn])).toEqual({
      action: 'deleteDependents',
      dependents: [blocking, nonBlocking],
      blocking: [blocking, deletingItsOwn],
    });
  });
  it('foreground: a dependent being deleted still blocks until it is gone', () => {
    const going = dep('p5', [ref('own', { blockOwnerDeletion: true })], { deletionTimestamp: deleting });
    expect(planOwner(owner(['foregroundDeletion']), [going])).toMatchObject({ action: 'deleteDependents', blocking: [going] });
  });
  it('foreground: no blocking dependent left → finalizer removed (non-blocking ones are not waited for)', () => {
    expect(planOwner(owner(['foregroundDeletion']), [nonBlocking, other])).toEqual({ action: 'removeFinalizer', finalizer: 'foregroundDeletion' });
    expect(planOwner(owner(['foregroundDeletion']), [])).toEqual({ action: 'removeFinalizer', finalizer: 'foregroundDeletion' });
  });
  it('orphan is processed before foreground', () => {
    expect(planOwner(owner(['foregroundDeletion', 'orphan']), [])).toEqual({ action: 'removeFinalizer', finalizer: 'orphan' });
  });
});

describe('helpers', () => {
  it('withoutReferencesTo and withoutFinalizer drop the field when nothing is left', () => {
    expect(withoutReferencesTo(obj('d', { ownerReferences: [ref('a'), ref('b')] }), 'a')).toEqual([ref('b')]);
    expect(withoutReferencesTo(obj('d', { ownerReferences: [ref('a')] }), 'a')).toBeUndefined();
    expect(withoutFinalizer(obj('d', { finalizers: ['orphan', 'x'] }), 'orphan')).toEqual(['x']);
    expect(withoutFinalizer(obj('d', { finalizers: ['orphan'] }), 'orphan')).toBeUndefined();
  });
});
