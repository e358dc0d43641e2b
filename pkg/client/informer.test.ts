// informer.test: shared informers over an in-memory fake ApiClient — one watch for many handlers, replay, indexers, resync, 410 re-list, bookmark resume, paging.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { errors } from '../api/errors.ts';
import { lookupKind, type ResourceInfo } from '../api/resources.ts';
import type { KubeObject, Status, WatchEvent } from '../api/types.ts';
import { Informer, SharedInformerFactory, StringPool, keyOf, type ResourceEventHandler } from './informer.ts';
import type { ApiClient, ListQuery, ListResult, WatchHandle, WatchQuery } from './interface.ts';

const log = pino({ level: 'silent' });
const podInfo = lookupKind('v1', 'Pod')!;
const nodeInfo = lookupKind('v1', 'Node')!;

interface FakeWatch {
  query: WatchQuery;
  onEvent: (ev: WatchEvent) => void;
  end(): void;
  fail(e: Error): void;
}

/** FakeClient is an in-memory list+watch source for one resource; it records every list and watch call. */
class FakeClient implements ApiClient {
  readonly objs = new Map<string, KubeObject>();
  private rv = 100;
  private readonly history: { rv: number; type: 'ADDED' | 'MODIFIED' | 'DELETED'; obj: KubeObject }[] = [];
  readonly lists: ListQuery[] = [];
  readonly watches: FakeWatch[] = [];
  /** watchError makes the next watch fail to open with this error */
  watchError: Error | undefined;

  /** put creates or updates an object and tells live watchers (unless silent: a change the watch missed). */
  put(obj: KubeObject, silent = false): KubeObject {
    const k = keyOf(obj);
    const type = this.objs.has(k) ? 'MODIFIED' : 'ADDED';
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    this.objs.set(k, stored);
    if (!silent) this.emit(type, stored);
    return stored;
  }

  remove(key: string, silent = false): void {
    const o = this.objs.get(key);
    if (!o) return;
    this.objs.delete(key);
    const tomb = { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.rv) } };
    if (!silent) this.emit('DELETED', tomb);
  }

  get live(): FakeWatch {
    return this.watches[this.watches.length - 1];
  }

  private emit(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KubeObject): void {
    this.history.push({ rv: Number(obj.metadata.resourceVersion), type, obj });
    this.live?.onEvent({ type, object: structuredClone(obj) });
  }

  async list(_info: ResourceInfo, _ns?: string, q: ListQuery = {}): Promise<ListResult> {
    this.lists.push(q);
    const all = [...this.objs.values()].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    const start = q.continue ? Number(q.continue) : 0;
    const end = q.limit ? start + q.limit : all.length;
    const items = all.slice(start, end).map((o) => {
      const c = structuredClone(o);
      delete c.kind;
      delete c.apiVersion;
      return c;
    });
    return { metadata: { resourceVersion: String(this.rv), ...(end < all.length ? { continue: String(end) } : {}) }, items };
  }

  watch(_info: ResourceInfo, _ns: string | undefined, query: WatchQuery, onEvent: (ev: WatchEvent) => void): WatchHandle {
    let end!: () => void;
    let fail!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      end = res;
      fail = rej;
    });
    const w: FakeWatch = { query, onEvent, end: () => end(), fail: (e) => fail(e) };
    if (this.watchError) {
      const e = this.watchError;
      this.watchError = undefined;
      queueMicrotask(() => fail(e));
      this.watches.push({ ...w, onEvent: () => undefined });
      return { stop: () => end(), done };
    }
    this.watches.push(w);
    const from = Number(query.resourceVersion || 0);
    for (const h of this.history) if (h.rv > from) onEvent({ type: h.type, object: structuredClone(h.obj) });
    return {
      stop: () => {
        w.onEvent = () => undefined;
        end();
      },
      done,
    };
  }

  get(): Promise<KubeObject> {
    throw new Error('not used');
  }
  getOrUndefined(): Promise<KubeObject | undefined> {
    throw new Error('not used');
  }
  create(): Promise<KubeObject> {
    throw new Error('not used');
  }
  update(): Promise<KubeObject> {
    throw new Error('not used');
  }
  updateStatus(): Promise<KubeObject> {
    throw new Error('not used');
  }
  patch(): Promise<KubeObject> {
    throw new Error('not used');
  }
  delete(): Promise<KubeObject | Status> {
    throw new Error('not used');
  }
  bind(): Promise<void> {
    throw new Error('not used');
  }
  evict(): Promise<void> {
    throw new Error('not used');
  }
  async close(): Promise<void> {}
}

