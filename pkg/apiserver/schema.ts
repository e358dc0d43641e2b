// schema: finds fields an object carries that its kind's OpenAPI schema does not know (fieldValidation).
import type { ResourceInfo } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { openapiGroupVersion } from './openapi.ts';

type Schema = {
  $ref?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  allOf?: Schema[];
  type?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
};

const rootCache = new Map<string, { root: Schema; schemas: Record<string, Schema> } | null>();

function rootSchema(info: ResourceInfo): { root: Schema; schemas: Record<string, Schema> } | null {
  const key = `${info.group}/${info.version}/${info.kind}`;
  if (rootCache.has(key)) return rootCache.get(key)!;
  const doc = openapiGroupVersion(info.group, info.version) as { components?: { schemas?: Record<string, Schema> } } | undefined;
  const schemas = doc?.components?.schemas ?? {};
  let found: { root: Schema; schemas: Record<string, Schema> } | null = null;
  for (const s of Object.values(schemas)) {
    const gvk = s['x-kubernetes-group-version-kind'];
    if (gvk?.some((g) => g.group === info.group && g.version === info.version && g.kind === info.kind) && s.properties) {
      found = { root: s, schemas };
      break;
    }
  }
  rootCache.set(key, found);
  return found;
}

function resolve(s: Schema | undefined, schemas: Record<string, Schema>): Schema | undefined {
  let cur = s;
  for (let i = 0; cur && i < 8; i++) {
    if (cur.$ref) cur = schemas[cur.$ref.replace('#/components/schemas/', '')];
    else if (cur.allOf?.length === 1 && !cur.properties) cur = cur.allOf[0];
    else break;
  }
  return cur;
}

/**
 * findUnknownFields lists paths such as `spec.foo` or `spec.containers[0].imagePullPolicyy` that the schema of
 * the object's kind does not declare. Without a schema for the kind it reports nothing. With `prune` it also
 * deletes them from `obj`, as upstream's decoding into typed objects drops them.
 */
export function findUnknownFields(info: ResourceInfo, obj: KubeObject, prune = false): string[] {
  const r = rootSchema(info);
  if (!r) return [];
  const out: string[] = [];
  walk(obj, r.root, '', r.schemas, out, prune);
  return out;
}

function walk(value: unknown, schema: Schema | undefined, path: string, schemas: Record<string, Schema>, out: string[], prune: boolean): void {
  const s = resolve(schema, schemas);
  if (!s || value === null || value === undefined || s['x-kubernetes-preserve-unknown-fields']) return;
  if (Array.isArray(value)) {
    if (s.items) value.forEach((v, i) => walk(v, s.items, `${path}[${i}]`, schemas, out, prune));
    return;
  }
  if (typeof value !== 'object') return;
  if (s.properties) {
    for (const [k, v] of Object.entries(value)) {
      const p = path ? `${path}.${k}` : k;
      const sub = s.properties[k];
      if (!sub) {
        if (path === '' && (k === 'apiVersion' || k === 'kind')) continue;
        out.push(p);
        if (prune) delete (value as Record<string, unknown>)[k];
        continue;
      }
      walk(v, sub, p, schemas, out, prune);
    }
  } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    for (const [k, v] of Object.entries(value)) walk(v, s.additionalProperties as Schema, path ? `${path}.${k}` : k, schemas, out, prune);
  }
}
