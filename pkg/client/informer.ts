// informer: shared list+watch caches (one per resource, however many handlers), with indexers, late-handler replay, resync and re-list after 410.
import type { Logger } from 'pino';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { ApiError } from '../api/errors.ts';
import type { ResourceInfo } from '../api/resources.ts';
import type { KubeObject, Status, WatchEvent } from '../api/types.ts';
import { Generations } from '../util/generations.ts';
import type { ApiClient, WatchHandle } from './interface.ts';

/** ResourceEventHandler receives the cache's changes. Objects are shared with the cache: clone before mutating. */
export interface ResourceEventHandler {
  add?(obj: KubeObject): void;
  update?(oldObj: KubeObject, newObj: KubeObject): void;
  delete?(obj: KubeObject): void;
}

/** InformerHandlers is the older name of ResourceEventHandler. */
export type InformerHandlers = ResourceEventHandler;

export type IndexFunc = (obj: KubeObject) => string[];

/** SharedInformer is one resource's cache as every controller sees it. */
export interface SharedInformer {
  /** addEventHandler registers `h`; added after start, it gets `add` for every cached object first (replay). `resyncMs` > 0 re-delivers every cached object as update(obj, obj) that often. */
  addEventHandler(h: ResourceEventHandler, resyncMs?: number): void;
  /** removeEventHandler unregisters `h` (upstream's RemoveEventHandler): it gets nothing more, its resync stops. */
  removeEventHandler(h: ResourceEventHandler): void;
  /** addIndexer adds a named index; it may be called after start and indexes the cache at once. */
  addIndexer(name: string, fn: IndexFunc): void;
  byIndex(name: string, value: string): KubeObject[];
  get(namespace: string | undefined, name: string): KubeObject | undefined;
  /** list returns every cached object, or those of one namespace. */
  list(namespace?: string): KubeObject[];
  hasSynced(): boolean;
  /** resolves after the first list has filled the cache */
  readonly synced: Promise<void>;
}

/** keyOf is the cache key: `ns/name`, or `name` for cluster-scoped objects. */
export function keyOf(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name!;
}

/** INDEX_NAMESPACE, INDEX_NODE_NAME and INDEX_OWNER_UID are the built-in indexers' names. */
export const INDEX_NAMESPACE = 'namespace';
export const INDEX_NODE_NAME = 'nodeName';
export const INDEX_OWNER_UID = 'ownerUid';

const namespaceIndex: IndexFunc = (o) => (o.metadata.namespace ? [o.metadata.namespace] : []);
/** nodeNameIndex files a pod under its spec.nodeName; unscheduled pods under ''. */
const nodeNameIndex: IndexFunc = (o) => [(o as Pod).spec?.nodeName ?? ''];
const ownerUidIndex: IndexFunc = (o) => (o.metadata.ownerReferences ?? []).map((r) => r.uid);

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** resync period for handlers that do not give their own; 0 = none */
  resyncMs?: number;
  /** page size of lists (continue tokens keep memory flat); 0 = unpaged */
  pageSize?: number;
  /** transform rewrites each object before it is cached (upstream's SetTransform), e.g. stripManagedFields */
  transform?: TransformFunc;
  /** share runs last, once the object's strings are pooled: it may put frozen parts shared with other objects in it (sharingSubtrees) */
  share?: TransformFunc;
}

/** TransformFunc may change the object it is given (it is the informer's own copy) and returns what to cache. */
export type TransformFunc = (obj: KubeObject) => KubeObject;

/**
 * stripManagedFields drops metadata.managedFields, which controllers never read: upstream's kube-controller-manager
 * and kube-scheduler set it on their informer factories (TransformStripManagedFields) to halve what a cached object costs.
 */
export const stripManagedFields: TransformFunc = (obj) => {
  const md = obj.metadata;
  if (md?.managedFields) {
    // a copy without the field rather than `delete`: a deleted property turns the object into a slow dictionary, which
    // costs a cached pod ~0.8 KB more and every read of its metadata a hash lookup
    const { managedFields: _, ...rest } = md;
    obj.metadata = rest;
  }
  return obj;
};

/**
 * StringPool dedupes the short strings of cached objects: a cache of 15,000 pods repeats the same namespace, image,
 * node names, condition types, toleration keys… in every object, each a string of its own after JSON.parse; one
 * shared copy of each cuts a cached pod by about a third. Two generations bound it: once the young one holds
 * `limit` strings the old one is dropped, so unique values (names, uids) fade out while the repeated ones, met again
 * in every generation, stay. The objects keep their strings either way: the pool only decides which copy they get.
 */
