// escalation.test: upstream's Covers/CompactRules arithmetic and the escalation check over the bootstrap policy, as tables.
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding } from 'kubernetes-types/rbac/v1.js';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/errors.ts';
import { CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES } from './bootstrap.ts';
import {
  breakdownRule,
  checkEscalation,
  compactRules,
  compactString,
  covers,
  escalationAdmission,
  escalationMessage,
  onlyGcFieldsChanged,
  rbacKind,
  ruleCovers,
  type EscalationAuthorizer,
  type RbacKind,
  type RbacObject,
} from './escalation.ts';
import { authorize, emptySnapshot, type PolicySnapshot } from './rbac.ts';
import type { UserInfo } from './types.ts';

const G = 'rbac.authorization.k8s.io';
const alice: UserInfo = { name: 'alice', groups: ['devs', 'system:authenticated'] };
const root: UserInfo = { name: 'root', groups: ['system:masters', 'system:authenticated'] };

const rule = (verbs: string[], resources: string[], apiGroups = [''], extra: Partial<PolicyRule> = {}): PolicyRule => ({ verbs, apiGroups, resources, ...extra });
const role = (ns: string, name: string, rules: PolicyRule[]): Role => ({ apiVersion: `${G}/v1`, kind: 'Role', metadata: { name, namespace: ns }, rules });
const rb = (ns: string, name: string, refKind: string, ref: string, subject = 'alice'): RoleBinding => ({
  apiVersion: `${G}/v1`,
  kind: 'RoleBinding',
  metadata: { name, namespace: ns },
  roleRef: { apiGroup: G, kind: refKind, name: ref },
  subjects: [{ kind: 'User', apiGroup: G, name: subject }],
});
const crb = (name: string, ref: string, subject = 'alice'): ClusterRoleBinding => ({
  apiVersion: `${G}/v1`,
  kind: 'ClusterRoleBinding',
  metadata: { name },
  roleRef: { apiGroup: G, kind: 'ClusterRole', name: ref },
  subjects: [{ kind: 'User', apiGroup: G, name: subject }],
});

/** policy is the bootstrap policy plus extra objects; alice is a namespace admin of `team-a` by default. */
function policy(extra: { roles?: Role[]; bindings?: RoleBinding[]; clusterRoles?: ClusterRole[]; clusterBindings?: ClusterRoleBinding[] } = {}): PolicySnapshot {
  const s = emptySnapshot();
  for (const r of [...CLUSTER_ROLES, ...(extra.clusterRoles ?? [])]) s.clusterRoles.set(r.metadata!.name!, r);
  s.clusterRoleBindings = [...CLUSTER_ROLE_BINDINGS, ...(extra.clusterBindings ?? [])];
  for (const r of extra.roles ?? []) s.roles.set(`${r.metadata!.namespace}/${r.metadata!.name}`, r);
  for (const b of extra.bindings ?? [rb('team-a', 'alice-admin', 'ClusterRole', 'admin')]) {
    const ns = b.metadata!.namespace!;
    s.roleBindings.set(ns, [...(s.roleBindings.get(ns) ?? []), b]);
  }
  return s;
}

function authz(snap: PolicySnapshot, later?: PolicySnapshot): EscalationAuthorizer & { freshCalls: number } {
  let cur = snap;
  const a = {
    freshCalls: 0,
    authorize: (x: Parameters<EscalationAuthorizer['authorize']>[0]) => (x.user.groups.includes('system:masters') ? { allowed: true, reason: '' } : authorize(cur, x)),
    snapshot: () => cur,
    fresh: async () => {
      a.freshCalls++;
      if (later) cur = later;
    },
  };
  return a;
}

async function refusal(p: Promise<void>): Promise<ApiError | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
}

