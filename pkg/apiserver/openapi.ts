// openapi: the OpenAPI v3 documents kubectl reads (/openapi/v3 and one per group-version), built once from the API .proto descriptors.
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { FIELDS_V1, INT_OR_STRING, MICRO_TIME, QUANTITY, RAW_EXTENSION, TIME, jsonField, messageForKind, protoRoot } from '../api/protobuf/index.ts';
import { RESOURCES, apiVersionOf, groupVersions, type ResourceInfo } from '../api/resources.ts';

type Schema = Record<string, unknown>;

const VERSION = 'v1.32.0';
const PATCH_SCHEMA = 'io.k8s.apimachinery.pkg.apis.meta.v1.Patch';
const API_VERSION_DOC = 'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources';
const KIND_DOC = 'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds';

/** gvPath is the key a group-version has under /openapi/v3: `api/v1`, `apis/apps/v1`. */
export function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

/** schemaName turns a proto message name into upstream's schema name: k8s.io.api.core.v1.Pod → io.k8s.api.core.v1.Pod. */
export function schemaName(type: protobuf.Type): string {
  return type.fullName.slice(1).replace(/^k8s\.io\./, 'io.k8s.');
}

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

function withDoc(s: Schema, doc: string | null | undefined): Schema {
  return doc ? { ...s, description: doc } : s;
}

/** specialSchema gives the schemas of types whose JSON is not an object of their proto fields. */
function specialSchema(type: protobuf.Type): Schema | undefined {
  const doc = type.comment ?? undefined;
  switch (type.fullName.slice(1)) {
    case QUANTITY:
      return withDoc({ type: 'string' }, doc);
    case INT_OR_STRING:
      return withDoc({ type: 'string', format: 'int-or-string' }, doc);
    case TIME:
    case MICRO_TIME:
      return withDoc({ type: 'string', format: 'date-time' }, doc);
    case FIELDS_V1:
    case RAW_EXTENSION:
      return withDoc({ type: 'object' }, doc);
  }
  return undefined;
}

function scalarSchema(t: string): Schema {
  switch (t) {
    case 'string': return { type: 'string' };
    case 'bool': return { type: 'boolean' };
    case 'bytes': return { type: 'string', format: 'byte' };
    case 'int32': case 'uint32': case 'sint32': case 'fixed32': return { type: 'integer', format: 'int32' };
    case 'int64': case 'uint64': case 'sint64': case 'fixed64': return { type: 'integer', format: 'int64' };
    case 'double': return { type: 'number', format: 'double' };
    case 'float': return { type: 'number', format: 'float' };
  }
  return {};
}

/** valueSchema is the schema of one (non-repeated) value of a field; messages become references, noted in `refs`. */
function valueSchema(f: protobuf.Field, refs: Set<protobuf.Type>): Schema {
  if (f.resolvedType instanceof protobuf.Type) {
    refs.add(f.resolvedType);
    return ref(schemaName(f.resolvedType));
  }
  return scalarSchema(f.type);
}

/** fieldSchema is a property's schema, with upstream's allOf wrapping so a reference can carry a description. */
function fieldSchema(f: protobuf.Field, refs: Set<protobuf.Type>): Schema {
  let s: Schema;
  if (f instanceof protobuf.MapField) {
    s = { type: 'object', additionalProperties: { ...valueSchema(f, refs), default: f.resolvedType ? {} : '' } };
    if (!f.resolvedType) delete (s.additionalProperties as Schema).default;
  } else if (f.repeated) {
    const items = valueSchema(f, refs);
    s = { type: 'array', items: items.$ref ? { allOf: [items], default: {} } : items };
  } else {
    const v = valueSchema(f, refs);
    s = v.$ref ? { allOf: [v] } : v;
    if (v.$ref && !jsonField(f).ptr) s.default = {};
  }
  s = withDoc(s, f.comment);
  const strategy = f.options?.['(patchStrategy)'];
  const key = f.options?.['(patchMergeKey)'];
  if (key) s['x-kubernetes-patch-merge-key'] = key;
  if (strategy) s['x-kubernetes-patch-strategy'] = strategy;
  return s;
}

