// decode: turns Kubernetes protobuf (`k8s\0` + runtime.Unknown) request bodies into the JSON objects a JSON client would send.
import protobuf from 'protobufjs';
import { errors } from '../errors.ts';
import type { KubeObject } from '../types.ts';
import { FIELDS_V1, INT_OR_STRING, MICRO_TIME, QUANTITY, RAW_EXTENSION, TIME, UNKNOWN, jsonField, messageForKind, protoRoot } from './schema.ts';

/** MAGIC opens every Kubernetes protobuf body: "k8s\0". */
export const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** ZERO_TIME_SECONDS is Go's zero time.Time as Unix seconds; metav1.Time sends it for an unset non-pointer time. */
const ZERO_TIME_SECONDS = -62135596800;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** decodeKubernetesProtobuf decodes a whole request body; it throws a 400 ApiError on anything malformed. */
export function decodeKubernetesProtobuf(body: Buffer): KubeObject {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw errors.badRequest('the body of the request is not a Kubernetes protobuf object: missing the "k8s\\x00" prefix');
  }
  let envelope: protobuf.Message & { typeMeta?: { apiVersion?: string; kind?: string }; raw?: Uint8Array; contentEncoding?: string };
  try {
    envelope = protoRoot().lookupType(UNKNOWN).decode(body.subarray(MAGIC.length));
  } catch (e) {
    throw errors.badRequest(`unable to decode the protobuf envelope: ${(e as Error).message}`);
  }
  const apiVersion = envelope.typeMeta?.apiVersion ?? '';
  const kind = envelope.typeMeta?.kind ?? '';
  if (!kind) throw errors.badRequest("Object 'Kind' is missing in the protobuf envelope");
  if (envelope.contentEncoding) throw errors.badRequest(`unsupported protobuf content encoding "${envelope.contentEncoding}"`);
  const type = messageForKind(apiVersion, kind);
  if (!type) throw errors.badRequest(`no kind "${kind}" is registered for version "${apiVersion}"`);
  let msg: protobuf.Message;
  try {
    msg = type.decode(envelope.raw ?? new Uint8Array());
  } catch (e) {
    throw errors.badRequest(`unable to decode ${kind} from protobuf: ${(e as Error).message}`);
  }
  const obj = messageToJson(type, msg) as Record<string, Json>;
  return { apiVersion, kind, ...obj, metadata: (obj.metadata as KubeObject['metadata']) ?? {} };
}

/** messageToJson converts one decoded message to its upstream JSON value (undefined = leave the field out). */
export function messageToJson(type: protobuf.Type, msg: Record<string, any>): Json | undefined {
  switch (type.fullName.slice(1)) {
    case QUANTITY:
      return has(msg, 'string') ? msg.string : '0';
    case INT_OR_STRING:
      return num(msg.type) === 1 ? (msg.strVal ?? '') : num(msg.intVal ?? 0);
    case TIME:
      return formatTime(msg, false);
    case MICRO_TIME:
      return formatTime(msg, true);
    case FIELDS_V1:
    case RAW_EXTENSION:
      return rawJson(msg.Raw ?? msg.raw);
  }
  const out: Record<string, Json> = {};
  for (const f of type.fieldsArray) {
    const jf = jsonField(f);
    if (jf.skip) continue;
    const v = fieldToJson(f, msg, jf.omitempty && !jf.ptr);
    if (v === undefined) continue;
    if (jf.name === '') {
      if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, v);
    } else {
      out[jf.name] = v;
    }
  }
  return out;
}

function fieldToJson(f: protobuf.Field, msg: Record<string, any>, dropZero: boolean): Json | undefined {
  if (f instanceof protobuf.MapField) {
    const m = msg[f.name] as Record<string, unknown> | undefined;
    if (!m || !Object.keys(m).length) return undefined;
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(m)) {
      const j = valueToJson(f, v);
      out[k] = j === undefined ? null : j;
    }
    return out;
  }
  if (f.repeated) {
    const arr = msg[f.name] as unknown[] | undefined;
    if (!arr || !arr.length) return undefined;
    return arr.map((v) => valueToJson(f, v) ?? null);
  }
  if (!has(msg, f.name)) return undefined;
  const v = valueToJson(f, msg[f.name]);
  if (dropZero && !f.resolvedType && (v === '' || v === 0 || v === false)) return undefined;
  return v;
}

function valueToJson(f: protobuf.Field, v: unknown): Json | undefined {
  if (f.resolvedType instanceof protobuf.Type) return messageToJson(f.resolvedType, v as Record<string, any>);
  if (f.resolvedType instanceof protobuf.Enum) return typeof v === 'number' ? (f.resolvedType.valuesById[v] ?? v) : (v as string);
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (typeof v === 'object' && v !== null) return num(v);
  return v as Json;
}

function has(msg: object, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(msg, name);
}

/** num turns protobufjs's int64 values (Long objects) into plain numbers. */
function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number; unsigned?: boolean };
    return protobuf.util.LongBits.from(l as unknown as protobuf.Long).toNumber(l.unsigned);
  }
  return Number(v ?? 0);
}

/**
 * formatTime renders metav1.Time as RFC3339 (`2024-05-01T10:00:00Z`) and MicroTime with 6 fraction digits.
 * Go marshals the zero time as an empty message (older encoders: seconds -62135596800); JSON shows it as null.
 */
export function formatTime(msg: Record<string, any>, micro: boolean): string | null {
  if (!has(msg, 'seconds') && !has(msg, 'nanos')) return null;
  const seconds = num(msg.seconds ?? 0);
  const nanos = num(msg.nanos ?? 0);
  if (seconds === ZERO_TIME_SECONDS && nanos === 0) return null;
  const iso = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (!micro) return `${iso}Z`;
  return `${iso}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`;
}

function rawJson(raw: Uint8Array | undefined): Json | undefined {
  if (!raw || !raw.length) return undefined;
  try {
    return JSON.parse(Buffer.from(raw).toString('utf8')) as Json;
  } catch {
    return undefined;
  }
}
