// patch.test: table tests for the JSON, merge, strategic merge and server-side apply engines and managedFields tracking.
import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.ts';
import type { KubeObject } from './types.ts';
import {
  applyConflictError,
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  serverSideApply,
  updateManagedFields,
} from './patch.ts';

const DEPLOY = { group: 'apps', kind: 'Deployment' };
const POD = { group: '', kind: 'Pod' };
const SVC = { group: '', kind: 'Service' };
const NODE = { group: '', kind: 'Node' };
const CRONJOB = { group: 'batch', kind: 'CronJob' };

/** deepFreeze makes any mutation of a test input throw (ESM code runs in strict mode). */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function deployment(containers: unknown[], extra: Record<string, unknown> = {}): KubeObject {
  return deepFreeze({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'hello',
      namespace: 'default',
      labels: { app: 'hello' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{old}\n' },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'hello' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: { metadata: { labels: { app: 'hello' } }, spec: { containers, restartPolicy: 'Always', ...extra } },
    },
  });
}

function pod(spec: Record<string, unknown>, status?: Record<string, unknown>, metadata: Record<string, unknown> = {}): KubeObject {
  return deepFreeze({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', ...metadata }, spec, ...(status ? { status } : {}) });
}

function thrown(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError');
}

const c = (name: string, image: string, more: Record<string, unknown> = {}) => ({ name, image, ...more });

describe('applyStrategicMergePatch', () => {
  const cases: { name: string; obj: KubeObject; patch: unknown; kind?: { group: string; kind: string }; pick: (o: KubeObject) => unknown; want: unknown }[] = [
    {
      name: 'the kubectl apply patch: containers by name with $setElementOrder, labels: null',
      obj: deployment([c('c', 'nginx:1.25', { ports: [{ containerPort: 80, protocol: 'TCP' }] })]),
      patch: {
        metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{new}\n' }, labels: null },
        spec: {
          replicas: 3,
          template: { spec: { '$setElementOrder/containers': [{ name: 'c' }], containers: [{ image: 'nginx:1.26', name: 'c' }] } },
        },
      },
      pick: (o) => [o.metadata, o.spec.replicas, o.spec.template.spec.containers],
      want: [
        { name: 'hello', namespace: 'default', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{new}\n' } },
        3,
        [{ name: 'c', image: 'nginx:1.26', ports: [{ containerPort: 80, protocol: 'TCP' }] }],
      ],
    },
    {
      name: '$setElementOrder orders merged, kept and new containers',
      obj: deployment([c('a', 'x'), c('b', 'y')]),
      patch: { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }, { name: 'n' }], containers: [{ name: 'n', image: 'z' }] } } } },
      pick: (o) => o.spec.template.spec.containers,
      want: [c('b', 'y'), c('a', 'x'), c('n', 'z')],
    },
    {
      name: '$patch: delete removes a container (kubectl apply form)',
      obj: deployment([c('a', 'x'), c('b', 'y')]),
      patch: { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'a' }], containers: [{ $patch: 'delete', name: 'b' }] } } } },
      pick: (o) => o.spec.template.spec.containers,
      want: [c('a', 'x')],
    },
    {
      name: '$patch: delete removes a container (plain)',
      obj: deployment([c('a', 'x'), c('b', 'y')]),
      patch: { spec: { template: { spec: { containers: [{ name: 'a', $patch: 'delete' }] } } } },
      pick: (o) => o.spec.template.spec.containers,
      want: [c('b', 'y')],
    },
    {
      name: 'a new list item without $setElementOrder goes first, as upstream puts it',
      obj: deployment([c('a', 'x')]),
      patch: { spec: { template: { spec: { containers: [{ name: 'n', image: 'z' }] } } } },
      pick: (o) => o.spec.template.spec.containers.map((x: { name: string }) => x.name),
      want: ['n', 'a'],
    },
    {
      name: 'env merges by name',
      obj: deployment([c('a', 'x', { env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] })]),
      patch: { spec: { template: { spec: { containers: [{ name: 'a', env: [{ name: 'B', value: '3' }, { name: 'C', value: '4' }] }] } } } },
      pick: (o) => o.spec.template.spec.containers[0].env,
      want: [{ name: 'A', value: '1' }, { name: 'B', value: '3' }, { name: 'C', value: '4' }],
    },
    {
      name: 'env entry deleted with null value field and $patch: delete',
      obj: deployment([c('a', 'x', { env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] })]),
      patch: { spec: { template: { spec: { containers: [{ name: 'a', env: [{ name: 'A', $patch: 'delete' }, { name: 'B', value: null }] }] } } } },
      pick: (o) => o.spec.template.spec.containers[0].env,
      want: [{ name: 'B' }],
    },
    {
      name: 'container ports merge by containerPort',
      obj: deployment([c('a', 'x', { ports: [{ containerPort: 80, protocol: 'TCP' }] })]),
      patch: {
        spec: {
          template: {
            spec: {
              containers: [{ name: 'a', '$setElementOrder/ports': [{ containerPort: 80 }, { containerPort: 443 }], ports: [{ containerPort: 80, name: 'http' }, { containerPort: 443 }] }],
            },
          },
        },
      },
      pick: (o) => o.spec.template.spec.containers[0].ports,
      want: [{ containerPort: 80, protocol: 'TCP', name: 'http' }, { containerPort: 443 }],
    },
    {
      name: 'volumeMounts by mountPath, volumes by name, envFrom replaced',
      obj: deployment([c('a', 'x', { volumeMounts: [{ name: 'v', mountPath: '/a' }], envFrom: [{ configMapRef: { name: 'one' } }] })], {
        volumes: [{ name: 'v', emptyDir: {} }],
      }),
      patch: {
        spec: {
          template: {
            spec: {
              containers: [{ name: 'a', volumeMounts: [{ mountPath: '/a', readOnly: true }], envFrom: [{ secretRef: { name: 's' } }] }],
              volumes: [{ name: 'w', configMap: { name: 'cm' } }],
            },
          },
        },
      },
      pick: (o) => [o.spec.template.spec.containers[0].volumeMounts, o.spec.template.spec.containers[0].envFrom, o.spec.template.spec.volumes],
      want: [
        [{ name: 'v', mountPath: '/a', readOnly: true }],
        [{ secretRef: { name: 's' } }],
        [{ name: 'w', configMap: { name: 'cm' } }, { name: 'v', emptyDir: {} }],
      ],
    },
    {
      name: '$retainKeys on a volume clears the old source',
      obj: deployment([c('a', 'x')], { volumes: [{ name: 'v', emptyDir: {} }] }),
      patch: { spec: { template: { spec: { volumes: [{ name: 'v', $retainKeys: ['configMap', 'name'], configMap: { name: 'cm' } }] } } } },
      pick: (o) => o.spec.template.spec.volumes,
      want: [{ name: 'v', configMap: { name: 'cm' } }],
    },
    {
      name: '$retainKeys on the deployment strategy (Recreate drops rollingUpdate)',
      obj: deployment([c('a', 'x')]),
      patch: { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null } } },
      pick: (o) => o.spec.strategy,
      want: { type: 'Recreate' },
    },
    {
      name: 'tolerations are atomic: replaced',
      obj: pod({ containers: [c('a', 'x')], tolerations: [{ key: 'k1', operator: 'Exists' }] }),
      patch: { spec: { tolerations: [{ key: 'k2', operator: 'Exists' }] } },
      kind: POD,
      pick: (o) => o.spec.tolerations,
      want: [{ key: 'k2', operator: 'Exists' }],
    },
    {
      name: 'imagePullSecrets by name, hostAliases by ip',
      obj: pod({ containers: [c('a', 'x')], imagePullSecrets: [{ name: 'r1' }], hostAliases: [{ ip: '1.2.3.4', hostnames: ['a'] }] }),
      patch: { spec: { imagePullSecrets: [{ name: 'r2' }], hostAliases: [{ ip: '1.2.3.4', hostnames: ['b'] }] } },
      kind: POD,
      pick: (o) => [o.spec.imagePullSecrets.map((s: { name: string }) => s.name).sort(), o.spec.hostAliases],
      want: [['r1', 'r2'], [{ ip: '1.2.3.4', hostnames: ['b'] }]],
    },
    {
      name: 'command and args are atomic: replaced',
      obj: pod({ containers: [c('a', 'x', { command: ['sh', '-c'], args: ['one', 'two'] })] }),
      patch: { spec: { containers: [{ name: 'a', args: ['three'] }] } },
      kind: POD,
      pick: (o) => o.spec.containers[0],
      want: c('a', 'x', { command: ['sh', '-c'], args: ['three'] }),
    },
    {
      name: 'pod status conditions merge by type',
      obj: pod({ containers: [c('a', 'x')] }, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False' }] }),
      patch: { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } },
      kind: POD,
      pick: (o) => o.status,
      want: { phase: 'Running', conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }] },
    },
    {
      name: 'node status conditions and addresses merge by type',
      obj: deepFreeze({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'n1' },
        status: { conditions: [{ type: 'Ready', status: 'False' }], addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] },
      }),
      patch: { status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'Hostname', address: 'n1' }] } },
      kind: NODE,
      pick: (o) => o.status,
      want: {
        conditions: [{ type: 'Ready', status: 'True' }],
        addresses: [{ type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: '10.0.0.1' }],
      },
    },
    {
      name: 'service ports merge by port',
      obj: deepFreeze({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 's' },
        spec: { selector: { app: 'a' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }, { port: 443, targetPort: 8443, protocol: 'TCP' }] },
      }),
      patch: { spec: { '$setElementOrder/ports': [{ port: 80 }, { port: 443 }], ports: [{ port: 80, targetPort: 9090 }] } },
      kind: SVC,
      pick: (o) => o.spec.ports,
      want: [{ port: 80, targetPort: 9090, protocol: 'TCP' }, { port: 443, targetPort: 8443, protocol: 'TCP' }],
    },
    {
      name: 'finalizers merge as a set (new first without an order, as upstream)',
      obj: pod({ containers: [] }, undefined, { finalizers: ['a', 'b'] }),
      patch: { metadata: { finalizers: ['c', 'a'] } },
      kind: POD,
      pick: (o) => o.metadata.finalizers,
      want: ['c', 'a', 'b'],
    },
    {
      name: 'finalizers with $setElementOrder',
      obj: pod({ containers: [] }, undefined, { finalizers: ['a', 'b'] }),
      patch: { metadata: { '$setElementOrder/finalizers': ['a', 'b', 'c'], finalizers: ['c'] } },
      kind: POD,
      pick: (o) => o.metadata.finalizers,
      want: ['a', 'b', 'c'],
    },
    {
      name: '$deleteFromPrimitiveList removes finalizers',
      obj: pod({ containers: [] }, undefined, { finalizers: ['a', 'b', 'c'] }),
      patch: { metadata: { '$setElementOrder/finalizers': ['a', 'c'], '$deleteFromPrimitiveList/finalizers': ['b'] } },
      kind: POD,
      pick: (o) => o.metadata.finalizers,
      want: ['a', 'c'],
    },
    {
      name: '$deleteFromPrimitiveList on a missing list adds nothing',
      obj: pod({ containers: [] }),
      patch: { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] } },
      kind: POD,
      pick: (o) => 'finalizers' in o.metadata,
      want: false,
    },
    {
      name: 'ownerReferences merge by uid',
      obj: pod({ containers: [] }, undefined, { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'r', uid: 'u1' }] }),
      patch: { metadata: { ownerReferences: [{ uid: 'u1', controller: true }, { apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'u2' }] } },
      kind: POD,
      pick: (o) => o.metadata.ownerReferences,
      want: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'r', uid: 'u1', controller: true },
        { apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'u2' },
      ],
    },
    {
      name: '$patch: replace on a map',
      obj: deployment([c('a', 'x')]),
      patch: { spec: { template: { metadata: { labels: { $patch: 'replace', tier: 'web' } } } } },
      pick: (o) => o.spec.template.metadata.labels,
      want: { tier: 'web' },
    },
    {
      name: '$patch: replace in a list',
      obj: deployment([c('a', 'x'), c('b', 'y')]),
      patch: { spec: { template: { spec: { containers: [{ $patch: 'replace' }, { name: 'z', image: 'q', env: null }] } } } },
      pick: (o) => o.spec.template.spec.containers,
      want: [c('z', 'q')],
    },
    {
      name: '$patch: merge is a plain merge',
      obj: deployment([c('a', 'x')]),
      patch: { spec: { template: { metadata: { labels: { $patch: 'merge', tier: 'web' } } } } },
      pick: (o) => o.spec.template.metadata.labels,
      want: { app: 'hello', tier: 'web' },
    },
    {
      name: 'null deletes nested fields; nulls inside new values are dropped',
      obj: deployment([c('a', 'x')]),
      patch: { spec: { template: { spec: { restartPolicy: null, securityContext: { runAsUser: 1, fsGroup: null } } } } },
      pick: (o) => [o.spec.template.spec.restartPolicy, o.spec.template.spec.securityContext],
      want: [undefined, { runAsUser: 1 }],
    },
    {
      name: 'rollout restart annotation (kubectl rollout restart)',
      obj: deployment([c('a', 'x')]),
      patch: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-01-01T00:00:00Z' } } } } },
      pick: (o) => o.spec.template.metadata,
      want: { labels: { app: 'hello' }, annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-01-01T00:00:00Z' } },
    },
    {
      name: 'CronJob job template containers merge by name',
      obj: deepFreeze({
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'cj' },
        spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec: { containers: [c('a', 'x'), c('b', 'y')] } } } } },
      }),
      patch: { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'b', image: 'z' }] } } } } } },
      kind: CRONJOB,
      pick: (o) => o.spec.jobTemplate.spec.template.spec.containers,
      want: [c('a', 'x'), c('b', 'z')],
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const patch = deepFreeze(structuredClone(tc.patch));
      const out = applyStrategicMergePatch(tc.obj, patch, tc.kind ?? DEPLOY);
      expect(tc.pick(out)).toEqual(tc.want);
    });
  }

  const bad: { name: string; patch: unknown; code: number; message: RegExp }[] = [
    { name: 'a list is not a patch', patch: [1], code: 400, message: /cannot unmarshal array into Go value of type map/ },
    {
      name: 'missing merge key',
      patch: { spec: { template: { spec: { containers: [{ image: 'x' }] } } } },
      code: 400,
      message: /^map: map\[image:x\] does not contain declared merge key: name$/,
    },
    { name: 'unknown $patch', patch: { spec: { $patch: 'frob' } }, code: 400, message: /^unknown patch type: frob in map/ },
    { name: '$retainKeys not a list', patch: { spec: { strategy: { $retainKeys: 'type' } } }, code: 400, message: /^invalid patch format of retainKeys$/ },
    {
      name: 'patched key missing from $retainKeys',
      patch: { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: { maxSurge: 1 } } } },
      code: 400,
      message: /^invalid patch format of retainKeys$/,
    },
    {
      name: 'patch list out of $setElementOrder order',
      patch: { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'a' }, { name: 'b' }], containers: [{ name: 'b' }, { name: 'a' }] } } } },
      code: 400,
      message: /doesn't match \$setElementOrder list/,
    },
    { name: 'lists of lists', patch: { metadata: { finalizers: [['a']] } }, code: 422, message: /^lists of lists are not supported$/ },
  ];
  for (const tc of bad) {
    it(`rejects: ${tc.name}`, () => {
      const err = thrown(() => applyStrategicMergePatch(deployment([c('a', 'x'), c('b', 'y')]), tc.patch, DEPLOY));
      expect(err.code).toBe(tc.code);
      expect(tc.code === 422 ? err.status.details?.causes?.[0]?.message : err.message).toMatch(tc.message);
    });
  }

  it('an unknown kind still merges maps and replaces lists', () => {
    const obj = deepFreeze({ apiVersion: 'x.io/v1', kind: 'Thing', metadata: { name: 't', finalizers: ['a'] }, spec: { list: [1, 2], m: { a: 1 } } });
    const out = applyStrategicMergePatch(obj, { metadata: { finalizers: ['b'] }, spec: { list: [3], m: { b: 2 } } }, { group: 'x.io', kind: 'Thing' });
    expect(out.spec).toEqual({ list: [3], m: { a: 1, b: 2 } });
    expect(out.metadata.finalizers).toEqual(['b', 'a']);
  });
});

