// offload-compute.test: a large write computed on a worker stores the same object, managedFields, warnings and errors as the inline path; a conflict during the async compute is retried; lazy results render their text unparsed; its watch events are routed by the summary it carries, and a GET sends the stored text.
import pino from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import { lookupKind, storeKey } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { Store, StoreEvent } from '../store/index.ts';
import { openTempStore, type TempStore } from '../store/testing.ts';
import { deepEqual } from '../api/kinds/meta.ts';
import { computeCreate, computeUpdate, decodeRequestBody, summaryOf, unchanged } from './offload-compute.ts';
import { LargeBody, OFFLOAD_WRITE_BYTES, OffloadPool, heavyWrite, lazyObject, serialisedText, typedText, type TaskName, type Tasks } from './offload.ts';
import { Registry, type WriteOptions } from './registry.ts';
import type { Delivery } from './watchcache.ts';

const cmInfo = lookupKind('v1', 'ConfigMap')!;
const depInfo = lookupKind('apps/v1', 'Deployment')!;
const pool = new OffloadPool({ size: 1, idleMs: 200 });
afterAll(() => pool.close());

let tmp: TempStore;
let store: Store;
let registry: Registry;
beforeEach(async () => {
  tmp = openTempStore('offload');
  store = tmp.store;
  registry = new Registry(store, pino({ level: 'silent' }));
  await registry.start();
  registry.offload = pool;
});
afterEach(async () => {
  registry.stop();
  await tmp.close();
});

function configMap(name: string, keys: number, extra: Record<string, unknown> = {}): KubeObject {
  const data: Record<string, string> = {};
  for (let i = 0; i < keys; i++) data[`k${i}`] = `v${i}`;
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { big: 'yes' } }, data, ...extra };
}

function deployment(name: string, entries: number, v = 'a'): KubeObject {
  const env = Array.from({ length: entries }, (_, i) => ({ name: `E${i}`, value: `${v}${i}` }));
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox', env }] } } },
  };
}

const large = (v: unknown, type = 'application/json') => {
  const b = LargeBody.of(Buffer.from(JSON.stringify(v)), type);
  expect(b).toBeDefined();
  return b!;
};

/** normal drops what differs between two objects made apart: name, identity, times, resourceVersion. */
function normal(o: KubeObject | undefined): unknown {
  return JSON.parse(
    JSON.stringify(o)
      .replaceAll(/"(uid|creationTimestamp|resourceVersion|time)":"[^"]*"/g, '"$1":"-"')
      .replaceAll(/"(twin|solo)"/g, '"NAME"')
      .replaceAll(/"app":"[^"]*"/g, '"app":"-"'),
  );
}

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('no error');
}

const opts = (o: Partial<WriteOptions> = {}): WriteOptions => ({ fieldManager: 'kubectl', warnings: [], ...o });

describe('a pod\'s initial status', () => {
  it('carries the QoS class of its containers\' requests and limits, inline and on a worker', async () => {
    const podInfo = lookupKind('v1', 'Pod')!;
    const pod = (name: string, resources: Record<string, unknown>, env: unknown[] = []): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox', resources, env }] } });
    const o = (): WriteOptions => ({ fieldManager: 'kubectl-create', warnings: [] });
    const qos = async (p: Parameters<typeof registry.create>[2]) => (await registry.create(podInfo, 'default', p, o())).status?.qosClass;
    expect(await qos(pod('none', {}))).toBe('BestEffort');
    expect(await qos(pod('some', { requests: { cpu: '10m', memory: '16Mi' } }))).toBe('Burstable');
    expect(await qos(pod('equal', { limits: { cpu: '1', memory: '1Gi' } }))).toBe('Guaranteed');
    const env = Array.from({ length: 5000 }, (_, i) => ({ name: `E${i}`, value: `v${i}` }));
    expect(await qos(large(pod('large', { requests: { cpu: '10m' } }, env)))).toBe('Burstable');
  });
});

