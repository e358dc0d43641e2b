// registry: the generic REST semantics of every resource (create, update, patch, delete, list, watch) over the Store.
import { admitCreate, admitUpdate } from './admission/noderestriction.ts';
import type { UserInfo } from './auth/types.ts';
import type { Logger } from 'pino';
import { errors, ApiError, type FieldError, field } from '../api/errors.ts';
import { apiVersionOf, lookupKind, storeKey, type ResourceInfo } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { fieldsOf, resetFields } from '../api/kinds/index.ts';
import { parseLabelSelector, matchLabels, parseFieldSelector, matchFields, checkFieldSelector, selectorToString, type LabelRequirement, type FieldRequirement } from '../api/selectors.ts';
import { applyJsonPatch, applyMergePatch, serverSideApply, updateManagedFields, applyConflictError } from '../api/patch.ts';
import type { DeleteOptions, ListQuery } from '../client/interface.ts';
import { decodeContinue, encodeContinue } from '../store/mvcc.ts';
import { StoreError, type Store, type StoreEvent } from '../store/types.ts';
import { SERIALISED, joinStamped, serialise, serialisedOf, type Serialised } from '../store/mvcc.ts';
import { WatchCache, WindowBudget, type CacheSelection, type CacheTarget, type CacheWatch, type Delivery, type WatchCacheOptions } from './watchcache.ts';
import { ServiceAllocator, type Allocation } from './allocators.ts';
import type { Binding, PodCondition, Toleration } from 'kubernetes-types/core/v1.js';
import type { Eviction } from 'kubernetes-types/policy/v1.js';
import type { ServiceAccount, Pod } from 'kubernetes-types/core/v1.js';
import type { TokenRequest, TokenRequestSpec } from 'kubernetes-types/authentication/v1.js';
import {
  GENERATION_KINDS,
  checkApplyBody,
  checkBody,
  checkFieldManager,
  clone,
  createFinish,
  createStamp,
  createStart,
  defaultManager,
  gr,
  now,
  patchObject,
  prepareUpdate,
  throwIfInvalid,
  unchanged,
  withTypeMeta,
  computeCreate,
  computeUpdate,
  decodeRequestBody,
  summaryOf,
  type ComputeOptions,
  type PatchType,
  type RequestBody,
  type Written,
} from './offload-compute.ts';
import { LargeBody, heavyWrite, lazyObject, typedText, type OffloadPool, type Tasks } from './offload.ts';
import { ServiceAccountTokens } from './auth/serviceaccount.ts';
import { admitServiceAccount, isMirrorPod, randomSuffix as volumeSuffix, serviceAccountName } from './admission/serviceaccount.ts';
import { nextTurn } from '../util/turns.ts';

/** WriteOptions are the per-request knobs of a write (query parameters): what the compute reads, and how to answer. */
export interface WriteOptions extends ComputeOptions {
  /**
   * the caller renders the result as JSON and nothing else (the HTTP layer): a write computed on a worker may answer
   * with a lazy object (offload.lazyObject) whose text is rendered as it is, instead of one parsed on the event loop
   */
  serialisedResult?: boolean;
}

/** DeleteOptions are the client contract's: the registry applies exactly what a client can ask for. */
export type { DeleteOptions };

/** ListQuery is the client contract's: a list asks the registry exactly what a client can ask. */
export type { ListQuery };

/** WatchQuery is a watch's selection and starting point. */
export interface WatchQuery {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  sendInitialEvents?: boolean;
}

/** RawList is a list as stored JSON texts (objects carry apiVersion and kind when `typed`). */
export interface RawList {
  items: string[];
  revision: number;
  continue?: string;
  remaining?: number;
  parsed?: KubeObject[];
}

/** Selection is a parsed label + field selector. */
export interface Selection {
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

export type { PatchType };
export { withTypeMeta };

/**
 * OFFLOAD says which writes of a kind may be computed on a worker: 'none' where admission reads the store or the
 * authorizer (RBAC escalation checks, a Service's allocations), 'update' where only the create does (a Pod's
 * ServiceAccount admission); every other kind 'all'.
 */
const OFFLOAD: Record<string, 'none' | 'update'> = {
  Service: 'none',
  Role: 'none',
  ClusterRole: 'none',
  RoleBinding: 'none',
  ClusterRoleBinding: 'none',
  Pod: 'update',
};

function offloads(info: ResourceInfo, write: 'create' | 'update'): boolean {
  const rule = OFFLOAD[info.kind];
  if (info.group === 'rbac.authorization.k8s.io' || rule === 'none') return false;
  return rule !== 'update' || write === 'update';
}

const MAX_CONFLICT_RETRIES = 8;

/** RegistryOptions are the API server's semantic knobs (upstream flags in the comments). */
export interface RegistryOptions {
  /** --default-not-ready-toleration-seconds: DefaultTolerationSeconds admission (default 30; upstream 300) */
  defaultNotReadyTolerationSeconds?: number;
  /** --default-unreachable-toleration-seconds (default 30; upstream 300) */
  defaultUnreachableTolerationSeconds?: number;
  /** --service-cidr: where ClusterIPs come from (default 10.43.0.0/16) */
  serviceCidr?: string;
  /** --service-node-port-range (default 30000-32767) */
  serviceNodePortRange?: string;
  /** --service-account-signing-key-file's key (PEM, EC P-256 or RSA); an in-memory key when absent */
  serviceAccountKeyPem?: string;
  /** --service-account-issuer (default https://kubernetes.default.svc.cluster.local) */
  serviceAccountIssuer?: string;
  /**
   * the ServiceAccount admission plugin (upstream enables it by default; the API server turns it on, a bare registry
   * in unit tests leaves it off as there is no serviceaccount controller to make `default`)
   */
  serviceAccountAdmission?: boolean;
}

/** MIN_TOKEN_SECONDS / MAX_TOKEN_SECONDS bound a TokenRequest's expirationSeconds (upstream: 10 minutes, 2^32 s). */
const MIN_TOKEN_SECONDS = 600;
const MAX_TOKEN_SECONDS = 2 ** 32;
/** DEFAULT_TOKEN_SECONDS is a TokenRequest's default expirationSeconds (1 hour). */
const DEFAULT_TOKEN_SECONDS = 3600;

/**
 * ClusterConfig is what the server publishes in ConfigMap `kube-system/kubeling-config` for the agents (their
 * kube-proxy, DNS responder and pod network read it at start).
 */
export interface ClusterConfig {
  clusterCIDR: string;
  serviceCIDR: string;
  clusterDNS: string;
  clusterDomain: string;
  serviceNodePortRange: string;
}

/** The ConfigMap the cluster configuration is published in. */
export const CLUSTER_CONFIG = { namespace: 'kube-system', name: 'kubeling-config' } as const;

/** Registry implements the API's object semantics; the HTTP layer only parses and renders. */
export class Registry {
  /** escalation: RBAC escalation prevention for Role/ClusterRole/binding writes by a user (set by the API server once auth exists) */
  escalation?: (user: UserInfo | undefined, info: ResourceInfo, obj: KubeObject, old?: KubeObject) => Promise<void>;
  readonly store: Store;
  readonly allocator: ServiceAllocator;
  private readonly log: Logger;
  private readonly options: Required<Omit<RegistryOptions, 'serviceCidr' | 'serviceNodePortRange' | 'serviceAccountKeyPem' | 'serviceAccountIssuer'>>;
  /** serviceAccountTokens signs TokenRequests and authenticates the tokens (the API's auth uses it too) */
  readonly serviceAccountTokens: ServiceAccountTokens;
  /** namespaces: name → phase, kept current by a store watch (saves a read on every namespaced create) */
  private readonly namespaces = new Map<string, 'Active' | 'Terminating'>();
  private namespaceWatch: { stop(): void } | undefined;

  constructor(store: Store, log: Logger, options: RegistryOptions = {}) {
    this.store = store;
    this.log = log;
    const { serviceCidr, serviceNodePortRange, serviceAccountKeyPem, serviceAccountIssuer, ...rest } = options;
    this.options = { defaultNotReadyTolerationSeconds: 30, defaultUnreachableTolerationSeconds: 30, serviceAccountAdmission: false, ...stripUndefined(rest) };
    this.serviceAccountTokens = new ServiceAccountTokens({ keyPem: serviceAccountKeyPem, issuer: serviceAccountIssuer, lookup: (resource, ns, name) => this.store.get(resource, ns, name) });
    this.allocator = new ServiceAllocator(serviceCidr ?? '10.43.0.0/16', serviceNodePortRange ?? '30000-32767');
  }