describe('applyJsonPatch', () => {
  const obj = deployment([c('a', 'x')]);
  it('adds, replaces, removes and tests', () => {
    const out = applyJsonPatch(obj, [
      { op: 'test', path: '/spec/replicas', value: 1 },
      { op: 'replace', path: '/spec/replicas', value: 4 },
      { op: 'add', path: '/metadata/labels/tier', value: 'web' },
      { op: 'remove', path: '/metadata/labels/app' },
      { op: 'add', path: '/spec/template/spec/containers/-', value: c('b', 'y') },
      { op: 'copy', from: '/spec/template/spec/containers/0/image', path: '/metadata/annotations/img' },
    ]);
    expect(out.spec.replicas).toBe(4);
    expect(out.metadata.labels).toEqual({ tier: 'web' });
    expect(out.spec.template.spec.containers).toEqual([c('a', 'x'), c('b', 'y')]);
    expect(out.metadata.annotations?.img).toBe('x');
    expect(obj.spec.replicas).toBe(1);
  });

  const bad: { name: string; ops: unknown; code: number; text: string }[] = [
    { name: 'test failure', ops: [{ op: 'test', path: '/spec/replicas', value: 2 }], code: 422, text: 'testing value /spec/replicas failed: test failed' },
    {
      name: 'remove of a missing key',
      ops: [{ op: 'remove', path: '/metadata/labels/nope' }],
      code: 422,
      text: "error in remove for path: '/metadata/labels/nope': Unable to remove nonexistent key: nope: missing value",
    },
    {
      name: 'replace of a missing key',
      ops: [{ op: 'replace', path: '/spec/paused', value: true }],
      code: 422,
      text: 'replace operation does not apply: doc is missing key: /spec/paused: missing value',
    },
    {
      name: 'add under a missing parent',
      ops: [{ op: 'add', path: '/spec/nope/deeper', value: 1 }],
      code: 422,
      text: 'add operation does not apply: doc is missing path: "/spec/nope/deeper": missing value',
    },
    { name: 'unknown op', ops: [{ op: 'frob', path: '/spec' }], code: 422, text: 'Unexpected kind: frob' },
    { name: 'not a list', ops: { op: 'add' }, code: 400, text: 'json: cannot unmarshal object into Go value of type jsonpatch.Patch' },
  ];
  for (const tc of bad) {
    it(`rejects: ${tc.name}`, () => {
      const err = thrown(() => applyJsonPatch(obj, tc.ops));
      expect(err.code).toBe(tc.code);
      if (tc.code === 422) {
        expect(err.reason).toBe('Invalid');
        expect(err.message).toBe('the server rejected our request due to an error in our request');
        expect(err.status.details?.causes).toEqual([{ reason: 'UnexpectedServerResponse', message: tc.text }]);
      } else {
        expect(err.reason).toBe('BadRequest');
        expect(err.message).toBe(tc.text);
      }
    });
  }

  it('caps the number of operations', () => {
    const ops = Array.from({ length: 10001 }, () => ({ op: 'test', path: '/kind', value: 'Deployment' }));
    expect(thrown(() => applyJsonPatch(obj, ops)).code).toBe(413);
  });
});

