// controller.test: the sync loop over a real in-process API server (SQLite store, LocalClient, shared informers),
// no nodes: expectations against a lagging cache, adoption, surplus deletion and status, and that a sync never
// looks at the pods other controllers own.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lookupKind } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import { createApiServer, type ApiServer } from '../../apiserver/index.ts';
import { LocalClient } from '../../apiserver/localclient.ts';
import { EventRecorder } from '../../client/events.ts';
import { SharedInformerFactory } from '../../client/informer.ts';
import { createCa, issueCert } from '../../pki/certs.ts';
import { openTempStore, type TempStore } from '../../store/testing.ts';
import type { Store } from '../../store/types.ts';
import { silentLogger } from '../../util/log.ts';
import { defaultControllerOptions } from '../types.ts';
import type { ControllerContext } from '../types.ts';
import { ReplicaSetController } from './controller.ts';
import { REPLICA_SET } from './kinds.ts';

const RS = lookupKind('apps/v1', 'ReplicaSet')!;
const POD = lookupKind('v1', 'Pod')!;

function rs(name: string, replicas: number): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
  };
}

function orphan(name: string, app: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
}

/** reads counts reads of the labels and ownerReferences of cached pods named `unrelated-…` (see countReads). */
let reads = 0;

/** countReads is an informer transform: reading the labels or ownerReferences of an `unrelated-…` pod counts. */
function countReads(obj: KubeObject): KubeObject {
  if (obj.kind !== 'Pod' || !obj.metadata.name?.startsWith('unrelated-')) return obj;
  const { labels, ownerReferences, ...rest } = obj.metadata;
  const metadata = { ...rest } as KubeObject['metadata'];
  for (const [k, v] of Object.entries({ labels, ownerReferences })) {
    Object.defineProperty(metadata, k, {
      enumerable: true,
      get: () => {
        reads++;
        return v;
      },
    });
  }
  return { ...obj, metadata };
}

const until = async <T>(probe: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('ReplicaSetController', () => {
  let tmp: TempStore;
  let store: Store;
  let api: ApiServer;
  let client: LocalClient;
  let informers: SharedInformerFactory;
  let ctl: ReplicaSetController;

  beforeEach(async () => {
    tmp = openTempStore('rsctl', { compactEveryWrites: 0 });
    store = tmp.store;
    const ca = await createCa('test-ca', 1);
    const serving = await issueCert(ca, { cn: 'kubeling', sans: { dns: ['localhost'], ips: ['127.0.0.1'] }, days: 1, server: true });
    api = await createApiServer({ store, logger: silentLogger(), tls: { certPem: serving.certPem, keyPem: serving.keyPem, caCertPem: ca.certPem }, tokens: new Map() });
    client = new LocalClient(api.registry, { userAgent: 'kube-controller-manager/v1.32.0' });
    informers = new SharedInformerFactory(client, silentLogger(), { transform: countReads });
    const ctx: ControllerContext = {
      client,
      informers,
      log: silentLogger(),
      recorder: (component) => new EventRecorder(client, { component }, silentLogger()),
      options: { ...defaultControllerOptions, workers: 2 },
    };
    ctl = new ReplicaSetController(ctx, REPLICA_SET);
  });

  afterEach(async () => {
    await ctl.stop();
    informers.stop();
    await client.close();
    await api.close();
    await tmp.close();
  });

  const pods = async (app: string) => (await client.list(POD, 'default', { labelSelector: `app=${app}` })).items.filter((p) => !p.metadata.deletionTimestamp);

  it('never creates twice while its cache has not seen its pods', async () => {
    // no handlers registered: the cache fills, but nothing tells the expectations that the pods arrived
    informers.start();
    await informers.waitForSync();
    await client.create(RS, 'default', rs('web', 3));
    await until(async () => informers.informerFor(RS).get('default', 'web'));
    await ctl.sync('default/web');
    await ctl.sync('default/web');
    expect(await pods('web')).toHaveLength(3);
    expect(ctl.expectations.pending('default/web')).toEqual({ add: 3, del: 0 });
    // once the creations are observed the set acts again, and finds nothing to do
    for (let i = 0; i < 3; i++) ctl.expectations.creationObserved('default/web');
    await until(async () => informers.informerFor(POD).list('default').length === 3);
    await ctl.sync('default/web');
    expect(await pods('web')).toHaveLength(3);
    const status = (await client.get(RS, 'default', 'web')).status;
    expect(status).toEqual({ replicas: 3, fullyLabeledReplicas: 3, observedGeneration: 1 });
  });

  it('adopts orphans, creates the rest, deletes the surplus and reports status', async () => {
    await client.create(POD, 'default', orphan('hand', 'api'));
    ctl.start();
    informers.start();
    await client.create(RS, 'default', rs('api', 3));
    const uid = (await client.get(RS, 'default', 'api')).metadata.uid;
    const three = await until(async () => {
      const p = await pods('api');
      return p.length === 3 && p.every((x) => x.metadata.ownerReferences?.[0]?.uid === uid) ? p : undefined;
    });
    expect(three.map((p) => p.metadata.name)).toContain('hand');
    await client.create(POD, 'default', orphan('extra1', 'api'));
    await client.create(POD, 'default', orphan('extra2', 'api'));
    await until(async () => {
      const p = await pods('api');
      return p.length === 3 && p.every((x) => x.metadata.ownerReferences?.[0]?.uid === uid);
    });
    await client.patch(RS, 'default', 'api', { spec: { replicas: 1 } }, 'merge');
    await until(async () => {
      const s = (await client.get(RS, 'default', 'api')).status;
      return s?.replicas === 1 && s?.observedGeneration === 2;
    });
    expect(await pods('api')).toHaveLength(1);
  });

  it('releases a pod that stops matching and replaces it', async () => {
    ctl.start();
    informers.start();
    await client.create(RS, 'default', rs('db', 2));
    const two = await until(async () => {
      const p = await pods('db');
      return p.length === 2 ? p : undefined;
    });
    await client.patch(POD, 'default', two[0].metadata.name!, { metadata: { labels: { app: 'other' } } }, 'merge');
    await until(async () => ((await client.get(POD, 'default', two[0].metadata.name!)).metadata.ownerReferences ?? []).length === 0);
    await until(async () => (await pods('db')).length === 2);
  });

  it('finds its pods through the owner and orphan indexes: 1,000 pods of another controller are never visited', async () => {
    const ref = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'someone-else', uid: '0b7d3c1e-0000-4000-8000-000000000001', controller: true };
    for (let i = 0; i < 1000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) => client.create(POD, 'default', { ...orphan(`unrelated-${i + j}`, 'web'), metadata: { name: `unrelated-${i + j}`, labels: { app: 'web' }, ownerReferences: [ref] } })),
      );
    }
    await client.create(POD, 'default', orphan('hand', 'web'));
    informers.start();
    await informers.waitForSync();
    expect(informers.informerFor(POD).list('default')).toHaveLength(1001);
    reads = 0;
    await client.create(RS, 'default', rs('web', 2));
    const uid = (await until(async () => informers.informerFor(RS).get('default', 'web'))).metadata.uid;
    await ctl.sync('default/web');
    // the orphan was adopted and one pod created; the 1,000 matching pods of someone-else were left alone
    const mine = (await pods('web')).filter((p) => p.metadata.ownerReferences?.[0]?.uid === uid);
    expect(mine.map((p) => p.metadata.name)).toContain('hand');
    expect(mine).toHaveLength(2);
    expect(reads).toBe(0);
  });
});
