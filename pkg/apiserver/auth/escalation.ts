// escalation: upstream's RBAC escalation prevention — a Role/ClusterRole write needs every permission it grants (or `escalate`), a binding needs the referenced role's permissions (or `bind` on it).
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef } from 'kubernetes-types/rbac/v1.js';
import { ApiError, errors } from '../../api/errors.ts';
import { clusterRoleRules, visitRules, type PolicySnapshot } from './rbac.ts';
import { GROUPS, type Attributes, type Decision, type UserInfo } from './types.ts';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** RbacKind is a kind whose writes are checked for escalation. */
export type RbacKind = 'Role' | 'ClusterRole' | 'RoleBinding' | 'ClusterRoleBinding';

/** RbacObject is what a checked write carries: one of the four RBAC kinds, in upstream's v1 shape. */
export type RbacObject = Role | ClusterRole | RoleBinding | ClusterRoleBinding;

const RESOURCES: Record<RbacKind, string> = { Role: 'roles', ClusterRole: 'clusterroles', RoleBinding: 'rolebindings', ClusterRoleBinding: 'clusterrolebindings' };
const CLUSTER_SCOPED = new Set<RbacKind>(['ClusterRole', 'ClusterRoleBinding']);

/** FULL_AUTHORITY is what setting or changing a ClusterRole's aggregationRule requires (upstream's fullAuthority): `*` on everything. */
export const FULL_AUTHORITY: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

/**
 * EscalationAuthorizer is what the check reads: the request authorizer (system:masters, Node, RBAC — for the
 * `escalate` and `bind` verbs), the RBAC policy snapshot (the rules a user holds, the rules a roleRef names) and,
 * optionally, a wait until the snapshot reflects every committed write (a refusal is re-checked once after it).
 */
export interface EscalationAuthorizer {
  authorize(a: Attributes): Decision | Promise<Decision>;
  snapshot(): PolicySnapshot;
  fresh?(): Promise<void>;
}

/** rbacKind names the RBAC kind of a resource, or undefined for every other (a CRD kind named `Role` included). */
export function rbacKind(info: { group: string; kind: string }): RbacKind | undefined {
  if (info.group !== RBAC_GROUP) return undefined;
  return info.kind in RESOURCES ? (info.kind as RbacKind) : undefined;
}

// ---- upstream's validation.Covers (k8s.io/component-helpers/auth/rbac/validation), pure ----

const has = (set: string[] | undefined, v: string): boolean => !!set && set.includes(v);
const hasAll = (set: string[] | undefined, want: string[] | undefined): boolean => (want ?? []).every((v) => has(set, v));

/**
 * breakdownRule splits a rule into rules of one group, resource, verb and (if any) resource name; non-resource URLs
 * combine only with verbs. Example: {apiGroups:[""], resources:[pods,secrets], verbs:[get]} → two rules.
 */
export function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const group of rule.apiGroups ?? []) {
    for (const resource of rule.resources ?? []) {
      for (const verb of rule.verbs ?? []) {
        if (rule.resourceNames?.length) {
          for (const n of rule.resourceNames) out.push({ apiGroups: [group], resources: [resource], verbs: [verb], resourceNames: [n] });
        } else out.push({ apiGroups: [group], resources: [resource], verbs: [verb] });
      }
    }
  }
  for (const url of rule.nonResourceURLs ?? []) for (const verb of rule.verbs ?? []) out.push({ nonResourceURLs: [url], verbs: [verb] });
  return out;
}

/** resourceCoversAll: `*`, every resource listed, or each subresource covered by `*​/sub`. */
function resourceCoversAll(owner: string[] | undefined, want: string[] | undefined): boolean {
  if (has(owner, '*') || hasAll(owner, want)) return true;
  for (const path of want ?? []) {
    if (has(owner, path)) continue;
    const slash = path.indexOf('/');
    if (slash < 0) return false;
    if (!has(owner, `*/${path.slice(slash + 1)}`)) return false;
  }
  return true;
}