describe('a large create computed on a worker', () => {
  it('stores the object and managedFields the inline path stores, and answers with its text', async () => {
    const o1 = opts({ serialisedResult: true });
    const viaWorker = await registry.create(cmInfo, 'default', large({ ...configMap('twin', 5000), extra: 1 }), o1);
    const o2 = opts();
    await registry.create(cmInfo, 'default', { ...configMap('solo', 5000), extra: 1 }, o2);
    const [a, b] = [await store.get('configmaps', 'default', 'twin'), await store.get('configmaps', 'default', 'solo')];
    expect(a!.metadata.managedFields).toHaveLength(1);
    expect(normal(a)).toEqual(normal(b));
    expect(o1.warnings).toEqual(o2.warnings);
    expect(o1.warnings).toEqual(['unknown field "extra"']);
    // the answer is the stored text, unparsed until read
    const text = serialisedText(viaWorker);
    expect(text).toBeDefined();
    expect(JSON.parse(text!)).toEqual(a);
    expect(viaWorker.metadata.name).toBe('twin');
    expect(serialisedText(viaWorker)).toBeUndefined();
  });

  it('answers the errors of the inline path, the namespace first', async () => {
    const strict = opts({ fieldValidation: 'Strict' });
    const inline = await apiError(registry.create(cmInfo, 'default', { ...configMap('a', 5000), bogus: 1 }, strict));
    const worker = await apiError(registry.create(cmInfo, 'default', large({ ...configMap('a', 5000), bogus: 1 }), strict));
    expect(worker.status).toEqual(inline.status);
    expect(worker.code).toBe(400);
    // invalid data in a namespace that does not exist: the namespace's 404 comes first, as inline
    const bad = configMap('b', 5000, { data: { 'not a key!': 'x', ...configMap('b', 5000).data } });
    const inlineNs = await apiError(registry.create(cmInfo, 'nowhere', structuredClone(bad), opts()));
    const workerNs = await apiError(registry.create(cmInfo, 'nowhere', large(bad), opts()));
    expect(workerNs.status).toEqual(inlineNs.status);
    expect(workerNs.code).toBe(404);
    const inlineBad = await apiError(registry.create(cmInfo, 'default', structuredClone(bad), opts()));
    const workerBad = await apiError(registry.create(cmInfo, 'default', large(bad), opts()));
    expect(workerBad.status).toEqual(inlineBad.status);
    expect(workerBad.code).toBe(422);
    // a body that does not decode: decodeBody's 400
    const garbage = new LargeBody(Buffer.from(`{"a": ${'1'.repeat(OFFLOAD_WRITE_BYTES)}`), 'application/json');
    expect((await apiError(registry.create(cmInfo, 'default', garbage, opts()))).code).toBe(400);
    // an existing name: 409 AlreadyExists
    await registry.create(cmInfo, 'default', large(configMap('dup', 5000)), opts());
    const dup = await apiError(registry.create(cmInfo, 'default', large(configMap('dup', 5000)), opts()));
    expect(dup.code).toBe(409);
    expect(dup.status.reason).toBe('AlreadyExists');
  });

  it('computes a dry run without storing it', async () => {
    const r = await registry.create(cmInfo, 'default', large(configMap('dry', 5000)), opts({ dryRun: true }));
    expect(r.metadata.uid).toBeDefined();
    expect(r.metadata.resourceVersion).toBeUndefined();
    expect(await store.get('configmaps', 'default', 'dry')).toBeUndefined();
  });
});