  /**
   * start loads the allocations and creates the built-in namespaces. Emptying terminating namespaces is the
   * namespace controller's job (pkg/controllers/namespace).
   */
  async start(): Promise<void> {
    const nsList = await this.store.list('namespaces');
    for (const raw of nsList.items) this.trackNamespace(JSON.parse(raw));
    this.namespaceWatch = this.store.watch('namespaces', { fromRevision: nsList.revision }, (ev) => {
      if (ev.type === 'DELETED') this.namespaces.delete(ev.object.metadata.name!);
      else this.trackNamespace(ev.object);
    });
    const services = await this.store.list('services');
    await this.allocator.start(this.store, services.items.map((s) => JSON.parse(s) as KubeObject), this.log);
    const nsInfo = lookupKind('v1', 'Namespace')!;
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      if (!(await this.store.get('namespaces', '', name))) {
        await this.create(nsInfo, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, {}).catch((e) => {
          // another API server on the same store made it first
          if (!(e instanceof ApiError && e.code === 409)) throw e;
        });
      }
    }
  }

  private trackNamespace(ns: KubeObject): void {
    this.namespaces.set(ns.metadata.name!, ns.metadata.deletionTimestamp ? 'Terminating' : 'Active');
  }

  stop(): void {
    this.stopCaches();
    this.namespaceWatch?.stop();
    this.allocator.stop();
  }