export class StringPool {
  private readonly pool: Generations<string>;
  private readonly maxLength: number;

  constructor(limit = 16_384, maxLength = 64) {
    this.pool = new Generations(limit);
    this.maxLength = maxLength;
  }

  get size(): number {
    return this.pool.size;
  }

  /** get returns the pool's copy of `s` (adding it), or `s` itself when it is too long to be worth pooling. */
  get(s: string): string {
    return s.length > this.maxLength ? s : this.pool.intern(s, s);
  }

  /** intern replaces, in place, every short string value of a JSON object tree by the pool's copy; returns it. */
  intern<T>(v: T): T {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (typeof x === 'string') v[i] = this.get(x);
        else if (x !== null && typeof x === 'object') this.intern(x);
      }
    } else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      for (const k in o) {
        const x = o[k];
        if (typeof x === 'string') o[k] = this.get(x);
        else if (x !== null && typeof x === 'object') this.intern(x);
      }
    }
    return v;
  }
}

/** strings is the pool every informer of the process shares (labels, namespaces and node names repeat across kinds). */
const strings = new StringPool();

interface Registered {
  h: ResourceEventHandler;
  resyncMs: number;
  timer?: NodeJS.Timeout;
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 10_000;

/**
 * SharedIndexInformer keeps a cache of one resource (optionally narrowed by namespace and selectors) in step with
 * the server through one list+watch, and fans changes out to any number of handlers. It never assumes it saw every
 * event: a watch that breaks resumes from the last resourceVersion seen (bookmarks included); a 410 Expired
 * re-lists and synthesises ADDED/MODIFIED/DELETED against the cache.
 */
export class SharedIndexInformer implements SharedInformer {
  readonly info: ResourceInfo;
  private readonly client: ApiClient;
  private readonly log: Logger;
  private readonly opts: InformerOptions;
  private readonly store = new Map<string, KubeObject>();
  private readonly indexers = new Map<string, IndexFunc>();
  /** indices: index name → value → keys */
  private readonly indices = new Map<string, Map<string, Set<string>>>();
  private readonly handlers: Registered[] = [];
  private resourceVersion = '';
  private watchHandle: WatchHandle | undefined;
  private started = false;
  private stopped = false;
  private isSynced = false;
  private syncedResolve!: () => void;
  private wakeSleep: (() => void) | undefined;
  readonly synced: Promise<void>;

  constructor(client: ApiClient, info: ResourceInfo, log: Logger, opts: InformerOptions = {}) {
    this.client = client;
    this.info = info;
    this.log = log;
    this.opts = opts;
    this.synced = new Promise((r) => (this.syncedResolve = r));
    this.addIndexer(INDEX_NAMESPACE, namespaceIndex);
    this.addIndexer(INDEX_OWNER_UID, ownerUidIndex);
    if (info.group === '' && info.resource === 'pods') this.addIndexer(INDEX_NODE_NAME, nodeNameIndex);
  }

  /** cache is the live key → object map (read only). */
  get cache(): ReadonlyMap<string, KubeObject> {
    return this.store;
  }

  /** lastSyncResourceVersion is the revision the cache reflects. */
  get lastSyncResourceVersion(): string {
    return this.resourceVersion;
  }

  addEventHandler(h: ResourceEventHandler, resyncMs?: number): void {
    const reg: Registered = { h, resyncMs: resyncMs ?? this.opts.resyncMs ?? 0 };
    this.handlers.push(reg);
    if (this.started) {
      for (const obj of this.store.values()) safe(() => h.add?.(obj), this.log);
      this.startResync(reg);
    }
  }

  /** removeEventHandler unregisters `h` (upstream's RemoveEventHandler): it gets nothing more, its resync stops. */
  removeEventHandler(h: ResourceEventHandler): void {
    const i = this.handlers.findIndex((r) => r.h === h);
    if (i < 0) return;
    const [reg] = this.handlers.splice(i, 1);
    if (reg.timer) clearInterval(reg.timer);
  }

  addIndexer(name: string, fn: IndexFunc): void {
    this.indexers.set(name, fn);
    const idx = new Map<string, Set<string>>();
    this.indices.set(name, idx);
    for (const [k, obj] of this.store) for (const v of safeIndex(fn, obj, this.log)) addTo(idx, v, k);
  }