describe('breakdownRule', () => {
  it.each<[string, PolicyRule, PolicyRule[]]>([
    ['one of each', rule(['get'], ['pods']), [rule(['get'], ['pods'])]],
    ['verbs × resources', rule(['get', 'list'], ['pods', 'secrets']), [rule(['get'], ['pods']), rule(['list'], ['pods']), rule(['get'], ['secrets']), rule(['list'], ['secrets'])]],
    ['resource names', rule(['get'], ['configmaps'], [''], { resourceNames: ['a', 'b'] }), [rule(['get'], ['configmaps'], [''], { resourceNames: ['a'] }), rule(['get'], ['configmaps'], [''], { resourceNames: ['b'] })]],
    ['non-resource URLs', { verbs: ['get', 'post'], nonResourceURLs: ['/x'] }, [{ nonResourceURLs: ['/x'], verbs: ['get'] }, { nonResourceURLs: ['/x'], verbs: ['post'] }]],
  ])('%s', (_n, r, want) => expect(breakdownRule(r)).toEqual(want));
});

describe('ruleCovers', () => {
  it.each<[string, PolicyRule, PolicyRule, boolean]>([
    ['exact', rule(['get'], ['pods']), rule(['get'], ['pods']), true],
    ['verb *', rule(['*'], ['pods']), rule(['delete'], ['pods']), true],
    ['other verb', rule(['get'], ['pods']), rule(['list'], ['pods']), false],
    ['group *', rule(['get'], ['deployments'], ['*']), rule(['get'], ['deployments'], ['apps']), true],
    ['other group', rule(['get'], ['deployments'], ['apps']), rule(['get'], ['deployments'], ['extensions']), false],
    ['resource * covers a subresource', rule(['get'], ['*']), rule(['get'], ['pods/log']), true],
    ['*/log covers pods/log', rule(['get'], ['*/log']), rule(['get'], ['pods/log']), true],
    ['pods does not cover pods/log', rule(['get'], ['pods']), rule(['get'], ['pods/log']), false],
    ['`*` as a wanted verb needs `*`', rule(['get', 'list'], ['pods']), rule(['*'], ['pods']), false],
    ['unrestricted covers a named rule', rule(['get'], ['configmaps']), rule(['get'], ['configmaps'], [''], { resourceNames: ['a'] }), true],
    ['named does not cover unrestricted', rule(['get'], ['configmaps'], [''], { resourceNames: ['a'] }), rule(['get'], ['configmaps']), false],
    ['named covers the same name', rule(['get'], ['configmaps'], [''], { resourceNames: ['a', 'b'] }), rule(['get'], ['configmaps'], [''], { resourceNames: ['b'] }), true],
    ['url prefix', { verbs: ['get'], nonResourceURLs: ['/apis/*'] }, { verbs: ['get'], nonResourceURLs: ['/apis/apps'] }, true],
    ['url other', { verbs: ['get'], nonResourceURLs: ['/healthz'] }, { verbs: ['get'], nonResourceURLs: ['/metrics'] }, false],
    ['resource rule does not cover a url', rule(['*'], ['*'], ['*']), { verbs: ['get'], nonResourceURLs: ['/metrics'] }, false],
  ])('%s', (_n, owner, sub, want) => expect(ruleCovers(owner, sub)).toBe(want));

  it('covers reports the atoms missing', () => {
    const r = covers([rule(['get', 'list'], ['pods'])], [rule(['get', 'delete'], ['pods', 'secrets'])]);
    expect(r.covered).toBe(false);
    expect(r.missing).toEqual([rule(['delete'], ['pods']), rule(['get'], ['secrets']), rule(['delete'], ['secrets'])]);
    expect(covers([rule(['*'], ['*'], ['*'])], [rule(['get'], ['pods'])]).covered).toBe(true);
  });
});

