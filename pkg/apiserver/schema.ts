// schema: typed decoding of a write's object against its kind's Go types (pkg/api/decode): type errors, unknown fields (fieldValidation).
import { DecodeError, decodeTyped } from '../api/decode.ts';
import { apiVersionOf, type ResourceInfo } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';

export { DecodeError };

/**
 * decodeObject checks the object's field types as upstream's decoding into the kind's Go struct does (throws
 * DecodeError with encoding/json's words) and lists paths such as `spec.foo` or `spec.containers[0].imagePullPolicyy`
 * that the kind does not declare; with `prune` it also deletes them from `obj`, as typed decoding drops them.
 * Without type information for the kind it reports nothing.
 */
export function decodeObject(info: ResourceInfo, obj: KubeObject, prune = false): string[] {
  return decodeTyped(apiVersionOf(info), info.kind, obj as unknown as Record<string, unknown>, prune).unknown;
}

/** findUnknownFields is decodeObject's unknown-field list, type errors ignored (for objects already stored). */
export function findUnknownFields(info: ResourceInfo, obj: KubeObject, prune = false): string[] {
  try {
    return decodeObject(info, obj, prune);
  } catch (e) {
    if (e instanceof DecodeError) return [];
    throw e;
  }
}