/** objectProperties collects a message's JSON properties, merging inline (embedded) members as Go's encoder does. */
function objectProperties(type: protobuf.Type, refs: Set<protobuf.Type>): { properties: Record<string, Schema>; required: string[] } {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const f of type.fieldsArray) {
    const jf = jsonField(f);
    if (jf.skip) continue;
    if (jf.name === '' && f.resolvedType instanceof protobuf.Type) {
      const inner = objectProperties(f.resolvedType, refs);
      Object.assign(properties, inner.properties);
      required.push(...inner.required);
      continue;
    }
    properties[jf.name] = fieldSchema(f, refs);
    if (!jf.omitempty) required.push(jf.name);
  }
  return { properties, required };
}

/** messageSchema is the components.schemas entry of one message. */
export function messageSchema(type: protobuf.Type, refs: Set<protobuf.Type>, kind?: ResourceInfo): Schema {
  const special = specialSchema(type);
  if (special) return special;
  const { properties, required } = objectProperties(type, refs);
  const props = kind ? { apiVersion: { type: 'string', description: API_VERSION_DOC }, kind: { type: 'string', description: KIND_DOC }, ...properties } : properties;
  const s: Schema = withDoc({}, type.comment);
  s.type = 'object';
  s.properties = props;
  if (required.length) s.required = required.sort();
  if (kind) s['x-kubernetes-group-version-kind'] = [{ group: kind.group, kind: kind.kind, version: kind.version }];
  return s;
}

/** schemasFor builds every schema reachable from the given kinds' messages. */
function schemasFor(kinds: ResourceInfo[]): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  const kindOf = new Map<protobuf.Type, ResourceInfo>();
  for (const k of RESOURCES) {
    const t = messageForKind(apiVersionOf(k), k.kind);
    if (t) kindOf.set(t, k);
  }
  const queue: protobuf.Type[] = [];
  for (const k of kinds) {
    const t = messageForKind(apiVersionOf(k), k.kind);
    if (t) queue.push(t);
  }
  const seen = new Set<protobuf.Type>();
  while (queue.length) {
    const t = queue.shift()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const refs = new Set<protobuf.Type>();
    out[schemaName(t)] = messageSchema(t, refs, kindOf.get(t));
    for (const r of refs) if (!seen.has(r)) queue.push(r);
  }
  out[PATCH_SCHEMA] = { type: 'object', description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.' };
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

const queryParam = (name: string, description: string, type = 'string'): Schema => ({ name, in: 'query', description, schema: { type }, uniqueItems: true });
const pathParam = (name: string, description: string): Schema => ({ name, in: 'path', description, required: true, schema: { type: 'string' }, uniqueItems: true });

const DRY_RUN = queryParam('dryRun', 'When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed');
const FIELD_MANAGER = queryParam('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.');
const FIELD_VALIDATION = queryParam('fieldValidation', 'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict');
const FORCE = queryParam('force', 'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.', 'boolean');
const PRETTY = queryParam('pretty', "If 'true', then the output is pretty printed.");

/** resourcePaths is the collection and item paths of one resource, with the operations kubectl looks for. */
function resourcePaths(info: ResourceInfo): Record<string, Schema> {
  const prefix = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
  const collection = info.namespaced ? `${prefix}/namespaces/{namespace}/${info.resource}` : `${prefix}/${info.resource}`;
  const gvk = { group: info.group, version: info.version, kind: info.kind };
  const tag = `${info.group ? info.group.split('.')[0] : 'core'}_${info.version}`;
  const opId = (verb: string) => `${verb}${info.group ? info.group.split('.')[0][0].toUpperCase() + info.group.split('.')[0].slice(1) : 'Core'}${info.version[0].toUpperCase()}${info.version.slice(1)}${info.namespaced ? 'Namespaced' : ''}${info.kind}`;
  const body = { content: { '*/*': { schema: ref(schemaName(messageForKind(apiVersionOf(info), info.kind)!)) } }, required: true };
  const ok = (code: string) => ({ [code]: { description: code === '201' ? 'Created' : 'OK', content: { 'application/json': { schema: ref(schemaName(messageForKind(apiVersionOf(info), info.kind)!)) } } } });
  const common = [
    ...(info.namespaced ? [pathParam('namespace', 'object name and auth scope, such as for teams and projects')] : []),
    PRETTY,
  ];
  const op = (action: string, verb: string, extra: Schema = {}) => ({ tags: [tag], operationId: opId(verb), 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk, ...extra });
  const patchBody = {
    content: Object.fromEntries(['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']
      .map((t) => [t, { schema: ref(PATCH_SCHEMA) }])),
    required: true,
  };
  return {
    [collection]: {
      get: op('list', 'list', { responses: { '200': { description: 'OK' } } }),
      post: op('post', 'create', { parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], requestBody: body, responses: { ...ok('200'), ...ok('201') } }),
      parameters: common,
    },
    [`${collection}/{name}`]: {
      get: op('get', 'read', { responses: ok('200') }),
      put: op('put', 'replace', { parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], requestBody: body, responses: { ...ok('200'), ...ok('201') } }),
      patch: op('patch', 'patch', { parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE], requestBody: patchBody, responses: { ...ok('200'), ...ok('201') } }),
      delete: op('delete', 'delete', { parameters: [DRY_RUN], responses: { '200': { description: 'OK' } } }),
      parameters: [pathParam('name', `name of the ${info.kind}`), ...common],
    },
  };
}

