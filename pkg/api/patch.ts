// patch: the PATCH engines (JSON patch, merge patch, strategic merge patch, server-side apply) and managedFields tracking.
import jsonpatch from 'fast-json-patch';
import { ApiError, type GroupResource } from './errors.ts';
import type { KubeObject, ManagedFieldsEntry, Status, StatusCause } from './types.ts';
import { fieldMeta, rootTypeOf, type FieldMeta } from './patchmeta.ts';
import { MAX_DEPTH, valueDepth } from './decode.ts';

type JsonMap = Record<string, unknown>;

/** PatchKind names the kind a patch applies to, as the patch metadata table is keyed. */
export interface PatchKind {
  group: string;
  kind: string;
}

// ---------------------------------------------------------------------------------------------------------------
// small JSON helpers

function isMap(v: unknown): v is JsonMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasOwn(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** setKey assigns o[k], also for a key named `__proto__` (which would otherwise replace the prototype). */
function setKey(o: JsonMap, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** goFormat prints a value the way Go's %v prints decoded JSON, so messages read as upstream's: `map[image:x]`. */
function goFormat(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goFormat).join(' ')}]`;
  if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${goFormat(v[k])}`).join(' ')}]`;
  return String(v);
}

/** goType names the Go type a decoded JSON value has, for upstream-shaped decoding errors. */
function goType(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return '[]interface {}';
  if (isMap(v)) return 'map[string]interface {}';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'boolean') return 'bool';
  return 'string';
}

/** jsonTypeName is the JSON type word encoding/json uses in `cannot unmarshal X into …`. */
function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (isMap(v)) return 'object';
  return typeof v;
}

/** discardNulls drops null map values everywhere inside v (upstream's discardNullValuesFromPatch). */
function discardNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(discardNulls);
  if (!isMap(v)) return v;
  const out: JsonMap = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) setKey(out, k, discardNulls(x));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// errors, shaped as upstream's patch handler answers them

/** checkDepth refuses a patch nested deeper than a body may be (the merges recurse; V8's stack ends near 2,000). */
function checkDepth(patch: unknown): void {
  if (valueDepth(patch) > MAX_DEPTH) throw badRequest('json: exceeded max depth');
}

function statusError(code: number, reason: string, message: string, details?: Status['details']): ApiError {
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) status.details = details;
  return new ApiError(status);
}

function badRequest(message: string): ApiError {
  return statusError(400, 'BadRequest', message);
}

/** unprocessable is upstream's NewGenericServerResponse(422): a fixed message, the real reason in a cause. */
function unprocessable(message: string): ApiError {
  return statusError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
    causes: [{ reason: 'UnexpectedServerResponse', message }],
  });
}

// ---------------------------------------------------------------------------------------------------------------
// JSON patch (RFC 6902)

/** MAX_JSON_PATCH_OPS is upstream's maxJSONPatchOperations. */
export const MAX_JSON_PATCH_OPS = 10000;

/** applyJsonPatch applies an RFC 6902 patch; failures answer as upstream's handler does (400 undecodable, 422 not applicable). */
export function applyJsonPatch(obj: KubeObject, ops: unknown): KubeObject {
  checkDepth(ops);
  if (!Array.isArray(ops)) {
    throw badRequest(`json: cannot unmarshal ${jsonTypeName(ops)} into Go value of type jsonpatch.Patch`);
  }
  if (ops.length > MAX_JSON_PATCH_OPS) {
    throw statusError(413, 'RequestEntityTooLarge', `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPS}, got ${ops.length}`);
  }
  for (const op of ops) {
    if (!isMap(op)) throw badRequest(`json: cannot unmarshal ${jsonTypeName(op)} into Go value of type jsonpatch.Operation`);
  }
  let doc: unknown = clone(obj);
  ops.forEach((op: JsonMap, i) => {
    try {
      doc = jsonpatch.applyOperation(doc, clone(op) as never, true, true, true, i).newDocument;
    } catch (e) {
      if (e instanceof jsonpatch.JsonPatchError) throw unprocessable(jsonPatchMessage(e.name, op));
      // the library refuses `__proto__` / `constructor/prototype` paths; no decoded object has such a key, so it
      // answers as a missing path does upstream
      if (e instanceof Error && /banned for security reasons/.test(e.message)) {
        throw unprocessable(jsonPatchMessage(op.op === 'add' ? 'OPERATION_PATH_CANNOT_ADD' : 'OPERATION_PATH_UNRESOLVABLE', op));
      }
      throw e;
    }
  });
  if (!isMap(doc)) throw badRequest(`json: cannot unmarshal ${jsonTypeName(doc)} into Go value of type map[string]interface {}`);
  return doc as KubeObject;
}

/** jsonPatchMessage words a failed operation as evanphx/json-patch (the library upstream uses) words it. */
function jsonPatchMessage(name: string, op: JsonMap): string {
  const kind = String(op.op);
  const path = String(op.path);
  const from = String(op.from);
  const key = path.slice(path.lastIndexOf('/') + 1);
  switch (name) {
    case 'TEST_OPERATION_FAILED':
      return `testing value ${path} failed: test failed`;
    case 'OPERATION_OP_INVALID':
      return `Unexpected kind: ${kind}`;
    case 'OPERATION_VALUE_OUT_OF_BOUNDS':
      return `error in ${kind} for path: '${path}': Unable to access invalid index: ${key}: invalid index referenced`;
    case 'OPERATION_FROM_UNRESOLVABLE':
      return `${kind} operation does not apply: doc is missing from path: ${from}: missing value`;
    case 'OPERATION_PATH_CANNOT_ADD':
      return `add operation does not apply: doc is missing path: "${path}": missing value`;
    case 'OPERATION_PATH_UNRESOLVABLE':
      if (kind === 'remove') return `error in remove for path: '${path}': Unable to remove nonexistent key: ${key}: missing value`;
      if (kind === 'replace') return `replace operation does not apply: doc is missing key: ${path}: missing value`;
      return `${kind} operation does not apply: doc is missing path: ${path}: missing value`;
    case 'OPERATION_VALUE_REQUIRED':
    case 'OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED':
      return `${kind} operation: missing value for path: ${path}`;
    case 'OPERATION_FROM_REQUIRED':
      return `${kind} operation failed to decode from`;
    case 'OPERATION_PATH_INVALID':
      return `${kind} operation does not apply: doc is missing path: ${path}: missing value`;
    default:
      return `${kind} operation failed for path: ${path}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON merge patch (RFC 7386)

/** applyMergePatch applies an RFC 7386 merge patch: null deletes, maps merge, everything else (lists too) replaces. */
export function applyMergePatch(obj: KubeObject, patch: unknown): KubeObject {
  if (!isMap(patch)) throw badRequest('Invalid JSON Patch');
  checkDepth(patch);
  return mergePatchValue(obj, patch) as KubeObject;
}

