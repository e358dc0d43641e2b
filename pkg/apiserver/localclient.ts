// localclient: the in-process ApiClient over a Registry, for the scheduler and controllers inside `kubeling server`;
// it behaves as the HTTP Client does against the same server (errors, defaults, copies, watch events), without a socket.
import type { Logger } from 'pino';
import { ApiError, errors } from '../api/errors.ts';
import { apiVersionOf, type ResourceInfo } from '../api/resources.ts';
import type { KubeObject, Status, WatchEvent } from '../api/types.ts';
import type { ApiClient, DeleteOptions, ListQuery, ListResult, PatchKind, WatchHandle, WatchQuery, WriteQuery } from '../client/interface.ts';
import { LoadGate, TurnGate } from '../util/turns.ts';
import type { CacheTarget } from './watchcache.ts';
import { serialisedText } from './offload.ts';
import { deleteOptionsFrom, withTypeMeta, type ListQuery as RegistryListQuery, type Registry, type WriteOptions } from './registry.ts';

/** a watcher that falls this many events behind is closed, as the HTTP path closes a slow stream (it re-lists) */
const WATCH_QUEUE_LIMIT = 100_000;
const BOOKMARK_INTERVAL_MS = 10_000;
/** DRAIN_SLICE_MS bounds how long one turn of the event loop hands queued events to a watcher's handler */
const DRAIN_SLICE_MS = 5;
/**
 * WRITE_CAPACITY bounds the in-process writes running at once, for all the clients of one registry, in units: a create
 * or delete weighs HEAVY (admission, defaulting, validation, managedFields, encoding of a whole object), an update,
 * patch, binding or eviction LIGHT. Their synchronous parts run on the event loop, and a controller's burst started at
 * once (a slow-start batch of 512 pod creates, a scale-down's deletes, a scheduler's bindings) would otherwise hold the
 * loop for tens of milliseconds ahead of every HTTP request. A freed unit goes to the next caller on the next turn
 * (TurnGate): at most 64 creates, or 256 bindings, start in one turn.
 */
const WRITE_CAPACITY = 256;
const HEAVY = 4;
const LIGHT = 1;
/**
 * BURST_CAPACITY: the creates and deletes in flight besides, at most 64, paced by the event loop's load (LoadGate): when
 * its turns run long (HTTP requests waiting behind the burst), fewer start, down to 2. A controller's burst is
 * background work; the clients over HTTP — kubectl, the nodes — keep short turns. Updates and bindings are not paced:
 * they finish work already started (a scheduler's bindings are its throughput).
 */
const BURST_CAPACITY = { min: 2, max: WRITE_CAPACITY / HEAVY };
const gates = new WeakMap<Registry, { all: TurnGate; burst: LoadGate }>();

export interface LocalClientOptions {
  /** the User-Agent a remote client would send, e.g. 'kube-controller-manager/v1.32.0'; names the field manager */
  userAgent: string;
  log?: Logger;
}

/**
 * LocalClient implements ApiClient by calling the Registry directly. Objects are copied through JSON both ways (what
 * the HTTP path's encoding does); errors are ApiError with the Status the HTTP path would answer; watches deliver
 * asynchronously, in order, with the same BOOKMARK and ERROR events as a watch stream.
 */
export class LocalClient implements ApiClient {
  private readonly registry: Registry;
  private readonly fieldManager: string | undefined;
  private readonly log: Logger | undefined;
  private readonly watches = new Set<() => void>();
  private readonly gate: { all: TurnGate; burst: LoadGate };

  constructor(registry: Registry, opts: LocalClientOptions) {
    this.registry = registry;
    let gate = gates.get(registry);
    if (!gate) gates.set(registry, (gate = { all: new TurnGate(WRITE_CAPACITY), burst: new LoadGate(BURST_CAPACITY) }));
    this.gate = gate;
    // upstream's default field manager: the User-Agent up to its first '/', at most 128 characters
    this.fieldManager = opts.userAgent.split('/')[0].slice(0, 128) || undefined;
    this.log = opts.log;
  }