describe('a large update or patch computed on a worker', () => {
  it('a strategic merge stores what the inline path stores', async () => {
    for (const name of ['twin', 'solo']) await registry.create(depInfo, 'default', deployment(name, 3000), opts());
    const patch = { spec: { template: { spec: { containers: [{ name: 'c', env: deployment('x', 3000, 'b').spec.template.spec.containers[0].env }] } } } };
    const before = JSON.stringify(patch).length;
    expect(before).toBeGreaterThan(OFFLOAD_WRITE_BYTES);
    const o1 = opts({ serialisedResult: true });
    const r = await registry.patch(depInfo, 'default', 'twin', 'strategic', large(patch, 'application/strategic-merge-patch+json'), o1);
    // the inline path: the stored object is large too, so a registry without getRaw stands for it
    const inline = new Registry({ ...bare(store) }, pino({ level: 'silent' }));
    await inline.patch(depInfo, 'default', 'solo', 'strategic', structuredClone(patch), opts());
    const [a, b] = [await store.get('apps/deployments', 'default', 'twin'), await store.get('apps/deployments', 'default', 'solo')];
    expect(a!.metadata.generation).toBe(2);
    expect(normal(a)).toEqual(normal(b));
    expect(JSON.parse(serialisedText(r.object)!)).toEqual(a);
  });

  it('a small patch of a large stored object runs on the worker too, with the same result', async () => {
    for (const name of ['twin', 'solo']) await registry.create(depInfo, 'default', deployment(name, 3000), opts());
    let tasks = 0;
    registry.offload = counting(() => tasks++);
    const patch = { metadata: { labels: { x: 'y' } }, spec: { replicas: 2 } };
    await registry.patch(depInfo, 'default', 'twin', 'merge', structuredClone(patch), opts());
    expect(tasks).toBe(1);
    const inline = new Registry(bare(store), pino({ level: 'silent' }));
    await inline.patch(depInfo, 'default', 'solo', 'merge', structuredClone(patch), opts());
    expect(normal(await store.get('apps/deployments', 'default', 'twin'))).toEqual(normal(await store.get('apps/deployments', 'default', 'solo')));
  });

  it('a PUT stores what the inline path stores; a stale resourceVersion is 409 and a missing object 404', async () => {
    for (const name of ['twin', 'solo']) await registry.create(cmInfo, 'default', configMap(name, 5000), opts());
    const put = (name: string) => ({ ...configMap(name, 5000), data: { ...configMap(name, 5000).data, added: 'yes' } });
    await registry.update(cmInfo, 'default', 'twin', large(put('twin')), opts());
    await new Registry(bare(store), pino({ level: 'silent' })).update(cmInfo, 'default', 'solo', put('solo'), opts());
    expect(normal(await store.get('configmaps', 'default', 'twin'))).toEqual(normal(await store.get('configmaps', 'default', 'solo')));
    const stale = { ...put('twin'), metadata: { name: 'twin', resourceVersion: '1' } };
    expect((await apiError(registry.update(cmInfo, 'default', 'twin', large(stale), opts()))).code).toBe(409);
    expect((await apiError(registry.update(cmInfo, 'default', 'gone', large(put('gone')), opts()))).code).toBe(404);
    // unchanged: nothing written, the stored object answered
    const cur = await store.get('configmaps', 'default', 'twin');
    const same = await registry.update(cmInfo, 'default', 'twin', large({ ...cur, metadata: { ...cur!.metadata, resourceVersion: undefined } }), opts());
    expect(same.metadata.resourceVersion).toBe(cur!.metadata.resourceVersion);
  });

  it('an apply of a large body to an absent object creates it', async () => {
    const r = await registry.patch(cmInfo, 'default', 'applied', 'apply', large(configMap('applied', 5000), 'application/apply-patch+yaml'), opts());
    expect(r.created).toBe(true);
    const again = await registry.patch(cmInfo, 'default', 'applied', 'apply', large(configMap('applied', 5001), 'application/apply-patch+yaml'), opts());
    expect(again.created).toBe(false);
    expect(Object.keys(again.object.data ?? {})).toHaveLength(5001);
    expect(again.object.metadata.managedFields?.[0].operation).toBe('Apply');
  });

  it('retries the compute when another write wins the race meanwhile', async () => {
    await registry.create(depInfo, 'default', deployment('raced', 3000), opts());
    let tasks = 0;
    const other = new Registry(bare(store), pino({ level: 'silent' }));
    registry.offload = counting(async (task) => {
      // while the first attempt computes, another writer changes the object
      if (task === 'update' && ++tasks === 1) await other.patch(depInfo, 'default', 'raced', 'merge', { metadata: { labels: { other: 'writer' } } }, opts({ fieldManager: 'other' }));
    });
    const env = deployment('x', 3000, 'changed').spec.template.spec.containers[0].env;
    const patch = { spec: { template: { spec: { containers: [{ name: 'c', env }] } } } };
    await registry.patch(depInfo, 'default', 'raced', 'strategic', large(patch, 'application/strategic-merge-patch+json'), opts());
    expect(tasks).toBe(2);
    const got = await store.get('apps/deployments', 'default', 'raced');
    expect(got!.metadata.labels).toEqual({ other: 'writer' });
    expect(got!.spec.template.spec.containers[0].env[1]).toEqual({ name: 'E1', value: 'changed1' });
    expect(got!.metadata.managedFields!.map((m) => m.manager).sort()).toEqual(['kubectl', 'other']);
  });
});

