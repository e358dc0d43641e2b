// reviews: authorization.k8s.io/v1 access and rules reviews and authentication.k8s.io/v1 SelfSubjectReview / TokenReview — answered, never stored.
import type { ResourceAttributes, NonResourceAttributes, SubjectAccessReviewSpec } from 'kubernetes-types/authorization/v1.js';
import type { TokenReviewSpec } from 'kubernetes-types/authentication/v1.js';
import { errors } from '../../api/errors.ts';
import { validateAccessReviewSpec, validateLocalNamespace } from '../../api/kinds/authz.ts';
import { apiVersionOf, type ResourceInfo } from '../../api/resources.ts';
import type { Attributes, Decision, RulesOf, UserInfo } from './types.ts';

/** ReviewDeps is what answering a review needs from the rest of auth. */
export interface ReviewDeps {
  authorize(a: Attributes): Promise<Decision>;
  rules(user: UserInfo, namespace: string): RulesOf;
  authenticateToken(token: string): UserInfo | undefined | Promise<UserInfo | undefined>;
  /** reviewToken: the user a token stands for and the audiences it was accepted for (service-account tokens check them) */
  reviewToken?(token: string, audiences: string[]): Promise<{ user: UserInfo; audiences: string[] } | undefined>;
}

interface ReviewBody {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown>;
  spec?: Record<string, unknown>;
}

/** reviewAttributes turns a review's resource or non-resource attributes into the attributes the authorizer decides on. */
export function reviewAttributes(user: UserInfo, ra: ResourceAttributes | undefined, nra: NonResourceAttributes | undefined): Attributes {
  if (nra) return { user, verb: nra.verb ?? '', resourceRequest: false, path: nra.path ?? '', apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
  const r = ra ?? {};
  return { user, verb: r.verb ?? '', resourceRequest: true, path: '', apiGroup: r.group ?? '', apiVersion: r.version ?? '', resource: r.resource ?? '', subresource: r.subresource ?? '', namespace: r.namespace ?? '', name: r.name ?? '' };
}

function userInfoJson(u: UserInfo): Record<string, unknown> {
  return { username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups: u.groups, ...(u.extra && Object.keys(u.extra).length ? { extra: u.extra } : {}) };
}

function accessStatus(d: Decision): Record<string, unknown> {
  return d.reason ? { allowed: d.allowed, reason: d.reason } : { allowed: d.allowed };
}

/** answerReview computes the status of a POSTed review for `user`, the requester. */
export async function answerReview(info: ResourceInfo, namespace: string | undefined, body: unknown, user: UserInfo, deps: ReviewDeps): Promise<Record<string, unknown>> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw errors.badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: the body is not an object`);
  const b = body as ReviewBody;
  const spec = (b.spec ?? {}) as Record<string, unknown>;
  const head = { kind: info.kind, apiVersion: apiVersionOf(info), metadata: { ...(b.metadata ?? {}), creationTimestamp: null } };
  const invalid = (errs: ReturnType<typeof validateAccessReviewSpec>) => {
    if (errs.length) throw errors.invalid(info.group, info.kind, '', errs);
  };
  switch (info.kind) {
    case 'SelfSubjectAccessReview': {
      invalid(validateAccessReviewSpec(spec, info.kind));
      const d = await deps.authorize(reviewAttributes(user, spec.resourceAttributes as ResourceAttributes, spec.nonResourceAttributes as NonResourceAttributes));
      return { ...head, spec, status: accessStatus(d) };
    }
    case 'SubjectAccessReview':
    case 'LocalSubjectAccessReview': {
      const s = spec as SubjectAccessReviewSpec;
      invalid(validateAccessReviewSpec(s, info.kind));
      if (info.kind === 'LocalSubjectAccessReview') invalid(validateLocalNamespace(s, namespace ?? ''));
      const subject: UserInfo = { name: s.user ?? '', groups: s.groups ?? [], ...(s.uid ? { uid: s.uid } : {}), ...(s.extra ? { extra: s.extra } : {}) };
      const d = await deps.authorize(reviewAttributes(subject, s.resourceAttributes, s.nonResourceAttributes));
      return { ...head, spec, status: accessStatus(d) };
    }
    case 'SelfSubjectRulesReview': {
      const ns = typeof spec.namespace === 'string' ? spec.namespace : '';
      return { ...head, spec, status: deps.rules(user, ns) };
    }
    case 'SelfSubjectReview':
      return { ...head, status: { userInfo: userInfoJson(user) } };
    case 'TokenReview': {
      const token = (spec as TokenReviewSpec).token ?? '';
      const auds = (spec as TokenReviewSpec).audiences ?? [];
      const r = deps.reviewToken ? await deps.reviewToken(token, auds) : await Promise.resolve(deps.authenticateToken(token)).then((u) => u && { user: u, audiences: auds });
      const status = r ? { authenticated: true, user: userInfoJson(r.user), audiences: r.audiences } : { user: {} };
      return { ...head, spec: { ...spec, token: undefined }, status };
    }
  }
  throw errors.notFoundPath();
}