  private writeOptions(q: WriteQuery = {}): WriteOptions {
    if (q.dryRun !== undefined && q.dryRun !== 'All') throw errors.badRequest(`Invalid dry run value: ${q.dryRun}`);
    const fv = q.fieldValidation ?? 'Warn';
    if (fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore') throw errors.badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got ${fv}`);
    return { dryRun: q.dryRun === 'All', fieldManager: q.fieldManager ?? this.fieldManager, fieldValidation: fv, warnings: [], serialisedResult: true };
  }

  /** write runs a mutating call of the given weight through the registry's TurnGate; a HEAVY one is paced by the loop's load first. */
  private write<T>(weight: number, f: () => Promise<T>): Promise<T> {
    if (weight >= HEAVY) return this.gate.burst.run(() => this.gate.all.run(() => call(f), weight));
    return this.gate.all.run(() => call(f), weight);
  }

  get(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject> {
    return call(async () => this.registry.get(info, scope(info, namespace), name, { serialisedResult: true }));
  }

  async getOrUndefined(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    try {
      return await this.get(info, namespace, name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  list(info: ResourceInfo, namespace?: string, query: ListQuery = {}): Promise<ListResult> {
    return call(async () => {
      const q: RegistryListQuery & { resourceVersion?: string } = {
        labelSelector: query.labelSelector || undefined,
        fieldSelector: query.fieldSelector || undefined,
        limit: query.limit && query.limit > 0 ? query.limit : undefined,
        continue: query.continue || undefined,
      };
      if (query.resourceVersion) q.resourceVersion = query.resourceVersion;
      const r = await this.registry.list(info, scope(info, namespace), q);
      const metadata: ListResult['metadata'] = { resourceVersion: String(r.revision) };
      if (r.continue) metadata.continue = r.continue;
      if (r.continue && r.remaining !== undefined) metadata.remainingItemCount = r.remaining;
      return { apiVersion: apiVersionOf(info), kind: info.listKind, metadata, items: r.items.map((o) => withTypeMeta(info, o)) } as ListResult;
    });
  }

  create(info: ResourceInfo, namespace: string | undefined, obj: KubeObject, query?: WriteQuery): Promise<KubeObject> {
    return this.write(HEAVY, async () => {
      if (info.namespaced && namespace === undefined) throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
      return this.registry.create(info, scope(info, namespace), copy(obj), this.writeOptions(query));
    });
  }

  update(info: ResourceInfo, obj: KubeObject, sub?: string): Promise<KubeObject> {
    return this.write(LIGHT, async () => {
      const ns = obj.metadata?.namespace;
      const name = obj.metadata?.name;
      checkTarget(info, ns, name, sub);
      if (sub === 'scale') return this.registry.updateScale(info, ns, name!, () => copy(obj), this.writeOptions());
      return this.registry.update(info, scope(info, ns), name!, copy(obj), this.writeOptions(), sub);
    });
  }

  updateStatus(info: ResourceInfo, obj: KubeObject): Promise<KubeObject> {
    return this.update(info, obj, 'status');
  }

  patch(info: ResourceInfo, namespace: string | undefined, name: string, patch: unknown, type: PatchKind = 'merge', sub?: string): Promise<KubeObject> {
    return this.write(LIGHT, async () => {
      checkTarget(info, namespace, name, sub);
      const body = copy(patch);
      if (sub === 'scale') return this.registry.patchScale(info, namespace, name, type, body, this.writeOptions());
      return (await this.registry.patch(info, scope(info, namespace), name, type, body, { ...this.writeOptions(), force: false }, sub)).object;
    });
  }

  delete(info: ResourceInfo, namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<KubeObject | Status> {
    return this.write(HEAVY, async () => {
      checkTarget(info, namespace, name);
      const { dryRun, ...rest } = copy(opts);
      const parsed = deleteOptionsFrom({ ...rest, ...(dryRun ? { dryRun: ['All'] } : {}) });
      return this.registry.delete(info, scope(info, namespace), name, parsed);
    });
  }

  bind(namespace: string, name: string, nodeName: string, uid?: string): Promise<void> {
    return this.write(LIGHT, async () => {
      const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace, ...(uid ? { uid } : {}) }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } };
      await this.registry.bind(namespace, name, binding, this.writeOptions());
    });
  }

  evict(namespace: string, name: string, opts: DeleteOptions = {}): Promise<void> {
    return this.write(LIGHT, async () => {
      const { dryRun, ...rest } = copy(opts);
      const eviction = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace }, deleteOptions: { kind: 'DeleteOptions', apiVersion: 'v1', ...rest, ...(dryRun ? { dryRun: ['All'] } : {}) } };
      await this.registry.evict(namespace, name, eviction);
    });
  }

  /**
   * watch follows registry.watch as the HTTP watch stream does: initial ADDED events (rv unset / '0' /
   * sendInitialEvents), a BOOKMARK with `k8s.io/initial-events-end` after them when asked, periodic BOOKMARKs,
   * an ERROR event carrying the Status (410 Expired …) that ends the stream, and an end after timeoutSeconds.
   */
  watch(info: ResourceInfo, namespace: string | undefined, query: WatchQuery, onEvent: (ev: WatchEvent) => void): WatchHandle {
    const registry = this.registry;
    let closed = false;
    let stopWatch: (() => void) | undefined;
    const timers: NodeJS.Timeout[] = [];
    /** events not yet handed to onEvent, with their serialised size (the HTTP path's unsent bytes) */
    let queue: { ev: WatchEvent; bytes: number }[] = [];
    /** the first entry of `queue` not yet handed over (taken from the front without shifting the array) */
    let head = 0;
    let queuedBytes = 0;
    let draining = false;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const finish = () => {
      if (closed) return;
      closed = true;
      stopWatch?.();
      for (const t of timers) clearTimeout(t), clearInterval(t);
      this.watches.delete(finish);
      queue = [];
      head = 0;
      queuedBytes = 0;
      resolveDone();
    };
    // events reach the caller asynchronously and in order; the queue ends before `done` resolves for a server-side end
    let ending = false;
    const end = () => {
      ending = true;
      if (!draining) finish();
    };
    // a burst is handed over in slices of DRAIN_SLICE_MS, the rest on the next turn, so requests are served between
    const drain = () => {
      const started = performance.now();
      let n = 0;
      while (head < queue.length && !closed) {
        if ((++n & 15) === 0 && performance.now() - started > DRAIN_SLICE_MS) {
          if (head > 1024) (queue = queue.slice(head)), (head = 0);
          setImmediate(drain);
          return;
        }
        const { ev, bytes } = queue[head];
        queue[head++] = undefined as unknown as (typeof queue)[number]; // the event goes once handed over
        queuedBytes -= bytes;
        try {
          onEvent(ev);
        } catch (err) {
          this.log?.error({ err, resource: info.resource }, 'watch handler threw');
        }
      }
      queue = [];
      head = 0;
      draining = false;
      if (ending) finish();
    };
    /** write queues one event (objects are the caller's: fresh parses or copies); returns the bytes still queued */
    const write = (type: WatchEvent['type'], object: KubeObject | Status, bytes: number): number => {
      if (closed || ending) return 0;
      queue.push({ ev: { type, object: object as KubeObject }, bytes });
      queuedBytes += bytes;
      if (queue.length - head > WATCH_QUEUE_LIMIT) {
        this.log?.warn({ resource: info.resource }, 'watcher too slow; closing its stream');
        queue = [];
        head = 0;
        end();
        return 0;
      }
      if (!draining) {
        draining = true;
        setImmediate(drain);
      }
      return queuedBytes;
    };
    const target: CacheTarget = {
      deliver: (d) => write(d.type, d.object(), d.bytes ?? d.line().length),
      close: () => end(),
    };
    let bookmarkRevision = () => 0;
    this.watches.add(finish);
    const started = Date.now();
    const timeout = Number(query.timeoutSeconds ?? 0);
    timers.push(setTimeout(end, (timeout > 0 ? timeout : 1800 + Math.random() * 1800) * 1000));
    const bookmarks = String(query.allowWatchBookmarks) === 'true';
    const sendInitialEvents = String(query.sendInitialEvents) === 'true';
    // a bookmark carries the newest revision whose events this watcher has all been handed, as the HTTP stream's
    const bookmark = (annotations?: Record<string, string>) =>
      write('BOOKMARK', { kind: info.kind, apiVersion: apiVersionOf(info), metadata: { resourceVersion: String(bookmarkRevision()), ...(annotations ? { annotations } : {}) } }, 0);
    const str = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : String(v));
    Promise.resolve()
      .then(() =>
        registry.watchShared(
          info,
          scope(info, namespace),
          { labelSelector: str(query.labelSelector), fieldSelector: str(query.fieldSelector), resourceVersion: str(query.resourceVersion), sendInitialEvents },
          target,
        ),
      )
      .then((w) => {
        if (closed) return w.stop();
        stopWatch = () => w.stop();
        bookmarkRevision = () => w.bookmarkRevision();
        if (sendInitialEvents && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
        if (bookmarks) timers.push(setInterval(() => bookmark(), BOOKMARK_INTERVAL_MS));
        if (bookmarks && timeout > 2) timers.push(setTimeout(() => bookmark(), (timeout - 2) * 1000 - (Date.now() - started)));
      })
      .catch((err) => {
        write('ERROR', asApiError(err).status, 0);
        end();
      });
    return { stop: finish, done };
  }

  async close(): Promise<void> {
    for (const f of [...this.watches]) f();
  }
}

/** call runs one request and turns what it throws into the ApiError the HTTP client would throw; results are copies. */
async function call<T>(f: () => Promise<T>): Promise<T> {
  try {
    const r = await f();
    // an answer that is stored text as it is (a write's, a get's) is parsed once, as the HTTP client would
    const text = r !== null && typeof r === 'object' ? serialisedText(r) : undefined;
    return text !== undefined ? (JSON.parse(text) as T) : copy(r);
  } catch (e) {
    throw asApiError(e);
  }
}

function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return new ApiError(copy(e.status));
  return errors.internal(e instanceof Error ? e.message : String(e));
}

/** copy is the JSON round trip an HTTP request makes of a body: undefined fields vanish, nothing is shared. */
function copy<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** scope drops a namespace given for a cluster-scoped kind (the HTTP client leaves it out of the path). */
function scope(info: ResourceInfo, namespace: string | undefined): string | undefined {
  return info.namespaced ? namespace : undefined;
}

/** checkTarget refuses what the HTTP path would answer 404 for: no name, an unknown subresource, no namespace. */
/** POST_ONLY are the subresources that only take a POST (the HTTP handler's 405 for any other method). */
const POST_ONLY = new Set(['binding', 'eviction', 'token']);

/** checkTarget checks an update's or patch's target as the HTTP handler does. */
function checkTarget(info: ResourceInfo, namespace: string | undefined, name: string | undefined, sub?: string): void {
  if (!name) throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
  if (sub && !info.subresources.includes(sub)) throw errors.notFoundPath();
  if (sub && POST_ONLY.has(sub)) throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
  if (info.namespaced && !namespace) throw errors.notFoundPath();
}
