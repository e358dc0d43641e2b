// offload-compute: the pure compute of a write (envelope checks, typed decoding, patching, defaults, validation, managedFields, serialisation) — run by the registry inline for ordinary requests and by an offload worker for large ones, so both give the same objects, errors and texts.
import { randomUUID } from 'node:crypto';
import { errors, ApiError, type FieldError, field } from '../api/errors.ts';
import { apiVersionOf, type ResourceInfo } from '../api/resources.ts';
import type { KubeObject, Status } from '../api/types.ts';
import { deepEqual } from '../api/kinds/meta.ts';
import { applyDefaults, fieldsOf, resetFields, validate, validateStatusUpdate, isSpecChange, qosClassOf, statusKeepsAnnotations } from '../api/kinds/index.ts';
import type { ObjectSummary } from '../store/types.ts';
import { serialise } from '../store/mvcc.ts';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, serverSideApply, updateManagedFields, applyConflictError } from '../api/patch.ts';
import { dropTypeDependentFields } from './allocators.ts';
import { admitCreate, admitUpdate } from './admission/noderestriction.ts';
import type { UserInfo } from './auth/types.ts';
import { DecodeError, decodeObject, findUnknownFields } from './schema.ts';
import { decodeBody } from './negotiate.ts';

/** ComputeOptions are the per-request knobs the compute reads (the registry's WriteOptions without its callbacks). */
export interface ComputeOptions {
  dryRun?: boolean;
  fieldManager?: string;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  /** warnings collected for the `Warning` response header */
  warnings?: string[];
  /** the body's managedFields were computed by server-side apply; keep them */
  keepManagedFields?: boolean;
  /** who writes (admission: NodeRestriction, CSR requester); undefined = an in-process component */
  user?: UserInfo;
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** kinds whose metadata.generation counts spec changes */
export const GENERATION_KINDS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController', 'Pod']);

/** clone deep-copies JSON data (everything here came from JSON): a JSON round trip, about twice as fast as structuredClone. */
export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

export function gr(info: ResourceInfo) {
  return { group: info.group, resource: info.resource };
}

export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function defaultManager(): string {
  return 'unknown';
}

export function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < 5; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

/** withTypeMeta sets apiVersion and kind, which stored objects always carry but older rows might lack. */
export function withTypeMeta(info: ResourceInfo, obj: KubeObject): KubeObject {
  if (obj.apiVersion !== apiVersionOf(info) || obj.kind !== info.kind) {
    return { apiVersion: apiVersionOf(info), kind: info.kind, ...obj };
  }
  return obj;
}

/**
 * unchanged: the two objects differ in nothing but managedFields and resourceVersion, as JSON sees them (key order
 * aside, as upstream compares typed objects). Parts the two share are not walked.
 */
export function unchanged(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const c = { ...o, metadata: { ...o.metadata } };
    delete c.metadata.managedFields;
    delete c.metadata.resourceVersion;
    return c;
  };
  return deepEqual(strip(a), strip(b));
}

/** FIELD_MANAGER_MAX_LENGTH is upstream's limit on a fieldManager's length. */
const FIELD_MANAGER_MAX_LENGTH = 128;

/** checkFieldManager is upstream's ValidateFieldManager: at most 128 bytes, printable characters only (422 on the options kind). */
export function checkFieldManager(manager: string | undefined, optionsKind: 'CreateOptions' | 'UpdateOptions' | 'PatchOptions'): void {
  if (!manager) return;
  const errs: FieldError[] = [];
  if (Buffer.byteLength(manager) > FIELD_MANAGER_MAX_LENGTH) errs.push(field.tooLong('fieldManager', manager, FIELD_MANAGER_MAX_LENGTH));
  let i = 0;
  for (const ch of manager) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
      errs.push(field.invalid('fieldManager', manager, `invalid character U+${cp.toString(16).toUpperCase().padStart(4, '0')} (at position ${i})`));
    }
    i += Buffer.byteLength(ch);
  }
  if (errs.length) throw errors.invalid('meta.k8s.io', optionsKind, '', errs);
}

export function throwIfInvalid(info: ResourceInfo, obj: KubeObject, errs: FieldError[]): void {
  if (errs.length) throw errors.invalid(info.group, info.kind, obj.metadata.name ?? '', errs);
}

