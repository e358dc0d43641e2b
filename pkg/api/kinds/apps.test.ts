// apps.test: defaults, required fields and immutability of Deployment, ReplicaSet, StatefulSet and DaemonSet.
import { describe, expect, it } from 'vitest';
import { fieldErrorText } from '../errors.ts';
import { lookupKind } from '../resources.ts';
import type { KubeObject } from '../types.ts';
import { applyDefaults, validate } from './index.ts';

const info = (kind: string) => lookupKind('apps/v1', kind)!;
const texts = (kind: string, obj: KubeObject, old?: KubeObject) => validate(info(kind), obj, old).map(fieldErrorText);

function workload(kind: string, spec: Record<string, unknown> = {}): KubeObject {
  const obj: KubeObject = {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
      ...spec,
    },
  };
  applyDefaults(info(kind), obj);
  return obj;
}

describe('defaults', () => {
  it('Deployment', () => {
    const d = workload('Deployment');
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
    expect(d.spec.revisionHistoryLimit).toBe(10);
    expect(d.spec.progressDeadlineSeconds).toBe(600);
    expect('minReadySeconds' in d.spec).toBe(false);
    expect(workload('Deployment', { strategy: { type: 'Recreate' } }).spec.strategy).toEqual({ type: 'Recreate' });
  });
  it('ReplicaSet', () => {
    expect(workload('ReplicaSet').spec.replicas).toBe(1);
    expect(workload('ReplicaSet', { replicas: 0 }).spec.replicas).toBe(0);
  });
  it('StatefulSet', () => {
    const s = workload('StatefulSet', { serviceName: 'web', volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }] });
    expect(s.spec.replicas).toBe(1);
    expect(s.spec.podManagementPolicy).toBe('OrderedReady');
    expect(s.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
    expect(s.spec.revisionHistoryLimit).toBe(10);
    expect(s.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(s.spec.volumeClaimTemplates[0].spec.volumeMode).toBe('Filesystem');
    expect(texts('StatefulSet', s)).toEqual([]);
  });
  it('DaemonSet', () => {
    const d = workload('DaemonSet');
    expect(d.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    expect(d.spec.revisionHistoryLimit).toBe(10);
    expect(texts('DaemonSet', d)).toEqual([]);
  });
  it('templates get PodSpec defaults', () => {
    const t = workload('ReplicaSet').spec.template.spec;
    expect(t.dnsPolicy).toBe('ClusterFirst');
    expect(t.containers[0].terminationMessagePolicy).toBe('File');
  });
});

describe('validation', () => {
  it.each<[string, string, Record<string, unknown>, string[]]>([
    ['Deployment', 'negative replicas', { replicas: -1 }, ['spec.replicas: Invalid value: -1: must be greater than or equal to 0']],
    ['Deployment', 'missing selector', { selector: undefined }, ['spec.selector: Required value', 'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`']],
    ['Deployment', 'empty selector', { selector: {} }, ['spec.selector: Invalid value: {}: empty selector is invalid for deployment']],
    [
      'Deployment',
      'both zero',
      { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '0%' } } },
      ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0'],
    ],
    [
      'Deployment',
      'bad percent',
      { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '10x', maxUnavailable: 1 } } },
      [`spec.strategy.rollingUpdate.maxSurge: Invalid value: "10x": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`],
    ],
    [
      'Deployment',
      'restartPolicy',
      { template: { metadata: { labels: { app: 'web' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } },
      ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'],
    ],
    ['Deployment', 'progress deadline', { minReadySeconds: 10, progressDeadlineSeconds: 5 }, ['spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds']],
    ['ReplicaSet', 'no template containers', { template: { metadata: { labels: { app: 'web' } }, spec: {} } }, ['spec.template.spec.containers: Required value']],
    ['StatefulSet', 'bad podManagementPolicy', { podManagementPolicy: 'Random' }, [`spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`]],
    [
      'DaemonSet',
      'both non-zero',
      { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } } },
      ['spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero'],
    ],
  ])('%s: %s', (kind, _n, spec, want) => {
    expect(texts(kind, workload(kind, spec))).toEqual(want);
  });
});

describe('updates', () => {
  it.each(['Deployment', 'ReplicaSet', 'DaemonSet'])('%s selector is immutable', (kind) => {
    const old = workload(kind);
    const next = structuredClone(old);
    next.spec.selector = { matchLabels: { app: 'web', v: '2' } };
    next.spec.template.metadata.labels.v = '2';
    expect(texts(kind, next, old)).toEqual(['spec.selector: Invalid value: {"matchLabels":{"app":"web","v":"2"}}: field is immutable']);
  });
  it('Deployment template and replicas may change', () => {
    const old = workload('Deployment');
    const next = structuredClone(old);
    next.spec.replicas = 4;
    next.spec.template.spec.containers[0].image = 'nginx:2';
    expect(texts('Deployment', next, old)).toEqual([]);
  });
  it('StatefulSet only allows some spec fields to change', () => {
    const old = workload('StatefulSet', { serviceName: 'web' });
    const ok = structuredClone(old);
    ok.spec.replicas = 3;
    ok.spec.template.spec.containers[0].image = 'nginx:2';
    expect(texts('StatefulSet', ok, old)).toEqual([]);
    const bad = structuredClone(old);
    bad.spec.serviceName = 'other';
    expect(texts('StatefulSet', bad, old)).toEqual([
      "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ]);
  });
});
