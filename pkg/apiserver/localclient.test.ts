// localclient.test: the contract test — every case runs against the HTTP Client and the in-process LocalClient, each
// over its own real API server on a fresh SQLite store, and both must answer identically (objects, errors, watch events).
import { types } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject, WatchEvent } from '../api/types.ts';
import { Client } from '../client/client.ts';
import type { ApiClient } from '../client/interface.ts';
import { createCa, issueCert } from '../pki/certs.ts';
import { openTempStore, type TempStore } from '../store/testing.ts';
import type { Store } from '../store/types.ts';
import { silentLogger } from '../util/log.ts';
import { createApiServer, type ApiServer } from './index.ts';
import { LocalClient } from './localclient.ts';

const CM = lookupKind('v1', 'ConfigMap')!;
const POD = lookupKind('v1', 'Pod')!;
const NS = lookupKind('v1', 'Namespace')!;
const SVC = lookupKind('v1', 'Service')!;
const SECRET = lookupKind('v1', 'Secret')!;
const DEPLOY = lookupKind('apps/v1', 'Deployment')!;
const UA = 'kube-controller-manager/v1.32.0';

interface Env {
  name: string;
  tmp: TempStore;
  store: Store;
  api: ApiServer;
  client: ApiClient;
}

async function makeEnv(name: string, local: boolean): Promise<Env> {
  const tmp = openTempStore(`lc-${name}`, { compactEveryWrites: 0 });
  const store = tmp.store;
  const ca = await createCa('test-ca', 1);
  const serving = await issueCert(ca, { cn: 'kubeling', sans: { dns: ['localhost'], ips: ['127.0.0.1'] }, days: 1, server: true });
  const api = await createApiServer({ store, logger: silentLogger(), tls: { certPem: serving.certPem, keyPem: serving.keyPem, caCertPem: ca.certPem }, tokens: new Map([['t0ken', 'admin']]) });
  const { port } = await api.listen(0, '127.0.0.1');
  const client: ApiClient = local ? new LocalClient(api.registry, { userAgent: UA }) : new Client({ server: `https://127.0.0.1:${port}`, token: 't0ken', caPem: ca.certPem, userAgent: UA });
  return { name, tmp, store, api, client };
}

let http: Env;
let local: Env;

beforeAll(async () => {
  [http, local] = await Promise.all([makeEnv('http', false), makeEnv('local', true)]);
  await levelRevisions(http, local);
});

afterAll(async () => {
  for (const e of [http, local]) {
    if (!e) continue;
    await e.client.close();
    await e.api.close();
    await e.tmp.close();
  }
});

/**
 * levelRevisions waits until neither store moves, then pads the one behind with throwaway writes in kube-public: the
 * cases compare resourceVersions and continue tokens between the two servers, which must start from one revision. How
 * many writes a server makes at start depends on timing: ClusterRole aggregation (auth/policy.ts, upstream's
 * clusterrole-aggregation controller) runs asynchronously and may write admin/edit/view once or twice. A loaded
 * fresh-clone CI run started the HTTP server's cases two revisions behind.
 */
async function levelRevisions(a: Env, b: Env): Promise<void> {
  let last = '';
  for (let still = 0; still < 3; ) {
    await new Promise((r) => setTimeout(r, 100));
    const now = `${a.store.revision()}/${b.store.revision()}`;
    still = now === last ? still + 1 : 0;
    last = now;
  }
  const [behind, ahead] = a.store.revision() <= b.store.revision() ? [a, b] : [b, a];
  const gap = ahead.store.revision() - behind.store.revision();
  if (gap > 0) console.warn(`localclient.test: the ${behind.name} server started ${gap} revision(s) behind the ${ahead.name} server; padding`);
  for (let i = 0; behind.store.revision() < ahead.store.revision(); i++) await behind.api.registry.create(CM, 'kube-public', cm(`pad-${i}`), {});
}