  /**
   * ensureKubernetesService keeps `default/kubernetes` (the first ClusterIP), its Endpoints and its EndpointSlice
   * pointing at the API server, as upstream's apiserver reconciler does on start: the Endpoints carry
   * `endpointslice.kubernetes.io/skip-mirror` (the server writes the slice itself), the slice carries only
   * `kubernetes.io/service-name`.
   */
  async ensureKubernetesService(ip: string, port: number): Promise<void> {
    const svcInfo = lookupKind('v1', 'Service')!;
    const epInfo = lookupKind('v1', 'Endpoints')!;
    const labels = { component: 'apiserver', provider: 'kubernetes' };
    const tolerate409 = (e: unknown) => {
      if (!(e instanceof ApiError && e.code === 409)) throw e;
    };
    if (!(await this.store.get('services', 'default', 'kubernetes'))) {
      await this.create(svcInfo, 'default', {
        metadata: { name: 'kubernetes', labels },
        spec: { type: 'ClusterIP', clusterIP: this.allocator.kubernetesServiceIP, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }], sessionAffinity: 'None' },
      }, {}).catch(async (e) => {
        if (!(await this.store.get('services', 'default', 'kubernetes'))) throw e; // else another server made it
      });
    }
    const epLabels = { 'endpointslice.kubernetes.io/skip-mirror': 'true' };
    const subsets = [{ addresses: [{ ip }], ports: [{ name: 'https', port, protocol: 'TCP' }] }];
    const ep = await this.store.get('endpoints', 'default', 'kubernetes');
    if (!ep) await this.create(epInfo, 'default', { metadata: { name: 'kubernetes', labels: epLabels }, subsets }, {}).catch(tolerate409);
    else if (JSON.stringify(ep.subsets) !== JSON.stringify(subsets) || JSON.stringify(ep.metadata.labels) !== JSON.stringify(epLabels)) {
      await this.guaranteedUpdate(epInfo, 'default', 'kubernetes', {}, undefined, undefined, (current) => {
        const cur = current();
        return { ...cur, metadata: { ...cur.metadata, labels: epLabels }, subsets };
      });
    }
    const sliceInfo = lookupKind('discovery.k8s.io/v1', 'EndpointSlice');
    if (!sliceInfo) return;
    const slice = {
      labels: { 'kubernetes.io/service-name': 'kubernetes' },
      addressType: 'IPv4',
      endpoints: [{ addresses: [ip], conditions: { ready: true } }],
      ports: [{ name: 'https', port, protocol: 'TCP' }],
    };
    const cur = await this.store.get(storeKey(sliceInfo), 'default', 'kubernetes');
    if (!cur) {
      await this.create(sliceInfo, 'default', { metadata: { name: 'kubernetes', labels: slice.labels }, addressType: slice.addressType, endpoints: slice.endpoints, ports: slice.ports }, {}).catch(tolerate409);
    } else if (JSON.stringify([cur.metadata.labels, cur.endpoints, cur.ports]) !== JSON.stringify([slice.labels, slice.endpoints, slice.ports])) {
      await this.guaranteedUpdate(sliceInfo, 'default', 'kubernetes', {}, undefined, undefined, (current) => {
        const c = current();
        return { ...c, metadata: { ...c.metadata, labels: slice.labels }, endpoints: slice.endpoints, ports: slice.ports };
      });
    }
  }

  /**
   * ensureClusterConfig publishes the cluster configuration in ConfigMap `kube-system/kubeling-config` and keeps the
   * `kube-system/kube-dns` Service (no selector; the agents' DNS responders own its ClusterIP) at `clusterDNS`, the
   * address claimed through the allocator like any ClusterIP. Idempotent across restarts and concurrent servers.
   */
  async ensureClusterConfig(config: ClusterConfig): Promise<void> {
    const cmInfo = lookupKind('v1', 'ConfigMap')!;
    const svcInfo = lookupKind('v1', 'Service')!;
    const { namespace: ns, name } = CLUSTER_CONFIG;
    const data: Record<string, string> = { ...config };
    const tolerate409 = (e: unknown) => {
      if (!(e instanceof ApiError && e.code === 409)) throw e;
    };
    const cm = await this.store.get('configmaps', ns, name);
    if (!cm) await this.create(cmInfo, ns, { metadata: { name, namespace: ns }, data }, { fieldManager: 'kubeling-apiserver' }).catch(tolerate409);
    else if (JSON.stringify(cm.data) !== JSON.stringify(data)) {
      await this.guaranteedUpdate(cmInfo, ns, name, { fieldManager: 'kubeling-apiserver' }, undefined, undefined, (current) => ({ ...current(), data }));
    }
    const svc = {
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        type: 'ClusterIP',
        clusterIP: config.clusterDNS,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
        sessionAffinity: 'None',
      },
    };
    const cur = await this.store.get('services', 'kube-system', 'kube-dns');
    if (cur && (cur.spec as { clusterIP?: string } | undefined)?.clusterIP === config.clusterDNS) return;
    try {
      // clusterIP is immutable: a changed --cluster-dns replaces the service
      if (cur) await this.delete(svcInfo, 'kube-system', 'kube-dns', { preconditions: { uid: cur.metadata.uid } }).catch(() => undefined);
      await this.create(svcInfo, 'kube-system', svc, { fieldManager: 'kubeling-apiserver' });
    } catch (e) {
      const now = await this.store.get('services', 'kube-system', 'kube-dns');
      if (now && (now.spec as { clusterIP?: string } | undefined)?.clusterIP === config.clusterDNS) return; // another server made it
      this.log.warn({ err: e, clusterDNS: config.clusterDNS }, 'cannot create Service kube-system/kube-dns at the cluster DNS address');
    }
  }

  // ---- reads ----

  /**
   * get reads one object. For a caller that renders the result as JSON (serialisedResult), an object whose stored
   * text already carries its apiVersion and kind comes back as a lazy object over that text: it is sent as it is,
   * never parsed and serialised again on the event loop (the in-process client parses it once).
   */
  async get(info: ResourceInfo, namespace: string | undefined, name: string, opts: Pick<WriteOptions, 'serialisedResult'> = {}): Promise<KubeObject> {
    const key = storeKey(info);
    const ns = info.namespaced ? namespace ?? '' : '';
    if (opts.serialisedResult && this.store.getRaw) {
      const raw = await this.store.getRaw(key, ns, name);
      if (!raw) throw errors.notFound(gr(info), name);
      if (typedText(raw.value, apiVersionOf(info), info.kind)) return lazyObject(raw.value);
      return withTypeMeta(info, JSON.parse(raw.value) as KubeObject);
    }
    const obj = await this.store.get(key, ns, name);
    if (!obj) throw errors.notFound(gr(info), name);
    return withTypeMeta(info, obj);
  }

  /** the watch caches, one per resource, made on first use; `watchCacheOptions` applies to those made after it is set */
  private readonly caches = new Map<string, WatchCache>();
  watchCacheOptions: WatchCacheOptions = {};
  /** one bound for the event windows of all the caches (unless watchCacheOptions names another) */
  readonly windowBudget = new WindowBudget();

  /** cacheFor returns the resource's watch cache, filled. */
  async cacheFor(info: ResourceInfo): Promise<WatchCache> {
    const key = storeKey(info);
    let c = this.caches.get(key);
    if (!c) {
      c = new WatchCache(this.store, info, { log: this.log, budget: this.windowBudget, ...this.watchCacheOptions });
      this.caches.set(key, c);
    }
    try {
      await c.ready();
    } catch (e) {
      if (this.caches.get(key) === c) this.caches.delete(key);
      throw e;
    }
    return c;
  }

  /** stopCaches ends every watch cache's store watch. */
  stopCaches(): void {
    for (const c of this.caches.values()) c.stop();
    this.caches.clear();
  }

  parseSelection(info: ResourceInfo, q: { labelSelector?: string; fieldSelector?: string }): Selection {
    const labels = q.labelSelector ? parseLabelSelector(q.labelSelector) : [];
    const fields = q.fieldSelector ? parseFieldSelector(q.fieldSelector) : [];
    if (fields.length) checkFieldSelector(fields, new Set(Object.keys(fieldsOf(info, { metadata: {} }))));
    return { labels, fields };
  }

  matches(info: ResourceInfo, sel: Selection, obj: KubeObject): boolean {
    if (sel.labels.length && !matchLabels(sel.labels, obj.metadata.labels ?? {})) return false;
    if (sel.fields.length && !matchFields(sel.fields, fieldsOf(info, obj))) return false;
    return true;
  }

  /**
   * listRaw returns stored JSON strings matching the selection, as upstream serves lists: resourceVersion=0 from the
   * watch cache (whole, limit ignored), an exact-match selector on an indexed field (pods by spec.nodeName) from the
   * cache's index once it has caught up with the store, everything else from the store — at the newest revision, at
   * an exact one, or at the continue token's, so every page of one list shows one revision.
   */
  async listRaw(info: ResourceInfo, namespace: string | undefined, q: ListQuery): Promise<RawList> {
    const sel = this.parseSelection(info, q);
    const ns = info.namespaced ? namespace : undefined;
    const rv = q.resourceVersion ?? '';
    const exact = checkListVersion(rv, q.resourceVersionMatch, q.continue);
    checkListLimit(q.limit);
    if (q.continue) checkContinue(q.continue, storeKey(info));
    const limit = q.limit !== undefined && q.limit > 0 ? q.limit : undefined;
    if (!q.continue && exact === undefined) {
      const fromCache = await this.listFromCache(info, ns, sel, rv, limit);
      if (fromCache) return fromCache;
    }
    const key = storeKey(info);
    const labelFilter = sel.labels.length ? (l: Record<string, string>) => matchLabels(sel.labels, l) : undefined;
    if (exact === undefined && rv !== '' && rv !== '0' && !q.continue) this.notOlderThan(rv);
    const paging = q.continue !== undefined && q.continue !== '';
    if (!sel.fields.length) {
      return this.store.list(key, { namespace: ns, labelFilter, limit, continue: q.continue, revision: exact }).catch((e) => mapListError(e, paging));
    }
    // With a field selector the limit applies after filtering: page through the store (one revision throughout).
    const parsed: KubeObject[] = [];
    const items: string[] = [];
    let cont = q.continue;
    let at = exact;
    for (;;) {
      const page = await this.store.list(key, { namespace: ns, labelFilter, limit: 2000, continue: cont, revision: at }).catch((e) => mapListError(e, paging || at !== exact));
      at = page.revision;
      for (const raw of page.items) {
        const obj = JSON.parse(raw) as KubeObject;
        if (matchFields(sel.fields, fieldsOf(info, obj))) {
          parsed.push(obj);
          items.push(raw);
        }
      }
      cont = page.continue;
      if (!cont) break;
    }
    return { items, parsed, revision: at! };
  }

  /** notOlderThan checks a NotOlderThan resourceVersion against the store: one from the future is 504, as upstream. */
  private notOlderThan(rv: string): void {
    const want = Number(rv);
    const have = this.store.revision();
    if (want > have) throw tooLargeResourceVersion(want, have);
  }

  /**
   * listFromCache serves RV=0 lists and indexed-field lists from the watch cache; undefined = ask the store (no index
   * to use, the cache did not catch up in time, or more items than `limit` allows in one page).
   */
  private async listFromCache(info: ResourceInfo, ns: string | undefined, sel: Selection, rv: string, limit: number | undefined): Promise<RawList | undefined> {
    const any = rv === '0';
    const cacheable = (c: WatchCache | undefined) => any || c?.indexedValue(sel.fields) !== undefined;
    if (!any && (info.group !== '' || info.resource !== 'pods' || !sel.fields.length)) return undefined;
    const cache = await this.cacheFor(info);
    if (!cacheable(cache)) return undefined;
    if (!any) {
      const want = rv === '' ? this.store.revision() : Number(rv);
      if (!(await cache.waitFresh(want))) return undefined;
    }
    const r = cache.list({ namespace: ns, labels: sel.labels, fields: sel.fields });
    if (!any && limit !== undefined && r.items.length > limit) return undefined;
    return r;
  }

  async list(info: ResourceInfo, namespace: string | undefined, q: ListQuery): Promise<{ items: KubeObject[]; revision: number; continue?: string; remaining?: number }> {
    const r = await this.listRaw(info, namespace, q);
    return { items: r.parsed ?? r.items.map((s) => JSON.parse(s)), revision: r.revision, continue: r.continue, remaining: r.remaining };
  }

  // ---- create ----

  /**
   * create makes a new object. A large body (a LargeBody from the HTTP layer) of a kind whose create reads nothing
   * (OFFLOAD) is computed whole on a worker; the event loop only checks the namespace and stores the text.
   */
  async create(info: ResourceInfo, namespace: string | undefined, body: unknown, opts: WriteOptions): Promise<KubeObject> {
    if (body instanceof LargeBody) {
      if (offloads(info, 'create')) return this.createOffloaded(info, namespace, body, opts);
      body = await this.decode(body);
    }
    checkFieldManager(opts.fieldManager, 'CreateOptions');
    const obj = createStart(info, body, namespace, opts);
    const meta = obj.metadata;
    if (info.namespaced) await this.requireNamespace(meta.namespace!);
    createStamp(info, obj);
    await this.admit(info, obj);
    admitCreate(info, obj, opts.user);
    await this.escalation?.(opts.user, info, obj);
    createFinish(info, obj, opts);
    let allocation: Allocation | undefined;
    if (info.kind === 'Service') {
      // a name already taken is refused before anything is claimed
      if (!opts.dryRun && (await this.store.get(storeKey(info), meta.namespace ?? '', meta.name!))) throw errors.alreadyExists(gr(info), meta.name!);
      allocation = await this.allocator.allocate(obj, undefined, opts.dryRun);
    }
    if (opts.dryRun) return withTypeMeta(info, obj);
    try {
      const shell = textShell(info, withTypeMeta(info, obj));
      const saved = await this.store.create(storeKey(info), shell);
      return this.result(stampedText(shell, saved), opts);
    } catch (e) {
      await allocation?.undo();
      if (e instanceof StoreError && e.code === 'AlreadyExists') throw errors.alreadyExists(gr(info), meta.name!);
      throw e;
    }
  }

  // ---- writes computed on a worker ----

  /** offload runs large writes' compute on worker threads (set by the API server); unset, the same compute runs inline. */
  offload?: OffloadPool;

  /** decode is the value of a LargeBody, decoded on a worker (or inline without one). */
  private async decode(body: LargeBody): Promise<unknown> {
    const arg = { bytes: body.bytes, contentType: body.contentType };
    if (this.offload) return this.offload.run('decode', arg);
    return computeInline('decode', arg);
  }

  private compute<T extends 'create' | 'update'>(task: T, arg: Tasks[T]['arg']): Promise<Tasks[T]['result']> {
    if (this.offload) return this.offload.run(task, arg);
    return Promise.resolve(computeInline(task, arg));
  }

  /** result is what a write computed on a worker answers with: its text, lazily parsed for a caller that renders it. */
  private result(text: string, opts: WriteOptions): KubeObject {
    return opts.serialisedResult ? lazyObject(text) : (JSON.parse(text) as KubeObject);
  }

  /** createOffloaded is create with the compute (computeCreate) on a worker: the same checks, answers and errors. */
  private async createOffloaded(info: ResourceInfo, namespace: string | undefined, body: LargeBody, opts: WriteOptions): Promise<KubeObject> {
    const r = await this.compute('create', { info, namespace, body: requestBody(body), opts: computeOptions(opts) });
    opts.warnings?.push(...r.warnings);
    if (info.namespaced) await this.requireNamespace(r.namespace);
    if (r.kind === 'late') throw new ApiError(r.status);
    if (r.kind === 'dry') return this.result(r.text, opts);
    try {
      const shell = shellOf(r);
      return this.result(stampedText(shell, await this.store.create(storeKey(info), shell)), opts);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'AlreadyExists') throw errors.alreadyExists(gr(info), r.name);
      throw e;
    }
  }

  /**
   * updateOffloaded is update and patch with each attempt's compute (computeUpdate) on a worker against the stored
   * text, retried when the write loses a race (unless the body set a resourceVersion: then the 409 is the client's).
   * Undefined = the compute left this write to the inline path (an apply that creates, an object being deleted).
   */
  private async updateOffloaded(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    mode: 'update' | PatchType,
    body: RequestBody,
    opts: WriteOptions & { force?: boolean },
    subresource: string | undefined,
    first?: { value: string; revision: number },
  ): Promise<KubeObject | undefined> {
    const key = storeKey(info);
    const ns = info.namespaced ? namespace ?? '' : '';
    let cur = first;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 || !cur) cur = await this.store.getRaw!(key, ns, name);
      const r = await this.compute('update', { info, namespace, name, mode, body, opts: { ...computeOptions(opts), force: opts.force }, subresource, cur: cur?.value });
      if (r.kind === 'absent' || r.kind === 'inline') return undefined;
      opts.warnings?.push(...r.warnings);
      if (r.kind === 'unchanged') return this.result(cur!.value, opts);
      if (r.kind === 'dry') return this.result(r.text, opts);
      try {
        const shell = shellOf(r);
        return this.result(stampedText(shell, await this.store.update(key, shell, cur!.revision)), opts);
      } catch (e) {
        if (e instanceof StoreError && e.code === 'Conflict' && r.precondition === undefined && attempt < MAX_CONFLICT_RETRIES) {
          opts.warnings?.splice(opts.warnings.length - r.warnings.length, r.warnings.length);
          continue;
        }
        throw mapStoreError(e, info, name);
      }
    }
  }

  /**
   * largeCurrent is the stored text of an object too large to update on the event loop, when the store can hand it out
   * and the kind's update may run on a worker; undefined otherwise (the inline path reads it itself).
   */
  private async largeCurrent(info: ResourceInfo, namespace: string | undefined, name: string): Promise<{ value: string; revision: number } | undefined> {
    if (!this.store.getRaw || !offloads(info, 'update')) return undefined;
    const cur = await this.store.getRaw(storeKey(info), info.namespaced ? namespace ?? '' : '', name);
    return cur && heavyWrite(cur.value) ? cur : undefined;
  }

  /**
   * admit runs the mutating admission upstream applies on create after defaulting: ServiceAccount (the account must
   * exist; its token volume is projected into every container) and DefaultTolerationSeconds, which gives every pod
   * NoExecute tolerations for the not-ready and unreachable taints unless it already tolerates them.
   */
  private async admit(info: ResourceInfo, obj: KubeObject): Promise<void> {
    if (info.kind !== 'Pod' || !obj.spec || typeof obj.spec !== 'object') return;
    if (this.options.serviceAccountAdmission) await this.admitServiceAccount(obj as Pod & KubeObject);
    const tolerations: Toleration[] = Array.isArray(obj.spec.tolerations) ? obj.spec.tolerations : [];
    const add = [
      { key: 'node.kubernetes.io/not-ready', seconds: this.options.defaultNotReadyTolerationSeconds },
      { key: 'node.kubernetes.io/unreachable', seconds: this.options.defaultUnreachableTolerationSeconds },
    ].filter(({ key }) => !tolerations.some((t) => (t.key === key || !t.key) && (t.effect === 'NoExecute' || !t.effect)));
    if (!add.length) return;
    obj.spec.tolerations = [...tolerations, ...add.map(({ key, seconds }): Toleration => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds }))];
  }

  /**
   * admitServiceAccount is upstream's ServiceAccount admission for a pod being created: a mirror pod may not use one;
   * any other pod's account must exist (the `default` one is waited for a little, as the controller may be making it
   * for a new namespace), and unless automount is off the `kube-api-access-*` projected volume is mounted.
   */
  private async admitServiceAccount(pod: Pod & KubeObject): Promise<void> {
    const ns = pod.metadata.namespace ?? 'default';
    const name = serviceAccountName(pod);
    const forbid = (why: string) => errors.forbidden(`pods${pod.metadata.name ? ` "${pod.metadata.name}"` : ''} is forbidden: ${why}`, { name: pod.metadata.name, kind: 'pods' });
    if (isMirrorPod(pod)) {
      if (pod.spec?.serviceAccountName && pod.spec.serviceAccountName !== 'default') throw forbid('a mirror pod may not reference service accounts');
      return;
    }
    let sa = (await this.store.get('serviceaccounts', ns, name)) as (ServiceAccount & KubeObject) | undefined;
    // upstream retries the default account 10 times, 100-200 ms apart: the serviceaccount controller makes it
    for (let i = 0; !sa && name === 'default' && i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 100)));
      sa = (await this.store.get('serviceaccounts', ns, name)) as (ServiceAccount & KubeObject) | undefined;
    }
    if (!sa) throw forbid(`error looking up service account ${ns}/${name}: serviceaccount "${name}" not found`);
    admitServiceAccount(pod, sa, volumeSuffix());
  }

  /**
   * createToken is POST serviceaccounts/{name}/token (authentication.k8s.io/v1 TokenRequest, upstream's TokenREST):
   * audiences default to the API's, expirationSeconds to 3600 (at least 600), a boundObjectRef to a Pod (running as
   * this account) or a Secret binds the token to that object's life. Nothing is stored.
   */
  async createToken(namespace: string, name: string, body: unknown, opts: WriteOptions = {}): Promise<TokenRequest> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw errors.badRequest('TokenRequest in version "v1" cannot be handled as a TokenRequest: the body must be a JSON object');
    const req = body as Omit<TokenRequest, 'kind'> & { kind?: string };
    if (req.kind !== undefined && req.kind !== '' && req.kind !== 'TokenRequest') throw errors.badRequest(`TokenRequest in version "v1" cannot be handled as a TokenRequest: the object provided is unrecognized (must be of type TokenRequest): kind "${req.kind}"`);
    if (req.metadata?.name && req.metadata.name !== name) throw errors.badRequest('name in URL does not match name in TokenRequest object');
    const spec: TokenRequestSpec = { ...(req.spec ?? { audiences: [] }) };
    spec.expirationSeconds ??= DEFAULT_TOKEN_SECONDS;
    const errs: FieldError[] = [];
    if (typeof spec.expirationSeconds !== 'number' || !Number.isInteger(spec.expirationSeconds)) errs.push(field.invalid('spec.expirationSeconds', spec.expirationSeconds, 'must be an integer'));
    else if (spec.expirationSeconds < MIN_TOKEN_SECONDS) errs.push(field.invalid('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration less than 10 minutes'));
    else if (spec.expirationSeconds > MAX_TOKEN_SECONDS) errs.push(field.invalid('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration larger than 2^32 seconds'));
    if (spec.audiences !== undefined && (!Array.isArray(spec.audiences) || spec.audiences.some((a) => typeof a !== 'string'))) errs.push(field.invalid('spec.audiences', spec.audiences, 'must be a list of strings'));
    if (errs.length) throw errors.invalid('authentication.k8s.io', 'TokenRequest', name, errs);
    const sa = await this.store.get('serviceaccounts', namespace, name);
    if (!sa) throw errors.notFound({ group: '', resource: 'serviceaccounts' }, name);
    let pod: { name: string; uid: string } | undefined;
    let secret: { name: string; uid: string } | undefined;
    const ref = spec.boundObjectRef;
    if (ref) {
      const gv = ref.apiVersion ?? '';
      const group = gv.includes('/') ? gv.split('/')[0] : '';
      const refName = ref.name ?? '';
      let found: KubeObject | undefined;
      if (group === '' && ref.kind === 'Pod') {
        found = await this.store.get('pods', namespace, refName);
        if (!found) throw errors.notFound({ group: '', resource: 'pods' }, refName);
        if (serviceAccountName(found as Pod) !== name) throw errors.badRequest(`cannot bind token for serviceaccount "${name}" to pod running with different serviceaccount name.`);
        pod = { name: refName, uid: found.metadata.uid! };
      } else if (group === '' && ref.kind === 'Secret') {
        found = await this.store.get('secrets', namespace, refName);
        if (!found) throw errors.notFound({ group: '', resource: 'secrets' }, refName);
        secret = { name: refName, uid: found.metadata.uid! };
      } else {
        const gvk = `${group ? `${group}/` : '/'}${gv.includes('/') ? gv.split('/')[1] : gv}, Kind=${ref.kind ?? ''}`;
        throw errors.badRequest(`cannot bind token for serviceaccount "${name}" to object of kind "${gvk}"`);
      }
      if (ref.uid && ref.uid !== found.metadata.uid) {
        throw errors.conflict({ group, resource: ref.kind! }, refName, `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
      }
      spec.boundObjectRef = { ...ref, uid: found.metadata.uid };
    }
    if (!spec.audiences?.length) spec.audiences = [...this.serviceAccountTokens.audiences];
    const nowS = Math.floor(Date.now() / 1000);
    const token = opts.dryRun ? '' : this.serviceAccountTokens.issue({ namespace, sa: { name, uid: sa.metadata.uid! }, audiences: spec.audiences, expirationSeconds: spec.expirationSeconds!, pod, secret, nowS });
    const expirationTimestamp = new Date((nowS + spec.expirationSeconds!) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { name, namespace, creationTimestamp: null as unknown as undefined },
      spec,
      status: { token, expirationTimestamp },
    };
  }

  private async requireNamespace(name: string): Promise<void> {
    let state = this.namespaces.get(name);
    if (state === undefined) {
      // the watch may lag a namespace just made (by this server or another): ask the store
      const ns = await this.store.get('namespaces', '', name);
      if (ns) state = ns.metadata.deletionTimestamp ? 'Terminating' : 'Active';
    }
    if (state === undefined) throw errors.notFound({ group: '', resource: 'namespaces' }, name);
    if (state === 'Terminating') {
      throw errors.forbidden(`unable to create new content in namespace ${name} because it is being terminated`, {
        name,
        kind: 'namespaces',
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${name} is being terminated`, field: 'metadata.namespace' }],
      });
    }
  }

  // ---- update / patch ----

  /** update replaces an object (PUT). `subresource` 'status' writes only status. */
  async update(info: ResourceInfo, namespace: string | undefined, name: string, body: unknown, opts: WriteOptions, subresource?: string): Promise<KubeObject> {
    const offloaded = await this.writeOffloaded(info, namespace, name, 'update', body, opts, subresource);
    if (offloaded) return offloaded;
    if (body instanceof LargeBody) body = await this.decode(body);
    checkFieldManager(opts.fieldManager, 'UpdateOptions');
    const obj = checkBody(info, body, namespace, opts);
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    obj.metadata.name = name;
    const rv = obj.metadata.resourceVersion;
    // with a resourceVersion there is one attempt (a lost race is the caller's 409): the body itself is the new object
    return this.guaranteedUpdate(info, namespace, name, opts, subresource, rv ? Number(rv) : undefined, () => (rv ? obj : clone(obj)));
  }

  /**
   * writeOffloaded runs an update or patch on a worker when its body is large (a LargeBody) or the stored object is
   * (largeCurrent); undefined = the inline path does it.
   */
  private async writeOffloaded(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    mode: 'update' | PatchType,
    body: unknown,
    opts: WriteOptions & { force?: boolean },
    subresource: string | undefined,
  ): Promise<KubeObject | undefined> {
    if (!this.store.getRaw || !offloads(info, 'update')) return undefined;
    if (body instanceof LargeBody) return this.updateOffloaded(info, namespace, name, mode, requestBody(body), opts, subresource);
    const cur = await this.largeCurrent(info, namespace, name);
    return cur && this.updateOffloaded(info, namespace, name, mode, { value: body }, opts, subresource, cur);
  }

  /** patch applies one of the four patch types (apply may create). */
  async patch(info: ResourceInfo, namespace: string | undefined, name: string, type: PatchType, patchBody: unknown, opts: WriteOptions & { force?: boolean }, subresource?: string): Promise<{ object: KubeObject; created: boolean }> {
    const offloaded = await this.writeOffloaded(info, namespace, name, type, patchBody, opts, subresource);
    if (offloaded) return { object: offloaded, created: false };
    if (patchBody instanceof LargeBody) patchBody = await this.decode(patchBody);
    checkFieldManager(opts.fieldManager, 'PatchOptions');
    if (type === 'apply') {
      checkApplyBody(opts, patchBody);
      const applied = patchBody;
      const existing = await this.store.get(storeKey(info), info.namespaced ? namespace ?? '' : '', name);
      if (!existing) {
        if (subresource) throw errors.notFound(gr(info), name);
        const body = clone(applied);
        body.metadata ??= {};
        if (body.metadata.name && body.metadata.name !== name) throw errors.badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
        body.metadata.name = name;
        const checked = checkBody(info, body, namespace, opts);
        const { object, conflicts } = serverSideApply(undefined, checked, { manager: opts.fieldManager!, force: !!opts.force, kind: { group: info.group, kind: info.kind }, now: now() });
        if (conflicts.length) throw applyConflictError(conflicts, gr(info), name);
        const created = await this.create(info, namespace, object, { ...opts, fieldValidation: 'Ignore', keepManagedFields: true });
        return { object: created, created: true };
      }
    }
    let attemptWarnings: string[] = [];
    const object = await this.guaranteedUpdate(info, namespace, name, opts, subresource, undefined, (current) => {
      attemptWarnings = [];
      return patchObject(info, namespace, name, type, patchBody, opts, current(), attemptWarnings);
    }, undefined, type === 'apply');
    opts.warnings?.push(...attemptWarnings);
    return { object, created: false };
  }

  /**
   * guaranteedUpdate reads, mutates, validates and writes, retrying on a lost race unless the caller gave a
   * resourceVersion precondition (then the race is the caller's 409).
   */
  async guaranteedUpdate(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    opts: WriteOptions,
    subresource: string | undefined,
    precondition: number | undefined,
    mutate: (current: () => KubeObject) => KubeObject,
    uid?: string,
    managedByMutate = false,
  ): Promise<KubeObject> {
    const key = storeKey(info);
    const ns = info.namespaced ? namespace ?? '' : '';
    for (let attempt = 0; ; attempt++) {
      const cur = await this.store.get(key, ns, name);
      if (!cur) throw errors.notFound(gr(info), name);
      if (precondition !== undefined && String(precondition) !== cur.metadata.resourceVersion) throw errors.conflict(gr(info), name);
      if (uid && uid !== cur.metadata.uid) {
        throw errors.conflict(gr(info), name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${cur.metadata.uid}`);
      }
      // the store hands out a fresh object: it is `old` as it is, and `mutate` gets a copy if it asks for one
      const old = withTypeMeta(info, cur);
      let next = mutate(() => withTypeMeta(info, clone(cur)));
      next = prepareUpdate(info, old, next, subresource);
      next = admitUpdate(info, old, next, subresource, opts.user);
      await this.escalation?.(opts.user, info, next, old);
      // a subresource's writer is recorded with it (`subresource: status`), as upstream's per-endpoint field managers do
      if (!managedByMutate) Object.assign(next, updateManagedFields(old, next, opts.fieldManager ?? defaultManager(), 'Update', now(), subresource, resetFields(info, subresource)));
      // Finalizers gone on an object being deleted: the update completes the deletion.
      if (old.metadata.deletionTimestamp && !(next.metadata.finalizers?.length) && this.readyToVanish(info, next)) {
        if (opts.dryRun) return next;
        let gone: KubeObject;
        try {
          gone = await this.store.delete(key, ns, name, Number(cur.metadata.resourceVersion));
        } catch (e) {
          if (e instanceof StoreError && e.code === 'Conflict' && precondition === undefined && attempt < MAX_CONFLICT_RETRIES) continue;
          throw mapStoreError(e, info, name);
        }
        await this.afterDelete(info, gone);
        return withTypeMeta(info, gone);
      }
      if (unchanged(old, next)) return old;
      let allocation: Allocation | undefined;
      // a subresource write keeps the stored spec: nothing to allocate (and its spec is old's own, not a copy)
      if (info.kind === 'Service' && subresource === undefined) allocation = await this.allocator.allocate(next, old, opts.dryRun);
      if (opts.dryRun) return next;
      const shell = textShell(info, withTypeMeta(info, next));
      let saved: KubeObject;
      try {
        saved = this.result(stampedText(shell, await this.store.update(key, shell, Number(cur.metadata.resourceVersion))), opts);
      } catch (e) {
        await allocation?.undo();
        if (e instanceof StoreError && e.code === 'Conflict' && precondition === undefined && attempt < MAX_CONFLICT_RETRIES) continue;
        throw mapStoreError(e, info, name);
      }
      if (info.kind === 'Service' && subresource === undefined) await this.allocator.release(old, saved).catch((e) => this.log.warn({ err: e, service: name }, 'releasing allocations failed'));
      return saved;
    }
  }

  /** scale reads or writes the autoscaling/v1 Scale view of a workload. */
  toScale(info: ResourceInfo, obj: KubeObject): KubeObject {
    const sel = obj.spec?.selector;
    let selector = '';
    if (sel) {
      if (info.kind === 'ReplicationController') selector = Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(',');
      else selector = selectorToString(sel);
    }
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion, creationTimestamp: obj.metadata.creationTimestamp },
      spec: { replicas: obj.spec?.replicas ?? 0 },
      status: { replicas: obj.status?.replicas ?? 0, selector },
    };
  }

  async updateScale(info: ResourceInfo, namespace: string | undefined, name: string, mutateScale: (scale: KubeObject) => KubeObject, opts: WriteOptions): Promise<KubeObject> {
    // the write is the scale subresource's: its writer is recorded with `subresource: scale`, as upstream
    const saved = await this.guaranteedUpdate(info, namespace, name, opts, 'scale', undefined, (current) => {
      const cur = current();
      const scale = mutateScale(this.toScale(info, cur));
      if (!scale || typeof scale !== 'object') throw errors.badRequest('invalid Scale');
      if (scale.kind && scale.kind !== 'Scale') throw errors.badRequest(`Scale in version "v1" cannot be handled as a Scale: kind "${scale.kind}" does not match`);
      const replicas = scale.spec?.replicas;
      if (replicas === undefined || !Number.isInteger(replicas) || replicas < 0) {
        throw errors.invalid('autoscaling', 'Scale', name, [field.invalid('spec.replicas', replicas, 'must be greater than or equal to 0')]);
      }
      const rv = scale.metadata?.resourceVersion;
      if (rv && rv !== cur.metadata.resourceVersion) throw errors.conflict(gr(info), name);
      cur.spec = { ...(cur.spec ?? {}), replicas };
      return cur;
    });
    return this.toScale(info, saved);
  }

  /** getScale is GET …/{name}/scale. */
  async getScale(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject> {
    return this.toScale(info, await this.get(info, namespace, name));
  }

  /** patchScale is PATCH …/{name}/scale: Scale has no strategic metadata, so strategic and merge behave alike. */
  async patchScale(info: ResourceInfo, namespace: string | undefined, name: string, type: PatchType, patchBody: unknown, opts: WriteOptions): Promise<KubeObject> {
    if (type === 'apply') throw errors.unsupportedMediaType('application/apply-patch+yaml');
    return this.updateScale(info, namespace, name, (cur) => (type === 'json' ? applyJsonPatch(cur, patchBody) : applyMergePatch(cur, patchBody)), opts);
  }

  /**
   * bind is POST pods/{name}/binding: one write sets spec.nodeName, the Binding's annotations and the PodScheduled
   * condition (upstream's BindingREST). The Binding's metadata.uid / resourceVersion are preconditions; a pod
   * already assigned or being deleted is a Conflict on pods/binding. As upstream's setPodHostAndAnnotations, the
   * write goes straight to storage: no update strategy, validation or managedFields entry for the binder (the
   * scheduler's hot path: one read and one write per pod, the object decoded once).
   */
  async bind(namespace: string, name: string, body: unknown, opts: WriteOptions): Promise<void> {
    const b = (body ?? {}) as Omit<Binding, 'kind'> & { kind?: string };
    if (typeof b !== 'object' || Array.isArray(b)) throw errors.badRequest('Binding in version "v1" cannot be handled as a Binding: the body must be a JSON object');
    if (b.kind !== undefined && b.kind !== '' && b.kind !== 'Binding') throw errors.badRequest(`Binding in version "v1" cannot be handled as a Binding: the object provided is unrecognized (must be of type Binding): kind "${b.kind}"`);
    const meta = b.metadata ?? {};
    if (meta.name !== undefined && meta.name !== name) throw errors.badRequest('name in URL does not match name in Binding object');
    const errs: FieldError[] = [];
    if (b.target?.kind && b.target.kind !== 'Node') errs.push(field.notSupported('target.kind', b.target.kind, ['Node', '<empty>']));
    if (!b.target?.name) errs.push(field.required('target.name'));
    if (errs.length) throw errors.invalid('', 'Binding', name, errs);
    const info = lookupKind('v1', 'Pod')!;
    const key = storeKey(info);
    const precondition = meta.resourceVersion ? meta.resourceVersion : undefined;
    const uid = meta.uid || undefined;
    const bindingGr = { group: '', resource: 'pods/binding' };
    for (let attempt = 0; ; attempt++) {
      // the store hands out a fresh object: it is ours to change
      const cur = await this.store.get(key, namespace, name);
      if (!cur) throw errors.notFound(gr(info), name);
      if (precondition !== undefined && String(Number(precondition)) !== cur.metadata.resourceVersion) throw errors.conflict(gr(info), name);
      if (uid && uid !== cur.metadata.uid) {
        throw errors.conflict(gr(info), name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${cur.metadata.uid}`);
      }
      const stored = Number(cur.metadata.resourceVersion);
      const pod = withTypeMeta(info, cur);
      admitUpdate(info, pod, pod, 'binding', opts.user);
      if (pod.metadata.deletionTimestamp) throw errors.conflict(bindingGr, name, `pod ${name} is being deleted, cannot be assigned to a host`);
      if (pod.spec?.nodeName) throw errors.conflict(bindingGr, name, `pod ${name} is already assigned to node "${pod.spec.nodeName}"`);
      pod.spec = { ...pod.spec, nodeName: b.target!.name };
      if (meta.annotations && Object.keys(meta.annotations).length) pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), ...meta.annotations };
      const conds = ((pod.status?.conditions ?? []) as PodCondition[]).filter((c) => c.type !== 'PodScheduled');
      conds.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null as unknown as undefined, lastTransitionTime: now() });
      pod.status = { ...(pod.status ?? {}), conditions: conds };
      if (opts.dryRun) return;
      try {
        await this.store.update(key, textShell(info, pod), stored);
        return;
      } catch (e) {
        if (e instanceof StoreError && e.code === 'Conflict' && precondition === undefined && attempt < MAX_CONFLICT_RETRIES) continue;
        throw mapStoreError(e, info, name);
      }
    }
  }

  /**
   * evict is POST pods/{name}/eviction (policy/v1 Eviction). Without PodDisruptionBudgets it is a delete with the
   * Eviction's deleteOptions; a missing pod is NotFound.
   */
  async evict(namespace: string, name: string, body: unknown, dryRun = false): Promise<void> {
    const e = (body ?? {}) as Omit<Eviction, 'kind'> & { kind?: string };
    if (typeof e !== 'object' || Array.isArray(e)) throw errors.badRequest('Eviction in version "v1" cannot be handled as a Eviction: the body must be a JSON object');
    if (e.kind !== undefined && e.kind !== '' && e.kind !== 'Eviction') throw errors.badRequest(`Eviction in version "v1" cannot be handled as a Eviction: the object provided is unrecognized (must be of type Eviction): kind "${e.kind}"`);
    if (e.metadata?.name !== undefined && e.metadata.name !== name) throw errors.badRequest('name in URL does not match name in Eviction object');
    const opts = deleteOptionsFrom(e.deleteOptions ?? {});
    if (dryRun) opts.dryRun = true;
    await this.delete(lookupKind('v1', 'Pod')!, namespace, name, opts);
  }

  /**
   * sweepExpiredEvents deletes Events whose last activity (lastTimestamp, eventTime, series.lastObservedTime or
   * creationTimestamp) is older than `ttlMs` (upstream keeps events in etcd with a lease of --event-ttl).
   * Returns how many went.
   */
  async sweepExpiredEvents(ttlMs: number, nowMs = Date.now()): Promise<number> {
    let removed = 0;
    // Each page is read at the newest revision, after the last key seen (a token made just before the read): the
    // sweep needs no consistent snapshot, and a page at a past revision costs a pass over every remaining row (its
    // remaining count reads each row's revision) — a sweep of 60,000 events under writes took seconds of event loop.
    let after: { namespace: string; name: string } | undefined;
    for (;;) {
      const cont = after && encodeContinue({ resource: 'events', ...after, revision: this.store.revision() });
      const page = await this.store.list('events', { limit: 500, continue: cont }).catch(() => undefined);
      if (!page) break;
      for (const raw of page.items) {
        const ev = JSON.parse(raw) as KubeObject;
        after = { namespace: ev.metadata.namespace ?? '', name: ev.metadata.name ?? '' };
        const times = [ev.lastTimestamp, ev.eventTime, ev.series?.lastObservedTime, ev.metadata.creationTimestamp].map((t) => (typeof t === 'string' ? Date.parse(t) : NaN)).filter((t) => !Number.isNaN(t));
        const last = times.length ? Math.max(...times) : nowMs;
        if (nowMs - last < ttlMs) continue;
        try {
          await this.store.delete('events', ev.metadata.namespace ?? '', ev.metadata.name!, Number(ev.metadata.resourceVersion));
          removed++;
        } catch {
          /* changed or gone meanwhile: the next sweep looks again */
        }
      }
      if (!page.continue) break;
      // a page at a time, with I/O between: the sweep of many events must not hold the event loop (API latency)
      await nextTurn();
    }
    return removed;
  }

  // ---- delete ----

  async delete(info: ResourceInfo, namespace: string | undefined, name: string, opts: DeleteOptions): Promise<KubeObject> {
    const key = storeKey(info);
    const ns = info.namespaced ? namespace ?? '' : '';
    for (let attempt = 0; ; attempt++) {
      const cur = await this.store.get(key, ns, name);
      if (!cur) throw errors.notFound(gr(info), name);
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== cur.metadata.uid) {
        throw errors.conflict(gr(info), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) {
        throw errors.conflict(gr(info), name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`);
      }
      const next = clone(cur);
      const m = next.metadata;
      let graceful = false;
      if (info.kind === 'Pod') {
        const grace = this.podGrace(cur, opts.gracePeriodSeconds);
        if (grace > 0) {
          graceful = true;
          const existing = m.deletionGracePeriodSeconds;
          if (existing !== undefined && existing <= grace) return withTypeMeta(info, cur); // already shorter
          m.deletionGracePeriodSeconds = grace;
          m.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
        }
      }
      if (info.kind === 'Namespace') {
        if (['default', 'kube-system', 'kube-public'].includes(name)) {
          throw errors.forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`, { name, kind: 'namespaces' });
        }
        if (m.deletionTimestamp) return withTypeMeta(info, cur);
        // upstream's namespace REST: without finalizers it goes at once, else it turns Terminating and the namespace
        // controller empties it and removes the `kubernetes` finalizer through namespaces/finalize
        if (cur.spec?.finalizers?.length || m.finalizers?.length) {
          m.deletionTimestamp = now();
          m.deletionGracePeriodSeconds = 0;
          if (opts.propagationPolicy === 'Orphan' && !m.finalizers?.includes('orphan')) m.finalizers = [...(m.finalizers ?? []), 'orphan'];
          next.status = { ...(next.status ?? {}), phase: 'Terminating' };
          if (opts.dryRun) return withTypeMeta(info, next);
          let saved: KubeObject;
          try {
            saved = await this.store.update(key, next, Number(cur.metadata.resourceVersion));
          } catch (e) {
            if (e instanceof StoreError && e.code === 'Conflict' && attempt < MAX_CONFLICT_RETRIES) continue;
            throw mapStoreError(e, info, name);
          }
          // refuse new content from now on, not only once the namespace watch catches up
          this.trackNamespace(saved);
          return withTypeMeta(info, saved);
        }
      }
      const policy = opts.propagationPolicy;
      const finalizers = new Set<string>(m.finalizers ?? []);
      if (!m.deletionTimestamp) {
        if (policy === 'Foreground') finalizers.add('foregroundDeletion');
        if (policy === 'Orphan') finalizers.add('orphan');
      }
      if (finalizers.size) m.finalizers = [...finalizers];
      if (finalizers.size > 0 || graceful) {
        if (!m.deletionTimestamp) m.deletionTimestamp = now();
        if (m.deletionGracePeriodSeconds === undefined) m.deletionGracePeriodSeconds = 0;
        // deleting what is already being deleted, with nothing new to record, writes nothing (upstream's pendingGraceful)
        if (unchanged(cur, next)) return withTypeMeta(info, cur);
        if (opts.dryRun) return withTypeMeta(info, next);
        try {
          const shell = textShell(info, withTypeMeta(info, next));
          return this.result(stampedText(shell, await this.store.update(key, shell, Number(cur.metadata.resourceVersion))), opts);
        } catch (e) {
          if (e instanceof StoreError && e.code === 'Conflict' && attempt < MAX_CONFLICT_RETRIES) continue;
          throw mapStoreError(e, info, name);
        }
      }
      if (opts.dryRun) return withTypeMeta(info, cur);
      let gone: KubeObject;
      try {
        gone = await this.store.delete(key, ns, name, Number(cur.metadata.resourceVersion));
      } catch (e) {
        if (e instanceof StoreError && e.code === 'Conflict' && attempt < MAX_CONFLICT_RETRIES) continue;
        throw mapStoreError(e, info, name);
      }
      await this.afterDelete(info, gone);
      return withTypeMeta(info, gone);
    }
  }

  /** podGrace is upstream's CheckGracefulDelete: unscheduled or finished pods go at once. */
  private podGrace(pod: KubeObject, requested: number | undefined): number {
    if (!pod.spec?.nodeName) return 0;
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return 0;
    const grace = requested ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    return Math.max(0, grace);
  }

  private readyToVanish(info: ResourceInfo, obj: KubeObject): boolean {
    // A pod still in its grace period is finished by its node agent, not by losing finalizers.
    if (info.kind === 'Pod' && (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0) return false;
    if (info.kind === 'Namespace') return !(obj.spec?.finalizers?.length);
    return true;
  }

  /** afterDelete frees what the object held outside itself (a Service's ClusterIP and NodePorts). */
  private async afterDelete(info: ResourceInfo, gone: KubeObject): Promise<void> {
    if (info.kind === 'Service') await this.allocator.release(gone).catch((e) => this.log.warn({ err: e, service: gone.metadata.name }, 'releasing allocations failed'));
  }

  async deleteCollection(info: ResourceInfo, namespace: string | undefined, q: ListQuery, opts: DeleteOptions): Promise<KubeObject[]> {
    const { items } = await this.list(info, namespace, { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector });
    const out: KubeObject[] = [];
    for (const item of items) {
      try {
        out.push(await this.delete(info, item.metadata.namespace, item.metadata.name!, opts));
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
    }
    return out;
  }

  // ---- watch ----

  /**
   * watch streams changes matching the selection to `send`, each object parsed afresh for the caller. RV
   * undefined/''/'0' (or sendInitialEvents) starts with the current state as ADDED events. Throws ApiError Expired
   * when the RV is older than the history kept.
   */
  async watch(
    info: ResourceInfo,
    namespace: string | undefined,
    q: WatchQuery,
    send: (ev: { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject }) => void,
  ): Promise<{ stop(): void; revision: number; bookmarkRevision(): number }> {
    return this.watchShared(info, namespace, q, { deliver: (d) => (send({ type: d.type, object: d.object() }), 0), close: () => {} });
  }

  /**
   * watchShared registers `target` with the resource's watch cache: every watcher of an event gets the same
   * serialised line. A resourceVersion older than the cache's window but still in the store's history has the gap
   * replayed from the store and then joins the cache's fan-out; older than that is 410 Expired (the client re-lists).
   */
  async watchShared(info: ResourceInfo, namespace: string | undefined, q: WatchQuery, target: CacheTarget): Promise<CacheWatch> {
    const sel = this.parseSelection(info, q);
    const ns = info.namespaced ? namespace : undefined;
    const rv = q.resourceVersion ?? '';
    const initial = rv === '' || rv === '0' || q.sendInitialEvents === true;
    let from: number | undefined;
    if (!initial || rv !== '0') {
      from = rv === '' ? undefined : Number(rv);
      if (from !== undefined && (!Number.isFinite(from) || from < 0)) throw errors.badRequest(`invalid resource version: ${rv}`);
    }
    const cache = await this.cacheFor(info);
    const csel = { namespace: ns, labels: sel.labels, fields: sel.fields };
    if (initial) {
      // RV '' asks for the newest state, a number for one at least that new; '0' takes the cache as it is
      const want = rv === '0' ? 0 : from ?? this.store.revision();
      if (!(await cache.waitFresh(want))) throw tooLargeResourceVersion(want, cache.revision);
      return cache.watch(csel, undefined, target);
    }
    // a resume from a revision the store has not reached waits for it a while, then is upstream's 504 (retry after 1 s)
    if (from! > this.store.revision() && !(await cache.waitFresh(from!))) throw tooLargeResourceVersion(from!, cache.revision);
    try {
      return cache.watch(csel, from, target);
    } catch (e) {
      if (!(e instanceof StoreError && e.code === 'Expired')) throw e;
    }
    return this.watchStore(info, ns, sel, from!, target, cache, csel);
  }

  /**
   * watchStore serves a resume from before the watch cache's window: a store watch replays the gap, and as soon as
   * the events it delivered reach the cache's window (at once, for the store's synchronous replay) the watcher joins
   * the cache and the store watch ends — so no resume keeps a store listener that filters every event for itself.
   */
  private watchStore(info: ResourceInfo, ns: string | undefined, sel: Selection, from: number, target: CacheTarget, cache: WatchCache, csel: CacheSelection): CacheWatch {
    let last = from;
    let stopped = false;
    /** the cache watch this watcher moved to, once the gap was replayed */
    let joined: CacheWatch | undefined;
    const queueLimit = this.watchCacheOptions.watcherQueueBytes ?? 16 * 1024 * 1024;
    let queued = 0;
    /** join moves the watcher to the cache when every event up to `last` was delivered and the window holds the rest */
    const join = () => {
      if (stopped || joined || last < cache.oldest) return;
      stopped = true; // the store watch delivers nothing more
      w?.stop();
      try {
        joined = cache.watch(csel, last, target, queued);
      } catch (err) {
        this.log?.warn({ err, resource: info.resource }, 'watch: joining the cache failed; closing the stream');
        target.close('watch resume failed');
      }
    };
    const deliver = (type: 'ADDED' | 'MODIFIED' | 'DELETED', ev: StoreEvent) => {
      if (stopped) return;
      const d: Delivery = {
        type,
        revision: ev.revision,
        line: () => `{"type":"${type}","object":${JSON.stringify(withTypeMeta(info, ev.object))}}\n`,
        object: () => structuredClone(withTypeMeta(info, ev.object)),
        view: () => withTypeMeta(info, ev.object),
      };
      queued = target.deliver(d);
      // the replay is bounded by the history and does not count against the queue bound; what piles up after it does
      if (!replaying && queued > queueLimit) {
        stopped = true;
        w?.stop();
        target.close('watcher queue overflowed');
      }
    };
    const onEvent = (ev: StoreEvent) => {
      if (stopped) return;
      last = ev.revision;
      const nowMatch = this.matches(info, sel, ev.object);
      const prevMatch = ev.prev ? this.matches(info, sel, ev.prev) : false;
      if (ev.type === 'ADDED') {
        if (nowMatch) deliver('ADDED', ev);
      } else if (ev.type === 'DELETED') {
        if (nowMatch || prevMatch) deliver('DELETED', ev);
      } else if (nowMatch && prevMatch) deliver('MODIFIED', ev);
      else if (nowMatch) deliver('ADDED', ev);
      else if (prevMatch) deliver('DELETED', ev);
      join();
    };
    const onProgress = (rev: number) => {
      if (stopped) return;
      last = Math.max(last, rev);
      join();
    };
    let w: { stop(): void } | undefined;
    let replaying = true;
    try {
      w = this.store.watch(storeKey(info), { namespace: ns, fromRevision: from, onProgress }, onEvent);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'Expired') throw errors.expired(e.message);
      throw e;
    } finally {
      replaying = false;
    }
    // joined during the replay (the store watch was not returned yet then): end it now
    if (stopped) w.stop();
    else join();
    return {
      revision: from,
      stop: () => {
        stopped = true;
        w?.stop();
        joined?.stop();
      },
      bookmarkRevision: () => (joined ? joined.bookmarkRevision() : last),
    };
  }
}

