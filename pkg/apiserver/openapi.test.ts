// openapi.test: the /openapi/v3 documents carry what kubectl needs: PATCH ops with GVK + fieldValidation, and schemas for explain and strategic merge patch.
import { describe, expect, it } from 'vitest';
import { RESOURCES, groupVersions } from '../api/resources.ts';
import { gvPath, openapiGroupVersion, openapiRoot } from './openapi.ts';

type Doc = { paths: Record<string, any>; components: { schemas: Record<string, any> } };
const doc = (g: string, v: string) => openapiGroupVersion(g, v) as Doc;

function refsIn(x: unknown, out: string[] = []): string[] {
  if (Array.isArray(x)) x.forEach((y) => refsIn(y, out));
  else if (x && typeof x === 'object') {
    for (const [k, v] of Object.entries(x)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

describe('openapiRoot', () => {
  it('lists every served group-version with a stable hash URL', () => {
    const root = openapiRoot() as { paths: Record<string, { serverRelativeURL: string }> };
    expect(Object.keys(root.paths)).toEqual(['api/v1', 'apis/apps/v1', 'apis/batch/v1', 'apis/certificates.k8s.io/v1', 'apis/coordination.k8s.io/v1', 'apis/discovery.k8s.io/v1', 'apis/rbac.authorization.k8s.io/v1', 'apis/authentication.k8s.io/v1', 'apis/authorization.k8s.io/v1']);
    for (const [k, v] of Object.entries(root.paths)) expect(v.serverRelativeURL).toMatch(new RegExp(`^/openapi/v3/${k.replace(/\./g, '\\.')}\\?hash=[0-9A-F]{128}$`));
    expect(openapiRoot()).toEqual(root);
  });
});

describe('openapiGroupVersion', () => {
  it('is undefined for group-versions not served', () => {
    expect(openapiGroupVersion('apps', 'v1beta1')).toBeUndefined();
    expect(openapiGroupVersion('foo.example.com', 'v1')).toBeUndefined();
  });

  it('is built once', () => {
    expect(openapiGroupVersion('', 'v1')).toBe(openapiGroupVersion('', 'v1'));
  });

  it('has a PATCH op with the GVK and a fieldValidation parameter for every kind', () => {
    for (const r of RESOURCES) {
      const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
      const item = r.namespaced ? `${base}/namespaces/{namespace}/${r.resource}/{name}` : `${base}/${r.resource}/{name}`;
      const patch = doc(r.group, r.version).paths[item]?.patch;
      expect(patch, item).toBeDefined();
      expect(patch['x-kubernetes-group-version-kind']).toEqual({ group: r.group, version: r.version, kind: r.kind });
      expect(patch.parameters.map((p: { name: string }) => p.name)).toContain('fieldValidation');
    }
  });

  it('has a schema with x-kubernetes-group-version-kind for every kind', () => {
    for (const r of RESOURCES) {
      const schemas = doc(r.group, r.version).components.schemas;
      const found = Object.values(schemas).filter((s: any) => s['x-kubernetes-group-version-kind']?.some((g: any) => g.kind === r.kind && g.group === r.group && g.version === r.version));
      expect(found.length, r.kind).toBe(1);
    }
  });

  it('every $ref resolves inside its own document', () => {
    for (const { group, version } of groupVersions()) {
      const d = doc(group, version);
      for (const ref of new Set(refsIn(d))) {
        expect(ref.startsWith('#/components/schemas/'), ref).toBe(true);
        expect(d.components.schemas[ref.slice('#/components/schemas/'.length)], `${gvPath(group, version)} ${ref}`).toBeDefined();
      }
    }
  });

  it('describes pods the way kubectl explain and strategic merge patch read them', () => {
    const s = doc('', 'v1').components.schemas;
    const pod = s['io.k8s.api.core.v1.Pod'];
    expect(Object.keys(pod.properties)).toEqual(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    expect(pod.description).toMatch(/^Pod is a collection of containers/);
    expect(pod.properties.spec.allOf[0].$ref).toBe('#/components/schemas/io.k8s.api.core.v1.PodSpec');
    const spec = s['io.k8s.api.core.v1.PodSpec'];
    expect(spec.required).toContain('containers');
    expect(spec.properties.containers).toMatchObject({ type: 'array', 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge' });
    expect(spec.properties.volumes['x-kubernetes-patch-strategy']).toBe('merge,retainKeys');
    expect(spec.properties.hostNetwork).toMatchObject({ type: 'boolean' });
    expect(spec.properties.nodeSelector).toMatchObject({ type: 'object', additionalProperties: { type: 'string' } });
    // inline members join the parent: Volume gets VolumeSource's fields, Probe gets ProbeHandler's
    expect(Object.keys(s['io.k8s.api.core.v1.Volume'].properties)).toEqual(expect.arrayContaining(['name', 'emptyDir', 'configMap', 'hostPath']));
    expect(Object.keys(s['io.k8s.api.core.v1.Probe'].properties)).toEqual(expect.arrayContaining(['httpGet', 'exec', 'periodSeconds']));
    expect(s['io.k8s.apimachinery.pkg.util.intstr.IntOrString']).toMatchObject({ type: 'string', format: 'int-or-string' });
    expect(s['io.k8s.apimachinery.pkg.apis.meta.v1.Time']).toMatchObject({ type: 'string', format: 'date-time' });
    expect(s['io.k8s.api.core.v1.Secret'].properties.data.additionalProperties).toMatchObject({ type: 'string', format: 'byte' });
  });

  it('describes deployments', () => {
    const s = doc('apps', 'v1').components.schemas;
    const spec = s['io.k8s.api.apps.v1.DeploymentSpec'];
    expect(spec.required).toEqual(['selector', 'template']);
    expect(spec.properties.replicas).toMatchObject({ type: 'integer', format: 'int32' });
    expect(spec.properties.strategy['x-kubernetes-patch-strategy']).toBe('retainKeys');
    expect(s['io.k8s.api.core.v1.PodTemplateSpec']).toBeDefined();
  });
});

describe('openapiV2', () => {
  it('encodes a gnostic openapi_v2.Document kubectl 1.20 can load (swagger, info, empty paths)', async () => {
    const { openapiV2 } = await import('./openapi.ts');
    const protobuf = (await import('protobufjs')).default;
    const root = protobuf.parse(`syntax = "proto3";
      message Info { string title = 1; string version = 2; }
      message Paths {}
      message Document { string swagger = 1; Info info = 2; Paths paths = 8; }`).root;
    const v2 = openapiV2();
    const doc = root.lookupType('Document').toObject(root.lookupType('Document').decode(v2.protobuf));
    expect(doc).toEqual({ swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths: {} });
    expect(v2.json).toEqual(doc);
  });
});