describe('heavyWrite', () => {
  it('offloads a large body of many values, not one of few long ones', () => {
    expect(heavyWrite(Buffer.from(JSON.stringify(configMap('a', 5000))))).toBe(true);
    expect(heavyWrite(JSON.stringify(configMap('a', 5000)))).toBe(true);
    expect(heavyWrite(Buffer.from(JSON.stringify({ data: { blob: 'x'.repeat(OFFLOAD_WRITE_BYTES * 4) } })))).toBe(false);
    expect(heavyWrite(Buffer.from(JSON.stringify(configMap('a', 100))))).toBe(false);
    // YAML: a value per line
    expect(heavyWrite(Buffer.from(Array.from({ length: 10000 }, (_, i) => `k${i}: v${i}`).join('\n')))).toBe(true);
    expect(LargeBody.of(Buffer.from(JSON.stringify(configMap('a', 5000))), 'application/vnd.kubernetes.protobuf')).toBeUndefined();
  });
});

describe('the watch events of a large write', () => {
  /** recorder keeps each delivery as `TYPE labels` and its line. */
  function recorder() {
    const r = {
      got: [] as string[],
      lines: [] as string[],
      deliver(d: Delivery) {
        const line = d.line();
        r.lines.push(line);
        r.got.push(`${d.type} ${JSON.stringify((JSON.parse(line) as { object: KubeObject }).object.metadata.labels)}`);
        return 0;
      },
      close() {},
    };
    return r;
  }

  it('carry a summary equal to what parsing the stored text gives, and the watch cache routes them without parsing', async () => {
    const events: StoreEvent[] = [];
    store.watch('configmaps', { fromRevision: store.revision() }, (ev) => events.push(ev));
    const cache = await registry.cacheFor(cmInfo);
    const sel = (labelSelector: string, fieldSelector = '') => ({ namespace: 'default', ...registry.parseSelection(cmInfo, { labelSelector, fieldSelector }) });
    const yes = recorder();
    const no = recorder();
    const named = recorder();
    cache.watch(sel('big=yes'), cache.revision, yes);
    cache.watch(sel('big=no'), cache.revision, no);
    cache.watch(sel('', 'metadata.name=huge'), cache.revision, named);
    const parsedBefore = cache.stats.parsed;

    await registry.create(cmInfo, 'default', large(configMap('huge', 5000)), opts({ serialisedResult: true }));
    // a strategic merge that moves the object from one label selection to the other
    const relabel = { metadata: { labels: { big: 'no' } }, data: Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [`n${i}`, `w${i}`])) };
    await registry.patch(cmInfo, 'default', 'huge', 'strategic', large(relabel, 'application/strategic-merge-patch+json'), opts({ serialisedResult: true }));
    await registry.delete(cmInfo, 'default', 'huge', {});
    expect(await cache.waitFresh(store.revision())).toBe(true);
    await new Promise((r) => setImmediate(r));

    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    for (const ev of events.slice(0, 2)) {
      const parsed = JSON.parse(ev.value!) as KubeObject;
      expect(ev.summary).toEqual(summaryOf(cmInfo, parsed));
      expect(ev.summary).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name: 'huge', fields: { 'metadata.name': 'huge', 'metadata.namespace': 'default' } });
    }
    expect(yes.got).toEqual(['ADDED {"big":"yes"}', 'DELETED {"big":"no"}']);
    expect(no.got).toEqual(['ADDED {"big":"no"}', 'DELETED {"big":"no"}']);
    expect(named.got).toEqual(['ADDED {"big":"yes"}', 'MODIFIED {"big":"no"}', 'DELETED {"big":"no"}']);
    // each line carries the stored text as it is
    expect(named.lines.map((l) => l.slice(l.indexOf('"object":') + 9, -2))).toEqual(events.map((e) => e.value));
    expect(cache.stats.parsed - parsedBefore).toBe(0);
    expect(cache.list(sel('')).items).toEqual([]);
  });

  it('a small write computed inline is routed by its summary too, never parsed', async () => {
    const cache = await registry.cacheFor(cmInfo);
    const before = cache.stats.parsed;
    await registry.create(cmInfo, 'default', configMap('small', 3), opts());
    expect(await cache.waitFresh(store.revision())).toBe(true);
    expect(cache.stats.parsed - before).toBe(0);
    expect(cache.list({ namespace: 'default', ...registry.parseSelection(cmInfo, { labelSelector: 'big=yes' }) }).items).toHaveLength(1);
  });
});