/** checkBody validates the envelope of a write: kind, apiVersion, namespace and unknown fields. */
export function checkBody(info: ResourceInfo, body: unknown, namespace: string | undefined, opts: ComputeOptions): KubeObject {
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
  dropUnknownFields(info, obj, opts);
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
export function dropUnknownFields(info: ResourceInfo, obj: KubeObject, opts: ComputeOptions, existing?: KubeObject): void {
  let unknown: string[];
  try {
    unknown = decodeObject(info, obj, opts.fieldValidation !== 'Strict');
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    // a patch whose result does not decode is upstream's Invalid on `patch`; a body is a BadRequest
    if (existing) throw errors.invalid('', '', '', [field.invalid('patch', JSON.stringify(obj), e.message)]);
    throw errors.badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: ${e.message}`);
  }
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

/** createStart is a create's first step: the envelope checked and the name settled (generateName). */
export function createStart(info: ResourceInfo, body: unknown, namespace: string | undefined, opts: ComputeOptions): KubeObject {
  const obj = checkBody(info, body, namespace, opts);
  const meta = obj.metadata;
  if (!meta.name && meta.generateName) meta.name = meta.generateName + randomSuffix();
  if (!meta.name && !meta.generateName) {
    throw errors.invalid(info.group, info.kind, '', [field.required('metadata.name', 'name or generateName is required')]);
  }
  return obj;
}

/** createStamp gives a new object its identity (uid, creationTimestamp, generation), initial status and defaults. */
export function createStamp(info: ResourceInfo, obj: KubeObject): void {
  const meta = obj.metadata;
  meta.uid = randomUUID();
  meta.creationTimestamp = now();
  delete meta.resourceVersion;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  if (GENERATION_KINDS.has(info.kind)) meta.generation = 1;
  else delete meta.generation;
  prepareForCreate(info, obj);
  applyDefaults(info, obj);
}

/** createFinish validates a new object (after admission) and records the writer's fields. */
export function createFinish(info: ResourceInfo, obj: KubeObject, opts: ComputeOptions): void {
  throwIfInvalid(info, obj, validate(info, obj));
  if (!opts.keepManagedFields) Object.assign(obj, updateManagedFields(undefined, obj, opts.fieldManager ?? defaultManager(), 'Update', now(), undefined, resetFields(info, undefined)));
}

function prepareForCreate(info: ResourceInfo, obj: KubeObject): void {
  switch (info.kind) {
    case 'Pod':
      obj.status = { phase: 'Pending', qosClass: qosClassOf(obj.spec ?? {}) };
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

/**
 * patchObject applies one of the four patch types to `cur` (a copy the caller gives away) and checks the result's
 * envelope: an object, unknown fields (warnings into `warnings`), the name and namespace of the URL, and a
 * resourceVersion the patch carries as a precondition.
 */
export function patchObject(
  info: ResourceInfo,
  namespace: string | undefined,
  name: string,
  type: PatchType,
  patchBody: unknown,
  opts: ComputeOptions & { force?: boolean },
  cur: KubeObject,
  warnings: string[],
): KubeObject {
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
      checkBody(info, applied, namespace, opts);
      const r = serverSideApply(cur, applied, { manager: opts.fieldManager!, force: !!opts.force, kind: { group: info.group, kind: info.kind }, now: now() });
      if (r.conflicts.length) throw applyConflictError(r.conflicts, gr(info), name);
      next = r.object;
      break;
    }
  }
  if (!next || typeof next !== 'object' || Array.isArray(next)) throw errors.badRequest('the patch produced something that is not an object');
  if (type !== 'apply') dropUnknownFields(info, next, { ...opts, warnings }, cur);
  next.metadata ??= {};
  if (next.metadata.name !== undefined && next.metadata.name !== name) throw errors.badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`);
  next.metadata.name = name;
  const ns = next.metadata.namespace;
  if (info.namespaced && namespace && ns && ns !== namespace) throw errors.badRequest(`the namespace of the object (${ns}) does not match the namespace on the URL (${namespace})`);
  // A patch that carries a resourceVersion is a precondition on it.
  const wanted = next.metadata.resourceVersion;
  if (wanted !== undefined && wanted !== cur.metadata.resourceVersion) throw errors.conflict(gr(info), name);
  return next;
}

/** checkApplyBody is a server-side apply's checks before the object is read: a field manager and an object body. */
export function checkApplyBody(opts: ComputeOptions, applied: unknown): asserts applied is KubeObject {
  if (!opts.fieldManager) throw errors.badRequest('PATCH, application/apply-patch+yaml requires a non-empty fieldManager query parameter');
  if (!applied || typeof applied !== 'object' || Array.isArray(applied)) throw errors.badRequest('the apply body must be an object');
}

/** prepareUpdate keeps what clients may not change and validates the result. */
export function prepareUpdate(info: ResourceInfo, old: KubeObject, next: KubeObject, subresource: string | undefined): KubeObject {
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
  // A subresource write is the stored object with what the subresource may change: a new top level and metadata over
  // old's other parts, shared, not copied (nothing after this changes them in place). Unchanged parts stay the same
  // references, which lets managedFields and the no-change check skip them.
  if (subresource === 'finalize') {
    // namespaces/finalize writes spec.finalizers and nothing else (upstream's namespaceFinalizeStrategy)
    const out = { ...old, metadata: { ...old.metadata }, spec: { ...(old.spec ?? {}), finalizers: next.spec?.finalizers ?? [] } };
    return validated(info, old, out);
  }
  if (subresource === 'status' || subresource === 'approval') {
    const out = { ...old, metadata: { ...old.metadata }, status: next.status };
    // status writers touch labels only through the main resource; annotations where the kind's strategy allows
    if (statusKeepsAnnotations(info)) {
      if (next.metadata?.annotations === undefined) delete out.metadata.annotations;
      else out.metadata.annotations = next.metadata.annotations;
    }
    throwIfInvalid(info, out, validateStatusUpdate(info, out, old));
    return out;
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
  if ((info.subresources.includes('status') && info.kind !== 'Node') || info.kind === 'Namespace') {
    if (old.status === undefined) delete next.status;
    else next.status = old.status;
  }
  // a Namespace's spec.finalizers change only through namespaces/finalize
  if (info.kind === 'Namespace') next.spec = { ...(next.spec ?? {}), finalizers: old.spec?.finalizers ?? [] };
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
  if (info.kind === 'Service') dropTypeDependentFields(next, old);
  applyDefaults(info, next, old);
  return validated(info, old, next);
}

function validated(info: ResourceInfo, old: KubeObject, next: KubeObject): KubeObject {
  throwIfInvalid(info, next, validate(info, next, old));
  return next;
}

// ---------------------------------------------------------------------------------------------------------------
// the worker's tasks: a whole create or update computed from the request's body (and the stored text)

/** RequestBody is a write's body: the request's bytes (decoded where the compute runs) or a value decoded already. */
export type RequestBody = { bytes: Uint8Array; contentType: string | undefined } | { value: unknown };

/** Split is a serialised object cut around its resourceVersion: the store joins `before + "<revision>" + after`. */
export interface Split {
  before: string;
  after: string;
}

/**
 * Written is what a computed write hands the store: the key, the labels column, the text, and the summary its watch
 * event carries (so the event loop never parses the text to route the event).
 */
export interface Written extends Split {
  kind: 'write';
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  summary: ObjectSummary;
  warnings: string[];
}

/** CreateTask is one create to compute. */
export interface CreateTask {
  info: ResourceInfo;
  namespace: string | undefined;
  body: RequestBody;
  opts: ComputeOptions;
}

/**
 * CreateResult: `write` (to store once the namespace was checked), `dry` (a dry run's object as text), or `late`: an
 * error that comes after the namespace check, so the caller answers the namespace's error first as the inline path does.
 */
export type CreateResult = Written | { kind: 'dry'; namespace: string; text: string; warnings: string[] } | { kind: 'late'; namespace: string; status: Status; warnings: string[] };

/** UpdateTask is one update (PUT) or patch to compute against the stored text `cur` (undefined = absent). */
export interface UpdateTask {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string;
  /** 'update' = PUT of a whole object, else the patch type */
  mode: 'update' | PatchType;
  body: RequestBody;
  opts: ComputeOptions & { force?: boolean };
  subresource?: string;
  cur?: string;
}

/**
 * UpdateResult: `write` carries the precondition the body set (a 409 of the store is then the client's, not retried);
 * `unchanged` = nothing to write (the stored object is the answer); `dry`; `absent` = an apply to an object that does
 * not exist (the caller creates it); `inline` = a case the caller computes itself (an object being deleted).
 */
export type UpdateResult =
  | (Written & { precondition?: number })
  | { kind: 'unchanged'; warnings: string[] }
  | { kind: 'dry'; text: string; warnings: string[] }
  | { kind: 'absent' }
  | { kind: 'inline' };

/** decodeRequestBody is a body's value: decodeBody of its bytes (protobuf is never sent here), or the value given. */
export function decodeRequestBody(b: RequestBody): unknown {
  if ('value' in b) return b.value;
  const bytes = b.bytes;
  return decodeBody(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), b.contentType, () => {
    throw errors.unsupportedMediaType(b.contentType ?? '');
  });
}

/** summaryOf is what a watch consumer needs of `obj` to route its event (store ObjectSummary). */
export function summaryOf(info: ResourceInfo, obj: KubeObject): ObjectSummary {
  const m = obj.metadata;
  return { apiVersion: obj.apiVersion, kind: obj.kind, namespace: m.namespace ?? '', name: m.name ?? '', ...(m.labels ? { labels: m.labels } : {}), fields: fieldsOf(info, obj) };
}

function written(info: ResourceInfo, obj: KubeObject, warnings: string[]): Written {
  const labels = obj.metadata.labels;
  return { kind: 'write', namespace: obj.metadata.namespace ?? '', name: obj.metadata.name!, ...(labels ? { labels } : {}), summary: summaryOf(info, obj), warnings, ...serialise(obj) };
}

/**
 * computeCreate is Registry.create's compute for kinds whose create has no admission that reads the store (see the
 * registry's OFFLOAD table): decode, checks, defaults, admission by the writer's identity, validation, managedFields.
 */
export function computeCreate(t: CreateTask): CreateResult {
  const warnings: string[] = [];
  const opts = { ...t.opts, warnings };
  const body = decodeRequestBody(t.body);
  checkFieldManager(opts.fieldManager, 'CreateOptions');
  const obj = createStart(t.info, body, t.namespace, opts);
  try {
    createStamp(t.info, obj);
    admitCreate(t.info, obj, opts.user);
    createFinish(t.info, obj, opts);
  } catch (e) {
    if (e instanceof ApiError) return { kind: 'late', namespace: obj.metadata.namespace ?? '', status: e.status, warnings };
    throw e;
  }
  if (opts.dryRun) return { kind: 'dry', namespace: obj.metadata.namespace ?? '', text: JSON.stringify(obj), warnings };
  return written(t.info, obj, warnings);
}

/**
 * computeUpdate is Registry.update's and Registry.patch's compute of one attempt against the stored text: the same
 * checks in the same order, the mutation, prepareUpdate, admission, managedFields and the serialised result.
 */
export function computeUpdate(t: UpdateTask): UpdateResult {
  const { info, namespace, name, opts } = t;
  const body = decodeRequestBody(t.body);
  let mutate: (cur: KubeObject) => KubeObject;
  let precondition: number | undefined;
  const warnings: string[] = [];
  if (t.mode === 'update') {
    checkFieldManager(opts.fieldManager, 'UpdateOptions');
    const obj = checkBody(info, body, namespace, { ...opts, warnings });
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    obj.metadata.name = name;
    const rv = obj.metadata.resourceVersion;
    precondition = rv ? Number(rv) : undefined;
    mutate = () => clone(obj);
  } else {
    checkFieldManager(opts.fieldManager, 'PatchOptions');
    if (t.mode === 'apply') {
      checkApplyBody(opts, body);
      if (t.cur === undefined) {
        if (t.subresource) throw errors.notFound(gr(info), name);
        return { kind: 'absent' };
      }
    }
    const type = t.mode;
    mutate = (cur) => patchObject(info, namespace, name, type, body, { ...opts, warnings }, cur, warnings);
  }
  if (t.cur === undefined) throw errors.notFound(gr(info), name);
  const cur = JSON.parse(t.cur) as KubeObject;
  if (precondition !== undefined && String(precondition) !== cur.metadata.resourceVersion) throw errors.conflict(gr(info), name);
  const old = withTypeMeta(info, cur);
  // an update that may complete a deletion (finalizers gone) is the registry's own
  if (old.metadata.deletionTimestamp) return { kind: 'inline' };
  let next = mutate(withTypeMeta(info, clone(cur)));
  next = prepareUpdate(info, old, next, t.subresource);
  next = admitUpdate(info, old, next, t.subresource, opts.user);
  if (t.mode !== 'apply') Object.assign(next, updateManagedFields(old, next, opts.fieldManager ?? defaultManager(), 'Update', now(), t.subresource, resetFields(info, t.subresource)));
  if (unchanged(old, next)) return { kind: 'unchanged', warnings };
  if (opts.dryRun) return { kind: 'dry', text: JSON.stringify(next), warnings };
  return { ...written(info, next, warnings), ...(precondition !== undefined ? { precondition } : {}) };
}
