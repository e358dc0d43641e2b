// registry: the generic REST semantics of every resource (create, update, patch, delete, list, watch) over the Store.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { errors, ApiError, type FieldError, field } from '../api/errors.ts';
import { RESOURCES, apiVersionOf, lookupKind, storeKey, type ResourceInfo } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { applyDefaults, validate, fieldsOf, isSpecChange, qosClassOf } from '../api/kinds/index.ts';
import { parseLabelSelector, matchLabels, parseFieldSelector, matchFields, checkFieldSelector, selectorToString, type LabelRequirement, type FieldRequirement } from '../api/selectors.ts';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, serverSideApply, updateManagedFields, applyConflictError } from '../api/patch.ts';
import { StoreError, type Store, type StoreEvent } from '../store/types.ts';
import { ServiceAllocator } from './allocators.ts';
import { findUnknownFields } from './schema.ts';

/** RequestOptions are the per-request knobs of a write (query parameters). */
export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  /** warnings collected for the `Warning` response header */
  warnings?: string[];
  /** internal: the body's managedFields were computed by server-side apply; keep them */
  keepManagedFields?: boolean;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

/** Selection is a parsed label + field selector. */
export interface Selection {
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** kinds whose metadata.generation counts spec changes */
const GENERATION_KINDS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController', 'Pod']);

const MAX_CONFLICT_RETRIES = 8;

function clone<T>(v: T): T {
  return structuredClone(v);
}

function gr(info: ResourceInfo) {
  return { group: info.group, resource: info.resource };
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Registry implements the API's object semantics; the HTTP layer only parses and renders. */
export class Registry {
  readonly store: Store;
  readonly allocator = new ServiceAllocator();
  private readonly log: Logger;
  private readonly terminating = new Set<string>();
  /** namespaces: name → phase, kept current by a store watch (saves a read on every namespaced create) */
  private readonly namespaces = new Map<string, 'Active' | 'Terminating'>();
  private namespaceWatch: { stop(): void } | undefined;

  constructor(store: Store, log: Logger) {
    this.store = store;
    this.log = log;
  }

  /** start loads allocator state, creates the built-in namespaces and resumes unfinished namespace deletions. */
  async start(): Promise<void> {
    const nsList = await this.store.list('namespaces');
    for (const raw of nsList.items) this.trackNamespace(JSON.parse(raw));
    this.namespaceWatch = this.store.watch('namespaces', { fromRevision: nsList.revision }, (ev) => {
      if (ev.type === 'DELETED') this.namespaces.delete(ev.object.metadata.name!);
      else this.trackNamespace(ev.object);
    });
    const services = await this.store.list('services');
    this.allocator.load(services.items.map((s) => JSON.parse(s)));
    const nsInfo = lookupKind('v1', 'Namespace')!;
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      if (!(await this.store.get('namespaces', '', name))) {
        await this.create(nsInfo, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, {});
      }
    }
    const all = await this.store.list('namespaces');
    for (const raw of all.items) {
      const ns = JSON.parse(raw) as KubeObject;
      if (ns.metadata.deletionTimestamp) this.finalizeNamespace(ns.metadata.name!);
    }
  }

  private trackNamespace(ns: KubeObject): void {
    this.namespaces.set(ns.metadata.name!, ns.metadata.deletionTimestamp ? 'Terminating' : 'Active');
  }

  stop(): void {
    this.namespaceWatch?.stop();
  }

  /**
   * ensureKubernetesService keeps `default/kubernetes` (the first ClusterIP) and its Endpoints pointing at the API
   * server, as upstream's apiserver does on start.
   */
  async ensureKubernetesService(ip: string, port: number): Promise<void> {
    const svcInfo = lookupKind('v1', 'Service')!;
    const epInfo = lookupKind('v1', 'Endpoints')!;
    const labels = { component: 'apiserver', provider: 'kubernetes' };
    if (!(await this.store.get('services', 'default', 'kubernetes'))) {
      await this.create(svcInfo, 'default', {
        metadata: { name: 'kubernetes', labels },
        spec: { type: 'ClusterIP', clusterIP: this.allocator.kubernetesServiceIP, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }], sessionAffinity: 'None' },
      }, {});
    }
    const subsets = [{ addresses: [{ ip }], ports: [{ name: 'https', port, protocol: 'TCP' }] }];
    const ep = await this.store.get('endpoints', 'default', 'kubernetes');
    if (!ep) await this.create(epInfo, 'default', { metadata: { name: 'kubernetes', labels }, subsets }, {});
    else if (JSON.stringify(ep.subsets) !== JSON.stringify(subsets)) {
      await this.guaranteedUpdate(epInfo, 'default', 'kubernetes', {}, undefined, undefined, (cur) => ({ ...cur, subsets }));
    }
  }

  // ---- reads ----

  async get(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject> {
    const obj = await this.store.get(storeKey(info), info.namespaced ? namespace ?? '' : '', name);
    if (!obj) throw errors.notFound(gr(info), name);
    return withTypeMeta(info, obj);
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
   * listRaw returns stored JSON strings matching the selection. Field selectors need the parsed object,
   * label selectors run in the store on the labels column.
   */
  async listRaw(info: ResourceInfo, namespace: string | undefined, q: ListQuery): Promise<{ items: string[]; revision: number; continue?: string; remaining?: number; parsed?: KubeObject[] }> {
    const sel = this.parseSelection(info, q);
    const labelFilter = sel.labels.length ? (l: Record<string, string>) => matchLabels(sel.labels, l) : undefined;
    const ns = info.namespaced ? namespace : undefined;
    if (!sel.fields.length) {
      return this.store.list(storeKey(info), { namespace: ns, labelFilter, limit: q.limit, continue: q.continue }).catch(mapContinueError);
    }
    // With a field selector the limit applies after filtering: page through the store.
    const parsed: KubeObject[] = [];
    const items: string[] = [];
    let cont = q.continue;
    let revision = 0;
    for (;;) {
      const page = await this.store.list(storeKey(info), { namespace: ns, labelFilter, limit: 2000, continue: cont }).catch(mapContinueError);
      revision = revision || page.revision;
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
    return { items, parsed, revision };
  }

  async list(info: ResourceInfo, namespace: string | undefined, q: ListQuery): Promise<{ items: KubeObject[]; revision: number; continue?: string; remaining?: number }> {
    const r = await this.listRaw(info, namespace, q);
    return { items: r.parsed ?? r.items.map((s) => JSON.parse(s)), revision: r.revision, continue: r.continue, remaining: r.remaining };
  }

  // ---- create ----

  async create(info: ResourceInfo, namespace: string | undefined, body: unknown, opts: WriteOptions): Promise<KubeObject> {
    const obj = this.checkBody(info, body, namespace, opts);
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomSuffix();
    if (!meta.name && !meta.generateName) {
      throw errors.invalid(info.group, info.kind, '', [field.required('metadata.name', 'name or generateName is required')]);
    }
    if (info.namespaced) await this.requireNamespace(meta.namespace!);
    meta.uid = randomUUID();
    meta.creationTimestamp = now();
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (GENERATION_KINDS.has(info.kind)) meta.generation = 1;
    else delete meta.generation;
    this.prepareForCreate(info, obj);
    applyDefaults(info, obj);
    this.throwIfInvalid(info, obj, validate(info, obj));
    if (!opts.keepManagedFields) Object.assign(obj, updateManagedFields(undefined, obj, opts.fieldManager ?? defaultManager(), 'Update', now()));
    let undo: (() => void) | undefined;
    if (info.kind === 'Service') undo = this.allocator.allocate(obj);
    if (opts.dryRun) {
      undo?.();
      return withTypeMeta(info, obj);
    }
    try {
      return withTypeMeta(info, await this.store.create(storeKey(info), obj));
    } catch (e) {
      undo?.();
      if (e instanceof StoreError && e.code === 'AlreadyExists') throw errors.alreadyExists(gr(info), meta.name!);
      throw e;
    }
  }

  /** checkBody validates the envelope of a write: kind, apiVersion, namespace and unknown fields. */
  private checkBody(info: ResourceInfo, body: unknown, namespace: string | undefined, opts: WriteOptions): KubeObject {
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw errors.badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: the body must be a JSON object`);
    }
    const obj = body as KubeObject;
    const want = apiVersionOf(info);
    if (obj.kind !== undefined && obj.kind !== '' && obj.kind !== info.kind) {
      throw errors.badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: the object provided is unrecognized (must be of type ${info.kind}): kind "${obj.kind}"`);
    }
    if (obj.apiVersion !== undefined && obj.apiVersion !== '' && obj.apiVersion !== want) {
      throw errors.badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${want})`);
    }
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    if (typeof obj.metadata !== 'object' || Array.isArray(obj.metadata)) {
      throw errors.badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: metadata must be an object`);
    }
    this.dropUnknownFields(info, obj, opts);
    obj.apiVersion = want;
    obj.kind = info.kind;
    if (info.namespaced) {
      if (obj.metadata.namespace && namespace && obj.metadata.namespace !== namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = namespace || obj.metadata.namespace || 'default';
    } else {
      delete obj.metadata.namespace;
    }
    return obj;
  }

  /**
   * dropUnknownFields removes fields the kind's schema does not declare (upstream's typed decoding drops them);
   * fieldValidation Strict turns them into a 400, Warn into `Warning` headers, Ignore into silence.
   */
  private dropUnknownFields(info: ResourceInfo, obj: KubeObject, opts: WriteOptions, existing?: KubeObject): void {
    let unknown = findUnknownFields(info, obj, opts.fieldValidation !== 'Strict');
    // a patch answers only for the unknown fields it brought, not for ones an older object already carried
    if (unknown.length && existing) {
      const had = new Set(findUnknownFields(info, existing));
      unknown = unknown.filter((f) => !had.has(f));
      if (opts.fieldValidation === 'Strict') findUnknownFields(info, obj, true);
    }
    if (!unknown.length || opts.fieldValidation === 'Ignore') return;
    if (opts.fieldValidation === 'Strict') {
      const list = unknown.map((f) => `unknown field "${f}"`);
      throw errors.badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: strict decoding error: ${list.join(', ')}`);
    }
    for (const f of unknown) opts.warnings?.push(`unknown field "${f}"`);
  }

  private prepareForCreate(info: ResourceInfo, obj: KubeObject): void {
    switch (info.kind) {
      case 'Pod':
        obj.status = { phase: 'Pending', qosClass: qosClassOf(obj) };
        break;
      case 'Namespace':
        obj.status = { phase: 'Active' };
        break;
      case 'Node':
        break; // the agent registers with its status
      default:
        if (info.subresources.includes('status') && GENERATION_KINDS.has(info.kind)) obj.status = {};
    }
  }

  private async requireNamespace(name: string): Promise<void> {
    const state = this.namespaces.get(name);
    if (state === undefined) throw errors.notFound({ group: '', resource: 'namespaces' }, name);
    if (state === 'Terminating') {
      throw errors.forbidden(`unable to create new content in namespace ${name} because it is being terminated`, {
        name,
        kind: 'namespaces',
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${name} is being terminated`, field: 'metadata.namespace' }],
      });
    }
  }

  private throwIfInvalid(info: ResourceInfo, obj: KubeObject, errs: FieldError[]): void {
    if (errs.length) throw errors.invalid(info.group, info.kind, obj.metadata.name ?? '', errs);
  }

  // ---- update / patch ----

  /** update replaces an object (PUT). `subresource` 'status' writes only status. */
  async update(info: ResourceInfo, namespace: string | undefined, name: string, body: unknown, opts: WriteOptions, subresource?: string): Promise<KubeObject> {
    const obj = this.checkBody(info, body, namespace, opts);
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    obj.metadata.name = name;
    const rv = obj.metadata.resourceVersion;
    return this.guaranteedUpdate(info, namespace, name, opts, subresource, rv ? Number(rv) : undefined, () => clone(obj));
  }

  /** patch applies one of the four patch types (apply may create). */
  async patch(info: ResourceInfo, namespace: string | undefined, name: string, type: PatchType, patchBody: unknown, opts: WriteOptions & { force?: boolean }, subresource?: string): Promise<{ object: KubeObject; created: boolean }> {
    if (type === 'apply') {
      if (!opts.fieldManager) throw errors.badRequest('PATCH, application/apply-patch+yaml requires a non-empty fieldManager query parameter');
      const applied = patchBody as KubeObject;
      if (!applied || typeof applied !== 'object' || Array.isArray(applied)) throw errors.badRequest('the apply body must be an object');
      const existing = await this.store.get(storeKey(info), info.namespaced ? namespace ?? '' : '', name);
      if (!existing) {
        if (subresource) throw errors.notFound(gr(info), name);
        const body = clone(applied);
        body.metadata ??= {};
        if (body.metadata.name && body.metadata.name !== name) throw errors.badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
        body.metadata.name = name;
        const checked = this.checkBody(info, body, namespace, opts);
        const { object, conflicts } = serverSideApply(undefined, checked, { manager: opts.fieldManager, force: !!opts.force, kind: { group: info.group, kind: info.kind }, now: now() });
        if (conflicts.length) throw applyConflictError(conflicts, gr(info), name);
        const created = await this.create(info, namespace, object, { ...opts, fieldValidation: 'Ignore', keepManagedFields: true });
        return { object: created, created: true };
      }
    }
    let attemptWarnings: string[] = [];
    const object = await this.guaranteedUpdate(info, namespace, name, opts, subresource, undefined, (cur) => {
      attemptWarnings = [];
      let next: KubeObject;
      switch (type) {
        case 'json':
          next = applyJsonPatch(cur, patchBody);
          break;
        case 'merge':
          next = applyMergePatch(cur, patchBody);
          break;
        case 'strategic':
          next = applyStrategicMergePatch(cur, patchBody, { group: info.group, kind: info.kind });
          break;
        case 'apply': {
          const applied = clone(patchBody as KubeObject);
          applied.metadata ??= {};
          this.checkBody(info, applied, namespace, opts);
          const r = serverSideApply(cur, applied, { manager: opts.fieldManager!, force: !!opts.force, kind: { group: info.group, kind: info.kind }, now: now() });
          if (r.conflicts.length) throw applyConflictError(r.conflicts, gr(info), name);
          next = r.object;
          break;
        }
      }
      if (!next || typeof next !== 'object' || Array.isArray(next)) throw errors.badRequest('the patch produced something that is not an object');
      if (type !== 'apply') this.dropUnknownFields(info, next, { ...opts, warnings: attemptWarnings }, cur);
      next.metadata ??= {};
      if (next.metadata.name !== undefined && next.metadata.name !== name) throw errors.badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`);
      next.metadata.name = name;
      // A patch that carries a resourceVersion is a precondition on it.
      const wanted = next.metadata.resourceVersion;
      if (wanted !== undefined && wanted !== cur.metadata.resourceVersion) throw errors.conflict(gr(info), name);
      return next;
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
    mutate: (cur: KubeObject) => KubeObject,
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
      const old = withTypeMeta(info, clone(cur));
      let next = mutate(withTypeMeta(info, clone(cur)));
      next = this.prepareUpdate(info, old, next, subresource);
      if (!managedByMutate) Object.assign(next, updateManagedFields(old, next, opts.fieldManager ?? defaultManager(), 'Update', now()));
      // Finalizers gone on an object being deleted: the update completes the deletion.
      if (old.metadata.deletionTimestamp && !(next.metadata.finalizers?.length) && this.readyToVanish(info, next)) {
        if (opts.dryRun) return next;
        try {
          const gone = await this.store.delete(key, ns, name, Number(cur.metadata.resourceVersion));
          this.afterDelete(info, gone);
          return withTypeMeta(info, gone);
        } catch (e) {
          if (e instanceof StoreError && e.code === 'Conflict' && precondition === undefined && attempt < MAX_CONFLICT_RETRIES) continue;
          throw mapStoreError(e, info, name);
        }
      }
      if (unchanged(old, next)) return old;
      let undo: (() => void) | undefined;
      if (info.kind === 'Service') undo = this.allocator.allocate(next, old);
      if (opts.dryRun) {
        undo?.();
        return next;
      }
      try {
        const saved = await this.store.update(key, next, Number(cur.metadata.resourceVersion));
        if (info.kind === 'Service') this.allocator.release(old, saved);
        return withTypeMeta(info, saved);
      } catch (e) {
        undo?.();
        if (e instanceof StoreError && e.code === 'Conflict' && precondition === undefined && attempt < MAX_CONFLICT_RETRIES) continue;
        throw mapStoreError(e, info, name);
      }
    }
  }

  /** prepareUpdate keeps what clients may not change and validates the result. */
  private prepareUpdate(info: ResourceInfo, old: KubeObject, next: KubeObject, subresource: string | undefined): KubeObject {
    if (!next || typeof next !== 'object') throw errors.badRequest('invalid object');
    next.apiVersion = apiVersionOf(info);
    next.kind = info.kind;
    next.metadata ??= {};
    const m = next.metadata;
    const om = old.metadata;
    // upstream keeps an omitted uid and rejects a different one (ValidateObjectMetaUpdate: field is immutable),
    // for subresources too, so a writer holding an older incarnation of the object cannot touch the new one
    if (m.uid !== undefined && m.uid !== '' && m.uid !== om.uid) {
      throw errors.invalid(info.group, info.kind, om.name ?? '', [field.invalid('metadata.uid', m.uid, 'field is immutable')]);
    }
    if (subresource === 'binding') {
      // pods/binding sets the node and the PodScheduled condition, nothing else (upstream's setPodHostAndAnnotations)
      const out = clone(old);
      out.spec = { ...out.spec, nodeName: next.spec?.nodeName };
      out.status = { ...(out.status ?? {}), conditions: next.status?.conditions };
      return out;
    }
    if (subresource === 'status') {
      const out = clone(old);
      out.status = next.status;
      // status writers may touch labels/annotations only through the main resource
      return this.validated(info, old, out);
    }
    m.name = om.name;
    m.namespace = om.namespace;
    m.uid = om.uid;
    m.creationTimestamp = om.creationTimestamp;
    m.deletionTimestamp = om.deletionTimestamp;
    m.deletionGracePeriodSeconds = om.deletionGracePeriodSeconds;
    if (om.deletionTimestamp === undefined) delete m.deletionTimestamp;
    if (om.deletionGracePeriodSeconds === undefined) delete m.deletionGracePeriodSeconds;
    if (om.generateName !== undefined) m.generateName = om.generateName;
    m.resourceVersion = om.resourceVersion;
    if (info.subresources.includes('status') && info.kind !== 'Node' || info.kind === 'Namespace') {
      if (old.status === undefined) delete next.status;
      else next.status = old.status;
    }
    if (GENERATION_KINDS.has(info.kind)) {
      m.generation = om.generation ?? 1;
      if (isSpecChange(info, old, next)) m.generation = (om.generation ?? 1) + 1;
    } else {
      delete m.generation;
      if (om.generation !== undefined) m.generation = om.generation;
    }
    // Finalizers may not be added to an object that is being deleted (upstream forbids new ones).
    if (om.deletionTimestamp) {
      const had = new Set(om.finalizers ?? []);
      const added = (m.finalizers ?? []).filter((f: string) => !had.has(f));
      if (added.length) {
        throw errors.forbidden(`${info.kind} "${om.name}" is forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`);
      }
    }
    applyDefaults(info, next, old);
    return this.validated(info, old, next);
  }

  private validated(info: ResourceInfo, old: KubeObject, next: KubeObject): KubeObject {
    this.throwIfInvalid(info, next, validate(info, next, old));
    return next;
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
    const saved = await this.guaranteedUpdate(info, namespace, name, opts, undefined, undefined, (cur) => {
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
        m.deletionTimestamp = now();
        m.deletionGracePeriodSeconds = 0;
        next.status = { ...(next.status ?? {}), phase: 'Terminating' };
        if (opts.dryRun) return withTypeMeta(info, next);
        const saved = await this.store.update(key, next, Number(cur.metadata.resourceVersion)).catch((e) => {
          throw mapStoreError(e, info, name);
        });
        this.finalizeNamespace(name);
        return withTypeMeta(info, saved);
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
          return withTypeMeta(info, await this.store.update(key, next, Number(cur.metadata.resourceVersion)));
        } catch (e) {
          if (e instanceof StoreError && e.code === 'Conflict' && attempt < MAX_CONFLICT_RETRIES) continue;
          throw mapStoreError(e, info, name);
        }
      }
      if (opts.dryRun) return withTypeMeta(info, cur);
      try {
        const gone = await this.store.delete(key, ns, name, Number(cur.metadata.resourceVersion));
        this.afterDelete(info, gone);
        return withTypeMeta(info, gone);
      } catch (e) {
        if (e instanceof StoreError && e.code === 'Conflict' && attempt < MAX_CONFLICT_RETRIES) continue;
        throw mapStoreError(e, info, name);
      }
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

  private afterDelete(info: ResourceInfo, gone: KubeObject): void {
    if (info.kind === 'Service') this.allocator.release(gone);
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

  /**
   * finalizeNamespace empties a terminating namespace (as upstream's namespace controller does), then
   * removes the `kubernetes` finalizer so the namespace goes. Runs until done; survives restarts via start().
   */
  finalizeNamespace(name: string): void {
    if (this.terminating.has(name)) return;
    this.terminating.add(name);
    const run = async () => {
      for (let round = 0; ; round++) {
        try {
          let remaining = 0;
          for (const info of namespacedInDeletionOrder()) {
            const { items } = await this.list(info, name, {});
            remaining += items.length;
            for (const item of items) {
              if (item.metadata.deletionTimestamp && info.kind !== 'Pod') continue;
              await this.delete(info, name, item.metadata.name!, { propagationPolicy: 'Background' }).catch((e) => {
                if (!(e instanceof ApiError && e.code === 404)) throw e;
              });
            }
          }
          if (remaining === 0) {
            const cur = await this.store.get('namespaces', '', name);
            if (!cur) break;
            const next = clone(cur);
            next.spec = { ...(next.spec ?? {}), finalizers: [] };
            if (next.metadata.finalizers?.length) {
              // other finalizers still pending: keep waiting
              await this.store.update('namespaces', next, Number(cur.metadata.resourceVersion)).catch(() => undefined);
            } else {
              await this.store.delete('namespaces', '', name, Number(cur.metadata.resourceVersion)).catch(() => undefined);
              break;
            }
          }
        } catch (e) {
          this.log.warn({ err: e, namespace: name }, 'namespace cleanup failed; retrying');
        }
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** Math.min(round, 4), 2000)).unref());
      }
      this.terminating.delete(name);
    };
    void run();
  }

  // ---- watch ----

  /**
   * watch streams changes matching the selection to `send`. RV undefined/'0' starts with the current state as
   * ADDED events. Throws ApiError Expired when the RV is older than the compacted history.
   */
  async watch(
    info: ResourceInfo,
    namespace: string | undefined,
    q: { labelSelector?: string; fieldSelector?: string; resourceVersion?: string; sendInitialEvents?: boolean },
    send: (ev: { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject }) => void,
  ): Promise<{ stop(): void; revision: number }> {
    const sel = this.parseSelection(info, q);
    const ns = info.namespaced ? namespace : undefined;
    const rv = q.resourceVersion;
    let from: number;
    const initial = rv === undefined || rv === '' || rv === '0' || q.sendInitialEvents === true;
    if (initial) {
      const r = await this.listRaw(info, namespace, { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector });
      from = r.revision;
      for (const obj of r.parsed ?? r.items.map((s) => JSON.parse(s) as KubeObject)) send({ type: 'ADDED', object: withTypeMeta(info, obj) });
    } else {
      from = Number(rv);
      if (!Number.isFinite(from) || from < 0) throw errors.badRequest(`invalid resource version: ${rv}`);
    }
    const onEvent = (ev: StoreEvent) => {
      const nowMatch = this.matches(info, sel, ev.object);
      const prevMatch = ev.prev ? this.matches(info, sel, ev.prev) : false;
      if (ev.type === 'ADDED') {
        if (nowMatch) send({ type: 'ADDED', object: withTypeMeta(info, ev.object) });
      } else if (ev.type === 'DELETED') {
        if (nowMatch || prevMatch) send({ type: 'DELETED', object: withTypeMeta(info, ev.object) });
      } else if (nowMatch && prevMatch) send({ type: 'MODIFIED', object: withTypeMeta(info, ev.object) });
      else if (nowMatch) send({ type: 'ADDED', object: withTypeMeta(info, ev.object) });
      else if (prevMatch) send({ type: 'DELETED', object: withTypeMeta(info, ev.object) });
    };
    try {
      const w = this.store.watch(storeKey(info), { namespace: ns, fromRevision: from }, onEvent);
      return { stop: () => w.stop(), revision: from };
    } catch (e) {
      if (e instanceof StoreError && e.code === 'Expired') throw errors.expired(e.message);
      throw e;
    }
  }
}

function namespacedInDeletionOrder(): ResourceInfo[] {
  // Pods last but workloads first, so controllers do not recreate what is being removed.
  const order = (i: ResourceInfo) => (i.kind === 'Pod' ? 2 : i.kind === 'Event' ? 3 : i.group === 'apps' || i.group === 'batch' ? 0 : 1);
  return namespacedResources.slice().sort((a, b) => order(a) - order(b));
}

const namespacedResources = RESOURCES.filter((r) => r.namespaced);

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < 5; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

function defaultManager(): string {
  return 'unknown';
}

/** withTypeMeta sets apiVersion and kind, which stored objects always carry but older rows might lack. */
export function withTypeMeta(info: ResourceInfo, obj: KubeObject): KubeObject {
  if (obj.apiVersion !== apiVersionOf(info) || obj.kind !== info.kind) {
    return { apiVersion: apiVersionOf(info), kind: info.kind, ...obj };
  }
  return obj;
}

function unchanged(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const c = { ...o, metadata: { ...o.metadata } };
    delete c.metadata.managedFields;
    delete c.metadata.resourceVersion;
    return JSON.stringify(c);
  };
  return strip(a) === strip(b);
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

function mapContinueError(e: unknown): never {
  if (e instanceof StoreError && e.code === 'Expired') {
    throw errors.expired(`The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.`);
  }
  if (e instanceof StoreError) throw errors.badRequest(e.message);
  throw e;
}