function mergePatchValue(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return clone(patch);
  const out: JsonMap = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setKey(out, k, mergePatchValue(hasOwn(out, k) ? out[k] : undefined, v));
  }
  // untouched values are still shared with target: clone them so the result never aliases the input
  for (const k of Object.keys(out)) if (!hasOwn(patch, k)) setKey(out, k, clone(out[k]));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// strategic merge patch (a port of the apply half of k8s.io/apimachinery/pkg/util/strategicpatch)

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList';

const smpErr = {
  primitiveList: () => badRequest('invalid patch format of primitive list'),
  retainKeys: () => badRequest('invalid patch format of retainKeys'),
  setOrder: () => badRequest('invalid patch format of setElementOrder list'),
  listOfLists: () => unprocessable('lists of lists are not supported'),
  noMergeKey: (m: unknown, key: string) => badRequest(`map: ${goFormat(m)} does not contain declared merge key: ${key}`),
  badArgType: (expected: string, actual: unknown) => badRequest(`expected a ${expected}, but received a ${goType(actual)}`),
  badPatchType: (t: unknown, m: unknown) => badRequest(`unknown patch type: ${goFormat(t)} in map: ${goFormat(m)}`),
};

function strategies(fm: FieldMeta | undefined): string[] {
  return fm?.patchStrategy ? fm.patchStrategy.split(',') : [];
}

function isMergeList(fm: FieldMeta | undefined): boolean {
  return strategies(fm).includes('merge');
}

/**
 * applyStrategicMergePatch applies a Kubernetes strategic merge patch. Lists merge as the kind's patch metadata says
 * (containers by name, ports by containerPort, …), others are replaced; null deletes; the directives `$patch`,
 * `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>` are honoured.
 */
export function applyStrategicMergePatch(obj: KubeObject, patch: unknown, kind: PatchKind): KubeObject {
  if (!isMap(patch)) {
    throw badRequest(`json: cannot unmarshal ${jsonTypeName(patch)} into Go value of type map[string]interface {}`);
  }
  checkDepth(patch);
  return smpMergeMap(clone(obj) as JsonMap, clone(patch), rootTypeOf(kind)) as KubeObject;
}

/** smpMergeMap merges patch into original (both owned by the caller: they are changed in place). */
function smpMergeMap(original: JsonMap | undefined, patch: JsonMap, type: string | undefined): JsonMap {
  if (hasOwn(patch, DIRECTIVE)) {
    const d = patch[DIRECTIVE];
    delete patch[DIRECTIVE];
    if (d === 'replace') return smpMergeMap(undefined, patch, type);
    if (d === 'delete') return {};
    if (d !== 'merge') throw smpErr.badPatchType(d, { ...patch, [DIRECTIVE]: d });
  }
  const out: JsonMap = original ?? {};
  applyRetainKeys(out, patch);
  mergeSetElementOrder(out, patch, type);

  for (const patchKey of Object.keys(patch)) {
    const pv = patch[patchKey];
    let k = patchKey;
    let isDeleteList = false;
    if (patchKey.startsWith(DELETE_PRIMITIVE)) {
      k = extractKey(patchKey, DELETE_PRIMITIVE);
      isDeleteList = true;
    }
    if (pv === null) {
      delete out[k];
      continue;
    }
    const fm = fieldMeta(type, k);
    const ov = hasOwn(out, k) ? out[k] : undefined;
    if (ov === undefined || Array.isArray(ov) !== Array.isArray(pv) || isMap(ov) !== isMap(pv)) {
      if (!isDeleteList) setKey(out, k, freshValue(pv, fm));
      continue;
    }
    if (isMap(ov)) {
      setKey(out, k, strategies(fm).includes('replace') ? freshValue(pv, fm) : smpMergeMap(ov, pv as JsonMap, fm?.type));
    } else if (Array.isArray(ov)) {
      setKey(out, k, mergeSliceHandler(ov, pv as unknown[], fm, isDeleteList));
    } else {
      setKey(out, k, pv);
    }
  }
  return out;
}

/** freshValue is a patch value for a key the original lacks: its directives applied to nothing, its nulls dropped. */
function freshValue(pv: unknown, fm: FieldMeta | undefined): unknown {
  if (isMap(pv)) return smpMergeMap(undefined, pv, fm?.type);
  if (Array.isArray(pv)) return isMergeList(fm) ? mergeSlice([], pv, fm, false) : discardNulls(pv);
  return pv;
}

function mergeSliceHandler(original: unknown[], patch: unknown[], fm: FieldMeta | undefined, isDeleteList: boolean): unknown[] {
  if (isMergeList(fm) || isDeleteList) return mergeSlice(original, patch, fm, isDeleteList);
  return discardNulls(patch) as unknown[];
}

type ElemKind = 'map' | 'string' | 'number' | 'boolean' | 'null';

/** elementKind is the one kind of element all the given lists hold (undefined when they are all empty). */
function elementKind(...lists: unknown[][]): ElemKind | undefined {
  let kind: ElemKind | undefined;
  for (const list of lists) {
    for (const v of list) {
      if (Array.isArray(v)) throw smpErr.listOfLists();
      const k: ElemKind = v === null ? 'null' : isMap(v) ? 'map' : (typeof v as ElemKind);
      if (kind === undefined) kind = k;
      else if (kind !== k) throw badRequest(`list element types are not identical: ${goFormat(lists)}`);
    }
  }
  return kind;
}

function mergeSlice(original: unknown[], patch: unknown[], fm: FieldMeta | undefined, isDeleteList: boolean): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind(original, patch) ?? 'map';
  const mergeKey = fm?.patchMergeKey ?? '';
  let merged: unknown[];
  if (kind !== 'map') {
    if (isDeleteList) {
      const gone = new Set(patch);
      return original.filter((v) => !gone.has(v));
    }
    merged = [...new Set([...original, ...patch])];
  } else {
    if (!mergeKey) throw badRequest('cannot merge lists without merge key for type map');
    [original, patch] = withSpecialElements(original, patch as JsonMap[], mergeKey, fm?.type);
    merged = withoutSpecialElements(original, patch as JsonMap[], mergeKey, fm?.type);
  }
  const [patchItems, serverOnly] = partitionByPresence(merged, patch, mergeKey, kind);
  return normalizeElementOrder(patchItems, serverOnly, patch, original, mergeKey, kind);
}

