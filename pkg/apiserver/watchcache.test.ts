// watchcache.test: the watch cache over a real SQLite store — replay, 410, the nodeName index, shared serialisation, slow watchers, consistent lists.
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { parseFieldSelector } from '../api/selectors.ts';
import { StoreError, type Store } from '../store/index.ts';
import { openTempStore, type TempStore } from '../store/testing.ts';
import { Registry } from './registry.ts';
import { TextPacker, WatchCache, WindowBudget, type CacheTarget, type Delivery } from './watchcache.ts';

const POD = lookupKind('v1', 'Pod')!;
const CM = lookupKind('v1', 'ConfigMap')!;

let tmp: TempStore;
let store: Store;
const caches: WatchCache[] = [];

beforeEach(() => {
  tmp = openTempStore('wc');
  store = tmp.store;
});
afterEach(async () => {
  for (const c of caches.splice(0)) c.stop();
  await tmp.close();
});

function cache(opts: ConstructorParameters<typeof WatchCache>[2] = {}, info = POD): WatchCache {
  const c = new WatchCache(store, info, opts);
  caches.push(c);
  return c;
}

function pod(name: string, nodeName?: string, labels?: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', ...(labels ? { labels } : {}) }, spec: { containers: [{ name: 'c', image: 'nginx' }], ...(nodeName ? { nodeName } : {}) } };
}

/** recorder is a target that keeps what it got as `TYPE name` strings. */
function recorder(): CacheTarget & { got: string[]; lines: string[]; closed: string[] } {
  const r = {
    got: [] as string[],
    lines: [] as string[],
    closed: [] as string[],
    deliver(d: Delivery) {
      r.got.push(`${d.type} ${d.object().metadata.name}`);
      r.lines.push(d.line());
      return 0;
    },
    close(reason: string) {
      r.closed.push(reason);
    },
  };
  return r;
}

/** settled waits until committed writes reached the cache and its watchers (store delivery, then the fan-out batch). */
async function settled(c: WatchCache): Promise<void> {
  expect(await c.waitFresh(store.revision())).toBe(true);
  await new Promise((r) => setImmediate(r));
}

const all = { labels: [], fields: [] };