/**
 * checkListVersion validates a list's resourceVersion, resourceVersionMatch and continue as upstream's
 * ValidateListOptions does; returns the revision to read at for Exact, else undefined.
 */
function checkListVersion(rv: string, match: string | undefined, cont: string | undefined): number | undefined {
  if (rv !== '' && rv !== '0' && !/^\d+$/.test(rv)) throw errors.badRequest(`invalid resource version: ${rv}`);
  if (match !== undefined && match !== '') {
    if (rv === '') throw errors.invalid('', 'ListOptions', '', [field.forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided')]);
    if (cont) throw errors.invalid('', 'ListOptions', '', [field.forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided')]);
    if (match !== 'Exact' && match !== 'NotOlderThan') {
      throw errors.invalid('', 'ListOptions', '', [{ type: 'FieldValueNotSupported', field: 'resourceVersionMatch', value: match, supported: ['Exact', 'NotOlderThan'] }]);
    }
    if (match === 'Exact' && rv === '0') throw errors.invalid('', 'ListOptions', '', [field.forbidden('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"')]);
    if (match === 'Exact') return Number(rv);
  }
  return undefined;
}

/**
 * tooLargeResourceVersion is upstream's storage.NewTooLargeResourceVersionError: a 504 Timeout that asks the client
 * to retry after a second, with a ResourceVersionTooLarge cause.
 */
function tooLargeResourceVersion(want: number, current: number): ApiError {
  return new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `Timeout: Too large resource version: ${want}, current: ${current}`,
    reason: 'Timeout',
    details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
    code: 504,
  });
}

/** checkListLimit refuses a limit that is not a whole number of at least 0 (the HTTP layer parses it). */
function checkListLimit(limit: number | undefined): void {
  if (limit === undefined) return;
  if (!Number.isSafeInteger(limit)) throw errors.badRequest(`strconv.ParseInt: parsing "${limit}": invalid syntax`);
  if (limit < 0) throw errors.invalid('meta.k8s.io', 'ListOptions', '', [field.invalid('limit', limit, 'must be greater than or equal to 0')]);
}

/** checkContinue refuses a continue token that is not ours for this resource or whose revision is not a positive integer. */
function checkContinue(token: string, resource: string): void {
  const k = decodeContinue(token, resource);
  if (typeof k === 'string') throw errors.badRequest(k);
  if (!Number.isSafeInteger(k.revision) || k.revision <= 0) throw errors.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

/**
 * deleteOptionsFrom reads a DeleteOptions body plus the query parameters that override it (gracePeriodSeconds,
 * propagationPolicy, orphanDependents, dryRun) and validates them as upstream's ValidateDeleteOptions does.
 */
export function deleteOptionsFrom(body: unknown, q: URLSearchParams = new URLSearchParams()): DeleteOptions {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) throw errors.badRequest('the DeleteOptions body must be a JSON object');
  const b = (body ?? {}) as DeleteOptionsBody;
  const graceRaw = q.get('gracePeriodSeconds') ?? b.gracePeriodSeconds;
  const grace = graceRaw === undefined || graceRaw === null || graceRaw === '' ? undefined : Number(graceRaw);
  if (grace !== undefined && !Number.isInteger(grace)) throw errors.badRequest(`invalid gracePeriodSeconds: ${graceRaw}`);
  let policy = q.get('propagationPolicy') ?? b.propagationPolicy ?? undefined;
  const orphan = q.get('orphanDependents') ?? b.orphanDependents;
  const errs: FieldError[] = [];
  if (orphan !== undefined && orphan !== null && policy !== undefined) {
    errs.push(field.invalid('propagationPolicy', policy, 'orphanDependents and deletionPropagation cannot be both set'));
  } else if (orphan !== undefined && orphan !== null) {
    policy = String(orphan) === 'true' ? 'Orphan' : 'Background';
  }
  if (policy !== undefined && !['Background', 'Foreground', 'Orphan'].includes(policy)) {
    errs.push({ type: 'FieldValueNotSupported', field: 'propagationPolicy', value: policy, supported: ['Foreground', 'Background', 'Orphan'] });
  }
  const dryRuns = [...q.getAll('dryRun'), ...(Array.isArray(b.dryRun) ? b.dryRun : [])];
  for (const d of dryRuns) if (d !== 'All') errs.push({ type: 'FieldValueNotSupported', field: 'dryRun', value: d, supported: ['All'] });
  if (errs.length) throw errors.invalid('', 'DeleteOptions', '', errs);
  const pre = b.preconditions ?? undefined;
  return {
    gracePeriodSeconds: grace,
    propagationPolicy: policy as DeleteOptions['propagationPolicy'],
    preconditions: pre ? { uid: pre.uid ?? undefined, resourceVersion: pre.resourceVersion ?? undefined } : undefined,
    dryRun: dryRuns.includes('All'),
  };
}

/** DeleteOptionsBody is meta/v1 DeleteOptions as it arrives (orphanDependents is the deprecated spelling). */
interface DeleteOptionsBody {
  gracePeriodSeconds?: number | string | null;
  propagationPolicy?: string | null;
  orphanDependents?: boolean | null;
  preconditions?: { uid?: string | null; resourceVersion?: string | null } | null;
  dryRun?: string[];
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function mapStoreError(e: unknown, info: ResourceInfo, name: string): unknown {
  if (e instanceof StoreError) {
    if (e.code === 'NotFound') return errors.notFound(gr(info), name);
    if (e.code === 'AlreadyExists') return errors.alreadyExists(gr(info), name);
    if (e.code === 'Conflict') return errors.conflict(gr(info), name);
    if (e.code === 'Expired') return errors.expired(e.message);
  }
  return e;
}

/** mapListError turns a store error of a list into upstream's Status: 410 for compacted revisions, 504 for future ones. */
function mapListError(e: unknown, paging: boolean): never {
  if (e instanceof StoreError && e.code === 'Expired') {
    if (!paging) throw errors.expired('The resourceVersion for the provided list is too old.');
    throw errors.expired(`The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.`);
  }
  if (e instanceof StoreError && e.code === 'TooLarge') throw e.oldest !== undefined ? tooLargeResourceVersion(Number(/Too large resource version: (\d+)/.exec(e.message)?.[1] ?? 0), e.oldest) : errors.timeout(e.message);
  if (e instanceof StoreError) throw errors.badRequest(e.message);
  throw e;
}

/** computeOptions are the write options a worker needs (plain data: no callbacks, no warning list). */
function computeOptions(opts: WriteOptions): ComputeOptions {
  return { dryRun: opts.dryRun, fieldManager: opts.fieldManager, fieldValidation: opts.fieldValidation, keepManagedFields: opts.keepManagedFields, user: opts.user };
}

function requestBody(b: LargeBody): RequestBody {
  return { bytes: b.bytes, contentType: b.contentType };
}

/** shellOf is what the store is given for a computed write: the key and labels, and the text and its summary under SERIALISED. */
function shellOf(w: Pick<Written, 'before' | 'after' | 'summary' | 'name' | 'namespace' | 'labels'>): KubeObject {
  const parts: Serialised = { before: w.before, after: w.after, summary: w.summary };
  return { metadata: { name: w.name, namespace: w.namespace, ...(w.labels ? { labels: w.labels } : {}) }, [SERIALISED]: parts } as KubeObject;
}

/**
 * textShell is `obj` serialised once, on the write's path, as a write computed on a worker is (shellOf): the store keeps
 * that text as it is, its watch event is routed by the summary (never parsed to route it), and the write answers with
 * the text stamped (stampedText) instead of the stored text parsed again. `obj` must carry apiVersion and kind.
 */
function textShell(info: ResourceInfo, obj: KubeObject): KubeObject {
  const m = obj.metadata;
  return shellOf({ ...serialise(obj), name: m.name!, namespace: m.namespace ?? '', labels: m.labels, summary: summaryOf(info, obj) });
}

/** stampedText is the text a shell was stored as: its halves joined by the revision the store gave it. */
function stampedText(shell: KubeObject, saved: KubeObject): string {
  return joinStamped(serialisedOf(shell)!, Number(saved.metadata.resourceVersion));
}

/** computeInline runs a worker's task on the event loop (a registry without an offload pool: unit tests). */
function computeInline<T extends 'decode' | 'create' | 'update'>(task: T, arg: Tasks[T]['arg']): Tasks[T]['result'] {
  const run = { decode: (a: Tasks['decode']['arg']) => decodeRequestBody(a), create: computeCreate, update: computeUpdate }[task] as (a: Tasks[T]['arg']) => Tasks[T]['result'];
  return run(arg);
}
