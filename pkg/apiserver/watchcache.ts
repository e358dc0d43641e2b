// watchcache: one per resource, fed by ONE store watch — the current objects (their text deflated once out of the event window), a window of recent events each serialised once for every watcher, a spec.nodeName index for pods, and bounded fan-out off the commit path (upstream's cacher).
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Logger } from 'pino';
import { fieldsOf } from '../api/kinds/index.ts';
import { apiVersionOf, storeKey, type ResourceInfo } from '../api/resources.ts';
import { matchFields, matchLabels, type FieldRequirement, type LabelRequirement } from '../api/selectors.ts';
import type { KubeObject } from '../api/types.ts';
import { StoreError, type Store, type StoreEvent, type Watcher } from '../store/types.ts';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** WatchCacheOptions bound the cache: how long and how many events it keeps, and each watcher's queue. */
export interface WatchCacheOptions {
  /** recent events are kept this long for watchers that resume (default 300 000 ms) */
  windowMs?: number;
  /** and at most this many (default 100 000) */
  maxEvents?: number;
  /**
   * and at most this many bytes of object text (default 16 MiB: under churn of 15,000 pods a few seconds of events,
   * enough for a watcher that reconnects at once), as upstream's cacher bounds its event window by capacity: a resume
   * from before the window is served by a store watch of its own (the store keeps the history)
   */
  maxBytes?: number;
  /**
   * a bound the windows of several caches share (the registry gives all its caches one): when their texts together
   * pass it, the oldest event of them all leaves first
   */
  budget?: WindowBudget;
  /** a watcher whose unsent output passes this many bytes is closed; it re-lists, as upstream (default 16 MiB) */
  watcherQueueBytes?: number;
  /** how long a consistent read waits for the cache to reach the store's revision before giving up (default 3 000 ms) */
  freshTimeoutMs?: number;
  /**
   * keep current objects' text deflated once their last event has left the window (default true): a 5 KB pod with
   * managedFields is held in ~0.3 KB, at ~40 µs to deflate it once and ~15 µs to inflate it for each list or new watch
   */
  compress?: boolean;
  /**
   * an object is packed once it has not changed for this long (default 10 000 ms): a pod changes several times in its
   * first seconds (created, bound, started, ready), and packing each of those states cost the scheduler ~15 % of its
   * binding rate for nothing
   */
  packAfterMs?: number;
  log?: Logger;
}

/** WindowMember is what a WindowBudget sees of one cache's window. */
interface WindowMember {
  /** when the window's oldest event came, or undefined when it holds only its newest (which always stays) */
  oldestAt(): number | undefined;
  /** dropOldest drops that event (the member reports the bytes it frees through WindowBudget.release) */
  dropOldest(): void;
}

/**
 * WindowBudget bounds the event windows of all the caches that share it by the bytes of object text they hold
 * together (default 24 MiB). Past the bound, the oldest event among all of them leaves first, so every resource's
 * window reaches back to the same moment: 500 nodes' lease renewals and status heartbeats no longer keep minutes of
 * history each (16 MiB a resource before, ~40 MB for nodes and leases alone) beside the pods' few seconds of churn.
 * A watcher that resumes from before its cache's window is served from the store's history, as before.
 */
export class WindowBudget {
  readonly maxBytes: number;
  #bytes = 0;
  readonly #members = new Set<WindowMember>();

  constructor(maxBytes = 24 * 1024 * 1024) {
    this.maxBytes = maxBytes;
  }

  /** bytes is the object text all the members' windows hold. */
  get bytes(): number {
    return this.#bytes;
  }

  join(m: WindowMember): void {
    this.#members.add(m);
  }

