// controllerref.test: the claim decision table and the manager's adopt/release patches (a recording fake client).
import { describe, expect, it } from 'vitest';
import { errors } from '../../api/errors.ts';
import { lookupKind } from '../../api/resources.ts';
import { selectorFromSet } from '../../api/selectors.ts';
import type { KubeObject } from '../../api/types.ts';
import type { ApiClient } from '../../client/interface.ts';
import { claimAction, claimPods, getControllerOf, resolveControllerRef } from './controllerref.ts';
import type { ClaimAction } from './controllerref.ts';

const RS = lookupKind('apps/v1', 'ReplicaSet')!;
const PODS = lookupKind('v1', 'Pod')!;
const kind = { apiVersion: 'apps/v1', kind: 'ReplicaSet' };

function owner(extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web', namespace: 'ns', uid: 'rs-uid', ...extra } };
}

function pod(name: string, refUid?: string, extra: Record<string, unknown> = {}): KubeObject {
  const ownerReferences = refUid ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: refUid, controller: true }] : undefined;
  return { metadata: { name, namespace: 'ns', uid: `${name}-uid`, labels: { app: 'web' }, ownerReferences, ...extra } };
}

describe('claimAction', () => {
  const cases: [string, KubeObject, KubeObject, boolean, ClaimAction][] = [
    ['ours and matching: keep', pod('p', 'rs-uid'), owner(), true, 'keep'],
    ['ours and matching while deleting: keep', pod('p', 'rs-uid'), owner({ deletionTimestamp: 'x' }), true, 'keep'],
    ['ours, not matching: release', pod('p', 'rs-uid'), owner(), false, 'release'],
    ['ours, not matching, owner deleting: ignore', pod('p', 'rs-uid'), owner({ deletionTimestamp: 'x' }), false, 'ignore'],
    ["someone else's: ignore", pod('p', 'other'), owner(), true, 'ignore'],
    ['matching orphan: adopt', pod('p'), owner(), true, 'adopt'],
    ['orphan not matching: ignore', pod('p'), owner(), false, 'ignore'],
    ['orphan, owner deleting: ignore', pod('p'), owner({ deletionTimestamp: 'x' }), true, 'ignore'],
    ['deleting orphan: ignore', pod('p', undefined, { deletionTimestamp: 'x' }), owner(), true, 'ignore'],
    ['orphan of another namespace: ignore', pod('p', undefined, { namespace: 'other' }), owner(), true, 'ignore'],
  ];
  it.each(cases)('%s', (_n, obj, own, matches, want) => expect(claimAction(obj, own, matches)).toBe(want));
});

describe('resolveControllerRef', () => {
  it('checks the kind and the uid', () => {
    const o = owner();
    const ref = getControllerOf(pod('p', 'rs-uid'));
    expect(resolveControllerRef(ref, 'ReplicaSet', () => o)).toBe(o);
    expect(resolveControllerRef(ref, 'ReplicationController', () => o)).toBeUndefined();
    expect(resolveControllerRef(ref, 'ReplicaSet', () => owner({ uid: 'recreated' }))).toBeUndefined();
    expect(resolveControllerRef(undefined, 'ReplicaSet', () => o)).toBeUndefined();
  });
});

/** fakeClient records patches and answers get for the owner. */
function fakeClient(fresh: KubeObject | undefined, failPatch?: (name: string) => Error | undefined) {
  const patches: { name: string; patch: unknown; type?: string }[] = [];
  let gets = 0;
  const client = {
    async getOrUndefined() {
      gets++;
      return fresh;
    },
    async patch(_info: unknown, _ns: string, name: string, patch: unknown, type?: string) {
      const err = failPatch?.(name);
      if (err) throw err;
      patches.push({ name, patch, type });
      return { metadata: { name, namespace: 'ns', ownerReferences: [] } };
    },
  } as unknown as ApiClient;
  return { client, patches, gets: () => gets };
}

describe('claimPods', () => {
  const selector = selectorFromSet({ app: 'web' });

  it('adopts matching orphans with a uid precondition and releases pods that stopped matching', async () => {
    const f = fakeClient(owner());
    const keep = pod('keep', 'rs-uid');
    const gone = { ...pod('gone', 'rs-uid'), metadata: { ...pod('gone', 'rs-uid').metadata, labels: { app: 'other' } } };
    const claimed = await claimPods({ client: f.client, owner: owner(), ownerKind: kind, ownerInfo: RS, childInfo: PODS, selector }, [keep, pod('orphan'), pod('orphan2'), gone, pod('theirs', 'x')]);
    expect(claimed.map((p) => p.metadata.name)).toEqual(['keep', 'orphan', 'orphan2']);
    expect(f.patches).toEqual([
      { name: 'orphan', type: 'strategic', patch: { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }], uid: 'orphan-uid' } } },
      { name: 'orphan2', type: 'strategic', patch: { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }], uid: 'orphan2-uid' } } },
      { name: 'gone', type: 'strategic', patch: { metadata: { ownerReferences: [{ $patch: 'delete', uid: 'rs-uid' }], uid: 'gone-uid' } } },
    ]);
    expect(f.gets()).toBe(1); // the owner is re-read once per claim
  });

  it('does not adopt when the fresh owner is being deleted or was replaced', async () => {
    for (const fresh of [owner({ deletionTimestamp: '2024-01-01T00:00:00Z' }), owner({ uid: 'new' }), undefined]) {
      const f = fakeClient(fresh);
      await expect(claimPods({ client: f.client, owner: owner(), ownerKind: kind, ownerInfo: RS, childInfo: PODS, selector }, [pod('orphan')])).rejects.toThrow();
      expect(f.patches).toEqual([]);
    }
  });

  it('skips objects that vanished and reports other failures after trying all', async () => {
    const f = fakeClient(owner(), (name) => (name === 'vanished' ? errors.notFound({ group: '', resource: 'pods' }, name) : name === 'broken' ? new Error('boom') : undefined));
    await expect(claimPods({ client: f.client, owner: owner(), ownerKind: kind, ownerInfo: RS, childInfo: PODS, selector }, [pod('vanished'), pod('broken'), pod('fine')])).rejects.toThrow('boom');
    expect(f.patches.map((p) => p.name)).toEqual(['fine']);
  });
});
