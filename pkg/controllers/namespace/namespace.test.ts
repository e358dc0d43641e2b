// namespace.test: the namespace controller against a real Registry on SQLite through the in-process client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import { LocalClient } from '../../apiserver/localclient.ts';
import { Registry } from '../../apiserver/registry.ts';
import { EventRecorder } from '../../client/events.ts';
import { SharedInformerFactory } from '../../client/informer.ts';
import { openTempStore, type TempStore } from '../../store/testing.ts';
import type { Store } from '../../store/types.ts';
import { silentLogger } from '../../util/log.ts';
import { defaultControllerOptions, type Controller } from '../types.ts';
import { newNamespaceController } from './index.ts';

const NS = lookupKind('v1', 'Namespace')!;
const CM = lookupKind('v1', 'ConfigMap')!;
const POD = lookupKind('v1', 'Pod')!;
const DEPLOY = lookupKind('apps/v1', 'Deployment')!;

let tmp: TempStore;
let store: Store;
let registry: Registry;
let client: LocalClient;
let informers: SharedInformerFactory;
let controller: Controller;

beforeAll(async () => {
  tmp = openTempStore('nsctl');
  store = tmp.store;
  registry = new Registry(store, silentLogger());
  await registry.start();
  client = new LocalClient(registry, { userAgent: 'kube-controller-manager/v1.32.0' });
  const log = silentLogger();
  informers = new SharedInformerFactory(client, log);
  controller = newNamespaceController({ client, informers, log, recorder: (component) => new EventRecorder(client, { component }, log), options: defaultControllerOptions });
  controller.start();
  informers.start();
});

afterAll(async () => {
  await controller?.stop();
  informers?.stop();
  await client?.close();
  registry?.stop();
  await tmp?.close();
});

async function until<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('namespace controller', () => {
  it('empties a terminating namespace, reports what holds it, and lets it go', async () => {
    await client.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app' } });
    for (let i = 0; i < 3; i++) await client.create(CM, 'app', { metadata: { name: `c${i}` }, data: { i: String(i) } });
    await client.create(CM, 'app', { metadata: { name: 'held', finalizers: ['example.com/hold'] } });
    await client.create(POD, 'app', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    await client.create(DEPLOY, 'app', {
      metadata: { name: 'd' },
      spec: { replicas: 1, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    });
    const deleted = await client.delete(NS, undefined, 'app');
    expect((deleted as KubeObject).status.phase).toBe('Terminating');

    // everything without a finalizer goes; the held configmap keeps the namespace, and the status says why
    const ns = await until(async () => {
      const n = await client.get(NS, undefined, 'app');
      // the first pass reports what it found before deleting; a later pass sees only the held configmap
      const c = (n.status.conditions ?? []).find((x: { type: string }) => x.type === 'NamespaceFinalizersRemaining');
      const content = (n.status.conditions ?? []).find((x: { type: string }) => x.type === 'NamespaceContentRemaining');
      return c?.status === 'True' && !/pods|deployments/.test(content?.message ?? '') ? n : undefined;
    });
    expect(ns.status.conditions.find((c: { type: string }) => c.type === 'NamespaceContentRemaining')).toMatchObject({ status: 'True', reason: 'SomeResourcesRemain', message: 'Some resources are remaining: configmaps. has 1 resource instances' });
    expect(ns.status.conditions.find((c: { type: string }) => c.type === 'NamespaceFinalizersRemaining')).toMatchObject({ message: 'Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances' });
    expect((await client.list(CM, 'app')).items.map((c) => c.metadata.name)).toEqual(['held']);
    expect((await client.list(POD, 'app')).items).toEqual([]);
    expect((await client.list(DEPLOY, 'app')).items).toEqual([]);
    expect(ns.spec.finalizers).toEqual(['kubernetes']);

    // release the finalizer: the configmap goes, then the namespace
    await client.patch(CM, 'app', 'held', { metadata: { finalizers: null } });
    await until(async () => ((await client.getOrUndefined(NS, undefined, 'app')) ? undefined : true));
  });

  it('a namespace with other finalizers in metadata waits for them after the kubernetes one goes', async () => {
    await client.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'meta-fin', finalizers: ['example.com/x'] } });
    await client.delete(NS, undefined, 'meta-fin');
    const ns = await until(async () => {
      const n = await client.get(NS, undefined, 'meta-fin');
      return n.spec.finalizers?.length ? undefined : n;
    });
    expect(ns.metadata.finalizers).toEqual(['example.com/x']);
    await client.patch(NS, undefined, 'meta-fin', { metadata: { finalizers: null } });
    expect(await client.getOrUndefined(NS, undefined, 'meta-fin')).toBeUndefined();
  });
});