/** outcome turns a result or an error into comparable data, with uids and times masked. */
async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    return normalize(await p);
  } catch (e) {
    if (e instanceof ApiError) return normalize({ error: e.status });
    throw e;
  }
}

function normalize(v: unknown): unknown {
  if (v === undefined) return '<undefined>';
  const s = JSON.stringify(v)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uid>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>');
  return JSON.parse(s);
}

/** both runs a case on the two environments, one after the other, and expects the same outcomes. */
async function both(run: (c: ApiClient, env: Env) => Promise<unknown[]>): Promise<unknown[]> {
  const a = await run(http.client, http);
  const b = await run(local.client, local);
  expect(b).toEqual(a);
  return a;
}

const cm = (name: string, data: Record<string, string> = { a: '1' }, labels?: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(labels ? { labels } : {}) }, data });

/** collect watches until `until` says stop (or the stream ends), then stops; returns the events. */
function collect(c: ApiClient, info = CM, ns: string | undefined, q: Record<string, string | number | boolean | undefined>, until: (evs: WatchEvent[]) => boolean, act?: () => Promise<void>): Promise<{ events: WatchEvent[]; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const events: WatchEvent[] = [];
    let ended = false;
    const timer = setTimeout(() => {
      h.stop();
      reject(new Error(`watch timed out with ${JSON.stringify(events.map((e) => e.type))}`));
    }, 10_000);
    const h = c.watch(info, ns, q, (ev) => {
      events.push(ev);
      if (until(events)) {
        clearTimeout(timer);
        h.stop();
        resolve({ events, ended });
      }
    });
    h.done.then(
      () => {
        ended = true;
        clearTimeout(timer);
        resolve({ events, ended });
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
    if (act) setTimeout(() => void act().catch(reject), 50);
  });
}