describe('the answer of a write computed inline', () => {
  it('is the stored text itself for a caller that renders JSON, and the stored object for others', async () => {
    const made = await registry.create(cmInfo, 'default', configMap('answer', 3), opts({ serialisedResult: true }));
    const stored = await store.getRaw!('configmaps', 'default', 'answer');
    expect(serialisedText(made)).toBe(stored!.value);
    expect(made.metadata.resourceVersion).toBe(String(stored!.revision));
    const patched = await registry.patch(cmInfo, 'default', 'answer', 'merge', { data: { k0: 'changed' } }, opts({ serialisedResult: true }));
    const after = await store.getRaw!('configmaps', 'default', 'answer');
    expect(serialisedText(patched.object)).toBe(after!.value);
    expect(patched.object.data!.k0).toBe('changed');
    const updated = await registry.update(cmInfo, 'default', 'answer', { ...JSON.parse(after!.value), data: { only: 'this' } }, opts());
    const last = await store.getRaw!('configmaps', 'default', 'answer');
    expect(serialisedText(updated)).toBeUndefined();
    expect(updated).toEqual(JSON.parse(last!.value));
    expect(updated.data).toEqual({ only: 'this' });
  });
});

describe('a status write', () => {
  const podInfo = lookupKind('v1', 'Pod')!;
  const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };

  it('keeps the stored spec and metadata, records the writer as the status fields\' manager, and writes nothing when nothing changed', async () => {
    const made = await registry.create(podInfo, 'default', structuredClone(pod), opts({ fieldManager: 'kubectl-create' }));
    const running = { ...made.status, phase: 'Running', podIP: '10.42.0.9', podIPs: [{ ip: '10.42.0.9' }] };
    // the writer sends a changed spec and labels too: a /status write ignores them
    const body = { ...structuredClone(made), status: running, spec: { ...made.spec, activeDeadlineSeconds: 5 }, metadata: { ...made.metadata, labels: { app: 'other' } } };
    const written = await registry.update(podInfo, 'default', 'web', body, opts({ fieldManager: 'kubelet' }), 'status');
    const stored = JSON.parse((await store.getRaw!('pods', 'default', 'web'))!.value) as KubeObject;
    expect(stored).toEqual(written);
    expect(stored.spec).toEqual(made.spec);
    expect(stored.metadata.labels).toEqual({ app: 'web' });
    expect(stored.status).toMatchObject({ phase: 'Running', podIP: '10.42.0.9' });
    const entries = stored.metadata.managedFields!;
    expect(entries.map((e) => [e.manager, e.subresource ?? ''])).toEqual([['kubectl-create', ''], ['kubelet', 'status']]);
    expect(Object.keys(entries[1].fieldsV1!)).toEqual(['f:status']);
    // upstream's reset fields: the creator (main resource) owns no status, the status writer no spec
    expect(Object.keys(entries[0].fieldsV1!).sort()).toEqual(['f:metadata', 'f:spec']);
    // the same status again: no write, the stored object answered
    const again = await registry.update(podInfo, 'default', 'web', { ...structuredClone(stored), status: running }, opts({ fieldManager: 'kubelet' }), 'status');
    expect(again.metadata.resourceVersion).toBe(stored.metadata.resourceVersion);
  });

  it('refuses a status the kind\'s status rules refuse, with a 422 that names the field, and changes nothing', async () => {
    const made = await registry.create(podInfo, 'default', structuredClone(pod), opts());
    const before = (await store.getRaw!('pods', 'default', 'web'))!;
    const err = await apiError(registry.update(podInfo, 'default', 'web', { ...structuredClone(made), status: { phase: 'Running', podIPs: [{ ip: 'not-an-ip' }] } }, opts({ fieldManager: 'kubelet' }), 'status'));
    expect(err.code).toBe(422);
    expect(err.status.message).toContain('status.podIPs[0]: Invalid value: "not-an-ip": must be a valid IP address');
    expect((await store.getRaw!('pods', 'default', 'web'))!.revision).toBe(before.revision);
  });
});