describe('applyMergePatch', () => {
  const obj = deployment([c('a', 'x'), c('b', 'y')]);
  const cases: { name: string; patch: unknown; pick: (o: KubeObject) => unknown; want: unknown }[] = [
    { name: 'null deletes a label', patch: { metadata: { labels: { app: null, tier: 'web' } } }, pick: (o) => o.metadata.labels, want: { tier: 'web' } },
    { name: 'scale', patch: { spec: { replicas: 5 } }, pick: (o) => o.spec.replicas, want: 5 },
    {
      name: 'lists are replaced whole',
      patch: { spec: { template: { spec: { containers: [{ name: 'a', image: 'z' }] } } } },
      pick: (o) => o.spec.template.spec.containers,
      want: [{ name: 'a', image: 'z' }],
    },
    { name: 'nulls inside a new object are dropped', patch: { spec: { paused: { a: 1, b: null } } }, pick: (o) => o.spec.paused, want: { a: 1 } },
    { name: 'null deletes a whole map', patch: { spec: { strategy: null } }, pick: (o) => 'strategy' in o.spec, want: false },
  ];
  for (const tc of cases) {
    it(tc.name, () => expect(tc.pick(applyMergePatch(obj, deepFreeze(structuredClone(tc.patch))))).toEqual(tc.want));
  }
  it('rejects a non-object patch', () => {
    const err = thrown(() => applyMergePatch(obj, [1]));
    expect([err.code, err.message]).toEqual([400, 'Invalid JSON Patch']);
  });
  it('does not alias the input', () => {
    const out = applyMergePatch(obj, { spec: { replicas: 2 } });
    expect(out.spec.template).not.toBe(obj.spec.template);
    expect(out.spec.template).toEqual(obj.spec.template);
  });
});

