// bootstrap: upstream's default RBAC policy (bootstrappolicy: cluster-admin, admin/edit/view by aggregation, system:* roles and their bindings), created at start.
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject } from 'kubernetes-types/rbac/v1.js';
import { RBAC_GROUP } from '../../api/kinds/rbac.ts';
import { GROUPS } from './types.ts';

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const rule = (apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[]): PolicyRule =>
  resourceNames ? { apiGroups, resources, verbs, resourceNames } : { apiGroups, resources, verbs };
const urls = (nonResourceURLs: string[], verbs: string[]): PolicyRule => ({ nonResourceURLs, verbs });

const BOOTSTRAP_LABELS = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const AUTOUPDATE = { 'rbac.authorization.kubernetes.io/autoupdate': 'true' };
const TO_ADMIN = 'rbac.authorization.k8s.io/aggregate-to-admin';
const TO_EDIT = 'rbac.authorization.k8s.io/aggregate-to-edit';
const TO_VIEW = 'rbac.authorization.k8s.io/aggregate-to-view';

function clusterRole(name: string, rules: PolicyRule[], labels: Record<string, string> = {}, aggregateFrom?: string): ClusterRole {
  const cr: ClusterRole = {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRole',
    metadata: { name, labels: { ...BOOTSTRAP_LABELS, ...labels }, annotations: { ...AUTOUPDATE } },
    rules,
  };
  if (aggregateFrom) cr.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { [aggregateFrom]: 'true' } }] };
  return cr;
}

const group = (name: string): Subject => ({ apiGroup: RBAC_GROUP, kind: 'Group', name });
const user = (name: string): Subject => ({ apiGroup: RBAC_GROUP, kind: 'User', name });

function clusterBinding(name: string, role: string, subjects: Subject[]): ClusterRoleBinding {
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: { ...BOOTSTRAP_LABELS }, annotations: { ...AUTOUPDATE } },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: role },
    subjects,
  };
}