  byIndex(name: string, value: string): KubeObject[] {
    const idx = this.indices.get(name);
    if (!idx) throw new Error(`index ${name} does not exist`);
    const keys = idx.get(value);
    if (!keys) return [];
    const out: KubeObject[] = [];
    for (const k of keys) out.push(this.store.get(k)!);
    return out;
  }

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(namespace ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): KubeObject[] {
    if (namespace === undefined) return [...this.store.values()];
    return this.byIndex(INDEX_NAMESPACE, namespace);
  }

  hasSynced(): boolean {
    return this.isSynced;
  }

  /** run starts the list+watch loop (idempotent). */
  run(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const reg of this.handlers) this.startResync(reg);
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.watchHandle?.stop();
    this.wakeSleep?.();
    for (const reg of this.handlers) if (reg.timer) clearInterval(reg.timer);
  }

  private startResync(reg: Registered): void {
    if (reg.resyncMs <= 0 || this.stopped) return;
    reg.timer = setInterval(() => {
      if (!this.isSynced) return;
      for (const obj of [...this.store.values()]) safe(() => reg.h.update?.(obj, obj), this.log);
    }, reg.resyncMs);
    reg.timer.unref();
  }

  private async loop(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        if (this.stopped) return;
        const t0 = Date.now();
        const r = await this.watchOnce();
        if (r === 'expired') {
          this.log.debug({ resource: this.info.resource }, 'watch expired; re-listing');
          this.resourceVersion = '';
        }
        // a watch that ended at once and saw nothing is treated as a failure, so a bad server is not hammered
        if (r === 'empty' && Date.now() - t0 < 1000) {
          await this.sleep(jitter(backoff));
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        } else backoff = MIN_BACKOFF_MS;
      } catch (e) {
        if (this.stopped) return;
        if (e instanceof ApiError && e.code === 410 && this.resourceVersion) {
          // too old to resume: re-list at once, as after an ERROR 410 event
          this.resourceVersion = '';
          continue;
        }
        this.log.warn({ err: e, resource: this.info.resource }, 'list/watch failed; retrying');
        await this.sleep(jitter(backoff));
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /** watchOnce watches from the last resourceVersion until the stream ends. */
  private async watchOnce(): Promise<'expired' | 'ended' | 'empty'> {
    let result: 'expired' | 'ended' | 'empty' = 'empty';
    const onEvent = (ev: WatchEvent) => {
      if (result === 'expired' || this.stopped) return;
      if (ev.type === 'ERROR') {
        const st = ev.object as unknown as Status;
        if (st.code === 410) result = 'expired';
        else this.log.warn({ resource: this.info.resource, status: st }, 'watch error; re-watching');
        this.watchHandle?.stop();
        return;
      }
      result = 'ended';
      const rv = ev.object.metadata?.resourceVersion;
      if (rv) this.resourceVersion = rv;
      if (ev.type === 'BOOKMARK') return;
      this.apply(ev.type, this.transformed(ev.object));
    };
    this.watchHandle = this.client.watch(
      this.info,
      this.opts.namespace,
      {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
      },
      onEvent,
    );
    await this.watchHandle.done;
    this.watchHandle = undefined;
    return result;
  }

  /** relist lists (in pages) and diffs against the cache: new keys are added, changed ones updated, missing ones deleted. */
  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.listAll();
    const seen = new Set<string>();
    for (const listed of items) {
      const item = this.transformed(listed);
      const k = keyOf(item);
      seen.add(k);
      const old = this.store.get(k);
      if (!old) this.apply('ADDED', item);
      else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) this.apply('MODIFIED', item);
    }
    for (const [k, old] of [...this.store]) if (!seen.has(k)) this.apply('DELETED', old);
    this.resourceVersion = resourceVersion;
    if (!this.isSynced) {
      this.isSynced = true;
      this.syncedResolve();
    }
  }

  private async listAll(): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const limit = this.opts.pageSize ?? 500;
    const base = { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
    if (limit <= 0) {
      const l = await this.client.list(this.info, this.opts.namespace, base);
      return { items: l.items, resourceVersion: l.metadata.resourceVersion };
    }
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let rv = '';
    try {
      do {
        const l = await this.client.list(this.info, this.opts.namespace, { ...base, limit, continue: cont });
        for (const it of l.items) items.push(it);
        if (!rv) rv = l.metadata.resourceVersion;
        cont = l.metadata.continue || undefined;
      } while (cont && !this.stopped);
    } catch (e) {
      // a continue token that outlived compaction: fall back to one unpaged list, as upstream's pager does
      if (!(cont && e instanceof ApiError && e.code === 410)) throw e;
      const l = await this.client.list(this.info, this.opts.namespace, base);
      return { items: l.items, resourceVersion: l.metadata.resourceVersion };
    }
    return { items, resourceVersion: rv };
  }

  /**
   * transformed fills in apiVersion and kind, applies the transform, shares the object's short strings with the rest
   * of the caches (StringPool), then applies `share`.
   */
  private transformed(obj: KubeObject): KubeObject {
    this.fill(obj);
    const o = strings.intern(this.opts.transform ? this.opts.transform(obj) : obj);
    return this.opts.share ? this.opts.share(o) : o;
  }

  /** fill sets apiVersion/kind that list items may lack. */
  private fill(obj: KubeObject): void {
    obj.apiVersion ??= this.info.group ? `${this.info.group}/${this.info.version}` : this.info.version;
    obj.kind ??= this.info.kind;
  }

  private apply(type: WatchEvent['type'], obj: KubeObject): void {
    const k = keyOf(obj);
    const old = this.store.get(k);
    if (type === 'DELETED') {
      if (old) {
        this.unindex(k, old);
        this.store.delete(k);
      }
      for (const reg of [...this.handlers]) safe(() => reg.h.delete?.(obj), this.log);
      return;
    }
    if (old) this.unindex(k, old);
    this.store.set(k, obj);
    this.index(k, obj);
    for (const reg of [...this.handlers]) {
      if (old) safe(() => reg.h.update?.(old, obj), this.log);
      else safe(() => reg.h.add?.(obj), this.log);
    }
  }

  private index(k: string, obj: KubeObject): void {
    for (const [name, fn] of this.indexers) {
      const idx = this.indices.get(name)!;
      for (const v of safeIndex(fn, obj, this.log)) addTo(idx, v, k);
    }
  }

  private unindex(k: string, obj: KubeObject): void {
    for (const [name, fn] of this.indexers) {
      const idx = this.indices.get(name)!;
      for (const v of safeIndex(fn, obj, this.log)) {
        const keys = idx.get(v);
        if (!keys) continue;
        keys.delete(k);
        if (keys.size === 0) idx.delete(v);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.wakeSleep = undefined;
        r();
      }, ms);
      this.wakeSleep = () => {
        clearTimeout(t);
        this.wakeSleep = undefined;
        r();
      };
    });
  }
}

