// schema: loads the trimmed Kubernetes .proto files once and answers which message a kind is and how its fields map to JSON.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PROTO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'proto');
const PROTO_FILES = ['runtime.proto', 'resource.proto', 'intstr.proto', 'meta-v1.proto', 'core-v1.proto', 'apps-v1.proto', 'batch-v1.proto', 'coordination-v1.proto', 'certificates-v1.proto', 'discovery-v1.proto', 'rbac-v1.proto', 'authorization-v1.proto', 'authentication-v1.proto'];

/** Well-known message names whose JSON form is not an object of their fields. */
export const QUANTITY = 'k8s.io.apimachinery.pkg.api.resource.Quantity';
export const INT_OR_STRING = 'k8s.io.apimachinery.pkg.util.intstr.IntOrString';
export const TIME = 'k8s.io.apimachinery.pkg.apis.meta.v1.Time';
export const MICRO_TIME = 'k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime';
export const FIELDS_V1 = 'k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1';
export const RAW_EXTENSION = 'k8s.io.apimachinery.pkg.runtime.RawExtension';
export const UNKNOWN = 'k8s.io.apimachinery.pkg.runtime.Unknown';

let root: protobuf.Root | undefined;

/** protoRoot is the loaded, resolved descriptor tree (built on first use, then cached). */
export function protoRoot(): protobuf.Root {
  if (!root) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => path.join(PROTO_DIR, path.basename(target));
    r.loadSync(PROTO_FILES, { keepCase: true, alternateCommentMode: true });
    r.resolveAll();
    root = r;
  }
  return root;
}

/** protoPackage is the proto package of a group-version: ('apps','v1') → `k8s.io.api.apps.v1`, ('','v1') → core. */
export function protoPackage(group: string, version: string): string {
  return `k8s.io.api.${group ? group.split('.')[0] : 'core'}.${version}`;
}

/** messageForKind finds the message of a kind: ('apps/v1','Deployment') → k8s.io.api.apps.v1.Deployment. */
export function messageForKind(apiVersion: string, kind: string): protobuf.Type | undefined {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  if (!/^[A-Za-z0-9]+$/.test(kind) || !/^v\d+\w*$/.test(version)) return undefined;
  const found = protoRoot().lookup(`${protoPackage(group, version)}.${kind}`);
  return found instanceof protobuf.Type ? found : undefined;
}

/** JsonField is how one proto field appears in the upstream JSON form. */
export interface JsonField {
  /** name is the JSON key; '' for an inline (embedded) field whose members join the parent object */
  name: string;
  omitempty: boolean;
  /** ptr: the Go field is a pointer, so a zero value was set on purpose and is kept */
  ptr: boolean;
  /** skip: the field never appears in JSON (`json:"-"`) */
  skip: boolean;
}

const jsonFieldCache = new WeakMap<protobuf.Field, JsonField>();

/** jsonField reads a field's (json) and (ptr) options, written by gen/generate.ts from the Go struct tags. */
export function jsonField(f: protobuf.Field): JsonField {
  let jf = jsonFieldCache.get(f);
  if (!jf) {
    const tag = f.options?.['(json)'];
    const [name, ...flags] = typeof tag === 'string' ? tag.split(',') : [f.name, 'omitempty'];
    jf = {
      name: flags.includes('inline') ? '' : name || f.name,
      omitempty: flags.includes('omitempty'),
      ptr: f.options?.['(ptr)'] === true,
      skip: name === '-',
    };
    jsonFieldCache.set(f, jf);
  }
  return jf;
}