describe('WatchCache', () => {
  it('replays from a revision in the window and answers 410 below it', async () => {
    for (let i = 0; i < 5; i++) await store.create('pods', pod(`p${i}`));
    const c = cache({ maxEvents: 4 });
    await c.ready();
    for (let i = 5; i < 10; i++) await store.create('pods', pod(`p${i}`));
    await settled(c);
    expect(c.windowLength).toBe(4);
    expect(c.oldest).toBe(6);
    const r = recorder();
    c.watch(all, 7, r);
    expect(r.got).toEqual(['ADDED p7', 'ADDED p8', 'ADDED p9']);
    expect(() => c.watch(all, 5, recorder())).toThrow(StoreError);
    try {
      c.watch(all, 5, recorder());
    } catch (e) {
      expect((e as StoreError).code).toBe('Expired');
      expect((e as StoreError).message).toBe('too old resource version: 5 (6)');
    }
    // and live events follow the replay with no gap
    await store.create('pods', pod('p10'));
    await settled(c);
    expect(r.got.at(-1)).toBe('ADDED p10');
  });

  it('shares one byte bound among caches: past it the oldest event of all leaves first, and each cache keeps its newest', async () => {
    const cm = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { k: 'x'.repeat(200) } });
    const probe = await store.create('configmaps', cm('probe'));
    const size = JSON.stringify(probe).length; // about one event's text
    const budget = new WindowBudget(size * 6);
    const pods = cache({ budget });
    const cms = cache({ budget }, CM);
    await Promise.all([pods.ready(), cms.ready()]);
    for (let i = 0; i < 3; i++) await store.create('pods', pod(`p${i}`));
    await settled(pods);
    expect(pods.windowLength).toBe(3);
    await new Promise((r) => setTimeout(r, 5)); // the config maps' events come later than the pods'
    for (let i = 0; i < 8; i++) await store.create('configmaps', cm(`c${i}`));
    await settled(cms);
    expect(budget.bytes).toBeLessThanOrEqual(budget.maxBytes);
    // the pods' events were older than every config map's: they left first, all but the newest
    expect(pods.windowLength).toBe(1);
    expect(pods.oldest).toBe(3); // rev 1 the probe, 2–4 the pods: the window holds what came after 3
    expect(cms.windowLength).toBeGreaterThan(1);
    expect(cms.windowLength).toBeLessThan(9);
    // a watcher resuming from before its cache's window gets 410 from the cache (the registry then asks the store)
    expect(() => pods.watch(all, 2, recorder())).toThrow(StoreError);
    const r = recorder();
    pods.watch(all, 3, r);
    expect(r.got).toEqual(['ADDED p2']);
    // a stopped cache gives its bytes back
    const before = budget.bytes;
    pods.stop();
    expect(budget.bytes).toBeLessThan(before);
    cms.stop();
    expect(budget.bytes).toBe(0);
  });

  it('starts from the store\'s oldest revision, so watchers resume from anywhere in its history', async () => {
    for (let i = 0; i < 5; i++) await store.create('pods', pod(`p${i}`));
    await store.delete('pods', 'default', 'p0');
    await store.compact(2);
    const c = cache();
    await c.ready();
    expect(c.oldest).toBe(2);
    expect(c.size).toBe(4);
    const r = recorder();
    c.watch(all, 2, r);
    expect(r.got).toEqual(['ADDED p2', 'ADDED p3', 'ADDED p4', 'DELETED p0']);
  });

  it('indexes pods by spec.nodeName: a pod moving between nodes is DELETED on the old node\'s watch and ADDED on the new', async () => {
    const c = cache();
    await c.ready();
    const onA = recorder();
    const onB = recorder();
    const sel = (n: string) => ({ labels: [], fields: parseFieldSelector(`spec.nodeName=${n}`) });
    c.watch(sel('node-a'), undefined, onA);
    c.watch(sel('node-b'), undefined, onB);
    const p = await store.create('pods', pod('mover', 'node-a'));
    await store.create('pods', pod('stay', 'node-b'));
    await store.create('pods', pod('unscheduled'));
    await settled(c);
    expect(c.list(sel('node-a')).items.map((t) => JSON.parse(t).metadata.name)).toEqual(['mover']);
    expect(c.list(sel('')).items.map((t) => JSON.parse(t).metadata.name)).toEqual(['unscheduled']);
    await store.update('pods', { ...p, spec: { ...p.spec, nodeName: 'node-b' } });
    await settled(c);
    expect(onA.got).toEqual(['ADDED mover', 'DELETED mover']);
    expect(onB.got).toEqual(['ADDED stay', 'ADDED mover']);
    expect(c.list(sel('node-a')).items).toEqual([]);
    expect(c.list(sel('node-b')).items.map((t) => JSON.parse(t).metadata.name)).toEqual(['mover', 'stay']);
  });

  it('serialises each event once for all its watchers', async () => {
    const c = cache();
    await c.ready();
    const targets = Array.from({ length: 50 }, () => recorder());
    for (const t of targets) c.watch(all, store.revision(), t);
    const before = c.stats.serialised;
    await store.create('pods', pod('one', 'n', { app: 'x' }));
    await settled(c);
    expect(c.stats.serialised - before).toBe(1);
    const line = targets[0].lines[0];
    expect(targets.every((t) => t.lines.length === 1 && t.lines[0] === line)).toBe(true);
    expect(JSON.parse(line)).toMatchObject({ type: 'ADDED', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'one', resourceVersion: '1' } } });
  });

  it('encodes each fanned-out line once for all its watchers; a replay encodes its own', async () => {
    const c = cache();
    await c.ready();
    const got: Buffer[][] = [[], [], []];
    const bytes = (i: number) => ({ deliver: (d: Delivery) => (got[i].push(d.encoded!()), 0), close: () => {} });
    c.watch(all, store.revision(), bytes(0));
    c.watch(all, store.revision(), bytes(1));
    await store.create('pods', pod('one', 'n', { app: 'x' }));
    await settled(c);
    expect(got[0]).toHaveLength(1);
    expect(got[1][0]).toBe(got[0][0]);
    c.watch(all, 0, bytes(2));
    expect(got[2][0]).not.toBe(got[0][0]);
    expect(got[2][0].toString()).toBe(got[0][0].toString());
    expect(JSON.parse(got[0][0].toString())).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'one' } } });
  });

  it('closes a watcher whose queue overflows and keeps serving the others', async () => {
    const c = cache({ watcherQueueBytes: 1000 });
    await c.ready();
    let queued = 0;
    const slow = { closed: [] as string[], deliver: (d: Delivery) => (queued += d.line().length), close: (r: string) => slow.closed.push(r) };
    const fast = recorder();
    c.watch(all, 0, slow);
    c.watch(all, 0, fast);
    for (let i = 0; i < 20; i++) await store.create('pods', pod(`p${i}`));
    await settled(c);
    expect(slow.closed).toEqual(['watcher queue overflowed']);
    expect(c.stats.overflowed).toBe(1);
    expect(queued).toBeLessThan(2000);
    expect(fast.got).toHaveLength(20);
    expect(c.watcherCount).toBe(1);
  });

  it('bookmarks only revisions whose events were handed over, and follows progress of other resources', async () => {
    const c = cache();
    await c.ready();
    const w = c.watch(all, undefined, recorder());
    await store.create('configmaps', { metadata: { name: 'cm', namespace: 'default' } });
    await settled(c);
    expect(w.bookmarkRevision()).toBe(1);
    expect(c.revision).toBe(1);
  });

  it('waitDispatched resolves once the events are with the watchers, not only applied; each delivery carries the object\'s fields', async () => {
    const c = cache();
    await c.ready();
    const r = recorder();
    const fields: Record<string, string>[] = [];
    c.watch(all, undefined, { deliver: (d) => (fields.push({ ...d.fields! }), r.deliver(d)), close: r.close });
    for (let i = 0; i < 50; i++) await store.create('pods', pod(`p${i}`, i % 2 ? 'n1' : undefined));
    expect(await c.waitDispatched(store.revision())).toBe(true);
    expect(r.got).toHaveLength(50);
    expect(fields[1]).toMatchObject({ 'metadata.name': 'p1', 'metadata.namespace': 'default', 'spec.nodeName': 'n1' });
    expect(fields[0]['spec.nodeName']).toBe('');
    // nothing pending: at once
    expect(await c.waitDispatched(store.revision())).toBe(true);
  });

  it('parses an event once for its readers and the first watcher that keeps it: view() lends, object() takes', async () => {
    const c = cache();
    await c.ready();
    const seen: { view: KubeObject[]; kept: KubeObject[]; second: KubeObject[]; late: KubeObject[] } = { view: [], kept: [], second: [], late: [] };
    c.watch(all, undefined, { deliver: (d) => (seen.view.push(d.view()), 0), close: () => {} });
    c.watch(all, undefined, { deliver: (d) => (seen.kept.push(d.object()), seen.second.push(d.object()), 0), close: () => {} });
    c.watch(all, undefined, { deliver: (d) => (seen.late.push(d.view()), 0), close: () => {} });
    await store.create('pods', pod('p0'));
    expect(await c.waitDispatched(store.revision())).toBe(true);
    expect(seen.kept[0]).toBe(seen.view[0]);
    expect(seen.second[0]).not.toBe(seen.kept[0]);
    expect(seen.second[0]).toEqual(seen.kept[0]);
    // once taken, a reader gets a parse of its own: the keeper may change what it took
    expect(seen.late[0]).not.toBe(seen.kept[0]);
    expect(seen.late[0].metadata.name).toBe('p0');
  });
});

