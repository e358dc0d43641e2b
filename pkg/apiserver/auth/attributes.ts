// attributes: what a request asks to do (upstream's RequestInfoFactory) and the 403 answer when it may not (responsewriters.Forbidden).
import { ApiError, errors } from '../../api/errors.ts';
import type { Attributes, UserInfo } from './types.ts';

/**
 * requestAttributes derives the authorization attributes of a request. Examples:
 *   GET  /api/v1/namespaces/default/pods            → list pods in default
 *   GET  /api/v1/namespaces/default/pods?watch=1    → watch pods in default
 *   GET  /api/v1/namespaces/default/pods/web/log    → get pods/log "web" in default
 *   POST /api/v1/namespaces/default/pods/web/exec   → create pods/exec "web"
 *   DELETE /apis/apps/v1/namespaces/a/deployments   → deletecollection deployments.apps in a
 *   GET  /api/v1/namespaces/kube-system             → get namespaces "kube-system" (namespace kube-system)
 *   GET  /healthz                                   → non-resource get /healthz
 */
export function requestAttributes(user: UserInfo, method: string, path: string, query: URLSearchParams): Attributes {
  const a: Attributes = { user, verb: method.toLowerCase(), resourceRequest: false, path, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
  const parts = path.split('/').filter(Boolean);
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    a.apiVersion = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    a.apiGroup = parts[1];
    a.apiVersion = parts[2];
    rest = parts.slice(3);
  } else return a;
  if (rest.length === 0) return a; // discovery of a group-version is a non-resource request
  let decoded: string[];
  try {
    decoded = rest.map(decodeURIComponent);
  } catch {
    return a;
  }
  a.resourceRequest = true;
  let watchPrefix = false;
  if (decoded[0] === 'watch') {
    watchPrefix = true;
    decoded = decoded.slice(1);
  }
  // /namespaces/{ns}/{resource}… is namespaced unless it addresses the namespace itself (or its status/finalize)
  if (decoded[0] === 'namespaces' && decoded.length > 1) {
    a.namespace = decoded[1];
    if (decoded.length > 2 && decoded[2] !== 'status' && decoded[2] !== 'finalize') decoded = decoded.slice(2);
  }
  a.resource = decoded[0] ?? '';
  a.name = decoded[1] ?? '';
  a.subresource = decoded[2] ?? '';
  const watch = watchPrefix || query.get('watch') === 'true' || query.get('watch') === '1';
  switch (method) {
    case 'GET':
    case 'HEAD':
      a.verb = watch ? 'watch' : a.name ? 'get' : 'list';
      break;
    case 'POST':
      a.verb = 'create';
      break;
    case 'PUT':
      a.verb = 'update';
      break;
    case 'PATCH':
      a.verb = 'patch';
      break;
    case 'DELETE':
      a.verb = a.name ? 'delete' : 'deletecollection';
      break;
  }
  // a watch of one object by name (fieldSelector metadata.name=x) is authorized for that name, as upstream
  if (a.verb === 'watch' || a.verb === 'list') {
    const m = /(?:^|,)metadata\.name==?([^,]+)/.exec(query.get('fieldSelector') ?? '');
    if (m && !a.name) a.name = m[1];
  }
  return a;
}

/** forbiddenMessage is upstream's: `User "bob" cannot create resource "pods" in API group "" in the namespace "default"`. */
export function forbiddenMessage(a: Attributes): string {
  if (!a.resourceRequest) return `User "${a.user.name}" cannot ${a.verb} path "${a.path}"`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `User "${a.user.name}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" ${scope}`;
}

/** forbidden is the 403 Status upstream answers: `pods is forbidden: …`, `deployments.apps "web" is forbidden: …`, `forbidden: …` for paths. */
export function forbidden(a: Attributes, reason = ''): ApiError {
  const msg = forbiddenMessage(a) + (reason ? `: ${reason}` : '');
  if (!a.resourceRequest || !a.resource) return errors.forbidden(`forbidden: ${msg}`, {});
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const head = a.name ? `${qualified} "${a.name}"` : qualified;
  return errors.forbidden(`${head} is forbidden: ${msg}`, { ...(a.name ? { name: a.name } : {}), ...(a.apiGroup ? { group: a.apiGroup } : {}), kind: a.resource });
}
