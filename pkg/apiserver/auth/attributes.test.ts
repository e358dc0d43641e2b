// attributes.test: request → authorization attributes (upstream's RequestInfo), forbidden messages, impersonation and certificate users.
import { describe, expect, it } from 'vitest';
import { forbidden, requestAttributes } from './attributes.ts';
import { certUser, tokenUser } from './authenticate.ts';
import { impersonatedUser, impersonationChecks, parseImpersonation } from './impersonate.ts';
import type { UserInfo } from './types.ts';

const bob: UserInfo = { name: 'bob', groups: [] };
const attrs = (method: string, url: string) => {
  const [p, q = ''] = url.split('?');
  const a = requestAttributes(bob, method, p, new URLSearchParams(q));
  return [a.verb, a.resourceRequest ? `${a.apiGroup}|${a.resource}|${a.subresource}|${a.namespace}|${a.name}` : a.path].join(' ');
};

describe('requestAttributes', () => {
  it.each([
    ['GET', '/api/v1/namespaces/default/pods', 'list |pods||default|'],
    ['GET', '/api/v1/namespaces/default/pods?watch=true', 'watch |pods||default|'],
    ['GET', '/api/v1/watch/namespaces/default/pods', 'watch |pods||default|'],
    ['GET', '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb&watch=1', 'watch |pods||default|web'],
    ['GET', '/api/v1/namespaces/default/pods/web/log', 'get |pods|log|default|web'],
    ['POST', '/api/v1/namespaces/default/pods/web/exec', 'create |pods|exec|default|web'],
    ['DELETE', '/apis/apps/v1/namespaces/a/deployments', 'deletecollection apps|deployments||a|'],
    ['DELETE', '/apis/apps/v1/namespaces/a/deployments/d', 'delete apps|deployments||a|d'],
    ['PATCH', '/api/v1/nodes/n1/status', 'patch |nodes|status||n1'],
    ['PUT', '/api/v1/namespaces/x/finalize', 'update |namespaces|finalize|x|x'],
    ['GET', '/api/v1/namespaces/kube-system', 'get |namespaces||kube-system|kube-system'],
    ['GET', '/api/v1/nodes', 'list |nodes|||'],
    ['POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', 'create authorization.k8s.io|selfsubjectaccessreviews|||'],
    ['GET', '/apis/apps/v1', 'get /apis/apps/v1'],
    ['GET', '/api', 'get /api'],
    ['GET', '/healthz', 'get /healthz'],
    ['GET', '/openapi/v3/apis/apps/v1', 'get /openapi/v3/apis/apps/v1'],
  ])('%s %s', (m, u, want) => expect(attrs(m, u)).toBe(want));
});

describe('forbidden', () => {
  const a = (method: string, url: string) => requestAttributes(bob, method, url, new URLSearchParams());
  it.each([
    ['POST', '/api/v1/namespaces/default/pods', 'pods is forbidden: User "bob" cannot create resource "pods" in API group "" in the namespace "default"'],
    ['GET', '/apis/apps/v1/namespaces/default/deployments/web', 'deployments.apps "web" is forbidden: User "bob" cannot get resource "deployments" in API group "apps" in the namespace "default"'],
    ['GET', '/api/v1/nodes', 'nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope'],
    ['GET', '/api/v1/namespaces/default/pods/p/log', 'pods "p" is forbidden: User "bob" cannot get resource "pods/log" in API group "" in the namespace "default"'],
    ['GET', '/metrics', 'forbidden: User "bob" cannot get path "/metrics"'],
  ])('%s %s', (m, u, want) => {
    const e = forbidden(a(m, u));
    expect(e.code).toBe(403);
    expect(e.status.reason).toBe('Forbidden');
    expect(e.status.message).toBe(want);
  });
});

describe('impersonation', () => {
  it('reads the headers and lists the checks', () => {
    const imp = parseImpersonation({ 'impersonate-user': 'bob', 'impersonate-group': ['g1', 'g2'], 'impersonate-extra-scopes': 'a,b' })!;
    expect(imp).toEqual({ user: 'bob', groups: ['g1', 'g2'], uid: undefined, extra: { scopes: ['a', 'b'] } });
    const checks = impersonationChecks({ name: 'admin', groups: [] }, imp).map((c) => `${c.verb} ${c.apiGroup}|${c.resource}|${c.subresource}|${c.name}`);
    expect(checks).toEqual(['impersonate |users||bob', 'impersonate |groups||g1', 'impersonate |groups||g2', 'impersonate authentication.k8s.io|userextras|scopes|a', 'impersonate authentication.k8s.io|userextras|scopes|b']);
    expect(impersonatedUser(imp)).toEqual({ name: 'bob', groups: ['g1', 'g2', 'system:authenticated'], extra: { scopes: ['a', 'b'] } });
  });
  it('checks a service account as serviceaccounts and gives it its groups', () => {
    const imp = parseImpersonation({ 'impersonate-user': 'system:serviceaccount:ns1:sa' })!;
    expect(impersonationChecks(bob, imp)[0]).toMatchObject({ resource: 'serviceaccounts', namespace: 'ns1', name: 'sa' });
    expect(impersonatedUser(imp).groups).toEqual(['system:serviceaccounts', 'system:serviceaccounts:ns1', 'system:authenticated']);
  });
  it('refuses groups without a user and ignores no headers', () => {
    expect(() => parseImpersonation({ 'impersonate-group': 'g' })).toThrow(/without impersonating a user/);
    expect(parseImpersonation({})).toBeUndefined();
  });
});

describe('users', () => {
  it('maps certificate CN and O to name and groups, refusing server-only certificates', () => {
    expect(certUser({ subject: { CN: 'alice', O: ['devs', 'qa'] } as never })).toEqual({ name: 'alice', groups: ['devs', 'qa'] });
    expect(certUser({ subject: { CN: 'alice', O: 'devs' } as never, ext_key_usage: ['1.3.6.1.5.5.7.3.2'] })).toEqual({ name: 'alice', groups: ['devs'] });
    expect(certUser({ subject: { CN: 'kubeling' } as never, ext_key_usage: ['1.3.6.1.5.5.7.3.1'] })).toBeUndefined();
  });
  it('maps the legacy token names', () => {
    expect(tokenUser('admin')).toEqual({ name: 'admin', groups: ['system:masters'] });
    expect(tokenUser('node')).toEqual({ name: 'kubeling-node', groups: ['system:nodes'] });
  });
});