describe('WatchCache packed texts', () => {
  /** bigPod is a pod whose text is worth packing (~2 KB: annotations and managedFields, as a real pod's). */
  function bigPod(name: string, nodeName?: string): KubeObject {
    const p = pod(name, nodeName, { app: 'web', tier: 'frontend' });
    const fields = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f:field-${i}`, {}]));
    p.metadata.annotations = { note: `é ☃ ${name} `.repeat(20) };
    p.metadata.managedFields = ['kube-controller-manager', 'kube-scheduler', 'kubelet'].map((manager) => ({ manager, operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': fields } }));
    return p;
  }

  /** storedTexts are the store's own texts of every pod, by name. */
  async function storedTexts(): Promise<Map<string, string>> {
    const l = await store.list('pods');
    return new Map(l.items.map((t) => [JSON.parse(t).metadata.name as string, t]));
  }

  const onNode = (n: string) => ({ labels: [], fields: parseFieldSelector(`spec.nodeName=${n}`) });

  it('gives a packed object\'s text back byte-identical through lists, a new watch\'s ADDED events, and DELETED events', async () => {
    const c = cache({ maxEvents: 1, packAfterMs: 0 });
    await c.ready();
    for (const n of ['a', 'b', 'c']) await store.create('pods', bigPod(n, 'node-a'));
    await store.create('pods', pod('small', 'node-a'));
    await store.create('configmaps', { metadata: { name: 'x', namespace: 'default' } });
    await settled(c);
    // every pod's event left the window; the big ones are packed, the small one stays plain
    expect(c.windowLength).toBe(1);
    expect(c.memory()).toMatchObject({ packed: 3, plain: 1 });
    expect(c.stats.packed).toBe(3);
    const texts = await storedTexts();
    expect(texts.get('a')!.length).toBeGreaterThan(1500);
    expect(c.memory().packedBytes).toBeLessThan(texts.get('a')!.length);
    const want = ['a', 'b', 'c', 'small'].map((n) => texts.get(n)!);
    expect(c.list(all).items).toEqual(want);
    expect(c.list(onNode('node-a')).items).toEqual(want);
    const r = recorder();
    c.watch(onNode('node-a'), undefined, r);
    expect(r.lines).toEqual(want.map((t) => `{"type":"ADDED","object":${t}}\n`));
    // a deletion of a packed object: its DELETED event carries the last state, restamped
    const live = recorder();
    c.watch(all, c.revision, live);
    await store.delete('pods', 'default', 'b');
    const rev = store.revision();
    await settled(c);
    const b = texts.get('b')!;
    const restamped = b.replace(`"resourceVersion":"${JSON.parse(b).metadata.resourceVersion}"`, `"resourceVersion":"${rev}"`);
    expect(live.lines).toEqual([`{"type":"DELETED","object":${restamped}}\n`]);
    expect(c.list(all).items).toEqual([texts.get('a'), texts.get('c'), texts.get('small')]);
  });

  it('serves a packed object\'s later states: a move between nodes is DELETED for the old node with the new text', async () => {
    const c = cache({ maxEvents: 1, packAfterMs: 0 });
    await c.ready();
    const p = await store.create('pods', bigPod('mover', 'node-a'));
    await store.create('pods', bigPod('other', 'node-a'));
    await settled(c);
    expect(c.memory()).toMatchObject({ packed: 1, plain: 1 });
    const onA = recorder();
    c.watch(onNode('node-a'), c.revision, onA);
    await store.update('pods', { ...p, spec: { ...p.spec, nodeName: 'node-b' } });
    await settled(c);
    const moved = (await storedTexts()).get('mover')!;
    expect(onA.lines).toEqual([`{"type":"DELETED","object":${moved}}\n`]);
    expect(c.list(onNode('node-b')).items).toEqual([moved]);
    // its new state is in the window (plain); "other" left it and is packed too now
    expect(c.memory()).toMatchObject({ packed: 1, plain: 1 });
  });

  it('packs an object only once it has stopped changing for packAfterMs', async () => {
    const c = cache({ maxEvents: 1, packAfterMs: 300 });
    await c.ready();
    for (const n of ['young-a', 'young-b', 'young-c']) await store.create('pods', bigPod(n, 'node-a'));
    await settled(c);
    // two left the window, but neither has been still for 300 ms
    expect(c.memory()).toMatchObject({ packed: 0, plain: 3 });
    await new Promise((r) => setTimeout(r, 450));
    await settled(c);
    expect(c.memory()).toMatchObject({ packed: 2, plain: 1 });
    c.stop();
  });

  it('packs what it lists at start, and keeps everything plain with compression off', async () => {
    for (const n of ['a', 'b']) await store.create('pods', bigPod(n));
    await store.create('pods', pod('small'));
    // compacted: the caches list the objects at start instead of replaying their events into the window
    await store.compact(store.revision());
    const texts = [...(await storedTexts()).values()];
    const on = cache();
    const off = cache({ compress: false });
    await Promise.all([on.ready(), off.ready()]);
    await settled(on);
    expect(on.memory()).toMatchObject({ packed: 2, plain: 1 });
    expect(off.memory()).toMatchObject({ packed: 0, plain: 3 });
    expect(on.list(all).items).toEqual(texts);
    expect(off.list(all).items).toEqual(texts);
  });
});

describe('TextPacker', () => {
  const text = (n: number) => JSON.stringify({ metadata: { name: 'p', labels: { app: 'web' } }, data: Array.from({ length: n }, (_, i) => `value-${i % 97}`) });

  it('packs a mid-sized text smaller and gives it back byte for byte', () => {
    const p = new TextPacker();
    const t = text(500);
    const packed = p.pack(t)!;
    expect(packed.length).toBeLessThan(t.length / 2);
    expect(p.unpack(packed)).toBe(t);
  });

  it('leaves small and large texts plain: a tiny one would not pay, a big one would hold the event loop', () => {
    const p = new TextPacker();
    expect(p.pack(text(10))).toBeUndefined();
    const big = text(20_000);
    expect(big.length).toBeGreaterThan(64 * 1024);
    expect(p.pack(big)).toBeUndefined();
  });
});

describe('Registry reads', () => {
  const log = pino({ level: 'silent' });

  it('lists at an exact old revision, and pages at the first page\'s revision', async () => {
    const reg = new Registry(store, log);
    const cm = (name: string, v: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v } });
    for (const n of ['a', 'b', 'c']) await store.create('configmaps', cm(n, '1'));
    const at = String(store.revision());
    const p1 = await reg.listRaw(CM, 'default', { limit: 2 });
    await store.update('configmaps', cm('c', '2'));
    await store.create('configmaps', cm('d', '1'));
    const p2 = await reg.listRaw(CM, 'default', { limit: 2, continue: p1.continue });
    expect(p2.items.map((t) => JSON.parse(t).data.v)).toEqual(['1']);
    expect(p2.continue).toBeUndefined();
    const exact = await reg.list(CM, 'default', { resourceVersion: at, resourceVersionMatch: 'Exact' });
    expect(exact.items.map((o) => o.metadata.name)).toEqual(['a', 'b', 'c']);
    expect(exact.revision).toBe(Number(at));
    await expect(reg.list(CM, 'default', { resourceVersion: '99', resourceVersionMatch: 'Exact' })).rejects.toMatchObject({ code: 504 });
  });

  it('answers a continue token that outlived compaction with 410 and upstream\'s message', async () => {
    const reg = new Registry(store, log);
    for (const n of ['a', 'b', 'c']) await store.create('configmaps', { metadata: { name: n, namespace: 'default' } });
    const p1 = await reg.listRaw(CM, 'default', { limit: 1 });
    await store.create('configmaps', { metadata: { name: 'd', namespace: 'default' } });
    await store.compact(store.revision());
    try {
      await reg.listRaw(CM, 'default', { limit: 1, continue: p1.continue });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).code).toBe(410);
      expect((e as ApiError).status.message).toMatch(/^The provided continue parameter is too old to display a consistent list result/);
    }
    await expect(reg.list(CM, 'default', { resourceVersion: '2', resourceVersionMatch: 'Exact' })).rejects.toMatchObject({ code: 410 });
  });

  it('serves pods by spec.nodeName and resourceVersion=0 from the watch cache, consistently', async () => {
    const reg = new Registry(store, log);
    await store.create('pods', pod('x', 'node-a'));
    await store.create('pods', pod('y', 'node-b'));
    const r = await reg.list(POD, undefined, { fieldSelector: 'spec.nodeName=node-a' });
    expect(r.items.map((o) => o.metadata.name)).toEqual(['x']);
    // a write just resolved is in the next consistent list, although the cache learns of it asynchronously
    await store.create('pods', pod('z', 'node-a'));
    const r2 = await reg.list(POD, undefined, { fieldSelector: 'spec.nodeName=node-a' });
    expect(r2.items.map((o) => o.metadata.name)).toEqual(['x', 'z']);
    expect(r2.revision).toBe(3);
    const any = await reg.list(POD, undefined, { resourceVersion: '0' });
    expect(any.items).toHaveLength(3);
    reg.stopCaches();
  });

  it('replays a resume from before the window out of the store, then serves it from the cache\'s fan-out', async () => {
    const reg = new Registry(store, log);
    reg.watchCacheOptions = { maxEvents: 2 };
    const c = await reg.cacheFor(POD);
    await store.create('pods', pod('a', 'node-a'));
    const from = store.revision();
    for (const n of ['b', 'c', 'd']) await store.create('pods', pod(n, n === 'c' ? 'node-b' : 'node-a'));
    await settled(c);
    expect(c.oldest).toBeGreaterThan(from);
    const before = c.watcherCount;
    const r = recorder();
    const w = await reg.watchShared(POD, undefined, { resourceVersion: String(from), fieldSelector: 'spec.nodeName=node-a' }, r);
    expect(r.got).toEqual(['ADDED b', 'ADDED d']);
    // it joined the cache: one more cache watcher, and live events reach it through the shared fan-out
    expect(c.watcherCount).toBe(before + 1);
    await store.create('pods', pod('e', 'node-a'));
    await store.create('pods', pod('f', 'node-b'));
    await settled(c);
    expect(r.got).toEqual(['ADDED b', 'ADDED d', 'ADDED e']);
    expect(w.bookmarkRevision()).toBe(store.revision());
    w.stop();
    expect(c.watcherCount).toBe(before);
    // older than the store's history: 410
    await store.compact(store.revision());
    await expect(reg.watchShared(POD, undefined, { resourceVersion: String(from) }, recorder())).rejects.toMatchObject({ code: 410 });
    reg.stopCaches();
  });
});
