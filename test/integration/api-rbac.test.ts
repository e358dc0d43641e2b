// api-rbac: identities and RBAC with the real kubectl — a certificate user bound to view, create role/rolebinding/clusterrolebinding, can-i, whoami, --as, the node token's limits.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, fetch as ufetch } from 'undici';
import { ROOT, kubectl, startServer, type RunningServer, userKubeconfig as userKubeconfigFor } from '../helpers/server.ts';

let srv: RunningServer;
let aliceKc = '';
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

const userKubeconfig = (user: string, groups: string[]) => userKubeconfigFor(srv, user, groups);

const admin = (args: string[], input?: string) => kubectl(srv.kubeconfig, args, { input });
const ok = (r: { code: number; stdout: string; stderr: string }) => {
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
};

beforeAll(async () => {
  srv = await startServer();
  aliceKc = userKubeconfig('alice', ['devs', 'qa']);
  ok(admin(['run', 'web', '--image=kubeling/busybox:test', '--restart=Never']));
}, 120_000);

afterAll(async () => {
  await srv?.cleanup();
});

describe('identities', () => {
  it('auth whoami names the admin, a certificate user and an impersonated user', () => {
    expect(ok(admin(['auth', 'whoami', '-o', 'json']))).toContain('"system:masters"');
    const alice = JSON.parse(ok(kubectl(aliceKc, ['auth', 'whoami', '-o', 'json'])));
    expect(alice.status.userInfo).toEqual({ username: 'alice', groups: ['devs', 'qa', 'system:authenticated'] });
    const bob = JSON.parse(ok(admin(['auth', 'whoami', '-o', 'json', '--as', 'bob', '--as-group', 'g1'])));
    expect(bob.status.userInfo).toEqual({ username: 'bob', groups: ['g1', 'system:authenticated'] });
  });

  it('answers 401 and closes the connection without credentials, 401 for a wrong token', async () => {
    const r = await ufetch(`${srv.url}/api/v1/pods`, { dispatcher: insecure });
    expect(r.status).toBe(401);
    expect(r.headers.get('connection')).toBe('close');
    expect((await r.json()) as object).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    const bad = await ufetch(`${srv.url}/version`, { dispatcher: insecure, headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    // anonymous may read what system:public-info-viewer allows
    expect((await ufetch(`${srv.url}/version`, { dispatcher: insecure })).status).toBe(200);
  });
});

describe('RBAC', () => {
  it('a certificate user bound to view reads pods and gets upstream\'s 403 on create', () => {
    const denied = kubectl(aliceKc, ['get', 'pods']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"');
    ok(admin(['create', 'rolebinding', 'devs-view', '--clusterrole=view', '--group=devs']));
    expect(ok(kubectl(aliceKc, ['get', 'pods', '-o', 'name']))).toBe('pod/web');
    expect(ok(kubectl(aliceKc, ['auth', 'can-i', 'get', 'pods/log']))).toBe('yes');
    const create = kubectl(aliceKc, ['run', 'x', '--image=kubeling/busybox:test']);
    expect(create.code).not.toBe(0);
    expect(create.stderr).toContain('pods is forbidden: User "alice" cannot create resource "pods" in API group "" in the namespace "default"');
    const secrets = kubectl(aliceKc, ['get', 'secrets']);
    expect(secrets.stderr).toContain('secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "default"');
    const other = kubectl(aliceKc, ['get', 'pods', '-n', 'kube-system']);
    expect(other.stderr).toContain('in the namespace "kube-system"');
  });

  it('kubectl create role / rolebinding / clusterrolebinding flips can-i', () => {
    const canI = (args: string[]) => admin(['auth', 'can-i', ...args, '--as', 'carol']).stdout.trim();
    expect(canI(['create', 'configmaps'])).toBe('no');
    ok(admin(['create', 'role', 'cm-writer', '--verb=create,get', '--resource=configmaps']));
    ok(admin(['create', 'rolebinding', 'carol-cm', '--role=cm-writer', '--user=carol']));
    expect(canI(['create', 'configmaps'])).toBe('yes');
    expect(canI(['create', 'configmaps', '-n', 'kube-system'])).toBe('no');
    expect(canI(['list', 'nodes'])).toBe('no');
    ok(admin(['create', 'clusterrolebinding', 'carol-view', '--clusterrole=view', '--user=carol']));
    expect(canI(['list', 'deployments.apps', '-A'])).toBe('yes');
    expect(canI(['delete', 'deployments.apps'])).toBe('no');
    const list = admin(['auth', 'can-i', '--list', '--as', 'carol']).stdout;
    expect(list).toMatch(/\nconfigmaps\s+\[\]\s+\[\]\s+\[[^\]]*create[^\]]*\]/);
    const wide = ok(admin(['get', 'rolebinding', 'carol-cm', '-o', 'wide']));
    expect(wide).toMatch(/carol-cm\s+Role\/cm-writer\s+\S+\s+carol/);
    // can-i through a SubjectAccessReview names the binding that allows
    const sar = JSON.parse(ok(admin(['create', '-o', 'json', '-f', '-'], JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
      spec: { user: 'carol', resourceAttributes: { namespace: 'default', verb: 'create', resource: 'configmaps' } },
    }))));
    expect(sar.status).toEqual({ allowed: true, reason: 'RBAC: allowed by RoleBinding "carol-cm/default" of Role "cm-writer" to User "carol"' });
  });

  it('--as needs the impersonate verb', () => {
    const r = kubectl(aliceKc, ['get', 'pods', '--as', 'admin']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('users "admin" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope');
    expect(ok(admin(['auth', 'can-i', 'create', 'pods', '--as', 'dave', '--as-group', 'system:masters']))).toBe('yes');
  });

  it('aggregates ClusterRoles with the aggregate-to labels', async () => {
    ok(admin(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole',
      metadata: { name: 'lease-view', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } },
      rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['list'] }],
    })));
    expect(ok(kubectl(aliceKc, ['auth', 'can-i', 'list', 'leases.coordination.k8s.io']))).toBe('yes');
    for (let i = 0; i < 50; i++) {
      const view = JSON.parse(ok(admin(['get', 'clusterrole', 'view', '-o', 'json'])));
      if (JSON.stringify(view.rules).includes('leases')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('view never got the aggregated rule');
  });

  it('validates RBAC objects as upstream', () => {
    const r = admin(['create', '-f', '-'], JSON.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'bad' }, rules: [{ apiGroups: [''], resources: ['pods'] }] }));
    expect(r.stderr).toContain('The Role "bad" is invalid: rules[0].verbs: Required value: verbs must contain at least one value');
  });
});

