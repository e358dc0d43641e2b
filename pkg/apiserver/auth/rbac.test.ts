// rbac.test: rule matching, subject matching, aggregation and decisions of the RBAC authorizer, as tables.
import type { ClusterRole, PolicyRule } from 'kubernetes-types/rbac/v1.js';
import { describe, expect, it } from 'vitest';
import { CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES } from './bootstrap.ts';
import { aggregate, authorize, emptySnapshot, ruleAllows, rulesFor, subjectApplies, type PolicySnapshot } from './rbac.ts';
import type { Attributes, UserInfo } from './types.ts';

const bob: UserInfo = { name: 'bob', groups: ['devs', 'system:authenticated'] };
const res = (verb: string, resource: string, extra: Partial<Attributes> = {}): Attributes => ({
  user: bob, verb, resourceRequest: true, path: '', apiGroup: '', apiVersion: 'v1', resource, subresource: '', namespace: 'default', name: '', ...extra,
});
const url = (verb: string, path: string): Attributes => ({ ...res(verb, ''), resourceRequest: false, path, namespace: '' });

describe('ruleAllows', () => {
  const cases: [string, PolicyRule, Attributes, boolean][] = [
    ['exact verb, group, resource', { verbs: ['get'], apiGroups: [''], resources: ['pods'] }, res('get', 'pods'), true],
    ['other verb', { verbs: ['get'], apiGroups: [''], resources: ['pods'] }, res('list', 'pods'), false],
    ['verb *', { verbs: ['*'], apiGroups: [''], resources: ['pods'] }, res('delete', 'pods'), true],
    ['other group', { verbs: ['get'], apiGroups: ['apps'], resources: ['pods'] }, res('get', 'pods'), false],
    ['group *', { verbs: ['get'], apiGroups: ['*'], resources: ['deployments'] }, res('get', 'deployments', { apiGroup: 'apps' }), true],
    ['pods does not cover pods/log', { verbs: ['get'], apiGroups: [''], resources: ['pods'] }, res('get', 'pods', { subresource: 'log' }), false],
    ['pods/log', { verbs: ['get'], apiGroups: [''], resources: ['pods/log'] }, res('get', 'pods', { subresource: 'log' }), true],
    ['*/log', { verbs: ['get'], apiGroups: [''], resources: ['*/log'] }, res('get', 'pods', { subresource: 'log' }), true],
    ['resource * covers subresources', { verbs: ['get'], apiGroups: [''], resources: ['*'] }, res('get', 'pods', { subresource: 'status' }), true],
    ['resourceNames match', { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }, res('get', 'configmaps', { name: 'a' }), true],
    ['resourceNames miss', { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }, res('get', 'configmaps', { name: 'b' }), false],
    ['resourceNames never allow a list', { verbs: ['list'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }, res('list', 'configmaps'), false],
    ['non-resource exact', { verbs: ['get'], nonResourceURLs: ['/healthz'] }, url('get', '/healthz'), true],
    ['non-resource prefix', { verbs: ['get'], nonResourceURLs: ['/apis/*'] }, url('get', '/apis/apps/v1'), true],
    ['non-resource other', { verbs: ['get'], nonResourceURLs: ['/healthz'] }, url('get', '/metrics'), false],
    ['resource rule never matches a path', { verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, url('get', '/healthz'), false],
  ];
  it.each(cases)('%s', (_n, rule, a, want) => expect(ruleAllows(a, rule)).toBe(want));
});

describe('subjectApplies', () => {
  const sa: UserInfo = { name: 'system:serviceaccount:ns1:builder', groups: [] };
  it.each([
    [bob, { kind: 'User', name: 'bob' }, '', true],
    [bob, { kind: 'User', name: 'alice' }, '', false],
    [bob, { kind: 'Group', name: 'devs' }, '', true],
    [sa, { kind: 'ServiceAccount', name: 'builder', namespace: 'ns1' }, '', true],
    [sa, { kind: 'ServiceAccount', name: 'builder' }, 'ns1', true],
    [sa, { kind: 'ServiceAccount', name: 'builder' }, 'ns2', false],
  ])('%#', (u, s, ns, want) => expect(subjectApplies(u, s, ns)).toBe(want));
});

function bootstrapSnapshot(): PolicySnapshot {
  const snap = emptySnapshot();
  for (const r of CLUSTER_ROLES) snap.clusterRoles.set(r.metadata!.name!, r);
  snap.clusterRoleBindings = [...CLUSTER_ROLE_BINDINGS];
  return snap;
}

describe('aggregation', () => {
  it('gives view the aggregate-to-view rules, edit view+edit, admin all three', () => {
    const snap = bootstrapSnapshot();
    const rules = (n: string) => aggregate(snap, snap.clusterRoles.get(n)!);
    expect(rules('view').length).toBe(CLUSTER_ROLES.find((r) => r.metadata!.name === 'system:aggregate-to-view')!.rules!.length);
    expect(rules('edit').length).toBeGreaterThan(rules('view').length);
    expect(rules('admin').length).toBeGreaterThan(rules('edit').length);
  });
  it('picks up a new role carrying the label', () => {
    const snap = bootstrapSnapshot();
    const extra: ClusterRole = { metadata: { name: 'crd-view', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } }, rules: [{ verbs: ['get'], apiGroups: ['x.io'], resources: ['widgets'] }] };
    snap.clusterRoles.set('crd-view', extra);
    expect(aggregate(snap, snap.clusterRoles.get('view')!)).toContainEqual(extra.rules![0]);
  });
});

describe('authorize', () => {
  const snap = bootstrapSnapshot();
  snap.roleBindings.set('default', [{ metadata: { name: 'devs-view', namespace: 'default' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'Group', name: 'devs' }] }]);
  it.each([
    ['view reads pods in its namespace', res('list', 'pods'), true],
    ['view reads pod logs', res('get', 'pods', { subresource: 'log', name: 'p' }), true],
    ['view may not create pods', res('create', 'pods'), false],
    ['view may not read secrets', res('get', 'secrets', { name: 's' }), false],
    ['the binding is for default only', res('list', 'pods', { namespace: 'other' }), false],
    ['a RoleBinding never grants cluster scope', res('list', 'pods', { namespace: '' }), false],
    ['discovery for the authenticated', url('get', '/apis/apps/v1'), true],
    ['basic-user reviews', res('create', 'selfsubjectaccessreviews', { apiGroup: 'authorization.k8s.io', namespace: '' }), true],
  ])('%s', (_n, a, want) => expect(authorize(snap, a).allowed).toBe(want));

  it('names the binding that allows', () => {
    expect(authorize(snap, res('list', 'pods')).reason).toBe('RBAC: allowed by RoleBinding "devs-view/default" of ClusterRole "view" to Group "devs"');
  });

  it('gives system:nodes only the proxy\'s reads by RBAC (the Node authorizer grants the rest)', () => {
    const node: UserInfo = { name: 'kubeling-node', groups: ['system:nodes', 'system:authenticated'] };
    expect(authorize(snap, { ...res('patch', 'nodes', { subresource: 'status', namespace: '', name: 'n1' }), user: node }).allowed).toBe(false);
    expect(authorize(snap, { ...res('list', 'endpointslices', { apiGroup: 'discovery.k8s.io', namespace: '' }), user: node }).allowed).toBe(true);
    expect(authorize(snap, { ...res('delete', 'namespaces', { namespace: 'kube-system', name: 'kube-system' }), user: node }).allowed).toBe(false);
    expect(authorize(snap, { ...res('create', 'deployments', { apiGroup: 'apps' }), user: node }).allowed).toBe(false);
  });

  it('rulesFor lists the rules of every binding that applies', () => {
    const r = rulesFor(snap, bob, 'default');
    expect(r.resourceRules.some((x) => x.resources?.includes('pods') && x.verbs.includes('list'))).toBe(true);
    expect(r.nonResourceRules.some((x) => x.nonResourceURLs?.includes('/api'))).toBe(true);
    expect(rulesFor(snap, bob, 'other').resourceRules.some((x) => x.resources?.includes('pods'))).toBe(false);
  });
});