/** FactoryOptions apply to every informer of a factory (see InformerOptions). */
export type FactoryOptions = Pick<InformerOptions, 'resyncMs' | 'pageSize' | 'transform' | 'share'>;

/**
 * SharedInformerFactory hands out one informer per resource, so however many controllers watch pods there is one
 * list+watch of pods. Informers asked for after start() start at once.
 */
export class SharedInformerFactory {
  private readonly client: ApiClient;
  private readonly log: Logger;
  private readonly opts: FactoryOptions;
  private readonly informers = new Map<string, SharedIndexInformer>();
  private started = false;
  private stopped = false;

  constructor(client: ApiClient, log: Logger, opts: FactoryOptions = {}) {
    this.client = client;
    this.log = log;
    this.opts = opts;
  }

  informerFor(info: ResourceInfo): SharedInformer {
    const id = `${info.group}/${info.version}/${info.resource}`;
    let inf = this.informers.get(id);
    if (!inf) {
      inf = new SharedIndexInformer(this.client, info, this.log.child({ informer: info.resource }), { resyncMs: this.opts.resyncMs, pageSize: this.opts.pageSize, transform: this.opts.transform, share: this.opts.share });
      this.informers.set(id, inf);
      if (this.started && !this.stopped) inf.run();
    }
    return inf;
  }

  start(): void {
    if (this.stopped) return;
    this.started = true;
    for (const inf of this.informers.values()) inf.run();
  }

  /** waitForSync resolves once every started informer has listed once. */
  async waitForSync(): Promise<void> {
    let n = -1;
    // informers may be added while waiting: loop until the set is stable
    while (n !== this.informers.size) {
      n = this.informers.size;
      await Promise.all([...this.informers.values()].map((i) => i.synced));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const inf of this.informers.values()) inf.stop();
  }