  leave(m: WindowMember, bytes: number): void {
    if (this.#members.delete(m)) this.#bytes -= bytes;
  }

  hold(bytes: number): void {
    this.#bytes += bytes;
  }

  release(bytes: number): void {
    this.#bytes -= bytes;
  }

  /** enforce drops the oldest events of all the members until their texts fit (each member keeps its newest). */
  enforce(): void {
    while (this.#bytes > this.maxBytes) {
      let oldest: WindowMember | undefined;
      let at = Infinity;
      for (const m of this.#members) {
        const t = m.oldestAt();
        if (t !== undefined && t < at) (at = t), (oldest = m);
      }
      if (!oldest) return;
      oldest.dropOldest();
    }
  }
}

/** DISPATCH_SLICE_MS bounds one turn of fan-out; a longer burst continues on the next turn of the event loop. */
const DISPATCH_SLICE_MS = 5;

/** INDEXED_FIELDS names, per store resource, the one field whose exact-match selector is served from an index. */
const INDEXED_FIELDS: Record<string, string> = { pods: 'spec.nodeName' };

/** CacheSelection is what a watcher or list selects: a namespace (undefined = all), label and field requirements. */
export interface CacheSelection {
  namespace?: string;
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

/** Delivery is one event for one watcher: the shared serialised line, or a fresh object for consumers that need one. */
export interface Delivery {
  type: EventType;
  revision: number;
  /** `{"type":…,"object":…}\n`, built once per event and type, shared by every watcher */
  line(): string;
  /**
   * line() as UTF-8 bytes, encoded once per event and type and shared by every watcher that writes bytes to a socket
   * (each string write would scan and encode a large object's text again, per watcher)
   */
  encoded?(): Buffer;
  /** the length of line(), when known without building it (what an in-process watcher counts as queued) */
  readonly bytes?: number;
  /** the object, parsed afresh (or the parse a view() made, which no viewer keeps): the caller's to keep and mutate */
  object(): KubeObject;
  /**
   * the object for reading during the call that asked, never kept or changed: one parse per event is lent to every
   * such reader of its fan-out, and then given to the first object() caller
   */
  view(): KubeObject;
  /**
   * the object's selectable fields (metadata.name, metadata.namespace and the kind's own, as field selectors see them),
   * when known without parsing it; never to be changed
   */
  readonly fields?: Readonly<Record<string, string>>;
}

/** CacheTarget receives a watcher's events; deliver returns the bytes it has queued and not yet sent (0 = none). */
export interface CacheTarget {
  deliver(d: Delivery): number;
  /** the cache dropped this watcher (its queue overflowed); it should end its stream */
  close(reason: string): void;
}

/** CacheWatch is a registered watcher. */
export interface CacheWatch {
  stop(): void;
  /** the revision the watch started after */
  readonly revision: number;
  /** a revision safe for a BOOKMARK now: every selected event up to it has been handed to the target */
  bookmarkRevision(): number;
}

/** Entry is one object as cached: its stored JSON text and what selection needs, never the parsed object. */
interface Entry {
  namespace: string;
  name: string;
  /** the stored JSON text, or — when packed — that text deflated, its bytes held as a latin1 string (see TextPacker) */
  text: string;
  packed: boolean;
  labels: Record<string, string>;
  fields: Record<string, string>;
  /** text is not the stored text but the object re-serialised with the apiVersion and kind it lacked */
  retyped?: true;
}

/**
 * CachedEvent is one change in the window; `prev` keeps only what selection needs of the state before. `raw` is the
 * object's text after the change: the same string as cur.text until the entry is packed, so the window and the
 * current state never hold two copies.
 */
interface CachedEvent {
  type: EventType;
  revision: number;
  t: number;
  cur: Entry;
  raw: string;
  prev?: { labels: Record<string, string>; fields: Record<string, string> };
  lines: Partial<Record<EventType, string>>;
  encoded: Partial<Record<EventType, Buffer>>;
  /** the parse view() lent during the fan-out, until an object() caller takes it */
  lent?: KubeObject;
}

interface Registered {
  sel: CacheSelection;
  target: CacheTarget;
  after: number;
  /** the indexed value this watcher selects on, if any */
  indexed?: string;
  limit: number;
  stopped: boolean;
}

/** CacheStats are counters for tests and the bench. */
export interface CacheStats {
  /** event lines built (one per event and type, however many watchers got it) */
  serialised: number;
  /** store events whose object was parsed to be applied (the rest were applied from their summary and text) */
  parsed: number;
  /** watchers closed because their queue overflowed */
  overflowed: number;
  /** current objects' texts deflated (each once, when its last event left the window or at start) */
  packed: number;
}

/** CacheMemory is what the current objects' texts hold, for tests and the bench. */
export interface CacheMemory {
  /** objects held as plain text (too small to pack, not yet packed, or compression off) and their characters */
  plain: number;
  plainBytes: number;
  /** objects held deflated and the bytes that takes */
  packed: number;
  packedBytes: number;
}

/** PACK_MIN_CHARS: a shorter text stays plain (deflate's fixed ~20 µs per call and its framing would not pay). */
const PACK_MIN_CHARS = 512;
/**
 * PACK_MAX_CHARS: a longer text stays plain too. Deflating a 2 MB object would hold the event loop ~20–40 ms at once
 * (and inflating it again for each list), which large writes are otherwise kept from doing; such objects are few.
 */
const PACK_MAX_CHARS = 64 * 1024;
/** PACK_LEVEL: zlib level 3 (still deflate_fast) packs a pod ~25% smaller than level 1 at the same cost. */
const PACK_LEVEL = 3;
/** DICTIONARY_CHARS caps the preset dictionary at deflate's window. */
const DICTIONARY_CHARS = 32 * 1024;
/**
 * zlib's output chunk, sized to the expected output: its default (64 KB, allocated per call) makes a 5 KB pod's pack
 * ~40% and its unpack ~50% slower; chunks of 16 KB and more measured as slow as the default.
 */
const chunkSize = (expected: number) => Math.min(8192, Math.max(1024, expected));

/**
 * TextPacker deflates a resource's texts against a preset dictionary: the first packable text of the resource, fixed
 * for the cache's life. Objects of one resource share most of their text (keys, managedFields, defaults), so a 5.4 KB
 * pod deflates to ~0.3 KB against it (~1.8 KB without). The bytes are kept as a latin1 string: zlib's output is a
 * view of a 64 KB buffer (each kept slice would hold one), a pooled copy would pin 8 KB pools under churn, while a
 * one-byte string is exactly its length on the heap and moves with the GC.
 */
export class TextPacker {
  #dictionary: Buffer | undefined;

