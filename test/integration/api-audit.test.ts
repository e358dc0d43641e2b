// api-audit: the audit log (--audit-log-path) records a create, a forbidden request, a failed authentication and a watch in upstream's Event shape; RBAC escalation prevention refuses a namespace admin's grants beyond its own, with upstream's message.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, fetch as ufetch } from 'undici';
import { ROOT, kubectl, startServer, type RunningServer, userKubeconfig as userKubeconfigFor } from '../helpers/server.ts';

interface Ev {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username?: string; groups?: string[] };
  impersonatedUser?: { username?: string };
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: Record<string, string>;
  responseStatus?: { code?: number; reason?: string; status?: string; message?: string };
  annotations?: Record<string, string>;
}

let srv: RunningServer;
let dataDir = '';
let auditPath = '';
let aliceKc = '';
const insecure = new Agent({ connect: { rejectUnauthorized: false } });
const BAD_TOKEN = 'not-a-token-7f3a9c2e';

const userKubeconfig = (user: string, groups: string[]) => userKubeconfigFor(srv, user, groups);

const admin = (args: string[], input?: string) => kubectl(srv.kubeconfig, args, { input });
const ok = (r: { code: number; stdout: string; stderr: string }) => {
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
};

function events(): Ev[] {
  if (!existsSync(auditPath)) return [];
  return readFileSync(auditPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Ev);
}

/** waitEvents polls the log (written asynchronously) until `pick` finds at least `n` events, at most 10 s. */
async function waitEvents(pick: (e: Ev) => boolean, n = 1): Promise<Ev[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = events().filter(pick);
    if (found.length >= n || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kubeling-audit-'));
  auditPath = join(dataDir, 'audit', 'audit.log');
  srv = await startServer({ dataDir, args: ['--disable-agent', '--audit-log-path', auditPath, '--audit-log-maxsize', '10', '--audit-log-maxbackup', '2'] });
  aliceKc = userKubeconfig('alice', ['devs']);
}, 120_000);