describe('the node join token', () => {
  it('only bootstraps: it acts as system:bootstrappers and may ask for a certificate, nothing else', () => {
    const token = readFileSync(join(srv.dataDir, 'token'), 'utf8').trim();
    const node = (args: string[]) => kubectl(srv.kubeconfig, ['--token', token, ...args]);
    expect(JSON.parse(ok(node(['auth', 'whoami', '-o', 'json']))).status.userInfo).toMatchObject({ username: 'system:bootstrap:kubeling', groups: expect.arrayContaining(['system:bootstrappers', 'system:authenticated']) });
    ok(node(['get', 'csr']));
    const pods = node(['get', 'pods', '-A']);
    expect(pods.stderr).toContain('pods is forbidden: User "system:bootstrap:kubeling" cannot list resource "pods" in API group "" at the cluster scope');
    const del = node(['delete', 'namespace', 'default', '--wait=false']);
    expect(del.stderr).toContain('namespaces "default" is forbidden: User "system:bootstrap:kubeling" cannot delete resource "namespaces" in API group "" in the namespace "default"');
    const crb = node(['create', 'clusterrolebinding', 'escalate', '--clusterrole=cluster-admin', '--group=system:bootstrappers']);
    expect(crb.stderr).toContain('cannot create resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope');
  });
});