describe('a scale write', () => {
  it('records its writer with subresource scale, owning spec.replicas only', async () => {
    await registry.create(depInfo, 'default', deployment('web', 1), opts({ fieldManager: 'kubectl-create' }));
    const scaled = await registry.updateScale(depInfo, 'default', 'web', (s) => ({ ...s, spec: { replicas: 3 } }), opts({ fieldManager: 'kubectl' }));
    expect(scaled).toMatchObject({ kind: 'Scale', spec: { replicas: 3 } });
    const stored = JSON.parse((await store.getRaw!(storeKey(depInfo), 'default', 'web'))!.value) as KubeObject;
    expect(stored.spec.replicas).toBe(3);
    const entry = stored.metadata.managedFields!.find((e) => e.manager === 'kubectl')!;
    expect(entry.subresource).toBe('scale');
    expect(entry.fieldsV1).toEqual({ 'f:spec': { 'f:replicas': {} } });
  });
});

describe('unchanged', () => {
  it('compares as the JSON encoding would, key order aside, and ignores managedFields and resourceVersion', () => {
    const a: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', resourceVersion: '1', managedFields: [] }, data: { a: '1', b: '2' } };
    expect(unchanged(a, { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x', resourceVersion: '2' }, data: { b: '2', a: '1' } })).toBe(true);
    expect(unchanged(a, { ...a, data: { a: '1', b: '3' } })).toBe(false);
    expect(unchanged(a, { ...a, data: { a: '1' } })).toBe(false);
    expect(deepEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(deepEqual([1, undefined], [1, null])).toBe(true);
    expect(deepEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(deepEqual({ a: {} }, { a: [] })).toBe(false);
    expect(deepEqual({ a: null }, {})).toBe(false);
  });
});

describe('a GET', () => {
  it('answers a caller that renders JSON with the stored text, unparsed, large or small; others with the object', async () => {
    await registry.create(cmInfo, 'default', large(configMap('huge', 5000)), opts());
    await registry.create(cmInfo, 'default', configMap('small', 3), opts());
    const stored = await store.getRaw!('configmaps', 'default', 'huge');
    const lazy = await registry.get(cmInfo, 'default', 'huge', { serialisedResult: true });
    expect(serialisedText(lazy)).toBe(stored!.value);
    expect(lazy.data!.k4999).toBe('v4999');
    const plain = await registry.get(cmInfo, 'default', 'huge');
    expect(serialisedText(plain)).toBeUndefined();
    expect(plain).toEqual(JSON.parse(stored!.value));
    const small = await registry.get(cmInfo, 'default', 'small', { serialisedResult: true });
    expect(serialisedText(small)).toBe((await store.getRaw!('configmaps', 'default', 'small'))!.value);
    expect(small.metadata.name).toBe('small');
    expect(serialisedText(small)).toBeUndefined();
    await expect(registry.get(cmInfo, 'default', 'absent', { serialisedResult: true })).rejects.toMatchObject({ code: 404 });
  });

  it('is sent unparsed only when the text carries apiVersion and kind at its top level', async () => {
    const pair = '"apiVersion":"v1","kind":"ConfigMap"';
    expect(typedText(`{${pair},"metadata":{}}`, 'v1', 'ConfigMap')).toBe(true);
    expect(typedText(`{"metadata":{},${pair}}`, 'v1', 'ConfigMap')).toBe(true);
    expect(typedText(`{${pair}}`, 'v1', 'ConfigMap')).toBe(true);
    expect(typedText(`{"metadata":{${pair}}}`, 'v1', 'ConfigMap')).toBe(false);
    expect(typedText(`{"metadata":{"x":{${pair},"y":1}}}`, 'v1', 'ConfigMap')).toBe(false);
    expect(typedText(`{"apiVersion":"v1","kind":"Secret","metadata":{}}`, 'v1', 'ConfigMap')).toBe(false);
    expect(typedText(`{"metadata":{}}`, 'v1', 'ConfigMap')).toBe(false);
    // a stored object without them is parsed and typed, as before
    await store.create('configmaps', { metadata: { name: 'untyped', namespace: 'default' }, data: configMap('x', 5000).data });
    const got = await registry.get(cmInfo, 'default', 'untyped', { serialisedResult: true });
    expect(serialisedText(got)).toBeUndefined();
    expect(got).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });
  });
});

describe('lazyObject', () => {
  it('renders its text until something reads it; a promise resolved with it does not parse it', async () => {
    const text = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } });
    const o = await Promise.resolve(lazyObject(text));
    expect(serialisedText(o)).toBe(text);
    o.metadata.name = 'y';
    expect(serialisedText(o)).toBeUndefined();
    expect(JSON.stringify(o)).toBe(text.replace('"x"', '"y"'));
    expect(Object.keys(o)).toEqual(['apiVersion', 'kind', 'metadata']);
  });
});

/** bare is the store without getRaw: a registry over it computes every write inline. */
function bare(s: Store): Store {
  return {
    revision: () => s.revision(),
    compactedRevision: () => s.compactedRevision(),
    get: (...a) => s.get(...a),
    list: (...a) => s.list(...a),
    create: (...a) => s.create(...a),
    update: (...a) => s.update(...a),
    delete: (...a) => s.delete(...a),
    watch: (...a) => s.watch(...a),
    compact: (...a) => s.compact(...a),
    close: async () => {},
  };
}

/** counting is an offload pool that computes inline, calling `before` first (which may race a write). */
function counting(before: (task: TaskName) => unknown): OffloadPool {
  const tasks = { decode: decodeRequestBody, create: computeCreate, update: computeUpdate } as Record<string, (a: unknown) => unknown>;
  return {
    run: async <T extends TaskName>(task: T, arg: Tasks[T]['arg']) => {
      await before(task);
      return tasks[task](arg) as Tasks[T]['result'];
    },
  } as unknown as OffloadPool;
}
