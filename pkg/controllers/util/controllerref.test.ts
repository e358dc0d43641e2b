// controllerref.test: the claim decision table, the manager's adopt/release patches (a recording fake client), and
// the claim candidates from a real informer's owner and orphan indexes.
import { describe, expect, it } from 'vitest';
import { errors } from '../../api/errors.ts';
import { lookupKind } from '../../api/resources.ts';
import { matchLabels, selectorFromSet } from '../../api/selectors.ts';
import type { KubeObject } from '../../api/types.ts';
import { SharedIndexInformer } from '../../client/informer.ts';
import type { ApiClient } from '../../client/interface.ts';
import { silentLogger } from '../../util/log.ts';
import { claimAction, claimCandidates, claimPods, ControllerRefManager, ensureOrphanIndex, getControllerOf, INDEX_ORPHAN, resolveControllerRef } from './controllerref.ts';
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

/** cachedInformer is a real pods informer whose list returns `items` and whose watch stays open until stopped. */
async function cachedInformer(items: KubeObject[]): Promise<SharedIndexInformer> {
  const client = {
    async list() {
      return { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '1' }, items };
    },
    watch() {
      let stop!: () => void;
      const done = new Promise<void>((r) => (stop = r));
      return { stop, done };
    },
  } as unknown as ApiClient;
  const inf = new SharedIndexInformer(client, PODS, silentLogger(), { pageSize: 0 });
  ensureOrphanIndex(inf);
  inf.run();
  await inf.synced;
  return inf;
}

describe('claimCandidates', () => {
  it('visits only what the owner controls and the namespace orphans, never the pods others control', async () => {
    const unrelated = Array.from({ length: 1000 }, (_, i) => pod(`theirs-${i}`, `other-${i % 7}`));
    const elsewhere = Array.from({ length: 1000 }, (_, i) => pod(`elsewhere-${i}`, undefined, { namespace: 'other' }));
    const stray = { ...pod('stray'), metadata: { ...pod('stray').metadata, labels: { app: 'db' } } };
    const released = { ...pod('released', 'rs-uid'), metadata: { ...pod('released', 'rs-uid').metadata, labels: { app: 'db' } } };
    const mine = [pod('mine-1', 'rs-uid'), pod('mine-2', 'rs-uid'), released];
    const orphans = [pod('orphan-1'), pod('orphan-2'), stray];
    const inf = await cachedInformer([...unrelated, ...mine, ...elsewhere, ...orphans, pod('dying', undefined, { deletionTimestamp: 'x' })]);
    try {
      const candidates = claimCandidates(inf, owner());
      expect(candidates.map((p) => p.metadata.name).sort()).toEqual([...mine, ...orphans].map((p) => p.metadata.name).sort());
      // the claim evaluates the selector once per candidate, and not at all for 2,000 unrelated pods
      let evaluated = 0;
      const sel = selectorFromSet({ app: 'web' });
      const f = fakeClient(owner());
      const match = (p: KubeObject) => {
        evaluated++;
        return matchLabels(sel, p.metadata.labels);
      };
      const claimed = await new ControllerRefManager({ client: f.client, owner: owner(), ownerKind: kind, ownerInfo: RS, childInfo: PODS, match }).claim(candidates);
      expect(evaluated).toBe(6);
      expect(claimed.map((p) => p.metadata.name).sort()).toEqual(['mine-1', 'mine-2', 'orphan-1', 'orphan-2']);
      expect(f.patches.map((p) => p.name).sort()).toEqual(['orphan-1', 'orphan-2', 'released']);
      // the orphan index holds each namespace's adoptable orphans: not the deleting one
      expect(inf.byIndex(INDEX_ORPHAN, 'ns').map((p) => p.metadata.name).sort()).toEqual(['orphan-1', 'orphan-2', 'stray']);
      ensureOrphanIndex(inf); // idempotent
      expect(inf.byIndex(INDEX_ORPHAN, 'other')).toHaveLength(1000);
    } finally {
      inf.stop();
    }
  });

  it('a claim skips objects other controllers own without evaluating the selector', async () => {
    let evaluated = 0;
    const f = fakeClient(owner());
    const match = () => {
      evaluated++;
      return true;
    };
    const claimed = await new ControllerRefManager({ client: f.client, owner: owner(), ownerKind: kind, ownerInfo: RS, childInfo: PODS, match }).claim([pod('theirs', 'x'), pod('mine', 'rs-uid')]);
    expect(claimed.map((p) => p.metadata.name)).toEqual(['mine']);
    expect(evaluated).toBe(1);
  });
});
