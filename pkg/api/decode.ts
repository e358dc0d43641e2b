// decode: typed decoding of an object against its kind's Go field types (read from the API .proto descriptors): type errors in encoding/json's words, unknown fields found and pruned.
import protobuf from 'protobufjs';
import { FIELDS_V1, INT_OR_STRING, MICRO_TIME, QUANTITY, RAW_EXTENSION, TIME, jsonField, messageForKind } from './protobuf/index.ts';
import { isQuantity } from './quantity.ts';

/**
 * TypeNode is one Go type as encoding/json decodes into it. `go` is the type's name as Go prints it in errors
 * (`int32`, `[]string`, `map[string]string`, `v1.PodSpec`); `name` a struct's bare name (`PodSpec`).
 */
export type TypeNode =
  | { k: 'int'; go: 'int32' | 'int64' | 'uint32' | 'uint64'; min: number; max: number }
  | { k: 'float' | 'bool' | 'string' | 'bytes'; go: string }
  | { k: 'quantity' | 'intstr' | 'time' | 'any'; go: string }
  | { k: 'list' | 'map'; go: string; elem: TypeNode }
  | { k: 'struct'; go: string; name: string; fields: Map<string, TypeNode> };

/** DecodeError is a value that does not decode into its Go type; `message` is upstream's (`json: cannot unmarshal …`). */
export class DecodeError extends Error {}

/**
 * MAX_DEPTH is the deepest nesting of objects and arrays a body may have. Upstream's decoder allows 10,000; V8's
 * structuredClone and JSON.stringify overflow the stack near 2,000, so kubeling stops at 1,000 (built-in kinds nest
 * about 15 deep).
 */
export const MAX_DEPTH = 1000;

const QUANTITY_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const INT = {
  int32: { min: -(2 ** 31), max: 2 ** 31 - 1 },
  uint32: { min: 0, max: 2 ** 32 - 1 },
  // the largest doubles below 2^63 and 2^64 (2^63 - 1 itself rounds up to 2^63)
  int64: { min: -(2 ** 63), max: 2 ** 63 - 1024 },
  uint64: { min: 0, max: 2 ** 64 - 2048 },
} as const;

/** goPackage is the Go package name of a proto package: k8s.io.api.core.v1 → v1, …api.resource → resource. */
function goPackage(t: protobuf.Type): string {
  const parts = t.fullName.slice(1).split('.');
  return parts[parts.length - 2];
}

const structs = new Map<protobuf.Type, TypeNode>();

/** structNode is the (memoised, so recursive types terminate) node of a message. */
function structNode(t: protobuf.Type): TypeNode {
  let n = structs.get(t);
  if (n) return n;
  switch (t.fullName.slice(1)) {
    case QUANTITY:
      n = { k: 'quantity', go: 'resource.Quantity' };
      break;
    case INT_OR_STRING:
      n = { k: 'intstr', go: 'intstr.IntOrString' };
      break;
    case TIME:
      n = { k: 'time', go: 'v1.Time' };
      break;
    case MICRO_TIME:
      n = { k: 'time', go: 'v1.MicroTime' };
      break;
    case FIELDS_V1:
    case RAW_EXTENSION:
      n = { k: 'any', go: `${goPackage(t)}.${t.name}` };
      break;
  }
  if (n) {
    structs.set(t, n);
    return n;
  }
  const fields = new Map<string, TypeNode>();
  n = { k: 'struct', go: `${goPackage(t)}.${t.name}`, name: t.name, fields };
  structs.set(t, n);
  addFields(t, fields);
  return n;
}

/** addFields fills a struct's JSON fields, inline (embedded) members joining the parent as Go's decoder does. */
function addFields(t: protobuf.Type, fields: Map<string, TypeNode>): void {
  for (const f of t.fieldsArray) {
    const jf = jsonField(f);
    if (jf.skip) continue;
    if (jf.name === '' && f.resolvedType instanceof protobuf.Type) {
      addFields(f.resolvedType, fields);
      continue;
    }
    const v = valueNode(f);
    if (f instanceof protobuf.MapField) fields.set(jf.name, { k: 'map', go: `map[string]${v.go}`, elem: v });
    else if (f.repeated) fields.set(jf.name, { k: 'list', go: `[]${v.go}`, elem: v });
    else fields.set(jf.name, v);
  }
}

