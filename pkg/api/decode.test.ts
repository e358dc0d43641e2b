// decode.test: typed decoding against the kinds' Go types: upstream's error words, unknown fields, own-property checks, depth.
import { describe, expect, it } from 'vitest';
import { DecodeError, decodeTyped, jsonDepth, valueDepth } from './decode.ts';

const pod = (container: Record<string, unknown>, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p' },
  spec: { containers: [{ name: 'c', image: 'busybox', ...container }], ...spec },
});
const deploy = (spec: Record<string, unknown>) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec });

function err(apiVersion: string, kind: string, obj: Record<string, unknown>): string {
  try {
    decodeTyped(apiVersion, kind, obj, false);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as Error).message;
  }
  return '';
}

describe('decodeTyped type errors', () => {
  const cases: [string, string, string, Record<string, unknown>, string][] = [
    ['replicas string', 'apps/v1', 'Deployment', deploy({ replicas: '3' }), 'json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32'],
    ['replicas 1.5', 'apps/v1', 'Deployment', deploy({ replicas: 1.5 }), 'json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32'],
    ['replicas too big', 'apps/v1', 'Deployment', deploy({ replicas: 2 ** 31 }), 'json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32'],
    ['paused yes', 'apps/v1', 'Deployment', deploy({ paused: 'yes' }), 'json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool'],
    ['spec string', 'apps/v1', 'Deployment', deploy('x' as never), 'json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec'],
    ['env value 1', 'v1', 'Pod', pod({ env: [{ name: 'A', value: 1 }] }), 'json: cannot unmarshal number into Go struct field EnvVar.spec.containers.env.value of type string'],
    ['env name 5', 'v1', 'Pod', pod({ env: [{ name: 5 }] }), 'json: cannot unmarshal number into Go struct field EnvVar.spec.containers.env.name of type string'],
    ['args [1,true]', 'v1', 'Pod', pod({ args: [1, true] }), 'json: cannot unmarshal number into Go struct field Container.spec.containers.args of type string'],
    ['workingDir 5', 'v1', 'Pod', pod({ workingDir: 5 }), 'json: cannot unmarshal number into Go struct field Container.spec.containers.workingDir of type string'],
    ['runAsUser abc', 'v1', 'Pod', pod({ securityContext: { runAsUser: 'abc' } }), 'json: cannot unmarshal string into Go struct field SecurityContext.spec.containers.securityContext.runAsUser of type int64'],
    ['hostNetwork "true"', 'v1', 'Pod', pod({}, { hostNetwork: 'true' }), 'json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool'],
    ['containers object', 'v1', 'Pod', pod({}, { containers: {} }), 'json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container'],
    ['label number', 'v1', 'ConfigMap', { metadata: { name: 'x', labels: { a: 1 } } }, 'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string'],
    ['stringData number', 'v1', 'Secret', { metadata: { name: 's' }, stringData: { a: 1 } }, 'json: cannot unmarshal number into Go struct field Secret.stringData of type string'],
    ['data not base64', 'v1', 'Secret', { metadata: { name: 's' }, data: { a: 'no!' } }, 'illegal base64 data at input byte 2'],
    ['cpu true', 'v1', 'Pod', pod({ resources: { limits: { cpu: true } } }), "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"],
    ['targetPort bool', 'v1', 'Service', { metadata: { name: 's' }, spec: { ports: [{ port: 80, targetPort: true }] } }, 'json: cannot unmarshal bool into Go value of type int32'],
    ['creationTimestamp 5', 'v1', 'ConfigMap', { metadata: { name: 'x', creationTimestamp: 5 } }, 'json: cannot unmarshal number into Go value of type string'],
    ['kind number', 'v1', 'ConfigMap', { kind: 5, metadata: { name: 'x' } }, 'json: cannot unmarshal number into Go struct field ConfigMap.kind of type string'],
  ];
  it.each(cases)('%s', (_n, av, kind, obj, want) => expect(err(av, kind, obj)).toBe(want));

  it('accepts well-typed objects, nulls, numeric quantities and int-or-string', () => {
    expect(err('v1', 'Pod', pod({ resources: { limits: { cpu: 1, memory: '64Mi' } }, ports: [{ containerPort: 80 }] }, { nodeName: null }))).toBe('');
    expect(err('v1', 'Service', { metadata: { name: 's' }, spec: { ports: [{ port: 80, targetPort: 'http' }, { port: 81, targetPort: 8080 }] } })).toBe('');
    expect(err('v1', 'Secret', { metadata: { name: 's' }, data: { a: 'aGk=' } })).toBe('');
    expect(err('apps/v1', 'Deployment', deploy({ replicas: 3, paused: false }))).toBe('');
  });
});

describe('decodeTyped unknown fields', () => {
  it('lists and prunes unknown fields with own-property checks', () => {
    const obj = JSON.parse('{"metadata":{"name":"x","__proto__":{"a":1},"constructor":1},"toString":"y","data":{"__proto__":"z"},"spec":{}}');
    const r = decodeTyped('v1', 'ConfigMap', obj, true);
    expect(r.unknown).toEqual(['metadata.__proto__', 'metadata.constructor', 'toString', 'spec']);
    expect(Object.keys(obj.metadata)).toEqual(['name']);
    expect(Object.keys(obj)).toEqual(['metadata', 'data']);
    expect(Object.prototype.hasOwnProperty.call(obj.data, '__proto__')).toBe(true); // a map key, kept
  });

  it('paths carry list indexes', () => {
    const r = decodeTyped('v1', 'Pod', pod({ imagePullPolicyy: 'x' }), false);
    expect(r.unknown).toEqual(['spec.containers[0].imagePullPolicyy']);
  });

  it('knows nothing of kinds without descriptors', () => {
    expect(decodeTyped('example.com/v1', 'Widget', { spec: { x: 1 } }, true).unknown).toEqual([]);
  });
});

describe('depth', () => {
  it('jsonDepth counts brackets outside strings', () => {
    expect(jsonDepth('{"a":[1,{"b":"[[[{{"}]}')).toBe(3);
    expect(jsonDepth('"\\"[["')).toBe(0);
    expect(jsonDepth('['.repeat(20000) + ']'.repeat(20000))).toBe(20000);
  });
  it('valueDepth walks without recursion and stops at the limit', () => {
    let v: unknown = 1;
    for (let i = 0; i < 50000; i++) v = [v];
    expect(valueDepth(v)).toBe(1001);
    expect(valueDepth({ a: { b: [1] } })).toBe(3);
  });
});
