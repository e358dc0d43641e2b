// authz: validation of the review kinds (authorization.k8s.io/v1 access and rules reviews, authentication.k8s.io/v1 token review), upstream's pkg/apis/authorization/validation.
import type { SubjectAccessReviewSpec, SelfSubjectAccessReviewSpec } from 'kubernetes-types/authorization/v1.js';
import type { FieldError } from '../errors.ts';
import { field } from '../errors.ts';

/** validateAccessReviewSpec checks that exactly one of resourceAttributes and nonResourceAttributes is set (and, for a SubjectAccessReview, a user or group). */
export function validateAccessReviewSpec(spec: SubjectAccessReviewSpec | SelfSubjectAccessReviewSpec | undefined, kind: string): FieldError[] {
  const errs: FieldError[] = [];
  const s = spec ?? {};
  if (s.resourceAttributes && s.nonResourceAttributes) {
    errs.push(field.invalid('spec.nonResourceAttributes', s.nonResourceAttributes, 'cannot be specified in combination with resourceAttributes'));
  }
  if (!s.resourceAttributes && !s.nonResourceAttributes) {
    errs.push(field.invalid('spec.resourceAttributes', null, 'exactly one of nonResourceAttributes or resourceAttributes must be specified'));
  }
  if (kind === 'SubjectAccessReview' || kind === 'LocalSubjectAccessReview') {
    const sar = s as SubjectAccessReviewSpec;
    if (!sar.user && !(sar.groups ?? []).length) errs.push(field.invalid('spec.user', sar.user ?? '', 'at least one of user or group must be specified'));
  }
  return errs;
}

/** validateLocalNamespace is upstream's LocalSubjectAccessReview rule: spec.resourceAttributes.namespace must be the URL's namespace. */
export function validateLocalNamespace(spec: SubjectAccessReviewSpec | undefined, namespace: string): FieldError[] {
  const ns = spec?.resourceAttributes?.namespace;
  if (spec?.nonResourceAttributes) return [field.invalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'disallowed on this kind of request')];
  return ns === namespace ? [] : [field.invalid('spec.resourceAttributes.namespace', ns ?? '', 'must match metadata.namespace')];
}