const nonResourceURLCovers = (owner: string, sub: string): boolean => owner === sub || (owner.endsWith('*') && sub.startsWith(owner.replace(/\*+$/, '')));

function nonResourceURLsCoverAll(owner: string[] | undefined, want: string[] | undefined): boolean {
  return (want ?? []).every((p) => (owner ?? []).some((o) => nonResourceURLCovers(o, p)));
}

/** ruleCovers is upstream's: does owner (any shape) cover sub (one verb, resource, name — a breakdownRule result)? */
export function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  const verbs = has(owner.verbs, '*') || hasAll(owner.verbs, sub.verbs);
  const groups = has(owner.apiGroups, '*') || hasAll(owner.apiGroups, sub.apiGroups);
  const resources = resourceCoversAll(owner.resources, sub.resources);
  const urls = nonResourceURLsCoverAll(owner.nonResourceURLs, sub.nonResourceURLs);
  const names = sub.resourceNames?.length ? !owner.resourceNames?.length || hasAll(owner.resourceNames, sub.resourceNames) : !owner.resourceNames?.length;
  return verbs && groups && resources && urls && names;
}

/** covers is upstream's validation.Covers: whether ownerRules allow everything servantRules do, and the atoms they miss. */
export function covers(ownerRules: PolicyRule[], servantRules: PolicyRule[]): { covered: boolean; missing: PolicyRule[] } {
  const missing: PolicyRule[] = [];
  for (const sub of servantRules.flatMap(breakdownRule)) if (!ownerRules.some((o) => ruleCovers(o, sub))) missing.push(sub);
  return { covered: missing.length === 0, missing };
}

/**
 * compactRules is upstream's CompactRules: rules of one group and one resource (and at most one name) that differ only
 * by verb become one rule with the verbs in order of appearance; other rules pass as they are.
 * Example: [{"" pods get}, {"" pods list}] → [{"" pods [get list]}].
 */
export function compactRules(rules: PolicyRule[]): PolicyRule[] {
  const out: PolicyRule[] = [];
  const simple = new Map<string, PolicyRule>();
  for (const r of rules) {
    const isSimple =
      (r.resourceNames?.length ?? 0) <= 1 && !r.nonResourceURLs?.length && r.apiGroups?.length === 1 && r.resources?.length === 1;
    if (!isSimple) {
      out.push(r);
      continue;
    }
    const key = JSON.stringify([r.apiGroups![0], r.resources![0], r.resourceNames?.[0] ?? null]);
    const prev = simple.get(key);
    if (!prev) simple.set(key, { ...r, verbs: [...(r.verbs ?? [])] });
    else for (const v of r.verbs ?? []) if (!prev.verbs.includes(v)) prev.verbs.push(v);
  }
  return [...out, ...simple.values()];
}

/** goQuote is Go's %q of a string (for the names and groups upstream's messages quote). */
const goQuote = (s: string): string => JSON.stringify(s);
/** goQuoteList is Go's %q of a []string: `["a" "b"]`. */
const goQuoteList = (l: string[]): string => `[${l.map(goQuote).join(' ')}]`;

/** compactString is upstream's CompactString: `{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}`. */
export function compactString(r: PolicyRule): string {
  const parts: string[] = [];
  if (r.apiGroups?.length) parts.push(`APIGroups:${goQuoteList(r.apiGroups)}`);
  if (r.resources?.length) parts.push(`Resources:${goQuoteList(r.resources)}`);
  if (r.nonResourceURLs?.length) parts.push(`NonResourceURLs:${goQuoteList(r.nonResourceURLs)}`);
  if (r.resourceNames?.length) parts.push(`ResourceNames:${goQuoteList(r.resourceNames)}`);
  if (r.verbs?.length) parts.push(`Verbs:${goQuoteList(r.verbs)}`);
  return `{${parts.join(', ')}}`;
}