  /** pack returns the packed form of text, or undefined when it stays plain (small, large, not well-formed UTF-16, or not worth it). */
  pack(text: string): string | undefined {
    if (text.length < PACK_MIN_CHARS || text.length > PACK_MAX_CHARS || !text.isWellFormed()) return undefined;
    const dictionary = (this.#dictionary ??= Buffer.from(text.length > DICTIONARY_CHARS ? text.slice(0, DICTIONARY_CHARS) : text));
    const bytes = deflateRawSync(text, { level: PACK_LEVEL, dictionary, chunkSize: chunkSize(text.length >> 3) });
    return bytes.length < text.length * 0.8 ? bytes.toString('latin1') : undefined;
  }

  unpack(packed: string): string {
    return inflateRawSync(Buffer.from(packed, 'latin1'), { dictionary: this.#dictionary, chunkSize: chunkSize(packed.length * 24) }).toString();
  }
}

/** lineBytes is the length of `{"type":"<type>","object":<raw>}\n`. */
const lineBytes = (type: EventType, raw: string) => 22 + type.length + raw.length;

const keyOf = (namespace: string, name: string) => (namespace ? `${namespace}/${name}` : name);

/** entryLess orders entries as lists are ordered: namespace, then name. */
function entryLess(a: Entry, b: Entry): number {
  return a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * WatchCache mirrors one resource. start() reads the store at its oldest available revision and replays the log from
 * there, so watchers resuming from anywhere in the store's history are served here. Store events are applied at once
 * (lists see them) and fanned out to watchers in a batch on the next turn of the event loop.
 */
export class WatchCache {
  readonly info: ResourceInfo;
  readonly stats: CacheStats = { serialised: 0, parsed: 0, overflowed: 0, packed: 0 };
  readonly #store: Store;
  readonly #key: string;
  readonly #indexField: string | undefined;
  readonly #windowMs: number;
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  /** bytes of object text the window's events hold */
  #windowBytes = 0;
  readonly #budget: WindowBudget | undefined;
  readonly #member: WindowMember = {
    oldestAt: () => (this.#events.length - this.#head > 1 ? this.#events[this.#head].t : undefined),
    dropOldest: () => this.#dropOldest(),
  };
  readonly #queueBytes: number;
  readonly #freshTimeoutMs: number;
  readonly #log: Logger | undefined;
  readonly #objects = new Map<string, Entry>();
  /** packs current objects' texts; undefined = compression off */
  readonly #packer: TextPacker | undefined;
  /** entries to pack on the next fan-out turn: those whose event left the window (packed if still current), and those listed at start */
  #toPack: { e: Entry; at: number }[] = [];
  /** the timer that comes back for queued entries not yet old enough to pack */
  #packTimer: NodeJS.Timeout | undefined;
  readonly #packAfterMs: number;
  /** indexed value → keys of the objects with it */
  readonly #index = new Map<string, Set<string>>();
  #events: CachedEvent[] = [];
  #head = 0;
  /** the window holds every event after this revision */
  #floor = 0;
  /** every change up to this revision has been applied to #objects */
  #applied = 0;
  /** and handed to the watchers */
  #dispatched = 0;
  #pending: CachedEvent[] = [];
  #dispatchScheduled = false;
  readonly #all = new Set<Registered>();
  readonly #byIndex = new Map<string, Set<Registered>>();
  #waiters: { revision: number; resolve: () => void }[] = [];
  /** callers of waitDispatched, woken after each fan-out turn */
  #dispatchWaiters: (() => void)[] = [];
  #watch: Watcher | undefined;
  #ready: Promise<void> | undefined;
  #stopped = false;

  constructor(store: Store, info: ResourceInfo, opts: WatchCacheOptions = {}) {
    this.info = info;
    this.#store = store;
    this.#key = storeKey(info);
    this.#indexField = INDEXED_FIELDS[this.#key];
    this.#windowMs = opts.windowMs ?? 300_000;
    this.#maxEvents = opts.maxEvents ?? 100_000;
    this.#maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
    this.#budget = opts.budget;
    this.#budget?.join(this.#member);
    this.#queueBytes = opts.watcherQueueBytes ?? 16 * 1024 * 1024;
    this.#freshTimeoutMs = opts.freshTimeoutMs ?? 3000;
    this.#log = opts.log;
    this.#packer = opts.compress === false ? undefined : new TextPacker();
    this.#packAfterMs = opts.packAfterMs ?? 10_000;
  }

  /** ready resolves once the cache holds the store's state (start() is called on first use). */
  ready(): Promise<void> {
    return (this.#ready ??= this.#start());
  }

  /** #start lists at the oldest revision the store still has and follows the log from there. */
  async #start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const at = this.#store.compactedRevision();
      try {
        const list = await this.#store.list(this.#key, { revision: at });
        if (this.#stopped) return;
        for (const raw of list.items) {
          const e = this.#entry(JSON.parse(raw) as KubeObject);
          this.#put(e);
          // not in the window: packed on the next turns, in slices
          if (this.#packer) this.#toPack.push({ e, at: 0 });
        }
        if (this.#toPack.length) this.#schedule();
        this.#floor = this.#applied = this.#dispatched = list.revision;
        this.#watch = this.#store.watch(this.#key, { fromRevision: list.revision, onProgress: (rev) => this.#progress(rev), prev: false }, (ev) => this.#apply(ev));
        return;
      } catch (e) {
        // compacted between reading the revision and using it: start again from the new oldest
        if (!(e instanceof StoreError && e.code === 'Expired') || attempt >= 5) throw e;
        this.#objects.clear();
        this.#index.clear();
        this.#toPack = [];
      }
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#budget?.leave(this.#member, this.#windowBytes);
    clearTimeout(this.#packTimer);
    this.#watch?.stop();
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
    for (const wake of this.#dispatchWaiters.splice(0)) wake();
  }

  /** revision is the newest revision applied. */
  get revision(): number {
    return this.#applied;
  }

  /** oldest is the oldest revision a watch can resume from here (the window holds every event after it). */
  get oldest(): number {
    return this.#floor;
  }

  /** size is how many objects are cached. */
  get size(): number {
    return this.#objects.size;
  }

  /** windowLength is how many events the window holds. */
  get windowLength(): number {
    return this.#events.length - this.#head;
  }

  /** watcherCount is how many watchers are registered. */
  get watcherCount(): number {
    return this.#all.size + [...this.#byIndex.values()].reduce((n, s) => n + s.size, 0);
  }

  /**
   * waitFresh resolves true once the cache has applied everything up to `revision` (a consistent read), false when
   * that took longer than the configured timeout.
   */
  async waitFresh(revision: number): Promise<boolean> {
    await this.ready();
    if (this.#applied >= revision) return true;
    let timer: NodeJS.Timeout | undefined;
    const reached = new Promise<boolean>((resolve) => this.#waiters.push({ revision, resolve: () => resolve(true) }));
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.#freshTimeoutMs)));
    const ok = await Promise.race([reached, late]);
    clearTimeout(timer);
    return ok && this.#applied >= revision;
  }

  /**
   * waitDispatched resolves true once every event up to `revision` has been handed to this cache's watchers (an
   * in-process watcher that applies events as they come, like the node graph or the RBAC policy, then reflects
   * them); false when the cache did not reach it in time.
   */
  async waitDispatched(revision: number): Promise<boolean> {
    if (!(await this.waitFresh(revision))) return false;
    while (this.#dispatched < revision && !this.#stopped && this.#dispatchScheduled) await new Promise<void>((resolve) => this.#dispatchWaiters.push(resolve));
    return this.#dispatched >= revision || !this.#dispatchScheduled;
  }

  /** memory counts what the current objects' texts hold (walks every object: for tests and the bench). */
  memory(): CacheMemory {
    const m: CacheMemory = { plain: 0, plainBytes: 0, packed: 0, packedBytes: 0 };
    for (const e of this.#objects.values()) {
      if (e.packed) (m.packed++, (m.packedBytes += e.text.length));
      else (m.plain++, (m.plainBytes += e.text.length));
    }
    return m;
  }

  /** indexedValue returns the value of an exact-match selector on this resource's indexed field, if there is one. */
  indexedValue(fields: FieldRequirement[]): string | undefined {
    if (!this.#indexField) return undefined;
    return fields.find((f) => f.field === this.#indexField && f.operator === '=')?.value;
  }

  /**
   * list returns the cached objects that match, as stored JSON texts ordered by namespace and name. With an indexed
   * field selector only that value's objects are looked at.
   */
  list(sel: CacheSelection): { items: string[]; revision: number } {
    const picked: Entry[] = [];
    const indexed = this.indexedValue(sel.fields);
    if (indexed !== undefined) {
      for (const k of this.#index.get(indexed) ?? []) {
        const e = this.#objects.get(k)!;
        if (this.#matches(sel, e.namespace, e)) picked.push(e);
      }
    } else {
      for (const e of this.#objects.values()) if (this.#matches(sel, e.namespace, e)) picked.push(e);
    }
    picked.sort(entryLess);
    return { items: picked.map((e) => this.#textOf(e)), revision: this.#applied };
  }

  /**
   * watch registers a watcher. `from` undefined = start with the current state as ADDED events; a revision = every
   * selected change after it. Throws StoreError Expired when `from` is older than the window. `queuedBefore` is what
   * the target already holds of a replay served elsewhere (it does not count against the queue bound either).
   */
  watch(sel: CacheSelection, from: number | undefined, target: CacheTarget, queuedBefore = 0): CacheWatch {
    if (from !== undefined && from < this.#floor) {
      throw new StoreError('Expired', `too old resource version: ${from} (${this.#floor})`, this.#floor);
    }
    const indexed = this.indexedValue(sel.fields);
    const reg: Registered = { sel, target, after: Math.max(from ?? 0, this.#applied), indexed, limit: this.#queueBytes, stopped: false };
    let queued = queuedBefore;
    if (from === undefined) {
      for (const raw of this.list(sel).items) queued = target.deliver(this.#snapshotDelivery(raw));
    } else {
      for (let i = this.#head; i < this.#events.length; i++) {
        const ev = this.#events[i];
        if (ev.revision <= from) continue;
        const d = this.#deliveryFor(reg, ev);
        if (d) queued = target.deliver(d);
      }
    }
    // what the start queued does not count against the bound; what piles up after it does
    reg.limit = this.#queueBytes + queued;
    const set = indexed === undefined ? this.#all : this.#byIndex.get(indexed) ?? this.#byIndex.set(indexed, new Set()).get(indexed)!;
    set.add(reg);
    return {
      revision: reg.after,
      stop: () => this.#unregister(reg),
      bookmarkRevision: () => Math.max(reg.after, this.#dispatched),
    };
  }

  #unregister(reg: Registered): void {
    reg.stopped = true;
    if (reg.indexed === undefined) this.#all.delete(reg);
    else {
      const set = this.#byIndex.get(reg.indexed);
      set?.delete(reg);
      if (set && set.size === 0) this.#byIndex.delete(reg.indexed);
    }
  }

  /** #entry reduces an object to what the cache keeps; apiVersion and kind are set so lines can be sent as they are. */
  #entry(obj: KubeObject, value?: string): Entry {
    const apiVersion = apiVersionOf(this.info);
    let raw = value;
    if (obj.apiVersion !== apiVersion || obj.kind !== this.info.kind) {
      obj = { ...obj, apiVersion, kind: this.info.kind };
      raw = undefined;
    }
    const e: Entry = { namespace: obj.metadata.namespace ?? '', name: obj.metadata.name ?? '', text: raw ?? JSON.stringify(obj), packed: false, labels: obj.metadata.labels ?? {}, fields: fieldsOf(this.info, obj) };
    if (raw === undefined) e.retyped = true;
    return e;
  }

  /**
   * #eventEntry is the entry of a store event's object, parsed only when nothing else tells what selection needs: a
   * write's summary of its text, or — for a deletion, whose text is the last state's restamped — the entry it deletes.
   */
  #eventEntry(ev: StoreEvent): Entry {
    const raw = ev.value;
    const s = ev.summary;
    if (raw !== undefined && s && s.apiVersion === apiVersionOf(this.info) && s.kind === this.info.kind) {
      return { namespace: s.namespace, name: s.name, text: raw, packed: false, labels: s.labels ?? {}, fields: s.fields };
    }
    if (raw !== undefined && ev.type === 'DELETED' && ev.name !== undefined) {
      const last = this.#objects.get(keyOf(ev.namespace ?? '', ev.name));
      if (last && !last.retyped) return { namespace: last.namespace, name: last.name, text: raw, packed: false, labels: last.labels, fields: last.fields };
    }
    this.stats.parsed++;
    return this.#entry(ev.object, raw);
  }

  #put(e: Entry): Entry | undefined {
    const k = keyOf(e.namespace, e.name);
    const old = this.#objects.get(k);
    this.#objects.set(k, e);
    if (this.#indexField) {
      const was = old?.fields[this.#indexField];
      const now = e.fields[this.#indexField];
      if (was !== now) {
        if (was !== undefined) this.#unindex(was, k);
        (this.#index.get(now) ?? this.#index.set(now, new Set()).get(now)!).add(k);
      }
    }
    return old;
  }

  #remove(e: Entry): Entry | undefined {
    const k = keyOf(e.namespace, e.name);
    const old = this.#objects.get(k);
    this.#objects.delete(k);
    if (old && this.#indexField) this.#unindex(old.fields[this.#indexField], k);
    return old;
  }

  #unindex(value: string, k: string): void {
    const set = this.#index.get(value);
    set?.delete(k);
    if (set && set.size === 0) this.#index.delete(value);
  }

  /** #apply takes one store event into the state and the window, and queues it for the watchers. */
  #apply(ev: StoreEvent): void {
    if (this.#stopped || ev.revision <= this.#applied) return;
    const cur = this.#eventEntry(ev);
    const old = ev.type === 'DELETED' ? this.#remove(cur) : this.#put(cur);
    const cached: CachedEvent = { type: ev.type, revision: ev.revision, t: Date.now(), cur, raw: cur.text, lines: {}, encoded: {} };
    if (old) cached.prev = { labels: old.labels, fields: old.fields };
    this.#events.push(cached);
    this.#windowBytes += cached.raw.length;
    this.#budget?.hold(cached.raw.length);
    this.#trim(cached.t);
    this.#applied = ev.revision;
    this.#pending.push(cached);
    this.#schedule();
    this.#wake();
  }

  #progress(revision: number): void {
    if (this.#stopped || revision <= this.#applied) return;
    this.#applied = revision;
    this.#trim(Date.now());
    this.#schedule();
    this.#wake();
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const still: { revision: number; resolve: () => void }[] = [];
    for (const w of this.#waiters) (w.revision <= this.#applied ? w.resolve() : still.push(w));
    this.#waiters = still;
  }

  /** #trim drops events older than the window or beyond its count or bytes (the newest event always stays); the floor rises with them. */
  #trim(now: number): void {
    const cutoff = now - this.#windowMs;
    while (
      this.#head < this.#events.length &&
      (this.#events.length - this.#head > this.#maxEvents || this.#events[this.#head].t < cutoff || (this.#windowBytes > this.#maxBytes && this.#events.length - this.#head > 1))
    )
      this.#dropOldest();
    this.#budget?.enforce();
  }

  /** #dropOldest takes the window's oldest event out; the floor rises with it. */
  #dropOldest(): void {
    const ev = this.#events[this.#head];
    this.#floor = ev.revision;
    this.#windowBytes -= ev.raw.length;
    this.#budget?.release(ev.raw.length);
    // the window no longer holds the text: if this is still the object's state, it is packed on the next turn
    if (this.#packer && ev.type !== 'DELETED' && this.#isCurrent(ev.cur)) {
      this.#toPack.push({ e: ev.cur, at: ev.t });
      this.#schedule();
    }
    this.#events[this.#head] = undefined as unknown as CachedEvent; // the text goes with the event, not with the array
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#events.length) {
      this.#events = this.#events.slice(this.#head);
      this.#head = 0;
    }
  }

  #schedule(): void {
    if (this.#dispatchScheduled) return;
    this.#dispatchScheduled = true;
    setImmediate(() => this.#dispatch());
  }

  /**
   * #dispatch fans the pending events out: unindexed watchers get every event, indexed ones only their value's. A
   * burst is fanned out in slices of DISPATCH_SLICE_MS, the rest on the next turn, so requests are served between.
   */
  #dispatch(): void {
    this.#dispatchScheduled = false;
    const pending = this.#pending;
    const reached = this.#applied;
    const started = performance.now();
    let i = 0;
    while (i < pending.length) {
      const ev = pending[i++];
      for (const reg of this.#all) this.#offer(reg, ev);
      if (this.#byIndex.size > 0 && this.#indexField) {
        const now = ev.cur.fields[this.#indexField];
        const was = ev.prev?.fields[this.#indexField];
        for (const reg of this.#byIndex.get(now) ?? []) this.#offer(reg, ev);
        if (was !== undefined && was !== now) for (const reg of this.#byIndex.get(was) ?? []) this.#offer(reg, ev);
      }
      // shared while fanning out; the window keeps only the object's text
      ev.lines = {};
      ev.encoded = {};
      ev.lent = undefined;
      if (i < pending.length && (i & 15) === 0 && performance.now() - started > DISPATCH_SLICE_MS) break;
    }
    if (i < pending.length) {
      // the rest (and whatever arrives meanwhile, appended) goes out on the next turn
      this.#pending = pending.slice(i);
      this.#dispatched = pending[i - 1].revision;
    } else {
      this.#pending = [];
      this.#dispatched = reached;
    }
    if (this.#toPack.length) this.#pack(started);
    if (this.#pending.length) this.#schedule();
    if (this.#dispatchWaiters.length) for (const wake of this.#dispatchWaiters.splice(0)) wake();
  }

  /**
   * #pack packs the queued entries that are still their object's current state, off the commit path: after the
   * fan-out, within what remains of its slice (at least 16, so a fan-out that fills every slice cannot starve it),
   * the rest on the next turn.
   */
  #pack(started: number): void {
    const packer = this.#packer;
    const queue = this.#toPack;
    if (!packer) return void (this.#toPack = []);
    const due = Date.now() - this.#packAfterMs;
    let i = 0;
    while (i < queue.length) {
      // queued in the order of their last change: the first one too young ends this round (a timer comes back)
      if (queue[i].at > due) {
        this.#packTimer ??= setTimeout(() => ((this.#packTimer = undefined), this.#schedule()), queue[i].at - due + 1).unref();
        if (i > 0) this.#toPack = queue.slice(i);
        return;
      }
      const e = queue[i++].e;
      if (e.packed || !this.#isCurrent(e)) continue;
      const packed = packer.pack(e.text);
      if (packed !== undefined) {
        e.text = packed;
        e.packed = true;
        this.stats.packed++;
      }
      if ((i & 15) === 0 && performance.now() - started > DISPATCH_SLICE_MS) break;
    }
    this.#toPack = i < queue.length ? queue.slice(i) : [];
    if (this.#toPack.length) this.#schedule();
  }

  #isCurrent(e: Entry): boolean {
    return this.#objects.get(keyOf(e.namespace, e.name)) === e;
  }

  /** #textOf is an entry's JSON text, unpacked if it is packed. */
  #textOf(e: Entry): string {
    return e.packed ? this.#packer!.unpack(e.text) : e.text;
  }

  #offer(reg: Registered, ev: CachedEvent): void {
    if (reg.stopped || ev.revision <= reg.after) return;
    const d = this.#deliveryFor(reg, ev, true);
    if (!d) return;
    let queued: number;
    try {
      queued = reg.target.deliver(d);
    } catch (err) {
      this.#log?.error({ err, resource: this.#key }, 'watch cache: a watcher threw; dropping it');
      queued = Infinity;
    }
    if (queued > reg.limit) {
      this.stats.overflowed++;
      this.#unregister(reg);
      this.#log?.warn({ resource: this.#key, queued }, 'watcher too slow; closing its stream');
      reg.target.close('watcher queue overflowed');
    }
  }

  #matches(sel: CacheSelection, namespace: string, s: { labels: Record<string, string>; fields: Record<string, string> }): boolean {
    if (sel.namespace !== undefined && sel.namespace !== namespace) return false;
    if (sel.labels.length && !matchLabels(sel.labels, s.labels)) return false;
    if (sel.fields.length && !matchFields(sel.fields, s.fields)) return false;
    return true;
  }

  /**
   * #deliveryFor turns an event into what this watcher sees: selection transitions become ADDED / DELETED, as upstream.
   * `fanout`: the event is being fanned out now, so its encoded line is shared by the watchers it goes to.
   */
  #deliveryFor(reg: Registered, ev: CachedEvent, fanout = false): Delivery | undefined {
    const ns = ev.cur.namespace;
    const nowMatch = this.#matches(reg.sel, ns, ev.cur);
    const prevMatch = ev.prev ? this.#matches(reg.sel, ns, ev.prev) : false;
    let type: EventType | undefined;
    if (ev.type === 'ADDED') type = nowMatch ? 'ADDED' : undefined;
    else if (ev.type === 'DELETED') type = nowMatch || prevMatch ? 'DELETED' : undefined;
    else if (nowMatch && prevMatch) type = 'MODIFIED';
    else if (nowMatch) type = 'ADDED';
    else if (prevMatch) type = 'DELETED';
    if (!type) return undefined;
    const t = type;
    const line = () => {
      let l = ev.lines[t];
      if (l === undefined) {
        this.stats.serialised++;
        l = ev.lines[t] = `{"type":"${t}","object":${ev.raw}}\n`;
      }
      return l;
    };
    return {
      type: t,
      revision: ev.revision,
      bytes: lineBytes(t, ev.raw),
      line,
      // kept only while the event is fanned out (#dispatch drops it): a replay's watcher encodes its own
      encoded: () => (fanout ? (ev.encoded[t] ??= Buffer.from(line())) : Buffer.from(line())),
      object: () => {
        const lent = ev.lent;
        if (!lent) return JSON.parse(ev.raw) as KubeObject;
        ev.lent = undefined;
        return lent;
      },
      view: () => (fanout ? (ev.lent ??= JSON.parse(ev.raw) as KubeObject) : (JSON.parse(ev.raw) as KubeObject)),
      fields: ev.cur.fields,
    };
  }

  #snapshotDelivery(raw: string): Delivery {
    return {
      type: 'ADDED',
      revision: this.#applied,
      bytes: lineBytes('ADDED', raw),
      line: () => `{"type":"ADDED","object":${raw}}\n`,
      object: () => JSON.parse(raw) as KubeObject,
      view: () => JSON.parse(raw) as KubeObject,
    };
  }
}
