// rbac: defaults and validation for rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding, ClusterRoleBinding (upstream's pkg/apis/rbac/validation).
import type { AggregationRule, ClusterRole, PolicyRule, Role, RoleBinding, RoleRef, Subject } from 'kubernetes-types/rbac/v1.js';
import type { FieldError } from '../errors.ts';
import { field } from '../errors.ts';
import type { KubeObject } from '../types.ts';
import type { KindRules, NameRule } from './meta.ts';
import { isDNS1123Subdomain, validateLabelSelector } from './meta.ts';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** nameIsPathSegment is upstream's ValidateRBACName (path.IsValidPathSegmentName): any name but `.`/`..`, no `/` or `%`. */
export const nameIsPathSegment: NameRule = (name) => {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  const errs: string[] = [];
  for (const c of ['/', '%']) if (name.includes(c)) errs.push(`may not contain '${c}'`);
  return errs;
};

const listOf = <T>(v: T[] | undefined | null): T[] => (Array.isArray(v) ? v : []);

/** validatePolicyRule is upstream's ValidatePolicyRule: verbs always; non-resource URLs only cluster-wide and alone. */
export function validatePolicyRule(rule: PolicyRule, namespaced: boolean, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!listOf(rule?.verbs).length) errs.push(field.required(`${path}.verbs`, 'verbs must contain at least one value'));
  if (listOf(rule?.nonResourceURLs).length) {
    if (namespaced) errs.push(field.invalid(`${path}.nonResourceURLs`, rule.nonResourceURLs, 'namespaced rules cannot apply to non-resource URLs'));
    if (listOf(rule.apiGroups).length || listOf(rule.resources).length || listOf(rule.resourceNames).length) {
      errs.push(field.invalid(`${path}.nonResourceURLs`, rule.nonResourceURLs, 'rules cannot apply to both regular resources and non-resource URLs'));
    }
    return errs;
  }
  if (!listOf(rule?.apiGroups).length) errs.push(field.required(`${path}.apiGroups`, 'resource rules must supply at least one api group'));
  if (!listOf(rule?.resources).length) errs.push(field.required(`${path}.resources`, 'resource rules must supply at least one resource'));
  return errs;
}

function validateRules(obj: KubeObject, namespaced: boolean): FieldError[] {
  return listOf((obj as unknown as Role).rules).flatMap((r, i) => validatePolicyRule(r, namespaced, `rules[${i}]`));
}

function validateAggregation(agg: AggregationRule | undefined): FieldError[] {
  if (!agg) return [];
  const sels = listOf(agg.clusterRoleSelectors);
  const errs: FieldError[] = [];
  if (!sels.length) errs.push(field.required('aggregationRule.clusterRoleSelectors', 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
  sels.forEach((s, i) => errs.push(...validateLabelSelector(s, `aggregationRule.clusterRoleSelectors[${i}]`)));
  return errs;
}

const SUBJECT_KINDS = ['ServiceAccount', 'User', 'Group'];

/** validateSubject is upstream's ValidateRoleBindingSubject. */
export function validateSubject(s: Subject, namespaced: boolean, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!s?.name) errs.push(field.required(`${path}.name`, ''));
  switch (s?.kind) {
    case 'ServiceAccount':
      if (s.name) for (const m of isDNS1123Subdomain(s.name)) errs.push(field.invalid(`${path}.name`, s.name, m));
      if (s.apiGroup) errs.push(field.notSupported(`${path}.apiGroup`, s.apiGroup, ['']));
      if (!namespaced && !s.namespace) errs.push(field.required(`${path}.namespace`, ''));
      break;
    case 'User':
    case 'Group':
      if (s.apiGroup !== RBAC_GROUP) errs.push(field.notSupported(`${path}.apiGroup`, s.apiGroup, [RBAC_GROUP]));
      break;
    default:
      errs.push(field.notSupported(`${path}.kind`, s?.kind, SUBJECT_KINDS));
  }
  return errs;
}

function validateBinding(obj: KubeObject, namespaced: boolean): FieldError[] {
  const b = obj as unknown as RoleBinding;
  const errs: FieldError[] = [];
  const ref: Partial<RoleRef> = b.roleRef ?? {};
  if (ref.apiGroup !== RBAC_GROUP) errs.push(field.notSupported('roleRef.apiGroup', ref.apiGroup ?? '', [RBAC_GROUP]));
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(ref.kind ?? '')) errs.push(field.notSupported('roleRef.kind', ref.kind ?? '', kinds));
  if (!ref.name) errs.push(field.required('roleRef.name', ''));
  else for (const m of nameIsPathSegment(ref.name, false)) errs.push(field.invalid('roleRef.name', ref.name, m));
  listOf(b.subjects).forEach((s, i) => errs.push(...validateSubject(s, namespaced, `subjects[${i}]`)));
  return errs;
}

/** defaultSubjects fills upstream's subject apiGroup defaults: rbac.authorization.k8s.io for User/Group, "" for ServiceAccount. */
function defaultSubjects(obj: KubeObject): void {
  for (const s of listOf((obj as unknown as RoleBinding).subjects)) {
    if (!s || typeof s !== 'object') continue;
    if (s.apiGroup === undefined) s.apiGroup = s.kind === 'ServiceAccount' ? '' : s.kind === 'User' || s.kind === 'Group' ? RBAC_GROUP : undefined;
  }
  const ref = (obj as unknown as RoleBinding).roleRef;
  if (ref && typeof ref === 'object' && ref.apiGroup === undefined) ref.apiGroup = RBAC_GROUP;
}

const roleRefImmutable = (next: KubeObject, old: KubeObject): FieldError[] => {
  const a = (next as unknown as RoleBinding).roleRef;
  const b = (old as unknown as RoleBinding).roleRef;
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [field.invalid('roleRef', a, 'cannot change roleRef')];
};

export const role: KindRules = { nameRule: nameIsPathSegment, validate: (o) => validateRules(o, true) };

export const clusterRole: KindRules = {
  nameRule: nameIsPathSegment,
  validate: (o) => [...validateRules(o, false), ...validateAggregation((o as unknown as ClusterRole).aggregationRule)],
};

export const roleBinding: KindRules = {
  nameRule: nameIsPathSegment,
  defaults: defaultSubjects,
  validate: (o) => validateBinding(o, true),
  validateUpdate: roleRefImmutable,
};

export const clusterRoleBinding: KindRules = {
  nameRule: nameIsPathSegment,
  defaults: defaultSubjects,
  validate: (o) => validateBinding(o, false),
  validateUpdate: roleRefImmutable,
};