  /**
   * scoped returns a view of this factory for one set of loops (one leader-election term): the same informers and
   * caches, but the handlers added through the view are removed when the view stops, and the informers keep running.
   * So the scheduler and the controller manager in one process hold ONE cache of every pod, and a lost lease stops
   * only its loops.
   */
  scoped(): SharedInformerFactory {
    return new ScopedInformerFactory(this, this.client, this.log);
  }
}

/** ScopedInformerFactory is a view of a shared factory whose handlers go away with it (see SharedInformerFactory.scoped). */
class ScopedInformerFactory extends SharedInformerFactory {
  private readonly parent: SharedInformerFactory;
  private readonly views = new Map<SharedInformer, ScopedInformer>();
  private viewStopped = false;

  constructor(parent: SharedInformerFactory, client: ApiClient, log: Logger) {
    super(client, log);
    this.parent = parent;
  }

  override informerFor(info: ResourceInfo): SharedInformer {
    const inf = this.parent.informerFor(info);
    let v = this.views.get(inf);
    if (!v) this.views.set(inf, (v = new ScopedInformer(inf as SharedIndexInformer)));
    if (this.viewStopped) v.close();
    return v;
  }

  override start(): void {
    if (!this.viewStopped) this.parent.start();
  }

  override async waitForSync(): Promise<void> {
    let n = -1;
    while (n !== this.views.size) {
      n = this.views.size;
      await Promise.all([...this.views.values()].map((i) => i.synced));
    }
  }

  /** stop removes this view's handlers; the informers, shared with other views, keep running. */
  override stop(): void {
    this.viewStopped = true;
    for (const v of this.views.values()) v.close();
  }
}

/** ScopedInformer is one shared informer as a view sees it: reads go to the cache, handlers are remembered for removal. */
class ScopedInformer implements SharedInformer {
  private readonly inf: SharedIndexInformer;
  private readonly added: ResourceEventHandler[] = [];
  private closed = false;
  constructor(inf: SharedIndexInformer) {
    this.inf = inf;
  }
  get synced(): Promise<void> {
    return this.inf.synced;
  }
  addEventHandler(h: ResourceEventHandler, resyncMs?: number): void {
    if (this.closed) return;
    this.added.push(h);
    this.inf.addEventHandler(h, resyncMs);
  }
  removeEventHandler(h: ResourceEventHandler): void {
    const i = this.added.indexOf(h);
    if (i >= 0) this.added.splice(i, 1);
    this.inf.removeEventHandler(h);
  }
  close(): void {
    this.closed = true;
    for (const h of this.added.splice(0)) this.inf.removeEventHandler(h);
  }
  addIndexer(name: string, fn: IndexFunc): void {
    this.inf.addIndexer(name, fn);
  }
  byIndex(name: string, value: string): KubeObject[] {
    return this.inf.byIndex(name, value);
  }
  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.inf.get(namespace, name);
  }
  list(namespace?: string): KubeObject[] {
    return this.inf.list(namespace);
  }
  hasSynced(): boolean {
    return this.inf.hasSynced();
  }
}

/**
 * Informer is a stand-alone informer with a namespace/selector filter (the kubelet's pods of one node); it is the
 * same machinery as the shared one.
 */
export class Informer extends SharedIndexInformer {
  constructor(client: ApiClient, info: ResourceInfo, opts: { namespace?: string; labelSelector?: string; fieldSelector?: string }, log: Logger) {
    super(client, info, log, opts);
  }

  on(h: ResourceEventHandler): this {
    this.addEventHandler(h);
    return this;
  }

  start(): this {
    this.run();
    return this;
  }
}

function addTo(idx: Map<string, Set<string>>, v: string, k: string): void {
  let s = idx.get(v);
  if (!s) idx.set(v, (s = new Set()));
  s.add(k);
}

function safeIndex(fn: IndexFunc, obj: KubeObject, log: Logger): string[] {
  try {
    return fn(obj);
  } catch (e) {
    log.error({ err: e }, 'indexer failed');
    return [];
  }
}

function safe(fn: () => void, log: Logger): void {
  try {
    fn();
  } catch (e) {
    log.error({ err: e }, 'informer handler failed');
  }
}

function jitter(ms: number): number {
  return ms * (1 + Math.random() * 0.2);
}
