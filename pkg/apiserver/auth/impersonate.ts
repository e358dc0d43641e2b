// impersonate: the Impersonate-User/-Group/-Uid/-Extra-* headers (upstream's WithImpersonation) — what each asks to be authorized for and the user it yields.
import type { IncomingHttpHeaders } from 'node:http';
import { errors } from '../../api/errors.ts';
import { ANONYMOUS, GROUPS, type Attributes, type UserInfo } from './types.ts';

/** Impersonation is what the headers ask for; undefined when they ask for nothing. */
export interface Impersonation {
  user: string;
  groups: string[];
  uid?: string;
  extra: Record<string, string[]>;
}

const values = (v: string | string[] | undefined): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean));

/** parseImpersonation reads the headers; asking for groups, extra or uid without a user is an error, as upstream. */
export function parseImpersonation(h: IncomingHttpHeaders): Impersonation | undefined {
  const user = values(h['impersonate-user'])[0];
  if (!user && !h['impersonate-group'] && !h['impersonate-uid'] && !Object.keys(h).some((k) => k.startsWith('impersonate-extra-'))) return undefined;
  const groups = values(h['impersonate-group']);
  const uid = values(h['impersonate-uid'])[0];
  const extra: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (!k.startsWith('impersonate-extra-')) continue;
    let key = k.slice('impersonate-extra-'.length);
    try {
      key = decodeURIComponent(key);
    } catch {
      /* keep as sent */
    }
    extra[key.toLowerCase()] = values(v);
  }
  if (!user) {
    if (groups.length || uid || Object.keys(extra).length) throw errors.internal('requested impersonation of groups, extra or uid without impersonating a user');
    return undefined;
  }
  return { user, groups, uid, extra };
}

/**
 * impersonationChecks lists the `impersonate` requests the acting user must be allowed: the user (or the service
 * account it names), each group, each extra value and the uid.
 */
export function impersonationChecks(actor: UserInfo, imp: Impersonation): Attributes[] {
  const base = { user: actor, verb: 'impersonate', resourceRequest: true, path: '', apiVersion: 'v1', subresource: '', namespace: '' };
  const out: Attributes[] = [];
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(imp.user);
  if (sa) out.push({ ...base, apiGroup: '', resource: 'serviceaccounts', namespace: sa[1], name: sa[2] });
  else out.push({ ...base, apiGroup: '', resource: 'users', name: imp.user });
  for (const g of imp.groups) out.push({ ...base, apiGroup: '', resource: 'groups', name: g });
  for (const [k, vs] of Object.entries(imp.extra)) for (const v of vs) out.push({ ...base, apiGroup: 'authentication.k8s.io', resource: 'userextras', subresource: k, name: v });
  if (imp.uid) out.push({ ...base, apiGroup: 'authentication.k8s.io', resource: 'uids', name: imp.uid });
  return out;
}

/** impersonatedUser is who the request then runs as: authenticated unless anonymous; a service account gets its groups when none are asked. */
export function impersonatedUser(imp: Impersonation): UserInfo {
  const groups = [...imp.groups];
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(imp.user);
  if (sa && !groups.length) groups.push('system:serviceaccounts', `system:serviceaccounts:${sa[1]}`);
  if (imp.user !== ANONYMOUS && !groups.includes(GROUPS.authenticated)) groups.push(GROUPS.authenticated);
  const u: UserInfo = { name: imp.user, groups };
  if (imp.uid) u.uid = imp.uid;
  if (Object.keys(imp.extra).length) u.extra = imp.extra;
  return u;
}