/** escalationMessage is upstream's ConfirmNoEscalation text for the rules the user misses (compacted, sorted, one a line). */
export function escalationMessage(user: UserInfo, missing: PolicyRule[]): string {
  const lines = [...new Set(compactRules(missing).map(compactString))].sort();
  return `user ${goQuote(user.name)} (groups=${goQuoteList(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${lines.join('\n')}`;
}

/** heldRules is upstream's RulesFor: every rule the user holds in the namespace ('' = cluster-wide bindings only). */
export function heldRules(snap: PolicySnapshot, user: UserInfo, namespace: string): PolicyRule[] {
  const out: PolicyRule[] = [];
  visitRules(snap, user, namespace, (rule) => {
    out.push(rule);
    return false;
  });
  return out;
}

/** roleRefRules is upstream's GetRoleReferenceRules: the rules a binding's roleRef names, 404 when the role is missing. */
export function roleRefRules(snap: PolicySnapshot, ref: RoleRef, bindingNamespace: string): PolicyRule[] {
  if (ref.kind === 'ClusterRole') {
    if (!snap.clusterRoles.has(ref.name)) throw errors.notFound({ group: RBAC_GROUP, resource: 'clusterroles' }, ref.name);
    return clusterRoleRules(snap, ref.name);
  }
  if (ref.kind === 'Role') {
    const role = bindingNamespace ? snap.roles.get(`${bindingNamespace}/${ref.name}`) : undefined;
    if (!role) throw errors.notFound({ group: RBAC_GROUP, resource: 'roles' }, ref.name);
    return role.rules ?? [];
  }
  throw errors.internal(`unsupported role reference kind: ${goQuote(ref.kind)}`);
}

/**
 * onlyGcFieldsChanged is upstream's IsOnlyMutatingGCFields: an update that changes nothing but ownerReferences,
 * finalizers and the deletion fields (what the garbage collector writes) is never checked. resourceVersion and
 * managedFields, which every write changes, are left out of the comparison.
 */
export function onlyGcFieldsChanged(next: RbacObject, old: RbacObject): boolean {
  const strip = (o: RbacObject, from: RbacObject): unknown => {
    const { resourceVersion: _rv, managedFields: _mf, ...meta } = o.metadata ?? {};
    const m = from.metadata ?? {};
    const out: Record<string, unknown> = { ...o, metadata: { ...meta, ownerReferences: m.ownerReferences, finalizers: m.finalizers, deletionTimestamp: m.deletionTimestamp, deletionGracePeriodSeconds: m.deletionGracePeriodSeconds } };
    return canonical(out);
  };
  return JSON.stringify(strip(next, old)) === JSON.stringify(strip(old, old));
}

/** canonical sorts object keys and drops undefined, so two equal objects serialize alike. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (!v || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = canonical(x);
  }
  return out;
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(canonical(a ?? null)) === JSON.stringify(canonical(b ?? null));

/** forbiddenFor is upstream's NewForbidden(rbac resource, name, err): `roles.rbac.authorization.k8s.io "x" is forbidden: …`. */
function forbiddenFor(kind: RbacKind, name: string, message: string): ApiError {
  const qualified = `${RESOURCES[kind]}.${RBAC_GROUP}`;
  const head = name ? `${qualified} ${goQuote(name)}` : qualified;
  return errors.forbidden(`${head} is forbidden: ${message}`, { ...(name ? { name } : {}), group: RBAC_GROUP, kind: RESOURCES[kind] });
}

function attributes(user: UserInfo, verb: string, resource: string, namespace: string, name: string, apiGroup = RBAC_GROUP, apiVersion = '*'): Attributes {
  return { user, verb, resourceRequest: true, path: '', apiGroup, apiVersion, resource, subresource: '', namespace, name };
}

async function allowed(authz: EscalationAuthorizer, a: Attributes): Promise<boolean> {
  return (await authz.authorize(a)).allowed;
}

/** missingRules answers ConfirmNoEscalation's question, re-asking once after the policy caught up (a binding just written). */
async function missingRules(authz: EscalationAuthorizer, user: UserInfo, namespace: string, rules: PolicyRule[]): Promise<PolicyRule[]> {
  let r = covers(heldRules(authz.snapshot(), user, namespace), rules);
  if (r.covered || !authz.fresh) return r.missing;
  await authz.fresh();
  r = covers(heldRules(authz.snapshot(), user, namespace), rules);
  return r.missing;
}