function valueNode(f: protobuf.Field): TypeNode {
  if (f.resolvedType instanceof protobuf.Type) return structNode(f.resolvedType);
  switch (f.type) {
    case 'int32': case 'sint32': case 'sfixed32':
      return { k: 'int', go: 'int32', ...INT.int32 };
    case 'uint32': case 'fixed32':
      return { k: 'int', go: 'uint32', ...INT.uint32 };
    case 'int64': case 'sint64': case 'sfixed64':
      return { k: 'int', go: 'int64', ...INT.int64 };
    case 'uint64': case 'fixed64':
      return { k: 'int', go: 'uint64', ...INT.uint64 };
    case 'bool':
      return { k: 'bool', go: 'bool' };
    case 'double':
      return { k: 'float', go: 'float64' };
    case 'float':
      return { k: 'float', go: 'float32' };
    case 'bytes':
      return { k: 'bytes', go: '[]uint8' };
  }
  return { k: 'string', go: 'string' }; // strings and enums
}

const kinds = new Map<string, TypeNode | null>();

/** kindType is the struct node of a kind (`apps/v1`, `Deployment`), or undefined when no descriptor describes it. */
export function kindType(apiVersion: string, kind: string): TypeNode | undefined {
  const key = `${apiVersion}/${kind}`;
  let n = kinds.get(key);
  if (n === undefined) {
    const t = messageForKind(apiVersion, kind);
    n = t ? structNode(t) : null;
    kinds.set(key, n);
  }
  return n ?? undefined;
}

/** DecodeResult lists the unknown fields found (`spec.containers[0].foo`), pruned from the object when asked. */
export interface DecodeResult {
  unknown: string[];
}

/**
 * decodeTyped checks `obj` against its kind's Go types, as upstream's decoding into typed objects does: the first
 * value of the wrong type throws DecodeError with encoding/json's message, e.g. `json: cannot unmarshal string into
 * Go struct field DeploymentSpec.spec.replicas of type int32` (the struct is the innermost one, the path names JSON
 * fields without list indexes or map keys). Unknown fields are returned, and deleted when `prune`. Keys are matched
 * as own properties only, so `__proto__` or `constructor` are unknown like any other name. Without a descriptor for
 * the kind nothing is checked.
 */
export function decodeTyped(apiVersion: string, kind: string, obj: Record<string, unknown>, prune: boolean): DecodeResult {
  const root = kindType(apiVersion, kind);
  const out: DecodeResult = { unknown: [] };
  if (!root || root.k !== 'struct') return out;
  new Walker(out.unknown, prune).struct(obj, root, true);
  return out;
}

/** Walker carries the paths of one walk: `path` for unknown fields (with indexes), `goPath` for Go's error context. */
class Walker {
  private readonly path: (string | number)[] = [];
  private readonly goPath: string[] = [];
  private structName = '';
  private depth = 0;
  private readonly unknown: string[];
  private readonly prune: boolean;
  constructor(unknown: string[], prune: boolean) {
    this.unknown = unknown;
    this.prune = prune;
  }

  struct(obj: Record<string, unknown>, node: Extract<TypeNode, { k: 'struct' }>, root = false): void {
    const saved = this.structName;
    for (const k of Object.keys(obj)) {
      const sub = node.fields.get(k);
      if (!sub) {
        if (root && (k === 'apiVersion' || k === 'kind')) {
          this.structName = node.name;
          this.goPath.push(k);
          if (typeof obj[k] !== 'string' && obj[k] !== null) this.fail(obj[k], 'string');
          this.goPath.pop();
          continue;
        }
        this.path.push(k);
        this.unknown.push(this.pathString());
        this.path.pop();
        if (this.prune) delete obj[k];
        continue;
      }
      this.structName = node.name;
      this.path.push(k);
      this.goPath.push(k);
      this.value(obj[k], sub);
      this.goPath.pop();
      this.path.pop();
    }
    this.structName = saved;
  }

