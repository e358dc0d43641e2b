// noderestriction.test: what a node may write (its Node, Lease, pods bound to it) and the CSR strategies.
import { describe, expect, it } from 'vitest';
import { lookupKind } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import { admitCreate, admitUpdate, csrUpdate, forbiddenNodeLabels, nodeIdentity, nodeRestriction } from './noderestriction.ts';

const nodeInfo = lookupKind('v1', 'Node')!;
const podInfo = lookupKind('v1', 'Pod')!;
const leaseInfo = lookupKind('coordination.k8s.io/v1', 'Lease')!;
const csrInfo = lookupKind('certificates.k8s.io/v1', 'CertificateSigningRequest')!;
const nodeA = { name: 'system:node:a', groups: ['system:nodes', 'system:authenticated'] };
const obj = (o: Record<string, unknown>): KubeObject => o as unknown as KubeObject;

describe('nodeIdentity', () => {
  it.each([
    [nodeA, 'a'],
    [{ name: 'system:node:a', groups: [] }, undefined],
    [{ name: 'admin', groups: ['system:nodes'] }, undefined],
    [undefined, undefined],
  ])('%j → %s', (u, want) => expect(nodeIdentity(u)).toBe(want));
});

describe('forbiddenNodeLabels', () => {
  it('allows kubelet labels and other domains, forbids the rest of kubernetes.io and node-restriction', () => {
    expect(forbiddenNodeLabels({ 'kubernetes.io/hostname': 'a', 'node.kubernetes.io/x': '1', 'example.com/t': 'x', 'node-role.kubernetes.io/worker': '', 'node-restriction.kubernetes.io/z': 'q', 'foo.k8s.io/x': '' }))
      .toEqual(['foo.k8s.io/x', 'node-restriction.kubernetes.io/z', 'node-role.kubernetes.io/worker']);
    expect(forbiddenNodeLabels({ 'node-role.kubernetes.io/worker': '' }, { 'node-role.kubernetes.io/worker': '' })).toEqual([]);
    expect(forbiddenNodeLabels({}, { 'node-role.kubernetes.io/worker': '' })).toEqual(['node-role.kubernetes.io/worker']);
  });
});

describe('nodeRestriction', () => {
  const n = (name: string, extra: Record<string, unknown> = {}) => obj({ metadata: { name, labels: { 'kubernetes.io/hostname': name } }, spec: {}, ...extra });
  it.each([
    ['patch own node', { info: nodeInfo, operation: 'UPDATE', subresource: '', old: n('a'), obj: n('a') }, undefined],
    ['patch node b', { info: nodeInfo, operation: 'UPDATE', subresource: 'status', old: n('b'), obj: n('b') }, 'node "a" is not allowed to modify node "b"'],
    ['remove own taints', { info: nodeInfo, operation: 'UPDATE', subresource: '', old: n('a', { spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] } }), obj: n('a') }, 'node "a" is not allowed to modify taints'],
    ['pod status on b', { info: podInfo, operation: 'UPDATE', subresource: 'status', old: obj({ metadata: { name: 'p' }, spec: { nodeName: 'b' } }), obj: obj({ metadata: { name: 'p' }, spec: { nodeName: 'b' } }) }, 'node "a" can only update pod status for pods with spec.nodeName set to itself'],
    ['pod status on a', { info: podInfo, operation: 'UPDATE', subresource: 'status', old: obj({ metadata: { name: 'p' }, spec: { nodeName: 'a' } }), obj: obj({ metadata: { name: 'p' }, spec: { nodeName: 'a' } }) }, undefined],
    ['create a regular pod', { info: podInfo, operation: 'CREATE', subresource: '', obj: obj({ metadata: { name: 'p', namespace: 'kube-system' }, spec: { nodeName: 'a', hostNetwork: true } }) }, 'pod does not have "kubernetes.io/config.mirror" annotation, node "a" can only create mirror pods'],
    ['lease of b', { info: leaseInfo, operation: 'UPDATE', subresource: '', old: obj({ metadata: { name: 'b', namespace: 'kube-node-lease' } }), obj: obj({ metadata: { name: 'b', namespace: 'kube-node-lease' } }) }, 'can only access node lease with the same name as the requesting node'],
  ] as const)('%s', (_n, w, want) => expect(nodeRestriction('a', w as never)).toBe(want));
  it('throws upstream-shaped 403s through admitUpdate', () => {
    expect(() => admitUpdate(nodeInfo, n('b'), n('b'), undefined, nodeA)).toThrow(/nodes "b" is forbidden: node "a" is not allowed to modify node "b"/);
    expect(admitUpdate(nodeInfo, n('b'), n('b'), undefined, undefined)).toBeTruthy();
  });
});

describe('CSR strategy', () => {
  it('records the requester on create and drops a status', () => {
    const o = obj({ metadata: { name: 'c' }, spec: { username: 'forged', groups: ['system:masters'] }, status: { certificate: 'x' } });
    admitCreate(csrInfo, o, { name: 'system:bootstrap:kubeling', groups: ['system:bootstrappers', 'system:authenticated'] });
    expect(o.spec).toEqual({ username: 'system:bootstrap:kubeling', groups: ['system:bootstrappers', 'system:authenticated'] });
    expect(o.status).toEqual({});
  });
  it('approval changes only conditions; status keeps the decision; the main resource keeps status', () => {
    const old = obj({ metadata: { name: 'c' }, spec: { request: 'r' }, status: { conditions: [{ type: 'Approved', status: 'True' }] } });
    const approved = csrUpdate(obj({ metadata: { name: 'c' }, spec: { request: 'r' }, status: {} }), obj({ metadata: { name: 'c' }, spec: { request: 'changed' }, status: { certificate: 'x', conditions: [{ type: 'Approved', status: 'True' }] } }), 'approval');
    expect(approved.spec).toEqual({ request: 'r' });
    expect(approved.status).toEqual({ conditions: [{ type: 'Approved', status: 'True' }] });
    const signed = csrUpdate(old, obj({ metadata: { name: 'c' }, spec: { request: 'r' }, status: { certificate: 'x' } }), 'status');
    expect(signed.status).toEqual({ certificate: 'x', conditions: [{ type: 'Approved', status: 'True' }] });
    expect(csrUpdate(old, obj({ metadata: { name: 'c' }, spec: { request: 'r' }, status: {} }), '').status).toEqual(old.status);
  });
});