function pod(name: string, opts: { ns?: string; node?: string; owner?: string; labels?: Record<string, string> } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: opts.ns ?? 'default', uid: `uid-${name}`, labels: opts.labels, ownerReferences: opts.owner ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: opts.owner, controller: true }] : undefined },
    spec: { nodeName: opts.node, containers: [{ name: 'c', image: 'busybox' }] },
  };
}

/** recorder is a handler that writes down what it was told. */
function recorder(): ResourceEventHandler & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    add: (o) => events.push(`add ${keyOf(o)}`),
    update: (a, b) => events.push(`update ${keyOf(b)} ${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
    delete: (o) => events.push(`delete ${keyOf(o)}`),
  };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

function factory(client: ApiClient, opts: { resyncMs?: number; pageSize?: number } = {}): SharedInformerFactory {
  const f = new SharedInformerFactory(client, log, opts);
  stops.push(() => f.stop());
  return f;
}

describe('SharedInformerFactory', () => {
  it('runs one list and one watch per resource however many handlers', async () => {
    const c = new FakeClient();
    c.put(pod('p1'));
    const f = factory(c);
    const hs = [recorder(), recorder(), recorder()];
    for (const h of hs) f.informerFor(podInfo).addEventHandler(h);
    expect(f.informerFor(podInfo)).toBe(f.informerFor(podInfo));
    f.start();
    await f.waitForSync();
    c.put(pod('p2'));
    await until(() => hs.every((h) => h.events.length === 2));
    expect(c.lists.length).toBe(1);
    expect(c.watches.length).toBe(1);
    for (const h of hs) expect(h.events).toEqual(['add default/p1', 'add default/p2']);
    const inf = f.informerFor(podInfo);
    expect(inf.hasSynced()).toBe(true);
    expect(inf.get('default', 'p2')?.kind).toBe('Pod'); // list items get kind/apiVersion filled
    expect(inf.get('default', 'p1')?.kind).toBe('Pod');
  });

  it('replays the cache to a handler added after start, then streams to it', async () => {
    const c = new FakeClient();
    c.put(pod('a'));
    c.put(pod('b'));
    const f = factory(c);
    const inf = f.informerFor(podInfo);
    f.start();
    await f.waitForSync();
    const late = recorder();
    inf.addEventHandler(late);
    expect(late.events.sort()).toEqual(['add default/a', 'add default/b']);
    c.remove('default/a');
    await until(() => late.events.length === 3);
    expect(late.events[2]).toBe('delete default/a');
  });

  it('gives views that share one cache; a stopped view\'s handlers get nothing more and the informer runs on', async () => {
    const c = new FakeClient();
    c.put(pod('a'));
    const f = factory(c);
    const term1 = f.scoped();
    const term2 = f.scoped();
    const h1 = recorder();
    const h2 = recorder();
    term1.informerFor(podInfo).addEventHandler(h1);
    term2.informerFor(podInfo).addEventHandler(h2);
    f.start();
    await term1.waitForSync();
    await term2.waitForSync();
    expect(c.lists.length).toBe(1); // one list and one watch for both
    term1.stop();
    c.put(pod('b'));
    await until(() => h2.events.length === 2);
    expect(h1.events).toEqual(['add default/a']);
    expect(c.watches.length).toBe(1);
    // a new term gets the cache replayed as adds, from the same informer
    const term3 = f.scoped();
    const h3 = recorder();
    term3.informerFor(podInfo).addEventHandler(h3);
    expect(h3.events.sort()).toEqual(['add default/a', 'add default/b']);
    expect(term3.informerFor(podInfo).get('default', 'b')?.metadata.name).toBe('b');
    expect(c.lists.length).toBe(1);
  });

  it('starts an informer asked for after start at once', async () => {
    const c = new FakeClient();
    c.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
    const f = factory(c);
    f.start();
    const nodes = f.informerFor(nodeInfo);
    await nodes.synced;
    expect(nodes.list().map((n) => n.metadata.name)).toEqual(['n1']);
    await f.waitForSync();
  });

  it('indexes by namespace, nodeName and owner uid, and keeps the index in step with updates and deletes', async () => {
    const c = new FakeClient();
    c.put(pod('p1', { node: 'node-a', owner: 'rs-1' }));
    c.put(pod('p2', { owner: 'rs-1' }));
    c.put(pod('p3', { ns: 'other', node: 'node-b' }));
    const f = factory(c);
    const inf = f.informerFor(podInfo);
    f.start();
    await f.waitForSync();
    const names = (os: KubeObject[]) => os.map((o) => o.metadata.name).sort();
    expect(names(inf.byIndex('namespace', 'default'))).toEqual(['p1', 'p2']);
    expect(names(inf.list('other'))).toEqual(['p3']);
    expect(names(inf.byIndex('nodeName', 'node-a'))).toEqual(['p1']);
    expect(names(inf.byIndex('nodeName', ''))).toEqual(['p2']); // unscheduled
    expect(names(inf.byIndex('ownerUid', 'rs-1'))).toEqual(['p1', 'p2']);

    // p2 is scheduled to node-a: it moves from '' to node-a
    c.put(pod('p2', { owner: 'rs-1', node: 'node-a' }));
    await until(() => inf.byIndex('nodeName', 'node-a').length === 2);
    expect(inf.byIndex('nodeName', '')).toEqual([]);
    // p1 released by its owner; p1 deleted later
    c.put(pod('p1', { node: 'node-a' }));
    await until(() => inf.byIndex('ownerUid', 'rs-1').length === 1);
    c.remove('default/p1');
    await until(() => inf.byIndex('nodeName', 'node-a').length === 1);
    expect(names(inf.byIndex('nodeName', 'node-a'))).toEqual(['p2']);
    expect(names(inf.list('default'))).toEqual(['p2']);
  });

  it('takes a custom indexer after start and indexes the cache at once', async () => {
    const c = new FakeClient();
    c.put(pod('p1', { labels: { app: 'web' } }));
    c.put(pod('p2', { labels: { app: 'db' } }));
    const f = factory(c);
    const inf = f.informerFor(podInfo);
    f.start();
    await f.waitForSync();
    inf.addIndexer('app', (o) => (o.metadata.labels?.app ? [o.metadata.labels.app] : []));
    expect(inf.byIndex('app', 'web').map((o) => o.metadata.name)).toEqual(['p1']);
    c.put(pod('p3', { labels: { app: 'web' } }));
    await until(() => inf.byIndex('app', 'web').length === 2);
    expect(() => inf.byIndex('nope', 'x')).toThrow(/index nope/);
    // nodes have no nodeName index
    expect(() => f.informerFor(nodeInfo).byIndex('nodeName', 'x')).toThrow();
  });

  it('re-delivers every cached object as update(obj, obj) every resync period', async () => {
    const c = new FakeClient();
    c.put(pod('p1'));
    const f = factory(c, { resyncMs: 40 });
    const inf = f.informerFor(podInfo);
    const h = recorder();
    const quiet = recorder();
    inf.addEventHandler(h);
    inf.addEventHandler(quiet, 0); // opts out
    f.start();
    await f.waitForSync();
    await until(() => h.events.filter((e) => e.startsWith('update')).length >= 2);
    const rv = inf.get('default', 'p1')!.metadata.resourceVersion;
    expect(h.events).toContain(`update default/p1 ${rv}->${rv}`);
    expect(quiet.events).toEqual(['add default/p1']);
  });

  it('re-lists on a watch ERROR 410 and synthesises the changes it missed', async () => {
    const c = new FakeClient();
    c.put(pod('keep'));
    c.put(pod('gone'));
    c.put(pod('changed'));
    const f = factory(c);
    const inf = f.informerFor(podInfo);
    const h = recorder();
    inf.addEventHandler(h);
    f.start();
    await f.waitForSync();
    h.events.length = 0;
    // changes the watch never delivers (compacted away)
    c.remove('default/gone', true);
    c.put(pod('changed', { labels: { v: '2' } }), true);
    c.put(pod('new'), true);
    const expired = errors.expired('too old resource version: 1 (200)').status;
    c.live.onEvent({ type: 'ERROR', object: expired as unknown as KubeObject });
    await until(() => h.events.length === 3);
    expect(h.events.sort()).toEqual(['add default/new', 'delete default/gone', expect.stringMatching(/^update default\/changed /)]);
    expect(c.lists.length).toBe(2);
    expect(inf.list().map((o) => o.metadata.name).sort()).toEqual(['changed', 'keep', 'new']);
    expect(c.watches.length).toBe(2);
    expect(c.live.query.resourceVersion).toBe(inf.get('default', 'new')!.metadata.resourceVersion);
  });

  it('re-lists when the watch cannot be opened with 410', async () => {
    const c = new FakeClient();
    c.put(pod('a'));
    const f = factory(c);
    const inf = f.informerFor(podInfo);
    f.start();
    await f.waitForSync();
    c.remove('default/a', true);
    c.watchError = errors.gone('too old');
    c.live.end(); // stream ends; the next watch fails to open with 410
    await until(() => c.lists.length === 2 && inf.list().length === 0, 3000);
  });

  it('resumes a broken watch from the last resourceVersion, bookmarks included, without re-listing', async () => {
    const c = new FakeClient();
    c.put(pod('a'));
    const f = factory(c);
    f.informerFor(podInfo);
    f.start();
    await f.waitForSync();
    expect(c.live.query.allowWatchBookmarks).toBe(true);
    c.put(pod('b'));
    c.live.onEvent({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '4242' } } });
    c.live.end();
    await until(() => c.watches.length === 2);
    expect(c.live.query.resourceVersion).toBe('4242');
    expect(c.lists.length).toBe(1);
    // a failed watch (network error) also resumes from there
    c.live.fail(new Error('socket hang up'));
    await until(() => c.watches.length === 3, 3000);
    expect(c.live.query.resourceVersion).toBe('4242');
    expect(c.lists.length).toBe(1);
  });

  it('lists in pages with continue tokens', async () => {
    const c = new FakeClient();
    for (let i = 0; i < 1200; i++) c.put(pod(`p${String(i).padStart(4, '0')}`));
    const f = factory(c, { pageSize: 500 });
    const inf = f.informerFor(podInfo);
    f.start();
    await f.waitForSync();
    expect(c.lists.map((q) => [q.limit, q.continue])).toEqual([
      [500, undefined],
      [500, '500'],
      [500, '1000'],
    ]);
    expect(inf.list().length).toBe(1200);
  });

  it('contains handler exceptions: other handlers still get the event', async () => {
    const c = new FakeClient();
    const f = factory(c);
    const inf = f.informerFor(podInfo);
    inf.addEventHandler({
      add: () => {
        throw new Error('boom');
      },
    });
    const h = recorder();
    inf.addEventHandler(h);
    f.start();
    await f.waitForSync();
    c.put(pod('x'));
    await until(() => h.events.length === 1);
    expect(inf.get('default', 'x')).toBeDefined();
  });
});

describe('Informer (stand-alone, filtered)', () => {
  it('passes its selector to list and watch and offers on/start/get', async () => {
    const c = new FakeClient();
    c.put(pod('p1', { node: 'n1' }));
    const inf = new Informer(c, podInfo, { fieldSelector: 'spec.nodeName=n1' }, log);
    stops.push(() => inf.stop());
    const h = recorder();
    inf.on(h).start();
    await inf.synced;
    await until(() => c.watches.length === 1);
    expect(c.lists[0].fieldSelector).toBe('spec.nodeName=n1');
    expect(c.live.query.fieldSelector).toBe('spec.nodeName=n1');
    expect(inf.get('default', 'p1')?.metadata.name).toBe('p1');
    expect(h.events).toEqual(['add default/p1']);
  });
});

describe('StringPool', () => {
  it('gives equal strings one copy, leaves long ones alone and forgets unique ones after two generations', () => {
    const pool = new StringPool(2, 8);
    const a = pool.intern({ metadata: { namespace: 'ns'.repeat(2), labels: { app: 'web' } }, spec: { list: ['x', 'y', { z: 'ns'.repeat(2) }], n: 1, b: true, nil: null } });
    expect(a).toEqual({ metadata: { namespace: 'nsns', labels: { app: 'web' } }, spec: { list: ['x', 'y', { z: 'nsns' }], n: 1, b: true, nil: null } });
    expect(pool.get('0123456789')).toBe('0123456789');
    // generations of 2: the pool never holds more than 4 strings, however many unique ones pass
    for (let i = 0; i < 100; i++) pool.get(`u${i}`);
    expect(pool.size).toBeLessThanOrEqual(4);
    // a string met in every generation stays pooled
    const p = new StringPool(2);
    const first = p.get('keep');
    for (let i = 0; i < 20; i++) {
      p.get(`u${i}`);
      expect(p.get('keep')).toBe(first);
    }
  });
});