  value(v: unknown, node: TypeNode): void {
    if (v === null || v === undefined) return;
    switch (node.k) {
      case 'struct':
        if (typeof v !== 'object' || Array.isArray(v)) return this.fail(v, node.go);
        if (++this.depth > MAX_DEPTH) throw new DecodeError('json: exceeded max depth');
        this.struct(v as Record<string, unknown>, node);
        this.depth--;
        return;
      case 'list': {
        if (!Array.isArray(v)) return this.fail(v, node.go);
        if (node.elem.k === 'string' || node.elem.k === 'int') {
          for (let i = 0; i < v.length; i++) if (!this.scalarOk(v[i], node.elem)) this.fail(v[i], node.elem.go);
          return;
        }
        for (let i = 0; i < v.length; i++) {
          this.path.push(i);
          this.value(v[i], node.elem);
          this.path.pop();
        }
        return;
      }
      case 'map': {
        if (typeof v !== 'object' || Array.isArray(v)) return this.fail(v, node.go);
        const m = v as Record<string, unknown>;
        if (node.elem.k === 'string') {
          for (const k of Object.keys(m)) if (typeof m[k] !== 'string' && m[k] !== null) this.fail(m[k], 'string');
          return;
        }
        for (const k of Object.keys(m)) {
          this.path.push(k);
          this.value(m[k], node.elem);
          this.path.pop();
        }
        return;
      }
      case 'string':
      case 'int':
      case 'bool':
      case 'float':
        if (!this.scalarOk(v, node)) this.fail(v, node.go);
        return;
      case 'bytes':
        if (typeof v !== 'string') return this.fail(v, node.go);
        checkBase64(v);
        return;
      case 'quantity':
        if (!isQuantity(v)) throw new DecodeError(QUANTITY_MESSAGE);
        return;
      case 'intstr':
        if (typeof v === 'string') return;
        if (typeof v !== 'number') throw new DecodeError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type int32`);
        if (!Number.isInteger(v) || v < INT.int32.min || v > INT.int32.max) throw new DecodeError(`json: cannot unmarshal number ${v} into Go value of type int32`);
        return;
      case 'time':
        if (typeof v !== 'string') throw new DecodeError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type string`);
        if (!RFC3339.test(v)) throw new DecodeError(`parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(v)} as "2006"`);
        return;
      case 'any':
        return;
    }
  }

  private scalarOk(v: unknown, node: TypeNode): boolean {
    switch (node.k) {
      case 'string':
        return typeof v === 'string' || v === null;
      case 'bool':
        return typeof v === 'boolean' || v === null;
      case 'float':
        return typeof v === 'number' || v === null;
      case 'int':
        return v === null || (typeof v === 'number' && Number.isInteger(v) && v >= node.min && v <= node.max);
    }
    return true;
  }

  /** fail throws Go's UnmarshalTypeError text for `v` met where `goType` was wanted. */
  private fail(v: unknown, goType: string): never {
    // a number is named with its text only where it was meant for an integer (out of range, or not whole)
    const what = typeof v === 'number' && /^u?int\d+$/.test(goType) ? `number ${v}` : jsonKind(v);
    const where = this.goPath.length ? `Go struct field ${this.structName}.${this.goPath.join('.')}` : 'Go value';
    throw new DecodeError(`json: cannot unmarshal ${what} into ${where} of type ${goType}`);
  }

  private pathString(): string {
    let s = '';
    for (const p of this.path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
    return s;
  }
}

/** jsonKind is how encoding/json names a JSON value's kind in errors. */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

/** checkBase64 decodes as Go's base64.StdEncoding does for []byte fields (CR and LF ignored). */
function checkBase64(s: string): void {
  const t = s.includes('\n') || s.includes('\r') ? s.replace(/[\r\n]/g, '') : s;
  if (t.length % 4 === 0 && BASE64.test(t)) return;
  let i = 0;
  while (i < t.length && /[A-Za-z0-9+/]/.test(t[i])) i++;
  if (i === t.length) i = t.length - (t.length % 4);
  throw new DecodeError(`illegal base64 data at input byte ${i}`);
}

/**
 * jsonDepth is the deepest nesting of objects and arrays in a JSON text (strings skipped), in one pass over the
 * bytes, so a body can be refused before a recursive step meets it.
 */
export function jsonDepth(text: Buffer | string): number {
  const b = typeof text === 'string' ? Buffer.from(text) : text;
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** valueDepth is the deepest nesting of a parsed value, without recursion (for YAML documents). */
export function valueDepth(v: unknown, limit = MAX_DEPTH): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d + 1 > max) max = d + 1;
    if (max > limit) return max;
    for (const c of Array.isArray(x) ? x : Object.values(x)) if (typeof c === 'object' && c !== null) stack.push([c, d + 1]);
  }
  return max;
}