describe('serverSideApply', () => {
  const T0 = '2024-01-01T00:00:00Z';
  const T1 = '2024-01-02T00:00:00Z';
  const T2 = '2024-01-03T00:00:00Z';
  const manifest = (spec: Record<string, unknown>, labels: Record<string, string> = { app: 'hello' }): KubeObject =>
    deepFreeze({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'hello', namespace: 'default', labels }, spec });
  const baseSpec = (replicas?: number, containers: unknown[] = [c('c', 'nginx:1.25', { ports: [{ containerPort: 80 }] })]) => ({
    ...(replicas === undefined ? {} : { replicas }),
    selector: { matchLabels: { app: 'hello' } },
    template: { metadata: { labels: { app: 'hello' } }, spec: { containers } },
  });
  const apply = (live: KubeObject | undefined, applied: KubeObject, manager = 'kubectl', force = false, now = T1) =>
    serverSideApply(live, applied, { manager, force, kind: DEPLOY, now });

  it('creates, recording an Apply entry in FieldsV1', () => {
    const { object, conflicts } = apply(undefined, manifest(baseSpec(2)));
    expect(conflicts).toEqual([]);
    expect(object.spec.replicas).toBe(2);
    expect(object.metadata.name).toBe('hello');
    expect(object.metadata.managedFields).toEqual([
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'apps/v1',
        time: T1,
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { 'f:app': {} } },
          'f:spec': {
            'f:replicas': {},
            'f:selector': {},
            'f:template': {
              'f:metadata': { 'f:labels': { 'f:app': {} } },
              'f:spec': {
                'f:containers': {
                  'k:{"name":"c"}': {
                    '.': {},
                    'f:image': {},
                    'f:name': {},
                    'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
                  },
                },
              },
            },
          },
        },
      },
    ]);
  });

  it('re-applying without a field removes it; re-applying the same is a no-op', () => {
    const first = apply(undefined, manifest(baseSpec(2, [c('c', 'x'), c('d', 'y')]), { app: 'hello', tier: 'web' })).object;
    const again = apply(first, manifest(baseSpec(2, [c('c', 'x'), c('d', 'y')]), { app: 'hello', tier: 'web' }), 'kubectl', false, T2).object;
    expect(again).toEqual(first);
    const second = apply(first, manifest(baseSpec(undefined, [c('c', 'x')])), 'kubectl', false, T2).object;
    expect(second.spec.replicas).toBeUndefined();
    expect(second.metadata.labels).toEqual({ app: 'hello' });
    expect(second.spec.template.spec.containers).toEqual([c('c', 'x')]);
    expect(second.metadata.managedFields?.[0].time).toBe(T2);
  });

  it('a field another manager also owns stays when the applier drops it', () => {
    const first = apply(undefined, manifest(baseSpec(2))).object;
    const scaled = updateManagedFields(first, { ...first, spec: { ...first.spec, replicas: 2 } }, 'kubectl-scale', 'Update', T1);
    // kubectl-scale wrote the same value: nothing changed, so it owns nothing and has no entry
    expect(scaled.metadata.managedFields?.map((m) => m.manager)).toEqual(['kubectl']);
    const rescaled = updateManagedFields(first, { ...first, spec: { ...first.spec, replicas: 4 } }, 'kubectl-scale', 'Update', T1);
    const dropped = apply(rescaled, manifest(baseSpec(undefined)), 'kubectl', false, T2);
    expect(dropped.conflicts).toEqual([]);
    expect(dropped.object.spec.replicas).toBe(4);
  });

  it('reports a conflict with another manager, and leaves the object alone', () => {
    const created = updateManagedFields(undefined, manifest(baseSpec(3)), 'kubectl-client-side-apply', 'Update', T0);
    const { object, conflicts } = apply(created, manifest(baseSpec(5)));
    expect(conflicts).toEqual([{ manager: 'kubectl-client-side-apply', field: '.spec.replicas', operation: 'Update', apiVersion: 'apps/v1' }]);
    expect(object).toEqual(created);
    const err = applyConflictError(conflicts, { group: 'apps', resource: 'deployments' }, 'hello');
    expect(err.code).toBe(409);
    expect(err.reason).toBe('Conflict');
    expect(err.message).toBe('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas');
    expect(err.status.details?.causes).toEqual([
      { reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using apps/v1', field: '.spec.replicas' },
    ]);
  });

  it('the same value is no conflict: ownership is shared', () => {
    const created = updateManagedFields(undefined, manifest(baseSpec(3)), 'kubectl-client-side-apply', 'Update', T0);
    const { object, conflicts } = apply(created, manifest(baseSpec(3)));
    expect(conflicts).toEqual([]);
    const owners = object.metadata.managedFields!.filter((m) => JSON.stringify(m.fieldsV1).includes('f:replicas')).map((m) => m.manager);
    expect(owners.sort()).toEqual(['kubectl', 'kubectl-client-side-apply']);
  });

  it('force takes ownership', () => {
    const created = updateManagedFields(undefined, manifest(baseSpec(3)), 'kubectl-client-side-apply', 'Update', T0);
    const { object, conflicts } = apply(created, manifest(baseSpec(5)), 'kubectl', true);
    expect(conflicts).toEqual([]);
    expect(object.spec.replicas).toBe(5);
    const csa = object.metadata.managedFields!.find((m) => m.manager === 'kubectl-client-side-apply')!;
    const kubectl = object.metadata.managedFields!.find((m) => m.manager === 'kubectl')!;
    expect(JSON.stringify(csa.fieldsV1)).not.toContain('f:replicas');
    expect(JSON.stringify(kubectl.fieldsV1)).toContain('f:replicas');
    // kubectl-client-side-apply still owns the rest it wrote
    expect(JSON.stringify(csa.fieldsV1)).toContain('f:selector');
  });

  it('an object without managedFields is owned by before-first-apply', () => {
    const live = manifest(baseSpec(3));
    const { conflicts } = apply(live, manifest(baseSpec(1)));
    expect(conflicts).toEqual([{ manager: 'before-first-apply', field: '.spec.replicas', operation: 'Update', apiVersion: 'apps/v1' }]);
  });

  it('keyed lists merge by key: another manager’s container stays', () => {
    const first = apply(undefined, manifest(baseSpec(1, [c('a', 'x')]))).object;
    const withSidecar = applyStrategicMergePatch(first, { spec: { template: { spec: { containers: [c('side', 'y')] } } } }, DEPLOY);
    const tracked = updateManagedFields(first, withSidecar, 'kubectl-patch', 'Update', T1);
    const { object, conflicts } = apply(tracked, manifest(baseSpec(1, [c('a', 'x2')])), 'kubectl', false, T2);
    expect(conflicts).toEqual([]);
    expect(object.spec.template.spec.containers.map((x: { name: string; image: string }) => `${x.name}=${x.image}`).sort()).toEqual(['a=x2', 'side=y']);
  });

  it('conflicts inside keyed lists name the item', () => {
    const created = updateManagedFields(undefined, manifest(baseSpec(1, [c('a', 'x')])), 'kubectl-set', 'Update', T0);
    const { conflicts } = apply(created, manifest(baseSpec(1, [c('a', 'y')])));
    expect(conflicts.map((x) => x.field)).toEqual(['.spec.template.spec.containers[name="a"].image']);
    expect(applyConflictError([...conflicts, { manager: 'kubectl', field: '.spec.replicas', operation: 'Apply' }]).message).toBe(
      'Apply failed with 2 conflicts: conflicts with "kubectl":\n- .spec.replicas\nconflicts with "kubectl-set" using apps/v1:\n- .spec.template.spec.containers[name="a"].image',
    );
  });

  it('finalizers are a set', () => {
    const first = apply(undefined, deepFreeze({ ...manifest(baseSpec(1)), metadata: { name: 'hello', finalizers: ['a'] } })).object;
    const kf = JSON.stringify(first.metadata.managedFields![0].fieldsV1);
    expect(kf).toContain('"f:finalizers":{"v:\\"a\\"":{}}');
    const withB = updateManagedFields(first, { ...first, metadata: { ...first.metadata, finalizers: ['a', 'b'] } }, 'ctrl', 'Update', T1);
    const { object } = apply(withB, deepFreeze({ ...manifest(baseSpec(1)), metadata: { name: 'hello', finalizers: ['c'] } }), 'kubectl', false, T2);
    expect(object.metadata.finalizers).toEqual(['b', 'c']);
  });

  it('rejects a keyed list item without its key', () => {
    const err = thrown(() => apply(undefined, manifest(baseSpec(1, [{ image: 'x' }]))));
    expect(err.code).toBe(400);
    expect(err.message).toContain('.spec.template.spec.containers: associative list with keys has an element that omits key field "name"');
  });
});