/**
 * checkEscalation refuses, as upstream's policy-based RBAC storage does, a write of an RBAC object by `user` that
 * would grant what the user does not hold. `obj` is the object about to be stored (namespace set), `old` the stored
 * one on an update. system:masters always may. Roles and ClusterRoles: allowed with `escalate` on the role, else
 * every rule must be covered by the user's own rules in the role's namespace; setting or changing an aggregationRule
 * requires `*` on everything. Bindings: allowed with `bind` on the referenced role, else the referenced role's rules
 * must be covered in the binding's namespace (a missing role is a 404). Throws upstream's 403, e.g.
 *   rolebindings.rbac.authorization.k8s.io "x" is forbidden: user "alice" (groups=["system:authenticated"]) is
 *   attempting to grant RBAC permissions not currently held:
 *   {APIGroups:["*"], Resources:["*"], Verbs:["*"]}
 */
export async function checkEscalation(user: UserInfo, kind: RbacKind, obj: RbacObject, authz: EscalationAuthorizer, old?: RbacObject): Promise<void> {
  if (user.groups.includes(GROUPS.masters)) return;
  const name = obj.metadata?.name ?? old?.metadata?.name ?? '';
  const namespace = CLUSTER_SCOPED.has(kind) ? '' : obj.metadata?.namespace ?? old?.metadata?.namespace ?? '';
  if (old && onlyGcFieldsChanged(obj, old)) return;
  if (kind === 'Role' || kind === 'ClusterRole') {
    if (await allowed(authz, attributes(user, 'escalate', RESOURCES[kind], namespace, name))) return;
    const role = obj as Role | ClusterRole;
    const missing = await missingRules(authz, user, namespace, role.rules ?? []);
    if (missing.length) throw forbiddenFor(kind, name, escalationMessage(user, missing));
    if (kind === 'ClusterRole') {
      const agg = (obj as ClusterRole).aggregationRule;
      const prev = (old as ClusterRole | undefined)?.aggregationRule;
      const touches = old ? !sameJson(agg, prev) : !!agg?.clusterRoleSelectors?.length;
      if (touches && (await missingRules(authz, user, '', FULL_AUTHORITY)).length) {
        throw forbiddenFor(kind, name, 'must have cluster-admin privileges to use the aggregationRule');
      }
    }
    return;
  }
  const ref = (obj as RoleBinding | ClusterRoleBinding).roleRef;
  if (!ref) return; // validation answers a binding without roleRef
  const refResource = ref.kind === 'ClusterRole' ? 'clusterroles' : ref.kind === 'Role' ? 'roles' : '';
  if (refResource && (await allowed(authz, attributes(user, 'bind', refResource, namespace, ref.name, ref.apiGroup ?? RBAC_GROUP, '')))) return;
  let rules: PolicyRule[];
  try {
    rules = roleRefRules(authz.snapshot(), ref, namespace);
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 404) || !authz.fresh) throw e;
    await authz.fresh(); // the role may have been created a moment ago
    rules = roleRefRules(authz.snapshot(), ref, namespace);
  }
  const missing = await missingRules(authz, user, namespace, rules);
  if (missing.length) throw forbiddenFor(kind, name, escalationMessage(user, missing));
}

/**
 * escalationAdmission binds checkEscalation to an authorizer for the registry's write path: it ignores every kind but
 * the four RBAC ones and writes by in-process components (no user).
 */
export function escalationAdmission(authz: EscalationAuthorizer) {
  return async (user: UserInfo | undefined, info: { group: string; kind: string }, obj: unknown, old?: unknown): Promise<void> => {
    const kind = rbacKind(info);
    if (!kind || !user) return;
    await checkEscalation(user, kind, obj as RbacObject, authz, old as RbacObject | undefined);
  };
}