/** CLUSTER_ROLES are upstream's (plugin/pkg/auth/authorizer/rbac/bootstrappolicy) that kubeling's API can use. */
export const CLUSTER_ROLES: ClusterRole[] = [
  clusterRole('cluster-admin', [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])]),
  clusterRole('admin', [], {}, TO_ADMIN),
  clusterRole('edit', [], { [TO_ADMIN]: 'true' }, TO_EDIT),
  clusterRole('view', [], { [TO_EDIT]: 'true' }, TO_VIEW),
  clusterRole('system:aggregate-to-admin', [
    rule(['authorization.k8s.io'], ['localsubjectaccessreviews'], ['create']),
    rule(['rbac.authorization.k8s.io'], ['rolebindings', 'roles'], ALL),
  ], { [TO_ADMIN]: 'true' }),
  clusterRole('system:aggregate-to-edit', [
    rule([''], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy'], READ),
    rule([''], ['serviceaccounts'], ['impersonate']),
    rule([''], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy'], WRITE),
    rule([''], ['pods/eviction'], ['create']),
    rule([''], ['configmaps', 'events', 'persistentvolumeclaims', 'replicationcontrollers', 'replicationcontrollers/scale', 'secrets', 'serviceaccounts', 'services', 'services/proxy'], WRITE),
    rule([''], ['serviceaccounts/token'], ['create']),
    rule(['apps'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale'], WRITE),
    rule(['autoscaling'], ['horizontalpodautoscalers'], WRITE),
    rule(['batch'], ['cronjobs', 'jobs'], WRITE),
    rule(['extensions'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'ingresses', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicationcontrollers/scale'], WRITE),
    rule(['policy'], ['poddisruptionbudgets'], WRITE),
    rule(['networking.k8s.io'], ['ingresses', 'networkpolicies'], WRITE),
    rule(['coordination.k8s.io'], ['leases'], ALL),
  ], { [TO_EDIT]: 'true' }),
  clusterRole('system:aggregate-to-view', [
    rule([''], ['configmaps', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status'], READ),
    rule([''], ['bindings', 'events', 'limitranges', 'namespaces/status', 'pods/log', 'pods/status', 'replicationcontrollers/status', 'resourcequotas', 'resourcequotas/status'], READ),
    rule([''], ['namespaces'], READ),
    rule(['discovery.k8s.io'], ['endpointslices'], READ),
    rule(['apps'], ['controllerrevisions', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'replicasets', 'replicasets/scale', 'replicasets/status', 'statefulsets', 'statefulsets/scale', 'statefulsets/status'], READ),
    rule(['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status'], READ),
    rule(['batch'], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status'], READ),
    rule(['extensions'], ['daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'ingresses', 'ingresses/status', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicasets/status', 'replicationcontrollers/scale'], READ),
    rule(['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status'], READ),
    rule(['networking.k8s.io'], ['ingresses', 'ingresses/status', 'networkpolicies'], READ),
  ], { [TO_VIEW]: 'true' }),
  clusterRole('system:auth-delegator', [
    rule(['authentication.k8s.io'], ['tokenreviews'], ['create']),
    rule(['authorization.k8s.io'], ['subjectaccessreviews'], ['create']),
  ]),
  clusterRole('system:basic-user', [
    rule(['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], ['create']),
    rule(['authentication.k8s.io'], ['selfsubjectreviews'], ['create']),
  ]),
  clusterRole('system:discovery', [
    urls(['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'], ['get']),
  ]),
  clusterRole('system:public-info-viewer', [urls(['/healthz', '/livez', '/readyz', '/version', '/version/'], ['get'])]),
  clusterRole('system:monitoring', [urls(['/healthz', '/healthz/*', '/livez', '/livez/*', '/metrics', '/metrics/slis', '/readyz', '/readyz/*'], ['get'])]),
  clusterRole('system:node', [
    rule(['authentication.k8s.io'], ['tokenreviews'], ['create']),
    rule(['authorization.k8s.io'], ['localsubjectaccessreviews', 'subjectaccessreviews'], ['create']),
    rule([''], ['services'], READ),
    rule([''], ['nodes'], ['create', 'get', 'list', 'watch']),
    rule([''], ['nodes/status'], ['patch', 'update']),
    rule([''], ['nodes'], ['patch', 'update']),
    rule([''], ['events'], ['create', 'patch', 'update']),
    rule([''], ['pods'], READ),
    rule([''], ['pods'], ['create', 'delete']),
    rule([''], ['pods/status'], ['patch', 'update']),
    rule([''], ['pods/eviction'], ['create']),
    rule([''], ['configmaps', 'secrets'], READ),
    rule([''], ['persistentvolumeclaims', 'persistentvolumes'], ['get']),
    rule([''], ['endpoints'], ['get']),
    rule(['certificates.k8s.io'], ['certificatesigningrequests'], ['create', 'get', 'list', 'watch']),
    rule(['coordination.k8s.io'], ['leases'], ['create', 'delete', 'get', 'patch', 'update']),
    rule(['storage.k8s.io'], ['volumeattachments'], ['get']),
    rule([''], ['serviceaccounts/token'], ['create']),
    rule([''], ['persistentvolumeclaims/status'], ['get', 'patch', 'update']),
    rule(['storage.k8s.io'], ['csidrivers'], READ),
    rule(['storage.k8s.io'], ['csinodes'], ['create', 'delete', 'get', 'patch', 'update']),
    rule(['node.k8s.io'], ['runtimeclasses'], READ),
  ]),
  clusterRole('system:node-proxier', [
    rule([''], ['endpoints', 'services'], ['list', 'watch']),
    rule([''], ['nodes'], READ),
    rule(['', 'events.k8s.io'], ['events'], ['create', 'patch', 'update']),
    rule(['discovery.k8s.io'], ['endpointslices'], ['list', 'watch']),
  ]),
  clusterRole('system:kube-dns', [rule([''], ['endpoints', 'services'], ['list', 'watch'])]),
  clusterRole('system:node-bootstrapper', [rule(['certificates.k8s.io'], ['certificatesigningrequests'], ['create', 'get', 'list', 'watch'])]),
  clusterRole('system:certificates.k8s.io:certificatesigningrequests:nodeclient', [rule(['certificates.k8s.io'], ['certificatesigningrequests/nodeclient'], ['create'])]),
  clusterRole('system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [rule(['certificates.k8s.io'], ['certificatesigningrequests/selfnodeclient'], ['create'])]),
];

/**
 * CLUSTER_ROLE_BINDINGS are upstream's defaults (no one is bound to system:node: the Node authorizer grants nodes
 * their rights), the node proxy's reads for system:nodes (the agent runs kube-proxy with its node credential, as
 * k3s), and kubeadm's TLS-bootstrapping grants: the join token (group system:bootstrappers) may create CSRs, which
 * the csrapproving controller approves for new nodes, and nodes may renew their own client certificates.
 */
export const CLUSTER_ROLE_BINDINGS: ClusterRoleBinding[] = [
  clusterBinding('cluster-admin', 'cluster-admin', [group(GROUPS.masters)]),
  clusterBinding('system:basic-user', 'system:basic-user', [group(GROUPS.authenticated)]),
  clusterBinding('system:discovery', 'system:discovery', [group(GROUPS.authenticated)]),
  clusterBinding('system:public-info-viewer', 'system:public-info-viewer', [group(GROUPS.authenticated), group(GROUPS.unauthenticated)]),
  clusterBinding('system:monitoring', 'system:monitoring', [group('system:monitoring')]),
  clusterBinding('kubeling:kubelet-bootstrap', 'system:node-bootstrapper', [group(GROUPS.bootstrappers)]),
  clusterBinding('kubeling:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', [group(GROUPS.bootstrappers)]),
  clusterBinding('kubeling:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [group(GROUPS.nodes)]),
  clusterBinding('system:node-proxier', 'system:node-proxier', [user('system:kube-proxy'), group(GROUPS.nodes)]),
];

/** ROLES and ROLE_BINDINGS: nodes may read the published cluster configuration, kube-system/kubeling-config. */
export const ROLES: Role[] = [
  {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'Role',
    metadata: { name: 'kubeling:cluster-config-reader', namespace: 'kube-system', labels: { ...BOOTSTRAP_LABELS }, annotations: { ...AUTOUPDATE } },
    rules: [rule([''], ['configmaps'], ['get', 'list', 'watch'], ['kubeling-config'])],
  },
];
export const ROLE_BINDINGS: RoleBinding[] = [
  {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'RoleBinding',
    metadata: { name: 'kubeling:cluster-config-reader', namespace: 'kube-system', labels: { ...BOOTSTRAP_LABELS }, annotations: { ...AUTOUPDATE } },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: 'kubeling:cluster-config-reader' },
    subjects: [group(GROUPS.nodes)],
  },
];
