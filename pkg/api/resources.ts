// resources: the catalogue of every resource the API serves, with the discovery facts kubectl reads.

/** ResourceInfo describes one served resource: where it lives in the URL space and how discovery names it. */
export interface ResourceInfo {
  group: string; // '' for core
  version: string;
  resource: string; // plural, as in the URL
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** subresources served under …/{name}/{sub} */
  subresources: string[];
  /** verbs discovery advertises */
  verbs: string[];
}

const allVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function r(
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  opts: { shortNames?: string[]; categories?: string[]; subresources?: string[]; verbs?: string[]; singular?: string } = {},
): ResourceInfo {
  return {
    group,
    version,
    resource,
    singular: opts.singular ?? kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced,
    shortNames: opts.shortNames ?? [],
    categories: opts.categories ?? [],
    subresources: opts.subresources ?? [],
    verbs: opts.verbs ?? allVerbs,
  };
}

/** RESOURCES, in discovery order (kubectl get all lists `all` members in this order). */
export const RESOURCES: ResourceInfo[] = [
  r('', 'v1', 'pods', 'Pod', true, { shortNames: ['po'], categories: ['all'], subresources: ['status', 'log', 'exec', 'attach', 'portforward', 'binding', 'eviction'] }),
  r('', 'v1', 'services', 'Service', true, { shortNames: ['svc'], categories: ['all'], subresources: ['status', 'proxy'] }),
  r('', 'v1', 'replicationcontrollers', 'ReplicationController', true, { shortNames: ['rc'], categories: ['all'], subresources: ['status', 'scale'] }),
  r('', 'v1', 'namespaces', 'Namespace', false, { shortNames: ['ns'], subresources: ['status', 'finalize'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] }),
  r('', 'v1', 'nodes', 'Node', false, { shortNames: ['no'], subresources: ['status', 'proxy'] }),
  r('', 'v1', 'endpoints', 'Endpoints', true, { shortNames: ['ep'], singular: 'endpoints' }),
  r('', 'v1', 'configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  r('', 'v1', 'secrets', 'Secret', true),
  r('', 'v1', 'events', 'Event', true, { shortNames: ['ev'] }),
  r('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true, { shortNames: ['pvc'], subresources: ['status'] }),
  r('', 'v1', 'persistentvolumes', 'PersistentVolume', false, { shortNames: ['pv'], subresources: ['status'] }),
  r('', 'v1', 'serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'], subresources: ['token'] }),
  r('apps', 'v1', 'deployments', 'Deployment', true, { shortNames: ['deploy'], categories: ['all'], subresources: ['status', 'scale'] }),
  r('apps', 'v1', 'replicasets', 'ReplicaSet', true, { shortNames: ['rs'], categories: ['all'], subresources: ['status', 'scale'] }),
  r('apps', 'v1', 'statefulsets', 'StatefulSet', true, { shortNames: ['sts'], categories: ['all'], subresources: ['status', 'scale'] }),
  r('apps', 'v1', 'daemonsets', 'DaemonSet', true, { shortNames: ['ds'], categories: ['all'], subresources: ['status'] }),
  r('apps', 'v1', 'controllerrevisions', 'ControllerRevision', true),
  r('batch', 'v1', 'jobs', 'Job', true, { categories: ['all'], subresources: ['status'] }),
  r('batch', 'v1', 'cronjobs', 'CronJob', true, { shortNames: ['cj'], categories: ['all'], subresources: ['status'] }),
  r('certificates.k8s.io', 'v1', 'certificatesigningrequests', 'CertificateSigningRequest', false, { shortNames: ['csr'], subresources: ['status', 'approval'] }),
  r('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  r('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  r('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  r('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  r('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true),
  r('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
  // reviews: create-only, answered and never stored (pkg/apiserver/auth/reviews.ts)
  r('authentication.k8s.io', 'v1', 'selfsubjectreviews', 'SelfSubjectReview', false, { verbs: ['create'] }),
  r('authentication.k8s.io', 'v1', 'tokenreviews', 'TokenReview', false, { verbs: ['create'] }),
  r('authorization.k8s.io', 'v1', 'localsubjectaccessreviews', 'LocalSubjectAccessReview', true, { verbs: ['create'] }),
  r('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview', false, { verbs: ['create'] }),
  r('authorization.k8s.io', 'v1', 'selfsubjectrulesreviews', 'SelfSubjectRulesReview', false, { verbs: ['create'] }),
  r('authorization.k8s.io', 'v1', 'subjectaccessreviews', 'SubjectAccessReview', false, { verbs: ['create'] }),
];

/** REVIEW_GROUPS are the groups whose resources are reviews: a POST is answered, nothing is stored. */
export const REVIEW_GROUPS: ReadonlySet<string> = new Set(['authentication.k8s.io', 'authorization.k8s.io']);

export function apiVersionOf(info: Pick<ResourceInfo, 'group' | 'version'>): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

const byPath = new Map<string, ResourceInfo>();
const byKind = new Map<string, ResourceInfo>();
for (const info of RESOURCES) {
  byPath.set(`${info.group}/${info.version}/${info.resource}`, info);
  byKind.set(`${apiVersionOf(info)}/${info.kind}`, info);
}

/** lookupResource finds a resource by its URL coordinates: ('apps','v1','deployments'). */
export function lookupResource(group: string, version: string, resource: string): ResourceInfo | undefined {
  return byPath.get(`${group}/${version}/${resource}`);
}

/** lookupKind finds a resource by apiVersion and kind: ('apps/v1','Deployment'). */
export function lookupKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return byKind.get(`${apiVersion}/${kind}`);
}

/** storeKey is the name the store keeps a resource under: `pods`, `apps/deployments`. */
export function storeKey(info: Pick<ResourceInfo, 'group' | 'resource'>): string {
  return info.group ? `${info.group}/${info.resource}` : info.resource;
}

/** groupVersions lists served group-versions in discovery order, core first. */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Set<string>();
  const out: { group: string; version: string }[] = [];
  for (const info of RESOURCES) {
    const k = `${info.group}/${info.version}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push({ group: info.group, version: info.version });
    }
  }
  return out;
}