afterAll(async () => {
  await srv?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('audit log', () => {
  it('records a create: who, what, which object, the outcome and the decision — never the data or the token', async () => {
    ok(admin(['create', 'configmap', 'audited', '--from-literal=password=hunter2-value']));
    const [ev] = await waitEvents((e) => e.verb === 'create' && e.objectRef?.resource === 'configmaps' && e.objectRef?.name === 'audited');
    expect(ev).toBeDefined();
    expect(ev).toMatchObject({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      stage: 'ResponseComplete',
      requestURI: expect.stringMatching(/^\/api\/v1\/namespaces\/default\/configmaps/),
      sourceIPs: ['127.0.0.1'],
      userAgent: expect.stringMatching(/^kubectl\//),
      objectRef: { resource: 'configmaps', namespace: 'default', name: 'audited', apiVersion: 'v1' },
      responseStatus: { code: 201 },
      annotations: { 'authorization.k8s.io/decision': 'allow' },
    });
    expect(ev!.user.groups).toContain('system:masters');
    expect(ev!.auditID).toMatch(/^[0-9a-f-]{36}$/);
    const raw = readFileSync(auditPath, 'utf8');
    expect(raw).not.toContain('hunter2-value');
    expect(raw).not.toContain(srv.token);
  });

  it('records a forbidden request with upstream\'s forbid annotation and Status fields', async () => {
    const r = kubectl(aliceKc, ['get', 'secrets', '-n', 'kube-system']);
    expect(r.stderr).toContain('secrets is forbidden: User "alice" cannot list resource "secrets"');
    const [ev] = await waitEvents((e) => e.user.username === 'alice' && e.objectRef?.resource === 'secrets' && e.objectRef?.namespace === 'kube-system');
    expect(ev).toMatchObject({
      stage: 'ResponseComplete',
      verb: 'list',
      user: { username: 'alice', groups: ['devs', 'system:authenticated'] },
      responseStatus: { code: 403, status: 'Failure', reason: 'Forbidden' },
      annotations: { 'authorization.k8s.io/decision': 'forbid' },
    });
  });

  it('records a failed authentication as upstream: ResponseStarted, no user, the method tried — not the token', async () => {
    const r = await ufetch(`${srv.url}/api/v1/namespaces/default/pods?audit=failed`, { dispatcher: insecure, headers: { authorization: `Bearer ${BAD_TOKEN}` } });
    expect(r.status).toBe(401);
    const id = r.headers.get('audit-id');
    expect(id).toBeTruthy();
    const evs = await waitEvents((e) => e.auditID === id);
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ stage: 'ResponseStarted', verb: 'list', user: {}, responseStatus: { code: 401, message: 'Authentication failed, attempted: bearer' } });
    expect(readFileSync(auditPath, 'utf8')).not.toContain(BAD_TOKEN);
  });

  it('records a watch with ResponseStarted and, at its end, ResponseComplete', async () => {
    const r = await ufetch(`${srv.url}/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1`, { dispatcher: insecure, headers: { authorization: `Bearer ${srv.token}` } });
    expect(r.status).toBe(200);
    await r.text(); // the server ends the watch after 1 s
    const id = r.headers.get('audit-id');
    const evs = await waitEvents((e) => e.auditID === id, 2);
    expect(evs.map((e) => [e.stage, e.verb, e.responseStatus?.code])).toEqual([
      ['ResponseStarted', 'watch', 200],
      ['ResponseComplete', 'watch', 200],
    ]);
  });

  it('records an impersonated request with the actor as user and the impersonated user', async () => {
    const r = admin(['get', 'pods', '--as', 'mallory']);
    expect(r.stderr).toContain('User "mallory" cannot list resource "pods"');
    const [ev] = await waitEvents((e) => e.impersonatedUser?.username === 'mallory' && e.objectRef?.resource === 'pods');
    expect(ev).toBeDefined();
    expect(ev!.user.groups).toContain('system:masters');
    expect(ev!.responseStatus?.code).toBe(403);
  });
});

describe('RBAC escalation prevention', () => {
  beforeAll(() => {
    ok(admin(['create', 'namespace', 'team-a']));
    ok(admin(['create', 'namespace', 'team-b']));
    ok(admin(['create', 'rolebinding', 'alice-admin', '--clusterrole=admin', '--user=alice', '-n', 'team-a']));
  });
  const alice = (args: string[]) => kubectl(aliceKc, args);
  const escalation = (head: string, ...missing: string[]) =>
    `${head} is forbidden: user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n${missing.join('\n')}`;

  it('a namespace admin binds edit in its namespace but may not bind cluster-admin', () => {
    ok(alice(['create', 'rolebinding', 'bob-edit', '--clusterrole=edit', '--user=bob', '-n', 'team-a']));
    const r = alice(['create', 'rolebinding', 'mine', '--clusterrole=cluster-admin', '--user=alice', '-n', 'team-a']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(escalation('rolebindings.rbac.authorization.k8s.io "mine"', '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}', '{NonResourceURLs:["*"], Verbs:["*"]}'));
    expect(admin(['get', 'rolebinding', 'mine', '-n', 'team-a']).code).not.toBe(0);
  });

  it('a namespace admin creates a Role granting secrets in its namespace, not one granting what it lacks', () => {
    ok(alice(['create', 'role', 'secret-reader', '--verb=get,list', '--resource=secrets', '-n', 'team-a']));
    const r = alice(['create', 'role', 'node-reader', '--verb=get', '--resource=nodes', '-n', 'team-a']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(escalation('roles.rbac.authorization.k8s.io "node-reader"', '{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}'));
  });

  it('outside its namespace the request itself is forbidden', () => {
    const r = alice(['create', 'role', 'secret-reader', '--verb=get', '--resource=secrets', '-n', 'team-b']);
    expect(r.stderr).toContain('roles.rbac.authorization.k8s.io is forbidden: User "alice" cannot create resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "team-b"');
    const c = alice(['create', 'clusterrolebinding', 'alice-view', '--clusterrole=view', '--user=alice']);
    expect(c.stderr).toContain('User "alice" cannot create resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope');
  });

  it('`escalate` on roles and `bind` on a ClusterRole lift the check, as upstream', () => {
    ok(admin(['create', 'role', 'escalator', '--verb=escalate', '--resource=roles.rbac.authorization.k8s.io', '-n', 'team-a']));
    ok(admin(['create', 'role', 'binder', '--verb=bind', '--resource=clusterroles.rbac.authorization.k8s.io', '--resource-name=cluster-admin', '-n', 'team-a']));
    ok(admin(['create', 'rolebinding', 'alice-escalator', '--role=escalator', '--user=alice', '-n', 'team-a']));
    ok(admin(['create', 'rolebinding', 'alice-binder', '--role=binder', '--user=alice', '-n', 'team-a']));
    ok(alice(['create', 'role', 'node-reader', '--verb=get', '--resource=nodes', '-n', 'team-a']));
    ok(alice(['create', 'rolebinding', 'mine', '--clusterrole=cluster-admin', '--user=alice', '-n', 'team-a']));
  });
});