describe('compact form', () => {
  it('compactRules joins the verbs of one group/resource', () => {
    expect(compactRules([rule(['get'], ['pods']), rule(['list'], ['pods']), rule(['get'], ['secrets']), rule(['get'], ['pods'])])).toEqual([rule(['get', 'list'], ['pods']), rule(['get'], ['secrets'])]);
    const url = { verbs: ['get'], nonResourceURLs: ['/x'] };
    expect(compactRules([url, url])).toEqual([url, url]);
  });
  it('compactString is upstream\'s', () => {
    expect(compactString(rule(['get', 'list'], ['secrets']))).toBe('{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}');
    expect(compactString({ verbs: ['*'], nonResourceURLs: ['*'] })).toBe('{NonResourceURLs:["*"], Verbs:["*"]}');
    expect(compactString(rule(['get'], ['configmaps'], [''], { resourceNames: ['a'] }))).toBe('{APIGroups:[""], Resources:["configmaps"], ResourceNames:["a"], Verbs:["get"]}');
  });
  it('escalationMessage sorts the compacted lines', () => {
    expect(escalationMessage(alice, [rule(['list'], ['secrets']), rule(['get'], ['nodes']), rule(['get'], ['secrets'])])).toBe(
      'user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
        '{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}\n{APIGroups:[""], Resources:["secrets"], Verbs:["list" "get"]}',
    );
  });
});