/** withSpecialElements applies `$patch: delete|replace` elements, returning the new original and the plain patch items. */
function withSpecialElements(original: unknown[], patch: JsonMap[], mergeKey: string, type: string | undefined): [unknown[], unknown[]] {
  const plain: JsonMap[] = [];
  let replace = false;
  const deleted = new Set<unknown>();
  for (const item of patch) {
    if (!hasOwn(item, DIRECTIVE)) {
      plain.push(item);
      continue;
    }
    const d = item[DIRECTIVE];
    if (d === 'delete') {
      if (!hasOwn(item, mergeKey)) throw smpErr.noMergeKey(item, mergeKey);
      deleted.add(item[mergeKey]);
    } else if (d === 'replace') {
      replace = true;
    } else if (d === 'merge') {
      const rest = { ...item };
      delete rest[DIRECTIVE];
      if (Object.keys(rest).length > 0) plain.push(rest);
    } else {
      throw smpErr.badPatchType(d, item);
    }
  }
  if (deleted.size) original = original.filter((o) => !(isMap(o) && hasOwn(o, mergeKey) && deleted.has(o[mergeKey])));
  if (replace) return [plain.map((item) => smpMergeMap(undefined, item, type)), []];
  return [original, plain];
}

/**
 * keyIndex maps each merge-key value of a list of maps to the index of its first element (every element must be a
 * map), so merging two lists is linear: a 20,000-entry env list took seconds with a scan per element.
 */
function keyIndex(list: unknown[], mergeKey: string): Map<unknown, number> {
  const index = new Map<unknown, number>();
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (!isMap(v)) throw badRequest(`value for key ${i} is not a map.`);
    if (hasOwn(v, mergeKey) && !index.has(v[mergeKey])) index.set(v[mergeKey], i);
  }
  return index;
}

/** valueIndex maps each element (maps by their merge-key value) to its first index; see indexIn. */
function valueIndex(list: unknown[], mergeKey: string, kind: ElemKind): Map<unknown, number> {
  const index = new Map<unknown, number>();
  for (let i = list.length - 1; i >= 0; i--) {
    const v = list[i];
    if (kind !== 'map') index.set(v, i);
    else if (isMap(v)) index.set(v[mergeKey], i);
  }
  return index;
}

function withoutSpecialElements(original: unknown[], patch: JsonMap[], mergeKey: string, type: string | undefined): unknown[] {
  const out = [...original];
  const index = patch.length ? keyIndex(out, mergeKey) : new Map<unknown, number>();
  for (const item of patch) {
    if (!hasOwn(item, mergeKey)) throw smpErr.noMergeKey(item, mergeKey);
    const i = index.get(item[mergeKey]);
    if (i !== undefined) out[i] = smpMergeMap(out[i] as JsonMap, item, type);
    else {
      index.set(item[mergeKey], out.length);
      out.push(smpMergeMap(undefined, item, type));
    }
  }
  return out;
}

/** partitionByPresence splits items into those present in `by` (by merge key, or by value) and the rest. */
function partitionByPresence(items: unknown[], by: unknown[], mergeKey: string, kind: ElemKind): [unknown[], unknown[]] {
  const inPatch: unknown[] = [];
  const serverOnly: unknown[] = [];
  let byKey: Map<unknown, number> | undefined;
  const byValue = kind === 'map' ? undefined : new Set(by);
  for (const v of items) {
    let present: boolean;
    if (kind === 'map') {
      if (!isMap(v)) throw smpErr.badArgType('map[string]interface {}', v);
      if (!hasOwn(v, mergeKey)) throw smpErr.noMergeKey(v, mergeKey);
      byKey ??= keyIndex(by, mergeKey);
      present = byKey.has(v[mergeKey]);
    } else {
      present = byValue!.has(v);
    }
    (present ? inPatch : serverOnly).push(v);
  }
  return [inPatch, serverOnly];
}

/** indexIn is the place of `item` in a list indexed by valueIndex: -1 when absent. */
function indexIn(index: Map<unknown, number>, item: unknown, mergeKey: string, kind: ElemKind): number {
  const key = kind !== 'map' ? item : isMap(item) ? item[mergeKey] : undefined;
  return index.get(key) ?? -1;
}

/** normalizeSliceOrder sorts items by their place in `order`; `$patch: delete` items go last. */
function normalizeSliceOrder(items: unknown[], order: unknown[], mergeKey: string, kind: ElemKind): unknown[] {
  let toDelete: unknown[] = [];
  if (kind === 'map') {
    for (const v of [...items, ...order]) {
      if (!isMap(v)) throw smpErr.badArgType('map[string]interface {}', v);
      if (!hasOwn(v, mergeKey)) throw smpErr.noMergeKey(v, mergeKey);
    }
    toDelete = items.filter((v) => (v as JsonMap)[DIRECTIVE] === 'delete');
    items = items.filter((v) => (v as JsonMap)[DIRECTIVE] !== 'delete');
  }
  const orderIndex = valueIndex(order, mergeKey, kind);
  const ranked = items.map((v, i) => ({ v, i, at: indexIn(orderIndex, v, mergeKey, kind) }));
  const found = ranked.filter((r) => r.at >= 0).sort((a, b) => a.at - b.at || a.i - b.i);
  const notFound = ranked.filter((r) => r.at < 0);
  return [...found, ...notFound].map((r) => r.v).concat(toDelete);
}

/**
 * normalizeElementOrder orders patch items by patchOrder and server-only items by serverOrder, then interleaves them:
 * a server-only item goes before a patch item only when both are in serverOrder and it came first there.
 * Example: live [a, b], patch [c] gives [c, a, b], as upstream does; with `$setElementOrder: [a, b, c]` it is [a, b, c].
 */
function normalizeElementOrder(
  patch: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string,
  kind: ElemKind,
): unknown[] {
  const right = normalizeSliceOrder(patch, patchOrder, mergeKey, kind);
  const left = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind);
  const out: unknown[] = [];
  const serverIndex = valueIndex(serverOrder, mergeKey, kind);
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverIndex, left[i], mergeKey, kind);
      const ri = indexIn(serverIndex, right[j], mergeKey, kind);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

function extractKey(s: string, prefix: string): string {
  const slash = s.indexOf('/');
  if (slash < 0 || s.slice(0, slash) !== prefix) {
    throw prefix === DELETE_PRIMITIVE ? smpErr.primitiveList() : smpErr.setOrder();
  }
  return s.slice(slash + 1);
}

/** applyRetainKeys honours `$retainKeys`: keys of the original not listed are cleared; every patched key must be listed. */
function applyRetainKeys(original: JsonMap, patch: JsonMap): void {
  if (!hasOwn(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) throw smpErr.retainKeys();
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_PRIMITIVE) || k.startsWith(SET_ORDER)) continue;
    if (!list.includes(k)) throw smpErr.retainKeys();
  }
  for (const k of Object.keys(original)) if (!list.includes(k)) delete original[k];
}

