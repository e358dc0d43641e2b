// template.test: a pod built from a template carries its labels, annotations, finalizers, spec and the controller ref.
import { describe, expect, it } from 'vitest';
import { podFromTemplate } from './template.ts';

describe('podFromTemplate', () => {
  it('copies the template and adds generateName and the controller ref', () => {
    const template = { metadata: { labels: { app: 'web' }, annotations: { a: 'b' }, finalizers: ['x/y'], name: 'ignored' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    const ref = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'u1', controller: true, blockOwnerDeletion: true };
    const pod = podFromTemplate(template, 'web', ref);
    expect(pod).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'web-', labels: { app: 'web' }, annotations: { a: 'b' }, finalizers: ['x/y'], ownerReferences: [ref] },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    pod.spec.containers[0].image = 'changed';
    pod.metadata.labels!.app = 'changed';
    expect(template.spec.containers[0].image).toBe('busybox');
    expect(template.metadata.labels.app).toBe('web');
  });

  it('leaves out what the template does not have', () => {
    expect(podFromTemplate(undefined, 'rc')).toEqual({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'rc-' }, spec: {} });
  });
});