describe('checkEscalation', () => {
  const cases: { name: string; user?: UserInfo; kind: RbacKind; obj: RbacObject; snap?: PolicySnapshot; old?: RbacObject; error?: string | RegExp; code?: number }[] = [
    { name: 'system:masters may grant anything', user: root, kind: 'ClusterRoleBinding', obj: crb('x', 'cluster-admin') },
    { name: 'a namespace admin binds edit in its namespace', kind: 'RoleBinding', obj: rb('team-a', 'bob-edit', 'ClusterRole', 'edit', 'bob') },
    { name: 'a namespace admin binds admin in its namespace', kind: 'RoleBinding', obj: rb('team-a', 'bob-admin', 'ClusterRole', 'admin', 'bob') },
    {
      name: 'a namespace admin may not bind cluster-admin',
      kind: 'RoleBinding',
      obj: rb('team-a', 'mine', 'ClusterRole', 'cluster-admin'),
      error:
        'rolebindings.rbac.authorization.k8s.io "mine" is forbidden: user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
        '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}',
    },
    {
      name: 'nor bind edit in a namespace it does not administer',
      kind: 'RoleBinding',
      obj: rb('team-b', 'x', 'ClusterRole', 'view'),
      error: /^rolebindings\.rbac\.authorization\.k8s\.io "x" is forbidden: user "alice" .* not currently held:\n(.*\n)*\{APIGroups:\[""\], Resources:\["configmaps"\], Verbs:\["get" "list" "watch"\]\}\n/,
    },
    { name: 'a Role granting secrets in its own namespace', kind: 'Role', obj: role('team-a', 'sec', [rule(['get', 'list'], ['secrets'])]) },
    {
      name: 'a Role granting what admin lacks (nodes)',
      kind: 'Role',
      obj: role('team-a', 'n', [rule(['get', 'list'], ['secrets']), rule(['get', 'list'], ['nodes'])]),
      error: 'roles.rbac.authorization.k8s.io "n" is forbidden: user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}',
    },
    {
      name: 'a Role granting secrets in another namespace',
      kind: 'Role',
      obj: role('team-b', 'sec', [rule(['get'], ['secrets'])]),
      error: 'roles.rbac.authorization.k8s.io "sec" is forbidden: user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}',
    },
    {
      name: '`escalate` on roles allows any Role',
      kind: 'Role',
      obj: role('team-a', 'n', [rule(['*'], ['*'], ['*'])]),
      snap: policy({
        roles: [role('team-a', 'escalator', [rule(['escalate'], ['roles'], [G])])],
        bindings: [rb('team-a', 'alice-admin', 'ClusterRole', 'admin'), rb('team-a', 'esc', 'Role', 'escalator')],
      }),
    },
    {
      name: '`bind` on cluster-admin by name allows binding it',
      kind: 'RoleBinding',
      obj: rb('team-a', 'mine', 'ClusterRole', 'cluster-admin'),
      snap: policy({
        roles: [role('team-a', 'binder', [rule(['bind'], ['clusterroles'], [G], { resourceNames: ['cluster-admin'] })])],
        bindings: [rb('team-a', 'b', 'Role', 'binder')],
      }),
    },
    {
      name: 'a binding to a missing role is a 404',
      kind: 'RoleBinding',
      obj: rb('team-a', 'x', 'Role', 'nope'),
      error: 'roles.rbac.authorization.k8s.io "nope" not found',
      code: 404,
    },
    {
      name: 'a ClusterRoleBinding is checked against cluster-wide rules only',
      kind: 'ClusterRoleBinding',
      obj: crb('x', 'view'),
      error: /^clusterrolebindings\.rbac\.authorization\.k8s\.io "x" is forbidden: user "alice"/,
    },
    {
      name: 'an aggregationRule needs cluster-admin',
      kind: 'ClusterRole',
      obj: { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'agg' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: 'y' } }] }, rules: [] },
      snap: policy({ bindings: [], clusterBindings: [crb('alice-crole', 'croles')], clusterRoles: [{ metadata: { name: 'croles' }, rules: [rule(['create'], ['clusterroles'], [G])] }] }),
      error: 'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin privileges to use the aggregationRule',
    },
    {
      name: 'an update that only changes finalizers is never checked',
      kind: 'RoleBinding',
      obj: { ...rb('team-a', 'x', 'ClusterRole', 'cluster-admin'), metadata: { name: 'x', namespace: 'team-a', finalizers: ['f'], resourceVersion: '9' } },
      old: { ...rb('team-a', 'x', 'ClusterRole', 'cluster-admin'), metadata: { name: 'x', namespace: 'team-a', resourceVersion: '8' } },
    },
    {
      name: 'an update that changes labels is checked',
      kind: 'RoleBinding',
      obj: { ...rb('team-a', 'x', 'ClusterRole', 'cluster-admin'), metadata: { name: 'x', namespace: 'team-a', labels: { a: 'b' } } },
      old: rb('team-a', 'x', 'ClusterRole', 'cluster-admin'),
      error: /is attempting to grant RBAC permissions not currently held/,
    },
  ];
  it.each(cases)('$name', async (c) => {
    const e = await refusal(checkEscalation(c.user ?? alice, c.kind, c.obj, authz(c.snap ?? policy()), c.old));
    if (c.error === undefined) return expect(e?.message).toBeUndefined();
    expect(e, 'refused').toBeDefined();
    expect(e!.code).toBe(c.code ?? 403);
    if (typeof c.error === 'string') expect(e!.message).toBe(c.error);
    else expect(e!.message).toMatch(c.error);
    if ((c.code ?? 403) === 403) expect(e!.status).toMatchObject({ reason: 'Forbidden', details: { group: G, kind: `${c.kind.toLowerCase()}s` } });
  });

  it('re-checks once after the policy caught up (a binding written a moment ago)', async () => {
    const stale = policy({ bindings: [] });
    const a = authz(stale, policy());
    await checkEscalation(alice, 'Role', role('team-a', 's', [rule(['get'], ['secrets'])]), a);
    expect(a.freshCalls).toBe(1);
  });

  it('escalationAdmission ignores other kinds and in-process writes', async () => {
    const check = escalationAdmission(authz(policy({ bindings: [] })));
    const grant = role('team-a', 's', [rule(['*'], ['*'], ['*'])]);
    await expect(check(undefined, { group: G, kind: 'Role' }, grant)).resolves.toBeUndefined();
    await expect(check(alice, { group: 'example.com', kind: 'Role' }, grant)).resolves.toBeUndefined();
    await expect(check(alice, { group: G, kind: 'Role' }, grant)).rejects.toThrow(/not currently held/);
  });

  it('rbacKind and onlyGcFieldsChanged', () => {
    expect(rbacKind({ group: G, kind: 'ClusterRoleBinding' })).toBe('ClusterRoleBinding');
    expect(rbacKind({ group: '', kind: 'Pod' })).toBeUndefined();
    const a = role('n', 'r', [rule(['get'], ['pods'])]);
    expect(onlyGcFieldsChanged({ ...a, metadata: { ...a.metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'u' }] } }, a)).toBe(true);
    expect(onlyGcFieldsChanged(role('n', 'r', [rule(['list'], ['pods'])]), a)).toBe(false);
  });
});
