// rbac: the RBAC authorizer as pure functions over a policy snapshot — rule matching, subject matching, ClusterRole aggregation, rules reviews.
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject } from 'kubernetes-types/rbac/v1.js';
import { selectorMatches } from '../../api/kinds/index.ts';
import type { Attributes, Decision, RulesOf, UserInfo } from './types.ts';

/** PolicySnapshot is every RBAC object, indexed the way the authorizer reads them. */
export interface PolicySnapshot {
  clusterRoles: Map<string, ClusterRole>;
  /** `namespace/name` → Role */
  roles: Map<string, Role>;
  clusterRoleBindings: ClusterRoleBinding[];
  /** namespace → its RoleBindings */
  roleBindings: Map<string, RoleBinding[]>;
}

export function emptySnapshot(): PolicySnapshot {
  return { clusterRoles: new Map(), roles: new Map(), clusterRoleBindings: [], roleBindings: new Map() };
}

const has = (list: string[] | undefined, v: string): boolean => !!list && (list.includes('*') || list.includes(v));

/** resourceMatches is upstream's ResourceMatches: `*`, the exact `resource/subresource`, or `*​/subresource`. */
export function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true;
    if (subresource && r === `*/${subresource}`) return true;
  }
  return false;
}

/** nonResourceURLMatches: `*`, the exact path, or a rule ending in `*` that prefixes the path (`/apis/*`). */
export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === '*' || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}

/** ruleAllows is upstream's RuleAllows: verbs, then api groups, resources and names, or the non-resource URL. */
export function ruleAllows(a: Attributes, rule: PolicyRule): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.resourceRequest) return nonResourceURLMatches(rule, a.path);
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  if (!has(rule.apiGroups, a.apiGroup) || !resourceMatches(rule, combined, a.subresource)) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(a.name);
}

/** subjectApplies is upstream's appliesToUser; a ServiceAccount subject without namespace takes the binding's. */
export function subjectApplies(user: UserInfo, s: Subject, bindingNamespace: string): boolean {
  switch (s.kind) {
    case 'User':
      return user.name === s.name;
    case 'Group':
      return user.groups.includes(s.name);
    case 'ServiceAccount':
      return user.name === `system:serviceaccount:${s.namespace || bindingNamespace}:${s.name}`;
  }
  return false;
}

function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `${s.kind} "${s.namespace || bindingNamespace}/${s.name}"`;
  return `${s.kind} "${s.name}"`;
}

/**
 * clusterRoleRules gives a ClusterRole's rules; with an aggregationRule, the rules of every ClusterRole its selectors
 * match (aggregated ones resolved in turn), as the aggregation controller would have stored them.
 */
export function clusterRoleRules(snap: PolicySnapshot, name: string, seen = new Set<string>()): PolicyRule[] {
  const role = snap.clusterRoles.get(name);
  if (!role || seen.has(name)) return [];
  seen.add(name);
  const sels = role.aggregationRule?.clusterRoleSelectors;
  if (!sels?.length) return role.rules ?? [];
  return aggregate(snap, role, seen);
}

/** aggregate unions the rules of the ClusterRoles `role`'s selectors match, in name order, duplicates dropped. */
export function aggregate(snap: PolicySnapshot, role: ClusterRole, seen = new Set<string>([role.metadata?.name ?? ''])): PolicyRule[] {
  const out: PolicyRule[] = [];
  const keys = new Set<string>();
  const names = [...snap.clusterRoles.keys()].sort();
  for (const n of names) {
    if (n === role.metadata?.name) continue;
    const other = snap.clusterRoles.get(n)!;
    if (!(role.aggregationRule?.clusterRoleSelectors ?? []).some((sel) => selectorMatches(sel, other.metadata?.labels))) continue;
    for (const r of clusterRoleRules(snap, n, new Set(seen))) {
      const k = JSON.stringify(r);
      if (keys.has(k)) continue;
      keys.add(k);
      out.push(r);
    }
  }
  return out;
}

function refRules(snap: PolicySnapshot, ref: RoleRef, namespace: string): PolicyRule[] {
  if (ref.kind === 'ClusterRole') return clusterRoleRules(snap, ref.name);
  if (ref.kind === 'Role' && namespace) return snap.roles.get(`${namespace}/${ref.name}`)?.rules ?? [];
  return [];
}

/**
 * visitRules calls visit with each rule that applies to the user in the namespace ('' = cluster scope only) and a
 * description of where it comes from; visit returns true to stop. ClusterRoleBindings first, as upstream.
 */
export function visitRules(snap: PolicySnapshot, user: UserInfo, namespace: string, visit: (rule: PolicyRule, source: () => string) => boolean): void {
  for (const b of snap.clusterRoleBindings) {
    const s = (b.subjects ?? []).find((x) => subjectApplies(user, x, ''));
    if (!s) continue;
    const source = () => `ClusterRoleBinding "${b.metadata?.name}" of ${b.roleRef.kind} "${b.roleRef.name}" to ${describeSubject(s, '')}`;
    for (const r of refRules(snap, b.roleRef, '')) if (visit(r, source)) return;
  }
  if (!namespace) return;
  for (const b of snap.roleBindings.get(namespace) ?? []) {
    const s = (b.subjects ?? []).find((x) => subjectApplies(user, x, namespace));
    if (!s) continue;
    const source = () => `RoleBinding "${b.metadata?.name}/${namespace}" of ${b.roleRef.kind} "${b.roleRef.name}" to ${describeSubject(s, namespace)}`;
    for (const r of refRules(snap, b.roleRef, namespace)) if (visit(r, source)) return;
  }
}

/** authorize is the RBAC decision: allowed with the binding that allows it, or denied with no reason (upstream's no-opinion). */
export function authorize(snap: PolicySnapshot, a: Attributes): Decision {
  let reason = '';
  visitRules(snap, a.user, a.resourceRequest ? a.namespace : '', (rule, source) => {
    if (!ruleAllows(a, rule)) return false;
    reason = `RBAC: allowed by ${source()}`;
    return true;
  });
  return { allowed: reason !== '', reason };
}

/** rulesFor is a SelfSubjectRulesReview's answer: every rule that applies to the user in the namespace, split by kind. */
export function rulesFor(snap: PolicySnapshot, user: UserInfo, namespace: string): RulesOf {
  const out: RulesOf = { resourceRules: [], nonResourceRules: [], incomplete: false };
  visitRules(snap, user, namespace, (rule) => {
    if (rule.nonResourceURLs?.length) out.nonResourceRules.push({ verbs: rule.verbs, nonResourceURLs: rule.nonResourceURLs });
    else {
      const r: PolicyRule = { verbs: rule.verbs, apiGroups: rule.apiGroups ?? [], resources: rule.resources ?? [] };
      if (rule.resourceNames?.length) r.resourceNames = rule.resourceNames;
      out.resourceRules.push(r);
    }
    return false;
  });
  return out;
}
