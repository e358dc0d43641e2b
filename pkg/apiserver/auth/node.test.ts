// node.test: the node graph (pods → secrets, configmaps, PVCs, service accounts) and the Node authorizer's decisions.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { requestAttributes } from './attributes.ts';
import { lookupKind } from '../../api/resources.ts';
import { openTempStore } from '../../store/testing.ts';
import { silentLogger } from '../../util/log.ts';
import { Registry } from '../registry.ts';
import { authorizeNode, NodeGraph, NodeGraphCache, podRefs, selects } from './node.ts';

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

describe('NodeGraphCache', () => {
  it('follows pods through the registry: binding adds the edges, status writes keep them, deletion drops them', async () => {
    const tmp = openTempStore('nodegraph', { compactEveryWrites: 0 });
    const reg = new Registry(tmp.store, silentLogger());
    await reg.start();
    const cache = new NodeGraphCache(reg, silentLogger());
    try {
      const POD = lookupKind('v1', 'Pod')!;
      await reg.create(lookupKind('v1', 'Namespace')!, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'g' } }, {});
      await reg.create(POD, 'g', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [{ name: 'c', image: 'i' }], volumes: [{ name: 'v', secret: { secretName: 'creds' } }] } }, {});
      await cache.start();
      // fresh: every write committed so far is in the graph (the cache fans events out on a later turn than it applies them)
      const settled = () => cache.fresh();
      await settled();
      expect(cache.graph.has('a', 'secrets', 'g', 'creds')).toBe(false);
      await reg.bind('g', 'web', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'web' }, target: { kind: 'Node', name: 'a' } }, {});
      await settled();
      expect(cache.graph.nodeOf('g/web')).toBe('a');
      expect(cache.graph.has('a', 'secrets', 'g', 'creds')).toBe(true);
      const bound = await reg.get(POD, 'g', 'web');
      await reg.update(POD, 'g', 'web', { ...bound, status: { ...bound.status, phase: 'Running' } }, {}, 'status');
      await settled();
      expect(cache.graph.has('a', 'secrets', 'g', 'creds')).toBe(true);
      expect(cache.graph.has('a', 'pods', 'g', 'web')).toBe(true);
      await reg.delete(POD, 'g', 'web', { gracePeriodSeconds: 0 });
      await settled();
      expect(cache.graph.nodeOf('g/web')).toBeUndefined();
      expect(cache.graph.has('a', 'secrets', 'g', 'creds')).toBe(false);
    } finally {
      cache.stop();
      reg.stop();
      await tmp.close();
    }
  });
});
