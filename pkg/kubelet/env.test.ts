// env.test: $(VAR) expansion and environment resolution as upstream.
import { describe, expect, it } from 'vitest';
import { expand, expandCommand, needsPodIP, resolveEnv, resourceFieldValue } from './env.ts';
import type { EnvContext } from './env.ts';

const m = (o: Record<string, string>) => (n: string) => o[n];

describe('expand', () => {
  it.each([
    ['$(A)', 'x'],
    ['$(A)-$(B)', 'x-$(B)'],
    ['$$(A)', '$(A)'],
    ['$$$(A)', '$x'],
    ['a$b', 'a$b'],
    ['$(A', '$(A'],
    ['$()', '$()'],
    ['end$', 'end$'],
    ['$(A)$(A)', 'xx'],
  ])('%s → %s', (input, out) => expect(expand(input, m({ A: 'x' }))).toBe(out));
});

const pod = {
  metadata: { name: 'p', namespace: 'ns', uid: 'u1', labels: { app: 'web' }, annotations: { a: '1' } },
  spec: { nodeName: 'n1', serviceAccountName: 'default', containers: [{ name: 'c', resources: { limits: { cpu: '500m', memory: '64Mi' } } }] },
};
const ctx = (over: Partial<EnvContext> = {}): EnvContext => ({
  configMaps: new Map([['cm', { metadata: { name: 'cm' }, data: { K: 'v', 'bad key': 'z', X: '1' } }]]),
  secrets: new Map([['s', { metadata: { name: 's' }, data: { P: Buffer.from('secret').toString('base64') } }]]),
  podIP: '10.0.0.5',
  hostIP: '192.168.1.2',
  nodeAllocatable: { cpu: 4, memory: 8 << 30 },
  ...over,
});

describe('resolveEnv', () => {
  it('applies envFrom with prefix, then env with expansion, valueFrom and fieldRef', () => {
    const c = {
      name: 'c',
      envFrom: [{ configMapRef: { name: 'cm' }, prefix: 'CM_' }, { secretRef: { name: 's' } }],
      env: [
        { name: 'A', value: 'a' },
        { name: 'B', value: '$(A)-$(CM_K)-$(NOPE)' },
        { name: 'K', valueFrom: { configMapKeyRef: { name: 'cm', key: 'K' } } },
        { name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'P' } } },
        { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        { name: 'CM_X', value: 'override' },
      ],
    };
    const r = resolveEnv(pod, c, ctx());
    expect('env' in r).toBe(true);
    const env = Object.fromEntries((r as any).env.map((e: any) => [e.name, e.value]));
    expect(env).toEqual({
      CM_K: 'v',
      CM_X: 'override',
      P: 'secret',
      A: 'a',
      B: 'a-v-$(NOPE)',
      K: 'v',
      S: 'secret',
      NAME: 'p',
      APP: 'web',
      IP: '10.0.0.5',
      HOST: '192.168.1.2',
      NODE: 'n1',
      MEM: '64',
    });
    expect(env['CM_bad key']).toBeUndefined();
  });

  it.each([
    [{ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'K' } } }] }, 'configmap "nope" not found'],
    [{ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'Q' } } }] }, "couldn't find key Q in ConfigMap ns/cm"],
    [{ env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'K' } } }] }, 'secret "nope" not found'],
    [{ env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'Q' } } }] }, "couldn't find key Q in Secret ns/s"],
    [{ envFrom: [{ configMapRef: { name: 'nope' } }] }, 'configmap "nope" not found'],
  ])('reports missing sources: %j', (c, error) => {
    expect(resolveEnv(pod, { name: 'c', ...c }, ctx())).toEqual({ error });
  });

  it('skips optional missing sources', () => {
    const c = { name: 'c', envFrom: [{ secretRef: { name: 'nope', optional: true } }], env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'Q', optional: true } } }] };
    expect(resolveEnv(pod, c, ctx())).toEqual({ env: [] });
  });
});

describe('resourceFieldValue', () => {
  it.each([
    [{ resource: 'limits.cpu' }, '1'],
    [{ resource: 'limits.cpu', divisor: '1m' }, '500'],
    [{ resource: 'limits.memory' }, String(64 << 20)],
    [{ resource: 'requests.cpu' }, '0'],
  ])('%j → %s', (ref, v) => expect(resourceFieldValue(pod, ref, 'c', { cpu: 4, memory: 1 })).toBe(v));

  it('falls back to node allocatable without a limit', () => {
    const p = { ...pod, spec: { containers: [{ name: 'c' }] } };
    expect(resourceFieldValue(p, { resource: 'limits.cpu' }, 'c', { cpu: 4, memory: 1 })).toBe('4');
  });
});

describe('expandCommand', () => {
  it('expands command and args over the env', () => {
    expect(expandCommand({ command: ['echo', '$(A)'], args: ['$$(A)', '$(B)'] }, [{ name: 'A', value: '1' }])).toEqual({ command: ['echo', '1'], args: ['$(A)', '$(B)'] });
  });
});

describe('needsPodIP', () => {
  it('is true only when an env var reads status.podIP or status.podIPs', () => {
    expect(needsPodIP({ name: 'c' })).toBe(false);
    expect(needsPodIP({ env: [{ name: 'A', value: 'x' }, { name: 'N', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] })).toBe(false);
    expect(needsPodIP({ env: [{ name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }] })).toBe(true);
    expect(needsPodIP({ env: [{ name: 'IPS', valueFrom: { fieldRef: { fieldPath: 'status.podIPs' } } }] })).toBe(true);
  });
});