/** mergeSetElementOrder merges each list that has a `$setElementOrder/<list>` and orders it as the directive says. */
function mergeSetElementOrder(original: JsonMap, patch: JsonMap, type: string | undefined): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw smpErr.badArgType('[]interface {}', order);
    const listKey = extractKey(key, SET_ORDER);
    const foundOriginal = hasOwn(original, listKey);
    const foundPatch = hasOwn(patch, listKey);
    const ol = foundOriginal ? original[listKey] : undefined;
    const pl = foundPatch ? patch[listKey] : undefined;
    if (foundOriginal && !Array.isArray(ol)) throw smpErr.badArgType('[]interface {}', ol);
    if (foundPatch && !Array.isArray(pl)) throw smpErr.badArgType('[]interface {}', pl);
    const fm = fieldMeta(type, listKey);
    const mergeKey = fm?.patchMergeKey ?? '';
    const originalList = (ol ?? []) as unknown[];
    const patchList = (pl ?? []) as unknown[];
    validatePatchWithSetOrderList(patchList, order, mergeKey);

    let merged: unknown[];
    if (foundOriginal && !foundPatch) merged = originalList;
    else if (!foundOriginal && foundPatch) merged = freshValue(patchList, fm) as unknown[];
    else if (foundOriginal && foundPatch) merged = mergeSliceHandler(originalList, patchList, fm, false);
    else continue;

    const kind = elementKind(originalList, patchList) ?? (mergeKey ? 'map' : 'string');
    const [inOrder, serverOnly] = partitionByPresence(merged, order, mergeKey, kind);
    setKey(original, listKey, normalizeElementOrder(inOrder, serverOnly, order, originalList, mergeKey, kind));
    delete patch[listKey];
  }
}

