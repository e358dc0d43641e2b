// paths: turns a request URL path into what it addresses (discovery, a collection, an object, a subresource).
import { lookupResource, type ResourceInfo } from '../api/resources.ts';

/** RequestTarget is what a /api or /apis path names. */
export type RequestTarget =
  | { type: 'discovery-root'; legacy: boolean } // /api or /apis
  | { type: 'discovery-group'; group: string } // /apis/apps
  | { type: 'discovery-version'; group: string; version: string } // /api/v1, /apis/apps/v1
  | {
      type: 'resource';
      group: string;
      version: string;
      resource: string;
      info: ResourceInfo | undefined;
      namespace?: string;
      name?: string;
      subresource?: string;
    }
  | { type: 'unknown' };

/**
 * parseApiPath maps a path (no query) to its target. Examples:
 *   /api/v1/namespaces/default/pods/web/log → pods "web" in "default", subresource "log"
 *   /api/v1/namespaces/default            → the namespace object "default"
 *   /api/v1/namespaces/default/status     → its status subresource
 *   /apis/apps/v1/deployments             → deployments across all namespaces
 */
export function parseApiPath(path: string): RequestTarget {
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  if (parts.length === 0) return { type: 'unknown' };
  let group: string;
  let rest: string[];
  if (parts[0] === 'api') {
    if (parts.length === 1) return { type: 'discovery-root', legacy: true };
    group = '';
    rest = parts.slice(1);
  } else if (parts[0] === 'apis') {
    if (parts.length === 1) return { type: 'discovery-root', legacy: false };
    group = parts[1];
    if (parts.length === 2) return { type: 'discovery-group', group };
    rest = parts.slice(2);
  } else {
    return { type: 'unknown' };
  }
  const version = rest[0];
  const segs = rest.slice(1);
  if (segs.length === 0) return { type: 'discovery-version', group, version };

  const res = (resource: string, namespace?: string, name?: string, subresource?: string): RequestTarget => ({
    type: 'resource',
    group,
    version,
    resource,
    info: lookupResource(group, version, resource),
    namespace,
    name,
    subresource,
  });

  // /namespaces/{ns}/{resource}[/{name}[/{sub}]] — a namespaced path, unless it is the namespace object itself.
  if (segs[0] === 'namespaces' && segs.length >= 3) {
    const ns = segs[1];
    if (group === '' && segs.length === 3 && (segs[2] === 'status' || segs[2] === 'finalize')) {
      return res('namespaces', undefined, ns, segs[2]);
    }
    if (segs.length > 5) return { type: 'unknown' };
    return res(segs[2], ns, segs[3], segs[4]);
  }
  if (segs.length > 3) return { type: 'unknown' };
  return res(segs[0], undefined, segs[1], segs[2]);
}
