// node.test: the node graph (pods → secrets, configmaps, PVCs, service accounts) and the Node authorizer's decisions.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { requestAttributes } from './attributes.ts';
import { authorizeNode, NodeGraph, podRefs, selects } from './node.ts';

const nodeA = { name: 'system:node:a', groups: ['system:nodes', 'system:authenticated'] };
const pod = (name: string, node: string | undefined, spec: Partial<Pod['spec']> = {}): Pod => ({
  metadata: { name, namespace: 'default' },
  spec: { nodeName: node, containers: [{ name: 'c', image: 'i' }], ...spec } as Pod['spec'],
});

describe('podRefs', () => {
  it('finds every reference kind', () => {
    const p = pod('p', 'a', {
      serviceAccountName: 'sa',
      imagePullSecrets: [{ name: 'pull' }],
      containers: [{ name: 'c', envFrom: [{ secretRef: { name: 'envs' } }, { configMapRef: { name: 'envc' } }], env: [{ name: 'x', valueFrom: { secretKeyRef: { name: 'ks', key: 'k' } } }] }],
      volumes: [{ name: 'v', secret: { secretName: 'vs' } }, { name: 'w', projected: { sources: [{ configMap: { name: 'pc' } }] } }, { name: 'd', persistentVolumeClaim: { claimName: 'claim' } }],
    });
    expect(podRefs(p).map((r) => r.join(':')).sort()).toEqual(['configmaps:envc', 'configmaps:pc', 'persistentvolumeclaims:claim', 'secrets:envs', 'secrets:ks', 'secrets:pull', 'secrets:vs', 'serviceaccounts:sa'].sort());
  });
});

describe('authorizeNode', () => {
  const g = new NodeGraph();
  g.set(pod('on-a', 'a', { volumes: [{ name: 'v', secret: { secretName: 'sa' } }], serviceAccountName: 'runner' }), 'default/on-a');
  g.set(pod('on-b', 'b', { volumes: [{ name: 'v', secret: { secretName: 'sb' } }] }), 'default/on-b');
  g.set(pod('shared-b', 'b', { volumes: [{ name: 'v', secret: { secretName: 'sa' } }] }), 'default/shared-b');
  const ask = (method: string, path: string, q = '') => authorizeNode(g, requestAttributes(nodeA, method, path, new URLSearchParams(q)), new URLSearchParams(q).get('fieldSelector') ?? '');
  it.each([
    ['GET', '/api/v1/namespaces/default/secrets/sa', '', true],
    ['GET', '/api/v1/namespaces/default/secrets/sb', '', false],
    ['GET', '/api/v1/namespaces/default/secrets', 'fieldSelector=metadata.name%3Dsa&watch=true', true],
    ['GET', '/api/v1/namespaces/default/secrets', '', false],
    ['PUT', '/api/v1/namespaces/default/secrets/sa', '', false],
    ['POST', '/api/v1/namespaces/default/serviceaccounts/runner/token', '', true],
    ['POST', '/api/v1/namespaces/default/serviceaccounts/other/token', '', false],
    ['GET', '/api/v1/namespaces/default/pods/on-a', '', true],
    ['GET', '/api/v1/namespaces/default/pods/on-b', '', false],
    ['GET', '/api/v1/pods', 'fieldSelector=spec.nodeName%3Da', true],
    ['GET', '/api/v1/pods', 'fieldSelector=spec.nodeName%3Db', false],
    ['PATCH', '/api/v1/namespaces/default/pods/on-a/status', '', true],
    ['PATCH', '/api/v1/namespaces/default/pods/on-b/status', '', false],
    ['DELETE', '/api/v1/namespaces/default/pods/on-b', '', false],
    ['PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/a', '', true],
    ['PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/b', '', false],
    ['PATCH', '/api/v1/nodes/a/status', '', true],
    ['DELETE', '/api/v1/nodes/b', '', false],
    ['GET', '/api/v1/services', '', true],
    ['POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', '', true],
    ['DELETE', '/api/v1/namespaces/default', '', false],
  ])('%s %s?%s → %s', (m, p, q, ok) => expect(ask(m, p, q)?.allowed).toBe(ok));
  it('explains a missing relationship as upstream', () => {
    expect(ask('GET', '/api/v1/namespaces/default/secrets/sb')?.reason).toBe("no relationship found between node 'a' and this object");
  });
  it('forgets a deleted pod, keeps a still-shared reference', () => {
    const h = new NodeGraph();
    h.set(pod('x', 'a', { volumes: [{ name: 'v', secret: { secretName: 's' } }] }), 'default/x');
    h.set(pod('y', 'a', { volumes: [{ name: 'v', secret: { secretName: 's' } }] }), 'default/y');
    h.set(undefined, 'default/x');
    expect(h.has('a', 'secrets', 'default', 's')).toBe(true);
    h.set(undefined, 'default/y');
    expect(h.has('a', 'secrets', 'default', 's')).toBe(false);
    expect(h.has('a', 'pods', 'default', 'y')).toBe(false);
  });
  it('has no opinion on users that are not nodes', () => {
    expect(authorizeNode(g, requestAttributes({ name: 'bob', groups: [] }, 'GET', '/api/v1/namespaces/default/secrets/sa', new URLSearchParams()))).toBeUndefined();
  });
});

describe('selects', () => {
  it.each([
    ['spec.nodeName=a', true],
    ['spec.nodeName==a', true],
    ['status.phase!=Failed,spec.nodeName=a', true],
    ['spec.nodeName!=a', false],
    ['spec.nodeName=ab', false],
    ['', false],
  ])('%s → %s', (sel, ok) => expect(selects(sel, 'spec.nodeName', 'a')).toBe(ok));
});