/** validatePatchWithSetOrderList checks the patch list's items appear in the `$setElementOrder` list, in its order. */
function validatePatchWithSetOrderList(patchList: unknown[], order: unknown[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  let items = patchList;
  if (mergeKey) {
    for (const v of patchList) if (!isMap(v)) throw smpErr.badArgType('map[string]interface {}', v);
    items = patchList.filter((v) => (v as JsonMap)[DIRECTIVE] !== 'delete');
  }
  const sameKey = (a: unknown, b: unknown): boolean => {
    if (!mergeKey) return a === b;
    if (!isMap(a)) throw smpErr.badArgType('map[string]interface {}', a);
    if (!isMap(b)) throw smpErr.badArgType('map[string]interface {}', b);
    if (!hasOwn(a, mergeKey)) throw smpErr.noMergeKey(a, mergeKey);
    if (!hasOwn(b, mergeKey)) throw smpErr.noMergeKey(b, mergeKey);
    return a[mergeKey] === b[mergeKey];
  };
  let p = 0;
  let s = 0;
  while (p < items.length && s < order.length) {
    if (isMap(items[p]) && hasOwn(items[p] as JsonMap, DIRECTIVE)) {
      p++;
      continue;
    }
    if (sameKey(items[p], order[s])) p++;
    s++;
  }
  if (p < items.length && s >= order.length) {
    throw badRequest(`The order in patch list:\n${goFormat(patchList)}\n doesn't match ${SET_ORDER} list:\n${goFormat(order)}\n`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// field sets (managedFields, FieldsV1)

/** A FieldSet holds paths, each a JSON array of path elements: `f:spec`, `k:{"name":"c"}`, `v:"x"`. */
type FieldSet = Set<string>;

const pathKey = (path: string[]): string => JSON.stringify(path);
const pathOf = (key: string): string[] => JSON.parse(key) as string[];

type ListType = 'map' | 'set' | 'atomic';

function listTypeOf(fm: FieldMeta | undefined): ListType {
  if (fm?.listType === 'map' && fm.listMapKeys?.length) return 'map';
  if (fm?.listType === 'set') return 'set';
  return 'atomic';
}

function sortedJson(o: JsonMap): string {
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${JSON.stringify(o[k])}`).join(',')}}`;
}

/** itemElement is the path element of a list item: `k:{…}` by the list's keys (defaults filled in), or `v:…`; undefined if a key is missing. */
function itemElement(item: unknown, fm: FieldMeta | undefined, lt: ListType): string | undefined {
  if (lt === 'set') return `v:${JSON.stringify(item)}`;
  if (!isMap(item)) return undefined;
  const key: JsonMap = {};
  for (const k of fm?.listMapKeys ?? []) {
    const v = hasOwn(item, k) && item[k] !== null ? item[k] : fm?.keyDefaults?.[k];
    if (v === undefined) return undefined;
    key[k] = v;
  }
  return `k:${sortedJson(key)}`;
}

function requireElement(item: unknown, fm: FieldMeta | undefined, lt: ListType, path: string[]): string {
  const pe = itemElement(item, fm, lt);
  if (pe === undefined) {
    const missing = (fm?.listMapKeys ?? []).find((k) => !isMap(item) || !hasOwn(item, k)) ?? '';
    throw badRequest(
      `${fieldPathString(path)}: associative list with keys has an element that omits key field ${JSON.stringify(missing)} (and doesn't have default value)`,
    );
  }
  return pe;
}

/** addFields adds the fields of value v (found at path) to out: leaves, list items, empty maps and atomic values. */
function addFields(v: unknown, fm: FieldMeta | undefined, path: string[], out: FieldSet): void {
  if (v === null || typeof v !== 'object' || fm?.atomic) {
    out.add(pathKey(path));
    return;
  }
  if (Array.isArray(v)) {
    const lt = listTypeOf(fm);
    if (lt === 'atomic') {
      out.add(pathKey(path));
      return;
    }
    v.forEach((item, i) => {
      const p = [...path, itemElement(item, fm, lt) ?? `i:${i}`];
      out.add(pathKey(p));
      if (lt === 'map' && isMap(item)) addMapFields(item, fm?.type, p, out);
    });
    return;
  }
  if (Object.keys(v).length === 0) out.add(pathKey(path));
  else addMapFields(v as JsonMap, fm?.type, path, out);
}

function addMapFields(m: JsonMap, type: string | undefined, path: string[], out: FieldSet): void {
  for (const [k, v] of Object.entries(m)) addFields(v, fieldMeta(type, k), [...path, `f:${k}`], out);
}

const STRIPPED_META = ['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'clusterName', 'generation', 'managedFields', 'resourceVersion'];

/** managedPart is the part of an object whose fields are managed: no apiVersion/kind, no identity metadata, none of `reset`. */
function managedPart(obj: JsonMap | undefined, reset: readonly string[] = []): JsonMap {
  if (!obj) return {};
  const out: JsonMap = { ...obj };
  delete out.apiVersion;
  delete out.kind;
  for (const k of reset) delete out[k];
  if (isMap(out.metadata)) {
    const meta: JsonMap = { ...out.metadata };
    for (const k of STRIPPED_META) delete meta[k];
    if (Object.keys(meta).length === 0) delete out.metadata;
    else out.metadata = meta;
  }
  return out;
}

function fieldsOf(obj: JsonMap | undefined, type: string): FieldSet {
  const out: FieldSet = new Set();
  addMapFields(managedPart(obj), type, [], out);
  return out;
}

interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

/** compare finds the fields added, modified and removed going from a to b (as structured-merge-diff's Compare), top-level fields in `reset` aside. */
function compare(a: JsonMap | undefined, b: JsonMap | undefined, type: string, reset: readonly string[] = []): Comparison {
  const res: Comparison = { added: new Set(), modified: new Set(), removed: new Set() };
  compareMaps(managedPart(a, reset), managedPart(b, reset), type, [], res);
  return res;
}

function compareMaps(a: JsonMap, b: JsonMap, type: string | undefined, path: string[], res: Comparison): void {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    // a part the two objects share (a status write keeps the stored spec) has no changes to find
    if (a[k] === b[k] && hasOwn(a, k) && hasOwn(b, k)) continue;
    const p = [...path, `f:${k}`];
    const fm = fieldMeta(type, k);
    if (!hasOwn(b, k)) addFields(a[k], fm, p, res.removed);
    else if (!hasOwn(a, k)) addFields(b[k], fm, p, res.added);
    else compareValues(a[k], b[k], fm, p, res);
  }
}

function compareValues(a: unknown, b: unknown, fm: FieldMeta | undefined, path: string[], res: Comparison): void {
  if (a === b) return;
  const container = (v: unknown) => typeof v === 'object' && v !== null && !fm?.atomic;
  if (!container(a) || !container(b) || Array.isArray(a) !== Array.isArray(b)) {
    if (deepEqual(a, b)) return;
    if (!container(a) && !container(b)) res.modified.add(pathKey(path));
    else {
      addFields(a, fm, path, res.removed);
      addFields(b, fm, path, res.added);
    }
    return;
  }
  if (isMap(a) && isMap(b)) {
    if (Object.keys(a).length === 0 || Object.keys(b).length === 0) {
      if (!deepEqual(a, b)) {
        addFields(a, fm, path, res.removed);
        addFields(b, fm, path, res.added);
      }
      return;
    }
    compareMaps(a, b, fm?.type, path, res);
    return;
  }
  const la = a as unknown[];
  const lb = b as unknown[];
  const lt = listTypeOf(fm);
  if (lt === 'atomic') {
    if (!deepEqual(la, lb)) res.modified.add(pathKey(path));
    return;
  }
  const index = (l: unknown[]) => new Map(l.map((item, i) => [itemElement(item, fm, lt) ?? `i:${i}`, item]));
  const ia = index(la);
  const ib = index(lb);
  for (const [pe, item] of ia) {
    const p = [...path, pe];
    if (!ib.has(pe)) {
      res.removed.add(pathKey(p));
      if (lt === 'map' && isMap(item)) addMapFields(item, fm?.type, p, res.removed);
    } else if (lt === 'map' && isMap(item) && isMap(ib.get(pe))) {
      compareMaps(item, ib.get(pe) as JsonMap, fm?.type, p, res);
    }
  }
  for (const [pe, item] of ib) {
    if (ia.has(pe)) continue;
    const p = [...path, pe];
    res.added.add(pathKey(p));
    if (lt === 'map' && isMap(item)) addMapFields(item, fm?.type, p, res.added);
  }
}

const ELEMENT_RANK: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

function compareElements(a: string, b: string): number {
  const ra = ELEMENT_RANK[a[0]] ?? 9;
  const rb = ELEMENT_RANK[b[0]] ?? 9;
  if (ra !== rb) return ra - rb;
  return a < b ? -1 : a > b ? 1 : 0;
}

interface FieldTree {
  member: boolean;
  children: Map<string, FieldTree>;
}

/** toFieldsV1 encodes a field set as FieldsV1 JSON with sorted keys; `.` marks a node that is itself a member. */
function toFieldsV1(set: FieldSet): JsonMap {
  const root: FieldTree = { member: false, children: new Map() };
  for (const key of set) {
    let node = root;
    for (const pe of pathOf(key)) {
      let next = node.children.get(pe);
      if (!next) node.children.set(pe, (next = { member: false, children: new Map() }));
      node = next;
    }
    node.member = true;
  }
  const encode = (node: FieldTree): JsonMap => {
    const out: JsonMap = {};
    if (node.member && node.children.size > 0) out['.'] = {};
    for (const pe of [...node.children.keys()].sort(compareElements)) setKey(out, pe, encode(node.children.get(pe)!));
    return out;
  };
  return encode(root);
}

function fromFieldsV1(v: unknown, path: string[] = [], out: FieldSet = new Set()): FieldSet {
  if (!isMap(v)) return out;
  for (const [pe, child] of Object.entries(v)) {
    if (pe === '.') {
      if (path.length) out.add(pathKey(path));
      continue;
    }
    const p = [...path, pe];
    if (!isMap(child) || Object.keys(child).length === 0) out.add(pathKey(p));
    else fromFieldsV1(child, p, out);
  }
  return out;
}

/** fieldPathString prints a path as structured-merge-diff does: `.spec.containers[name="c"].image`, `[="x"]`. */
function fieldPathString(path: string[]): string {
  return path
    .map((pe) => {
      const body = pe.slice(2);
      if (pe.startsWith('f:')) return `.${body}`;
      if (pe.startsWith('k:')) {
        const key = JSON.parse(body) as JsonMap;
        return `[${Object.keys(key).map((k) => `${k}=${JSON.stringify(key[k])}`).join(',')}]`;
      }
      if (pe.startsWith('v:')) return `[=${body}]`;
      return `[${body}]`;
    })
    .join('');
}

// ---------------------------------------------------------------------------------------------------------------
// managers

interface Manager {
  manager: string;
  operation: string;
  apiVersion?: string;
  subresource?: string;
  time?: string;
  set: FieldSet;
}

/** managerId identifies a managedFields entry as upstream does: Apply entries by manager, Update entries also by apiVersion. */
function managerId(m: { manager?: string; operation?: string; apiVersion?: string; subresource?: string }): string {
  return JSON.stringify([m.manager ?? '', m.operation ?? '', m.operation === 'Apply' ? '' : (m.apiVersion ?? ''), m.subresource ?? '']);
}

function decodeManagers(entries: unknown): Manager[] {
  const byId = new Map<string, Manager>();
  if (!Array.isArray(entries)) return [];
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  for (const raw of entries as unknown[]) {
    if (!isMap(raw)) continue;
    const e = raw as ManagedFieldsEntry;
    const m: Manager = {
      manager: str(e.manager) ?? '',
      operation: str(e.operation) ?? 'Update',
      apiVersion: str(e.apiVersion),
      subresource: str(e.subresource),
      time: str(e.time),
      set: fromFieldsV1(e.fieldsV1),
    };
    const id = managerId(m);
    const prev = byId.get(id);
    if (prev) for (const p of m.set) prev.set.add(p);
    else byId.set(id, m);
  }
  return [...byId.values()];
}

/** encodeManagers writes managers as managedFields entries, sorted as upstream sorts them (operation, time, manager). */
function encodeManagers(managers: Manager[]): ManagedFieldsEntry[] {
  return managers
    .filter((m) => m.set.size > 0)
    .sort(
      (a, b) =>
        cmp(a.operation, b.operation) ||
        cmp(a.time ?? '', b.time ?? '') ||
        cmp(a.manager, b.manager) ||
        cmp(a.apiVersion ?? '', b.apiVersion ?? '') ||
        cmp(a.subresource ?? '', b.subresource ?? ''),
    )
    .map((m) => {
      const e: ManagedFieldsEntry = { manager: m.manager, operation: m.operation };
      if (m.apiVersion) e.apiVersion = m.apiVersion;
      if (m.time) e.time = m.time;
      e.fieldsType = 'FieldsV1';
      e.fieldsV1 = toFieldsV1(m.set);
      if (m.subresource) e.subresource = m.subresource;
      return e;
    });
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sameSet(a: FieldSet, b: FieldSet): boolean {
  return a.size === b.size && [...a].every((p) => b.has(p));
}

function withManagedFields(obj: JsonMap, managers: Manager[]): KubeObject {
  return withEntries(obj, encodeManagers(managers));
}

/**
 * updateManagedFields records an ordinary write (create, update, patch) by `manager`: its Update entry gains the fields
 * the write added or changed, other managers lose them, and fields the write removed are owned by nobody.
 * A request that carries its own managedFields list sets the base (upstream lets a client reset them with `[]`).
 * `reset` names the top-level fields the endpoint's writes never own (upstream's reset fields: a pod's status for
 * the main resource, its spec for /status): changes there are nobody's.
 */
export function updateManagedFields(
  old: KubeObject | undefined,
  next: KubeObject,
  manager: string,
  operation: 'Update',
  now: string,
  subresource?: string,
  reset: readonly string[] = [],
): KubeObject {
  const type = rootTypeOf(kindOf(next ?? old));
  const fromRequest = Array.isArray(next.metadata?.managedFields);
  const base = fromRequest ? next.metadata.managedFields : old?.metadata?.managedFields;
  const diff = compare(old as JsonMap | undefined, next as JsonMap, type, reset);
  const changed = new Set([...diff.added, ...diff.modified]);
  const id = managerId({ manager, operation, apiVersion: next.apiVersion, subresource });
  // the common write (a status update, a binding) touches a few fields of a stored object whose managedFields this
  // server wrote: only the entries that own a touched field (and the writer's own) are decoded and encoded again.
  // A request that sends them back unchanged (a PUT of what it read, a patch, a status write) is such a write too.
  const asStored = !fromRequest || (Array.isArray(old?.metadata?.managedFields) && deepEqual(base, old.metadata.managedFields));
  if (asStored && Array.isArray(base)) {
    const fast = updateStoredManagers(base as ManagedFieldsEntry[], changed, diff.removed, id, { manager, operation, apiVersion: next.apiVersion, subresource }, now);
    if (fast) return withEntries(next as JsonMap, fast);
  }
  const managers = decodeManagers(base);
  for (const m of managers) {
    if (managerId(m) === id) continue;
    for (const p of changed) m.set.delete(p);
    for (const p of diff.removed) m.set.delete(p);
  }
  let self = managers.find((m) => managerId(m) === id);
  if (!self) {
    self = { manager, operation, apiVersion: next.apiVersion, subresource, set: new Set() };
    managers.push(self);
  }
  const before = new Set(self.set);
  for (const p of changed) self.set.add(p);
  for (const p of diff.removed) self.set.delete(p);
  if (!sameSet(before, self.set) || !self.time) self.time = now;
  return withManagedFields(next as JsonMap, managers);
}

/** withEntries is `obj` (shallow) with these managedFields entries; none = no managedFields. */
function withEntries(obj: JsonMap, entries: ManagedFieldsEntry[]): KubeObject {
  const meta: JsonMap = { ...(isMap(obj.metadata) ? obj.metadata : {}) };
  if (entries.length) meta.managedFields = entries;
  else delete meta.managedFields;
  return { ...obj, metadata: meta } as KubeObject;
}

/** hasField reports whether a FieldsV1 tree holds the path (a leaf `{}`, or a node marked with `.`). */
function hasField(tree: unknown, path: string[]): boolean {
  let node = tree;
  for (const pe of path) {
    if (!isMap(node) || !hasOwn(node, pe)) return false;
    node = node[pe];
  }
  return isMap(node) && (Object.keys(node).length === 0 || hasOwn(node, '.'));
}

const ENTRY_KEYS = new Set(['manager', 'operation', 'apiVersion', 'time', 'fieldsType', 'fieldsV1', 'subresource']);

/** canonicalEntry: an entry as encodeManagers writes it (so it can be kept as it is). */
function canonicalEntry(e: unknown): e is ManagedFieldsEntry {
  if (!isMap(e) || e.fieldsType !== 'FieldsV1' || !isMap(e.fieldsV1) || Object.keys(e.fieldsV1).length === 0) return false;
  if (typeof e.manager !== 'string' || typeof e.operation !== 'string' || e.operation === '') return false;
  for (const k of Object.keys(e)) {
    if (!ENTRY_KEYS.has(k)) return false;
    if (k !== 'fieldsV1' && k !== 'manager' && (typeof e[k] !== 'string' || e[k] === '')) return false;
  }
  return true;
}

const entryOrder = (a: ManagedFieldsEntry, b: ManagedFieldsEntry) =>
  cmp(a.operation ?? '', b.operation ?? '') ||
  cmp(a.time ?? '', b.time ?? '') ||
  cmp(a.manager ?? '', b.manager ?? '') ||
  cmp(a.apiVersion ?? '', b.apiVersion ?? '') ||
  cmp(a.subresource ?? '', b.subresource ?? '');

/**
 * updateStoredManagers is updateManagedFields over entries this server encoded: entries that own none of the touched
 * fields are kept as they are, the others decoded, changed and encoded. Undefined when the entries are not in the
 * form encodeManagers writes (then the general path runs), so the result is always the one the general path gives.
 */
function updateStoredManagers(
  entries: ManagedFieldsEntry[],
  changed: FieldSet,
  removed: FieldSet,
  id: string,
  self: Omit<Manager, 'set' | 'time'>,
  now: string,
): ManagedFieldsEntry[] | undefined {
  const ids = new Set<string>();
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (!canonicalEntry(e)) return undefined;
    const eid = managerId(e);
    if (ids.has(eid)) return undefined;
    ids.add(eid);
    if (i > 0 && entryOrder(entries[i - 1], e) > 0) return undefined;
  }
  const touched = [...changed, ...removed].map(pathOf);
  const changedPaths = [...changed].map(pathOf);
  const removedPaths = [...removed].map(pathOf);
  const out: ManagedFieldsEntry[] = [];
  let reordered = false;
  let sawSelf = false;
  for (const e of entries) {
    if (managerId(e) === id) {
      sawSelf = true;
      const grows = changedPaths.some((p) => !hasField(e.fieldsV1, p));
      const shrinks = removedPaths.some((p) => hasField(e.fieldsV1, p));
      if (!grows && !shrinks && e.time) {
        out.push(e);
        continue;
      }
      const [m] = decodeManagers([e]);
      for (const p of changed) m.set.add(p);
      for (const p of removed) m.set.delete(p);
      // the set changed (or the entry had no time): it is stamped now
      m.time = now;
      out.push(...encodeManagers([m]));
      reordered = true;
      continue;
    }
    if (!touched.some((p) => hasField(e.fieldsV1, p))) {
      out.push(e);
      continue;
    }
    const [m] = decodeManagers([e]);
    for (const p of changed) m.set.delete(p);
    for (const p of removed) m.set.delete(p);
    out.push(...encodeManagers([m]));
  }
  if (!sawSelf && changed.size > 0) {
    const m: Manager = { ...self, time: now, set: new Set(changed) };
    for (const p of removed) m.set.delete(p);
    out.push(...encodeManagers([m]));
    reordered = true;
  }
  if (reordered) out.sort(entryOrder);
  return out;
}

function kindOf(obj: KubeObject | undefined): PatchKind {
  const apiVersion = obj?.apiVersion ?? '';
  const slash = apiVersion.indexOf('/');
  return { group: slash < 0 ? '' : apiVersion.slice(0, slash), kind: obj?.kind ?? '' };
}

// ---------------------------------------------------------------------------------------------------------------
// server-side apply

/** ApplyConflict is one field another manager owns with a different value; operation/apiVersion word the message. */
export interface ApplyConflict {
  manager: string;
  field: string;
  operation?: string;
  apiVersion?: string;
  subresource?: string;
}

export interface ApplyOptions {
  manager: string;
  force: boolean;
  kind: PatchKind;
  now: string;
}

/**
 * serverSideApply merges an apply configuration into the live object (undefined: create) as `kubectl apply
 * --server-side` expects: keyed lists merge by key, fields this manager applied before but left out now are removed
 * unless another manager owns them, and a field another manager owns with a different value is a conflict — unless
 * force, which moves its ownership. With conflicts (and no force) the object is the live one, unchanged; a forced
 * apply reports no conflicts.
 */
export function serverSideApply(
  live: KubeObject | undefined,
  applied: KubeObject,
  opts: ApplyOptions,
): { object: KubeObject; conflicts: ApplyConflict[] } {
  if (!isMap(applied)) throw badRequest(`json: cannot unmarshal ${jsonTypeName(applied)} into Go value of type map[string]interface {}`);
  const type = rootTypeOf(opts.kind);
  const rootFm: FieldMeta = { type };
  const config = discardNulls(applied) as JsonMap;
  delete config.status;
  if (isMap(config.metadata)) delete config.metadata.managedFields;

  const managers = decodeManagers(live?.metadata?.managedFields);
  if (live && managers.length === 0) {
    const all = fieldsOf(live as JsonMap, type);
    if (all.size) managers.push({ manager: 'before-first-apply', operation: 'Update', apiVersion: live.apiVersion, set: all });
  }
  const id = managerId({ manager: opts.manager, operation: 'Apply' });
  let self = managers.find((m) => managerId(m) === id);
  const lastSet: FieldSet = self?.set ?? new Set();
  const applySet = fieldsOf(config, type);
  checkConfig(config, rootFm, []);

  const liveBody: JsonMap = live ? (clone(live) as JsonMap) : { metadata: {} };
  if (!isMap(liveBody.metadata)) liveBody.metadata = {};
  delete (liveBody.metadata as JsonMap).managedFields;
  let merged = applyMerge(liveBody, config, rootFm) as JsonMap;

  const others = managers.filter((m) => m !== self);
  const owned: FieldSet = new Set(applySet);
  for (const m of others) for (const p of m.set) owned.add(p);
  merged = prune(merged, [...lastSet].filter((p) => !owned.has(p)), owned, type);

  const diff = compare(liveBody, merged, type);
  const changed = new Set([...diff.added, ...diff.modified]);
  const conflicts: ApplyConflict[] = [];
  const conflictSets = new Map<Manager, string[]>();
  for (const m of others) {
    const hits = [...m.set].filter((p) => changed.has(p)).sort();
    if (hits.length) conflictSets.set(m, hits);
  }
  for (const [m, hits] of [...conflictSets].sort((a, b) => cmp(managerId(a[0]), managerId(b[0])))) {
    for (const p of hits) {
      const c: ApplyConflict = { manager: m.manager, field: fieldPathString(pathOf(p)), operation: m.operation };
      if (m.apiVersion) c.apiVersion = m.apiVersion;
      if (m.subresource) c.subresource = m.subresource;
      conflicts.push(c);
    }
  }
  if (conflicts.length && !opts.force) return { object: clone(live ?? (applied as KubeObject)), conflicts };

  for (const m of others) {
    for (const p of conflictSets.get(m) ?? []) m.set.delete(p);
    for (const p of diff.removed) m.set.delete(p);
  }
  const objectChanged = diff.added.size + diff.modified.size + diff.removed.size > 0;
  if (!self) {
    self = { manager: opts.manager, operation: 'Apply', set: new Set() };
    managers.push(self);
  }
  const setChanged = !sameSet(self.set, applySet);
  self.set = applySet;
  self.apiVersion = applied.apiVersion ?? self.apiVersion;
  if (objectChanged || setChanged || !self.time) self.time = opts.now;
  return { object: withManagedFields(merged, managers), conflicts: [] };
}

/** checkConfig rejects list items that lack their key fields, and duplicate keys, as upstream's typed conversion does. */
function checkConfig(v: unknown, fm: FieldMeta | undefined, path: string[]): void {
  if (Array.isArray(v)) {
    const lt = listTypeOf(fm);
    if (lt === 'atomic') return;
    const seen = new Set<string>();
    v.forEach((item) => {
      const pe = requireElement(item, fm, lt, path);
      if (seen.has(pe)) throw badRequest(`${fieldPathString(path)}: duplicate entries for key ${fieldPathString([pe])}`);
      seen.add(pe);
      if (lt === 'map') checkConfig(item, { type: fm?.type }, [...path, pe]);
    });
    return;
  }
  if (!isMap(v) || fm?.atomic) return;
  for (const [k, x] of Object.entries(v)) checkConfig(x, fieldMeta(fm?.type, k), [...path, `f:${k}`]);
}

/** applyMerge merges an apply configuration into a live value: maps by key, keyed lists by item key, sets by value. */
function applyMerge(live: unknown, config: unknown, fm: FieldMeta | undefined): unknown {
  if (config === null || typeof config !== 'object' || fm?.atomic) return clone(config);
  if (Array.isArray(config)) {
    const lt = listTypeOf(fm);
    if (lt === 'atomic' || !Array.isArray(live)) return clone(config);
    return mergeList(live, config, fm, lt);
  }
  if (!isMap(live)) return clone(config);
  const out: JsonMap = { ...live };
  for (const [k, v] of Object.entries(config)) setKey(out, k, applyMerge(hasOwn(live, k) ? live[k] : undefined, v, fieldMeta(fm?.type, k)));
  return out;
}

/**
 * mergeList merges a keyed list or set: live-only items keep their places, configured items come in the
 * configuration's order, each shared live item pulling in the configured items before it.
 * Example: live [a, x, b] with config [b, c, a] gives [b, c, a, x].
 */
function mergeList(live: unknown[], config: unknown[], fm: FieldMeta | undefined, lt: ListType): unknown[] {
  const elem = (item: unknown, i: number) => itemElement(item, fm, lt) ?? `i:${i}`;
  const configIds = config.map(elem);
  const liveById = new Map(live.map((item, i) => [elem(item, i), item]));
  const merged = (j: number) => (lt === 'map' ? applyMerge(liveById.get(configIds[j]), config[j], { type: fm?.type }) : clone(config[j]));
  const out: unknown[] = [];
  let next = 0;
  live.forEach((item, i) => {
    const at = configIds.indexOf(elem(item, i));
    if (at < 0) {
      out.push(item);
      return;
    }
    while (next <= at) out.push(merged(next++));
  });
  while (next < config.length) out.push(merged(next++));
  return out;
}

/**
 * prune removes the fields at `paths` from obj (a field this applier dropped and nobody else owns). An item or map
 * some owned field lies under is kept (its dropped leaves go one by one); maps left empty by pruning go too.
 */
function prune(obj: JsonMap, paths: string[], owned: FieldSet, type: string): JsonMap {
  if (paths.length === 0) return obj;
  const out = clone(obj);
  const ownedPrefixes = new Set<string>();
  for (const p of owned) {
    const path = pathOf(p);
    for (let i = 1; i < path.length; i++) ownedPrefixes.add(pathKey(path.slice(0, i)));
  }
  const emptied: string[][] = [];
  for (const key of paths) {
    if (ownedPrefixes.has(key)) continue;
    const path = pathOf(key);
    if (removeAt(out, path, type)) emptied.push(path.slice(0, -1));
  }
  // drop maps the removals left empty, deepest first, unless someone owns them or they are top-level
  emptied.sort((a, b) => b.length - a.length);
  for (let parent of emptied) {
    while (parent.length >= 2) {
      const v = valueAt(out, parent, type);
      if (!isMap(v) || Object.keys(v).length > 0 || owned.has(pathKey(parent))) break;
      removeAt(out, parent, type);
      parent = parent.slice(0, -1);
    }
  }
  return out;
}

/** locate finds the container holding the last element of path, and how to address it there. */
function locate(obj: JsonMap, path: string[], type: string): { holder: JsonMap | unknown[]; at: string | number } | undefined {
  let cur: unknown = obj;
  let fm: FieldMeta | undefined = { type };
  for (let i = 0; i < path.length; i++) {
    const pe = path[i];
    let holder: JsonMap | unknown[];
    let at: string | number;
    if (pe.startsWith('f:')) {
      if (!isMap(cur)) return undefined;
      holder = cur;
      at = pe.slice(2);
      if (!hasOwn(cur, at)) return undefined;
      fm = fieldMeta(fm?.type, at);
    } else {
      if (!Array.isArray(cur)) return undefined;
      const lt = listTypeOf(fm);
      const list = cur;
      holder = list;
      at = list.findIndex((item, j) => (itemElement(item, fm, lt) ?? `i:${j}`) === pe);
      if (at < 0) return undefined;
      fm = { type: fm?.type };
    }
    if (i === path.length - 1) return { holder, at };
    cur = Array.isArray(holder) ? holder[at as number] : holder[at as string];
  }
  return undefined;
}

function valueAt(obj: JsonMap, path: string[], type: string): unknown {
  const loc = locate(obj, path, type);
  if (!loc) return undefined;
  return Array.isArray(loc.holder) ? loc.holder[loc.at as number] : loc.holder[loc.at as string];
}

function removeAt(obj: JsonMap, path: string[], type: string): boolean {
  const loc = locate(obj, path, type);
  if (!loc) return false;
  if (Array.isArray(loc.holder)) loc.holder.splice(loc.at as number, 1);
  else delete loc.holder[loc.at as string];
  return true;
}

/** printManager words a manager as upstream's conflict messages do: `"kubectl"`, `"kube-controller-manager" using apps/v1`. */
function printManager(c: ApplyConflict): string {
  let s = JSON.stringify(c.manager);
  if (c.subresource) s += ` with subresource ${JSON.stringify(c.subresource)}`;
  if (c.operation === 'Update') s += ` using ${c.apiVersion ?? ''}`;
  return s;
}

/**
 * applyConflictError is the 409 upstream answers an apply with conflicts: `Apply failed with 1 conflict: conflict
 * with "kubectl-client-side-apply" using apps/v1: .spec.replicas`, one FieldManagerConflict cause per field.
 */
export function applyConflictError(conflicts: ApplyConflict[], gr?: GroupResource, name?: string): ApiError {
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0])}: ${conflicts[0].field}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const who = printManager(c);
      byManager.set(who, [...(byManager.get(who) ?? []), c.field]);
    }
    const lines: string[] = [];
    for (const who of [...byManager.keys()].sort()) {
      lines.push(`conflicts with ${who}:`);
      for (const f of byManager.get(who)!) lines.push(`- ${f}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  const causes: StatusCause[] = conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printManager(c)}`, field: c.field }));
  const details: Status['details'] = { causes };
  if (name) details.name = name;
  if (gr) {
    if (gr.group) details.group = gr.group;
    details.kind = gr.resource;
  }
  return statusError(409, 'Conflict', message, details);
}