describe('updateManagedFields', () => {
  const T0 = '2024-01-01T00:00:00Z';
  const T1 = '2024-01-02T00:00:00Z';
  const obj = deployment([c('a', 'x')]);

  it('records a create as an Update entry owning every field', () => {
    const out = updateManagedFields(undefined, obj, 'kubectl-create', 'Update', T0);
    expect(out.metadata.managedFields).toHaveLength(1);
    expect(out.metadata.managedFields![0]).toMatchObject({ manager: 'kubectl-create', operation: 'Update', apiVersion: 'apps/v1', time: T0, fieldsType: 'FieldsV1' });
    expect(obj.metadata.managedFields).toBeUndefined();
  });

  it('moves changed fields to the writer and forgets removed ones', () => {
    const created = updateManagedFields(undefined, obj, 'kubectl-create', 'Update', T0);
    const next = applyStrategicMergePatch(created, { metadata: { labels: null }, spec: { template: { spec: { containers: [{ name: 'a', image: 'y' }] } } } }, DEPLOY);
    const out = updateManagedFields(created, next, 'kubectl-set', 'Update', T1);
    const [create, set] = out.metadata.managedFields!;
    expect(create.manager).toBe('kubectl-create');
    expect(create.time).toBe(T0);
    expect(set).toMatchObject({ manager: 'kubectl-set', time: T1 });
    expect(set.fieldsV1).toEqual({ 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"a"}': { 'f:image': {} } } } } } });
    expect(JSON.stringify(create.fieldsV1)).not.toContain('f:image');
    expect((create.fieldsV1 as Record<string, unknown>)['f:metadata']).toEqual({ 'f:annotations': { 'f:kubectl.kubernetes.io/last-applied-configuration': {} } });
  });

  it('a request that sends the stored managedFields back unchanged gets what one without them gets', () => {
    const created = updateManagedFields(undefined, obj, 'kubectl-create', 'Update', T0);
    const scaled = updateManagedFields(created, { ...created, spec: { ...created.spec, replicas: 5 } }, 'kubectl-scale', 'Update', T1);
    const writes: [KubeObject, string][] = [
      [{ ...scaled, spec: { ...scaled.spec, replicas: 7 } }, 'kubectl-scale'],
      [{ ...scaled, spec: { ...scaled.spec, replicas: 7 } }, 'hpa'],
      [{ ...scaled, status: { replicas: 5 } }, 'kube-controller-manager'],
      [applyStrategicMergePatch(scaled, { metadata: { labels: null } }, DEPLOY), 'kubectl-label'],
    ];
    for (const [next, manager] of writes) {
      const { managedFields, ...meta } = next.metadata;
      const sentBack = updateManagedFields(scaled, structuredClone(next), manager, 'Update', '2024-01-03T00:00:00Z');
      const without = updateManagedFields(scaled, { ...structuredClone(next), metadata: meta }, manager, 'Update', '2024-01-03T00:00:00Z');
      expect(managedFields).toEqual(scaled.metadata.managedFields);
      expect(sentBack.metadata.managedFields).toEqual(without.metadata.managedFields);
    }
  });

  it('a request carrying managedFields: [] resets them', () => {
    const created = updateManagedFields(undefined, obj, 'kubectl-create', 'Update', T0);
    const out = updateManagedFields(created, { ...created, metadata: { ...created.metadata, managedFields: [] }, spec: { ...created.spec, replicas: 2 } }, 'm', 'Update', T1);
    expect(out.metadata.managedFields!.map((m) => m.manager)).toEqual(['m']);
  });
});

describe('hostile patches', () => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } } as KubeObject;
  const code = (f: () => unknown): number => {
    try {
      f();
    } catch (e) {
      return (e as ApiError).code;
    }
    return 0;
  };

  it('merges a 20,000-entry keyed list in linear time, keeping the order', () => {
    const env = Array.from({ length: 20_000 }, (_, i) => ({ name: `E${i}`, value: 'a' }));
    const live = deployment([{ name: 'c', image: 'i', env }]);
    const patch = { spec: { template: { spec: { containers: [{ name: 'c', env: [...env.map((e) => ({ ...e, value: 'b' })), { name: 'NEW', value: 'n' }] }] } } } };
    const t = performance.now();
    const out = applyStrategicMergePatch(live, patch, DEPLOY);
    expect(performance.now() - t).toBeLessThan(2000);
    const merged = out.spec.template.spec.containers[0].env;
    expect(merged).toHaveLength(20_001);
    expect(merged[0]).toEqual({ name: 'E0', value: 'b' });
    expect(merged[20_000]).toEqual({ name: 'NEW', value: 'n' });
  });

  it('deletes many keyed elements and primitives at once', () => {
    const ports = Array.from({ length: 5000 }, (_, i) => ({ containerPort: i + 1 }));
    const live = deployment([{ name: 'c', image: 'i', ports, args: ['a', 'b', 'c'] }]);
    const patch = { spec: { template: { spec: { containers: [{ name: 'c', ports: ports.slice(0, 4990).map((p) => ({ ...p, $patch: 'delete' })), '$deleteFromPrimitiveList/args': ['b'] }] } } } };
    const out = applyStrategicMergePatch(live, patch, DEPLOY).spec.template.spec.containers[0];
    expect(out.ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999, 5000]);
    expect(out.args).toEqual(['a', 'c']);
  });

  it('refuses patches nested deeper than a body may be (no stack overflow)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = { a: deep };
    expect(code(() => applyMergePatch(cm, { data: deep }))).toBe(400);
    expect(code(() => applyStrategicMergePatch(cm, { data: deep }, { group: '', kind: 'ConfigMap' }))).toBe(400);
    expect(code(() => applyJsonPatch(cm, [{ op: 'add', path: '/data', value: deep }]))).toBe(400);
  });

  it('a JSON patch on /__proto__ is a 422 and pollutes nothing', () => {
    expect(code(() => applyJsonPatch(cm, [{ op: 'add', path: '/__proto__/polluted', value: 'x' }]))).toBe(422);
    expect(code(() => applyJsonPatch(cm, [{ op: 'replace', path: '/__proto__', value: {} }]))).toBe(422);
    expect(code(() => applyJsonPatch(cm, [{ op: 'add', path: '/metadata/constructor/prototype/x', value: 1 }]))).toBe(422);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