describe('LocalClient answers as the HTTP Client does', () => {
  it('create, get, update, conflicts, patches, delete, NotFound', async () => {
    const r = await both(async (c) => {
      const out: unknown[] = [];
      const created = await c.create(CM, 'default', cm('one', { a: '1' }, { app: 'x' }));
      out.push(normalize(created));
      out.push(await outcome(c.create(CM, 'default', cm('one'))));
      out.push(await outcome(c.get(CM, 'default', 'one')));
      out.push(await outcome(c.update(CM, { ...created, data: { a: '2' } })));
      out.push(await outcome(c.update(CM, { ...created, data: { a: '3' } }))); // stale resourceVersion: 409
      out.push(await outcome(c.patch(CM, 'default', 'one', { data: { b: '2' } })));
      out.push(await outcome(c.patch(CM, 'default', 'one', { data: { c: '3' } }, 'strategic')));
      out.push(await outcome(c.patch(CM, 'default', 'one', [{ op: 'remove', path: '/data/a' }], 'json')));
      out.push(await outcome(c.patch(CM, 'default', 'one', [{ op: 'test', path: '/data/zz', value: 'x' }], 'json')));
      out.push(await outcome(c.patch(CM, 'default', 'missing', { data: {} })));
      out.push(await outcome(c.getOrUndefined(CM, 'default', 'missing')));
      out.push(await outcome(c.create(CM, 'nowhere', cm('x'))));
      out.push(await outcome(c.create(CM, 'default', { ...cm('Bad_Name') })));
      out.push(await outcome(c.create(CM, 'default', cm('dry'), { dryRun: 'All' })));
      out.push(await outcome(c.get(CM, 'default', 'dry')));
      out.push(await outcome(c.delete(CM, 'default', 'one', { preconditions: { uid: 'nope' } })));
      out.push(await outcome(c.delete(CM, 'default', 'one', { propagationPolicy: 'Sideways' as 'Orphan' })));
      out.push(await outcome(c.delete(CM, 'default', 'one')));
      out.push(await outcome(c.delete(CM, 'default', 'one')));
      return out;
    });
    expect(r[1]).toMatchObject({ error: { code: 409, reason: 'AlreadyExists' } });
    expect(r[4]).toMatchObject({ error: { code: 409, reason: 'Conflict' } });
    expect(r[9]).toMatchObject({ error: { code: 404 } });
    expect(r[10]).toBe('<undefined>');
    expect(r[11]).toMatchObject({ error: { code: 404, message: 'namespaces "nowhere" not found' } });
    expect(r[12]).toMatchObject({ error: { code: 422, reason: 'Invalid' } });
    expect(r[14]).toMatchObject({ error: { code: 404 } });
    expect(r[15]).toMatchObject({ error: { code: 409 } });
    expect(r[16]).toMatchObject({ error: { code: 422 } });
    expect(r[18]).toMatchObject({ error: { code: 404 } });
    expect((r[3] as KubeObject).metadata.managedFields?.[0]?.manager).toBe('kube-controller-manager');
  });

  it('a write answers the local caller with a plain object of its own, equal to what is stored', async () => {
    // as every case here, on both environments (the servers' revisions stay in step)
    await both(async (c) => {
      const made = await c.create(CM, 'default', cm('own', { a: '1' }, { app: 'own' }));
      const patched = await c.patch(CM, 'default', 'own', { data: { b: '2' } });
      for (const o of [made, patched]) expect(types.isProxy(o)).toBe(false);
      expect(patched).toEqual(await c.get(CM, 'default', 'own'));
      patched.metadata.labels!.app = 'changed by the caller';
      expect((await c.get(CM, 'default', 'own')).metadata.labels).toEqual({ app: 'own' });
      await c.delete(CM, 'default', 'own');
      return [normalize(made)];
    });
  });

  it('lists with selectors, limit and continue', async () => {
    const r = await both(async (c) => {
      for (let i = 0; i < 5; i++) await c.create(CM, 'default', cm(`l${i}`, { i: String(i) }, { tier: i % 2 ? 'odd' : 'even' }));
      const out: unknown[] = [];
      out.push(normalize(await c.list(CM, 'default', { labelSelector: 'tier=odd' })));
      out.push(normalize(await c.list(CM, 'default', { fieldSelector: 'metadata.name=l3' })));
      const p1 = await c.list(CM, 'default', { limit: 2, labelSelector: 'tier' });
      out.push(normalize(p1));
      out.push(normalize(await c.list(CM, 'default', { limit: 2, labelSelector: 'tier', continue: p1.metadata.continue })));
      out.push(await outcome(c.list(CM, 'default', { fieldSelector: 'data.i=1' })));
      out.push(await outcome(c.list(CM, undefined, { labelSelector: 'tier=even' })));
      return out;
    });
    expect((r[0] as { items: unknown[] }).items).toHaveLength(2);
    expect(r[2]).toMatchObject({ metadata: { remainingItemCount: 3 } });
    expect(r[4]).toMatchObject({ error: { code: 400 } });
  });

  it('status and scale subresources', async () => {
    const deploy: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    };
    const r = await both(async (c) => {
      const out: unknown[] = [];
      const d = await c.create(DEPLOY, 'default', deploy);
      out.push(normalize(d));
      out.push(await outcome(c.updateStatus(DEPLOY, { ...d, status: { replicas: 2, observedGeneration: 1 } })));
      out.push(await outcome(c.get(DEPLOY, 'default', 'web')));
      const scale = await c.get({ ...DEPLOY }, 'default', 'web').then(() => c.patch(DEPLOY, 'default', 'web', { spec: { replicas: 4 } }, 'merge', 'scale'));
      out.push(normalize(scale));
      out.push(await outcome(c.update(DEPLOY, { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 1 } }, 'scale')));
      out.push(await outcome(c.update(DEPLOY, { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: -1 } }, 'scale')));
      out.push(await outcome(c.patch(DEPLOY, 'default', 'web', [{ op: 'replace', path: '/spec/replicas', value: 3 }], 'json', 'scale')));
      out.push(await outcome(c.get(DEPLOY, 'default', 'web')));
      return out;
    });
    expect(r[3]).toMatchObject({ kind: 'Scale', spec: { replicas: 4 }, status: { selector: 'app=web' } });
    expect(r[5]).toMatchObject({ error: { code: 422 } });
    expect(r[7]).toMatchObject({ spec: { replicas: 3 }, metadata: { generation: 4 } });
  });

  it('pods: default tolerations, bind, bind twice, uid precondition, evict, graceful delete', async () => {
    const pod = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    const r = await both(async (c) => {
      const out: unknown[] = [];
      const p = await c.create(POD, 'default', pod('p1'));
      out.push(normalize(p));
      out.push(await outcome(c.create(POD, 'default', { ...pod('p2'), spec: { ...pod('p2').spec, tolerations: [{ operator: 'Exists' }] } })));
      out.push(await outcome(c.bind('default', 'p1', 'node-a', '00000000-0000-0000-0000-000000000000')));
      out.push(await outcome(c.bind('default', 'p1', 'node-a', p.metadata.uid)));
      out.push(await outcome(c.get(POD, 'default', 'p1')));
      out.push(await outcome(c.bind('default', 'p1', 'node-b')));
      out.push(await outcome(c.bind('default', 'ghost', 'node-b')));
      out.push(await outcome(c.evict('default', 'ghost')));
      out.push(await outcome(c.evict('default', 'p2', { gracePeriodSeconds: 0 })));
      out.push(await outcome(c.get(POD, 'default', 'p2')));
      out.push(await outcome(c.evict('default', 'p1', { dryRun: true })));
      out.push(await outcome(c.delete(POD, 'default', 'p1', { gracePeriodSeconds: 5 })));
      out.push(await outcome(c.bind('default', 'p1', 'node-b')));
      return out;
    });
    expect((r[0] as KubeObject).spec.tolerations).toEqual([
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
    ]);
    expect((r[1] as KubeObject).spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(r[2]).toMatchObject({ error: { code: 409 } });
    expect(r[3]).toBe('<undefined>');
    expect(r[4]).toMatchObject({ spec: { nodeName: 'node-a' }, status: { conditions: [{ type: 'PodScheduled', status: 'True' }] } });
    expect(r[5]).toMatchObject({ error: { code: 409, message: 'Operation cannot be fulfilled on pods/binding "p1": pod p1 is already assigned to node "node-a"' } });
    expect(r[6]).toMatchObject({ error: { code: 404 } });
    expect(r[7]).toMatchObject({ error: { code: 404 } });
    expect(r[9]).toMatchObject({ error: { code: 404 } });
    expect(r[11]).toMatchObject({ metadata: { deletionGracePeriodSeconds: 5 } });
    expect(r[12]).toMatchObject({ error: { code: 409 } });
  });

  it('binding, eviction and token take only a POST: an update or patch of them is 405 and changes nothing', async () => {
    const r = await both(async (c) => {
      const p = await c.create(POD, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'post-only' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
      const out: unknown[] = [];
      out.push(await outcome(c.update(POD, { ...p, spec: { ...p.spec, nodeName: 'node-a' } }, 'binding')));
      out.push(await outcome(c.patch(POD, 'default', 'post-only', { spec: { nodeName: 'node-a' } }, 'merge', 'eviction')));
      out.push((await c.get(POD, 'default', 'post-only')).spec.nodeName ?? '<none>');
      await c.delete(POD, 'default', 'post-only', { gracePeriodSeconds: 0 });
      return out;
    });
    expect(r[0]).toMatchObject({ error: { code: 405 } });
    expect(r[1]).toMatchObject({ error: { code: 405 } });
    expect(r[2]).toBe('<none>');
  });

  it('services get the same ClusterIPs and NodePorts; taken ones are Invalid', async () => {
    const r = await both(async (c) => {
      const out: unknown[] = [];
      const s = await c.create(SVC, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 's1' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } });
      out.push(normalize(s));
      out.push(await outcome(c.create(SVC, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 's2' }, spec: { clusterIP: s.spec.clusterIP, ports: [{ port: 80 }] } })));
      out.push(await outcome(c.create(SVC, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 's3' }, spec: { type: 'NodePort', ports: [{ port: 80, nodePort: s.spec.ports[0].nodePort }] } })));
      return out;
    });
    expect(r[1]).toMatchObject({ error: { code: 422, details: { causes: [{ message: expect.stringContaining('provided IP is already allocated') }] } } });
    expect(r[2]).toMatchObject({ error: { code: 422, details: { causes: [{ message: 'Invalid value: 30000: provided port is already allocated' }] } } });
  });

  it('namespaces: delete marks Terminating; finalize lets it go', async () => {
    const r = await both(async (c) => {
      const out: unknown[] = [];
      await c.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } });
      out.push(await outcome(c.delete(NS, undefined, 'doomed')));
      out.push(await outcome(c.create(CM, 'doomed', cm('late'))));
      const ns = await c.get(NS, undefined, 'doomed');
      out.push(await outcome(c.update(NS, { ...ns, spec: { finalizers: [] } })));
      out.push(await outcome(c.update(NS, { ...ns, spec: { finalizers: [] } }, 'finalize')));
      out.push(await outcome(c.get(NS, undefined, 'doomed')));
      return out;
    });
    expect(r[0]).toMatchObject({ status: { phase: 'Terminating' }, spec: { finalizers: ['kubernetes'] } });
    expect(r[1]).toMatchObject({ error: { code: 403 } });
    expect(r[2]).toMatchObject({ spec: { finalizers: ['kubernetes'] } });
    expect(r[4]).toMatchObject({ error: { code: 404 } });
  });

  it('watch: events in order, initial events with the end bookmark, 410 for a compacted revision', async () => {
    const r = await both(async (c, env) => {
      const out: unknown[] = [];
      const from = (await c.list(CM, 'default')).metadata.resourceVersion;
      const live = await collect(c, CM, 'default', { resourceVersion: from, allowWatchBookmarks: true }, (evs) => evs.some((e) => e.type === 'DELETED'), async () => {
        await c.create(CM, 'default', cm('w1'));
        await c.patch(CM, 'default', 'w1', { data: { a: '2' } });
        await c.create(CM, 'other-ns-is-not-watched', cm('w2')).catch(() => undefined);
        await c.delete(CM, 'default', 'w1');
      });
      out.push(normalize(live.events));
      const initial = await collect(c, CM, 'default', { sendInitialEvents: true, allowWatchBookmarks: true, resourceVersionMatch: 'NotOlderThan', labelSelector: 'tier=odd' }, (evs) => evs.some((e) => e.type === 'BOOKMARK'));
      out.push(normalize(initial.events));
      const timed = await collect(c, CM, 'default', { resourceVersion: from, timeoutSeconds: 1 }, () => false);
      out.push(normalize(timed));
      // a resource nobody watched yet has no watch cache history: a compacted revision is 410 Expired
      await c.create(SECRET, 'default', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } });
      await env.store.compact(env.store.revision());
      const expired = await collect(c, SECRET, 'default', { resourceVersion: '1' }, () => false);
      out.push(normalize(expired));
      return out;
    });
    expect((r[0] as WatchEvent[]).map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    const initial = r[1] as WatchEvent[];
    expect(initial.map((e) => e.type)).toEqual(['ADDED', 'ADDED', 'BOOKMARK']);
    expect(initial[2].object.metadata.annotations).toEqual({ 'k8s.io/initial-events-end': 'true' });
    expect(r[2]).toMatchObject({ ended: true });
    expect(r[3]).toMatchObject({ ended: true, events: [{ type: 'ERROR', object: { code: 410, reason: 'Expired' } }] });
  });
});
