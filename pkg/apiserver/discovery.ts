// discovery: /api, /apis and per group-version resource lists, aggregated (apidiscovery.k8s.io/v2) and legacy.
import { RESOURCES, apiVersionOf, groupVersions, type ResourceInfo } from '../api/resources.ts';

function subresourceKind(info: ResourceInfo, sub: string): { group: string; version: string; kind: string } {
  if (sub === 'scale') return { group: 'autoscaling', version: 'v1', kind: 'Scale' };
  if (sub === 'binding') return { group: '', version: 'v1', kind: 'Binding' };
  if (sub === 'eviction') return { group: 'policy', version: 'v1', kind: 'Eviction' };
  if (sub === 'token') return { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' };
  if (sub === 'log' || sub === 'exec' || sub === 'attach' || sub === 'portforward' || sub === 'proxy') return { group: '', version: 'v1', kind: sub === 'exec' ? 'PodExecOptions' : sub === 'attach' ? 'PodAttachOptions' : sub === 'portforward' ? 'PodPortForwardOptions' : sub === 'proxy' ? `${info.kind}ProxyOptions` : info.kind };
  return { group: info.group, version: info.version, kind: info.kind };
}

function subresourceVerbs(sub: string): string[] {
  switch (sub) {
    case 'status':
    case 'scale':
      return ['get', 'patch', 'update'];
    case 'log':
      return ['get'];
    case 'exec':
    case 'attach':
    case 'portforward':
      return ['create', 'get'];
    case 'binding':
    case 'eviction':
    case 'token':
      return ['create'];
    case 'finalize':
      return ['update'];
    default:
      return ['create', 'delete', 'get', 'patch', 'update'];
  }
}

/** aggregatedDiscovery builds the APIGroupDiscoveryList for /api (legacy=true) or /apis. */
export function aggregatedDiscovery(legacy: boolean, version: 'v2' | 'v2beta1'): object {
  const items = groupVersions()
    .filter((gv) => (legacy ? gv.group === '' : gv.group !== ''))
    .map((gv) => ({
      metadata: legacy ? { creationTimestamp: null } : { name: gv.group, creationTimestamp: null },
      versions: [
        {
          version: gv.version,
          freshness: 'Current',
          resources: RESOURCES.filter((r) => r.group === gv.group && r.version === gv.version).map((r) => ({
            resource: r.resource,
            responseKind: { group: r.group, version: r.version, kind: r.kind },
            scope: r.namespaced ? 'Namespaced' : 'Cluster',
            singularResource: r.singular,
            verbs: r.verbs,
            ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
            ...(r.categories.length ? { categories: r.categories } : {}),
            ...(r.subresources.length
              ? { subresources: r.subresources.map((s) => ({ subresource: s, responseKind: subresourceKind(r, s), verbs: subresourceVerbs(s) })) }
              : {}),
          })),
        },
      ],
    }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}

export function aggregatedContentType(version: 'v2' | 'v2beta1'): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

/** apiVersions is the legacy GET /api answer. */
export function apiVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupEntry(group: string) {
  const versions = groupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => ({ groupVersion: `${group}/${gv.version}`, version: gv.version }));
  return { name: group, versions, preferredVersion: versions[0] };
}

/** apiGroupList is the legacy GET /apis answer. */
export function apiGroupList(): object {
  const groups = [...new Set(groupVersions().map((gv) => gv.group).filter((g) => g !== ''))];
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupEntry) };
}

export function apiGroup(group: string): object | undefined {
  if (!groupVersions().some((gv) => gv.group === group && group !== '')) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(group) };
}

/** apiResourceList is the legacy GET /api/v1 or /apis/{g}/{v} answer, subresources as `pods/log` entries. */
export function apiResourceList(group: string, version: string): object | undefined {
  const infos = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (!infos.length) return undefined;
  const resources: object[] = [];
  for (const r of infos) {
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length ? { categories: r.categories } : {}),
    });
    for (const s of r.subresources) {
      const k = subresourceKind(r, s);
      resources.push({ name: `${r.resource}/${s}`, singularName: '', namespaced: r.namespaced, ...(k.group !== r.group ? { group: k.group, version: k.version } : {}), kind: k.kind, verbs: subresourceVerbs(s) });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
}
