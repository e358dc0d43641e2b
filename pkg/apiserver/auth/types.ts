// types: who is asking (UserInfo) and what they ask for (Attributes), as upstream's user.Info and authorizer.Attributes.
import type { PolicyRule } from 'kubernetes-types/rbac/v1.js';

/** UserInfo is an authenticated identity: upstream's user.Info (name, uid, groups, extra). */
export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** Well-known users and groups (upstream's k8s.io/apiserver/pkg/authentication/user). */
export const GROUPS = {
  masters: 'system:masters',
  nodes: 'system:nodes',
  bootstrappers: 'system:bootstrappers',
  authenticated: 'system:authenticated',
  unauthenticated: 'system:unauthenticated',
} as const;
export const ANONYMOUS = 'system:anonymous';

/** Attributes are what one request asks to do: a verb on a resource (with subresource, namespace, name) or on a path. */
export interface Attributes {
  user: UserInfo;
  verb: string;
  resourceRequest: boolean;
  /** the URL path (what non-resource rules match) */
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

/** Decision is an authorizer's answer: allowed, with the reason upstream's authorizers give (RBAC names the binding). */
export interface Decision {
  allowed: boolean;
  reason: string;
}

/** RulesOf is what a rules review reports for one namespace: upstream's SelfSubjectRulesReview status. */
export interface RulesOf {
  resourceRules: PolicyRule[];
  nonResourceRules: PolicyRule[];
  incomplete: boolean;
}