function buildGroupVersion(group: string, version: string): Schema | undefined {
  const kinds = RESOURCES.filter((r) => r.group === group && r.version === version && messageForKind(apiVersionOf(r), r.kind));
  if (!kinds.length) return undefined;
  const paths: Record<string, Schema> = {};
  for (const k of kinds) Object.assign(paths, resourcePaths(k));
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: VERSION },
    paths,
    components: {
      schemas: schemasFor(kinds),
      securitySchemes: { BearerToken: { type: 'apiKey', description: 'Bearer Token authentication', name: 'authorization', in: 'header' } },
    },
  };
}

const docs = new Map<string, { doc: Schema | undefined; hash: string }>();

function cached(group: string, version: string): { doc: Schema | undefined; hash: string } {
  const key = gvPath(group, version);
  let e = docs.get(key);
  if (!e) {
    const doc = buildGroupVersion(group, version);
    const hash = doc ? createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase() : '';
    e = { doc, hash };
    docs.set(key, e);
  }
  return e;
}

/** openapiGroupVersion is the document for GET /openapi/v3/api/v1, /openapi/v3/apis/apps/v1 …; undefined when nothing is served there. */
export function openapiGroupVersion(group: string, version: string): object | undefined {
  return cached(group, version).doc;
}

/** openapiRoot is the index at GET /openapi/v3: one entry per served group-version, with a content hash in the URL. */
export function openapiRoot(): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const { group, version } of groupVersions()) {
    const { doc, hash } = cached(group, version);
    if (doc) paths[gvPath(group, version)] = { serverRelativeURL: `/openapi/v3/${gvPath(group, version)}?hash=${hash}` };
  }
  return { paths };
}

/** OPENAPI_V2_PROTOBUF is the media type kubectl asks /openapi/v2 for (a gnostic openapi_v2.Document). */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

/**
 * openapiV2 is a minimal Swagger 2.0 document without definitions, as JSON and as gnostic protobuf
 * (Document{1 swagger, 2 info{1 title, 2 version}, 8 paths{}}). kubectl 1.20 needs /openapi/v2 to load before
 * `apply`/`create -f` validate; with no definitions it skips client-side schema checks (the server validates)
 * and uses its compiled-in strategic-merge metadata.
 */
export function openapiV2(): { json: object; protobuf: Buffer } {
  const json = { swagger: '2.0', info: { title: 'Kubernetes', version: VERSION }, paths: {} };
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).string(json.swagger);
  w.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 2).string(json.info.title).uint32((2 << 3) | 2).string(json.info.version).ldelim();
  w.uint32((8 << 3) | 2).fork().ldelim();
  return { json, protobuf: Buffer.from(w.finish()) };
}
