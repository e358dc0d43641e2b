// share.test: cached pods share, frozen, the parts that repeat across them — through the transform alone, and through a
// shared informer over the in-process client of a real registry on SQLite.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { LocalClient } from '../apiserver/localclient.ts';
import { Registry } from '../apiserver/registry.ts';
import { openTempStore, type TempStore } from '../store/testing.ts';
import type { Store } from '../store/types.ts';
import { silentLogger } from '../util/log.ts';
import { SharedInformerFactory, stripManagedFields } from './informer.ts';
import { sharingSubtrees, SubtreePool } from './share.ts';

const POD = lookupKind('v1', 'Pod')!;
const NS = lookupKind('v1', 'Namespace')!;

/** pod is a Deployment's pod as stored: every part but its name, uid, volume name, node and IP is the template's. */
function pod(name: string, node: string): KubeObject {
  const vol = `kube-api-access-${name.slice(-5)}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      labels: { app: 'web', 'pod-template-hash': '66785ddf4d' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-66785ddf4d', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      nodeName: node,
      containers: [{ name: 'c', image: 'pause', resources: { requests: { cpu: '10m', memory: '16Mi' } }, volumeMounts: [{ name: vol, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] }],
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }],
      volumes: [{ name: vol, projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } }],
    },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-11-30T15:35:16Z' }], podIP: `10.0.0.${name.length}` },
  };
}

describe('sharingSubtrees', () => {
  it('gives two pods of one template the same, frozen, repeated parts and leaves their own parts theirs', () => {
    const share = sharingSubtrees(new SubtreePool());
    const a0 = pod('web-aaaaa', 'n1');
    const b0 = pod('web-bbbbb', 'n2');
    const a = share(structuredClone(a0));
    const b = share(structuredClone(b0));
    // nothing changes in value
    expect(a).toEqual(a0);
    expect(b).toEqual(b0);
    // the repeated parts are one object
    expect(b.metadata.labels).toBe(a.metadata.labels);
    expect(b.metadata.ownerReferences).toBe(a.metadata.ownerReferences);
    expect(b.spec.tolerations).toBe(a.spec.tolerations);
    expect(b.spec.volumes[0].projected).toBe(a.spec.volumes[0].projected);
    expect(b.spec.containers[0].resources).toBe(a.spec.containers[0].resources);
    expect(b.status.conditions[0]).toBe(a.status.conditions[0]);
    // the parts that differ are each pod's own, and not frozen
    expect(b.spec.volumes[0]).not.toBe(a.spec.volumes[0]);
    expect(b.spec.containers[0]).not.toBe(a.spec.containers[0]);
    expect(Object.isFrozen(a.metadata)).toBe(false);
    expect(Object.isFrozen(a.spec.containers[0])).toBe(false);
    // a shared part cannot be written: the write throws instead of changing every pod that has it
    expect(() => {
      a.metadata.labels!.app = 'other';
    }).toThrow(TypeError);
    expect(() => a.spec.tolerations.push({ key: 'x' })).toThrow(TypeError);
    expect(() => {
      a.status.conditions[0].status = 'False';
    }).toThrow(TypeError);
    expect(b.metadata.labels!.app).toBe('web');
  });

  it('leaves other kinds, and parts too large to key, as they are', () => {
    const share = sharingSubtrees(new SubtreePool());
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', labels: { app: 'web' } }, data: { k: 'v' } };
    const out = share(structuredClone(cm));
    expect(out).toEqual(cm);
    expect(Object.isFrozen(out.metadata.labels)).toBe(false);
    const big = pod('web-ccccc', 'n1');
    big.metadata.annotations = { note: 'x'.repeat(5000) };
    const again = pod('web-ddddd', 'n1');
    again.metadata.annotations = { note: 'x'.repeat(5000) };
    const s1 = share(big);
    const s2 = share(again);
    expect(s2.metadata.annotations).not.toBe(s1.metadata.annotations);
    expect(Object.isFrozen(s1.metadata.annotations)).toBe(false);
  });

  it('keeps at most two generations of values: a value not met again fades out', () => {
    const pool = new SubtreePool(2);
    const first = pool.get({ n: 0 });
    for (let i = 1; i <= 4; i++) pool.get({ n: i });
    expect(pool.size).toBeLessThanOrEqual(4);
    expect(pool.get({ n: 0 })).not.toBe(first);
    const kept = pool.get({ n: 9 });
    expect(pool.get({ n: 9 })).toBe(kept);
  });
});

describe('a shared informer with sharingSubtrees', () => {
  let tmp: TempStore;
  let store: Store;
  let registry: Registry;
  beforeEach(async () => {
    tmp = openTempStore('share');
    store = tmp.store;
    registry = new Registry(store, silentLogger());
    await registry.start();
  });
  afterEach(async () => {
    registry.stop();
    await tmp.close();
  });

  it('caches the pods of one template, listed and watched, with their repeated parts shared', async () => {
    const client = new LocalClient(registry, { userAgent: 'kube-controller-manager/v1.32.0' });
    const create = (name: string, node: string) => {
      const p = pod(name, node);
      delete p.metadata.uid;
      delete p.status;
      return client.create(POD, 'default', p);
    };
    await client.getOrUndefined(NS, undefined, 'default');
    await create('web-aaaaa', 'n1');
    const factory = new SharedInformerFactory(client, silentLogger(), { transform: stripManagedFields, share: sharingSubtrees(new SubtreePool()) });
    const inf = factory.informerFor(POD);
    const seen = new Set<string>();
    inf.addEventHandler({ add: (o) => seen.add(o.metadata.name!) });
    factory.start();
    await inf.synced;
    await create('web-bbbbb', 'n2');
    for (let i = 0; i < 100 && !seen.has('web-bbbbb'); i++) await new Promise((r) => setTimeout(r, 20));
    const a = inf.get('default', 'web-aaaaa')!;
    const b = inf.get('default', 'web-bbbbb')!;
    expect(b.metadata.labels).toBe(a.metadata.labels);
    expect(b.spec.tolerations).toBe(a.spec.tolerations);
    expect(b.spec.containers[0].resources).toBe(a.spec.containers[0].resources);
    expect(Object.isFrozen(a.spec.tolerations)).toBe(true);
    expect(a.metadata.managedFields).toBeUndefined();
    expect(b.spec.nodeName).toBe('n2');
    factory.stop();
  });
});
