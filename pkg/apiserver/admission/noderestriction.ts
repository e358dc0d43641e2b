// noderestriction: upstream's NodeRestriction admission (a node writes only its own Node, Lease and the pods bound to it) plus the CertificateSigningRequest strategy (requester recorded on create, approval and status subresources).
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { errors, type ApiError } from '../../api/errors.ts';
import type { ResourceInfo } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import type { UserInfo } from '../auth/types.ts';

export const NODE_USER_PREFIX = 'system:node:';
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
const NODE_LEASE_NS = 'kube-node-lease';

/** nodeIdentity is upstream's NodeIdentifier: `system:node:<name>` in group system:nodes → name; anyone else undefined. */
export function nodeIdentity(user: UserInfo | undefined): string | undefined {
  if (!user || !user.name.startsWith(NODE_USER_PREFIX) || !user.groups.includes('system:nodes')) return undefined;
  return user.name.slice(NODE_USER_PREFIX.length) || undefined;
}

/** KUBELET_LABELS and KUBELET_LABEL_NAMESPACES are the kubernetes.io labels a kubelet may set on its Node (kubeletapis.IsKubeletLabel). */
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname', 'topology.kubernetes.io/zone', 'topology.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region', 'node.kubernetes.io/instance-type', 'beta.kubernetes.io/instance-type', 'kubernetes.io/os',
  'kubernetes.io/arch', 'beta.kubernetes.io/os', 'beta.kubernetes.io/arch',
]);
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

const labelNamespace = (k: string): string => (k.includes('/') ? k.slice(0, k.indexOf('/')) : '');
const inNamespace = (ns: string, of: string): boolean => ns === of || ns.endsWith(`.${of}`);

/**
 * forbiddenNodeLabels lists the labels a node may not set or change on itself: the node-restriction.kubernetes.io
 * prefix and any kubernetes.io / k8s.io label that is not a kubelet label. Examples:
 *   node-restriction.kubernetes.io/zone → forbidden; node-role.kubernetes.io/worker → forbidden;
 *   kubernetes.io/hostname, node.kubernetes.io/x, example.com/tier → allowed.
 */
export function forbiddenNodeLabels(next: Record<string, string> = {}, old: Record<string, string> = {}): string[] {
  const modified = new Set<string>();
  for (const [k, v] of Object.entries(next)) if (old[k] !== v) modified.add(k);
  for (const k of Object.keys(old)) if (!(k in next)) modified.add(k);
  return [...modified]
    .filter((k) => {
      const ns = labelNamespace(k);
      if (inNamespace(ns, 'node-restriction.kubernetes.io')) return true;
      const kube = inNamespace(ns, 'kubernetes.io') || inNamespace(ns, 'k8s.io');
      return kube && !KUBELET_LABELS.has(k) && !KUBELET_LABEL_NAMESPACES.some((n) => inNamespace(ns, n));
    })
    .sort();
}

/** WriteKind is what the admission sees of one write. */
export interface Write {
  info: ResourceInfo;
  operation: 'CREATE' | 'UPDATE';
  subresource: string;
  old?: KubeObject;
  obj: KubeObject;
}

function forbidden(w: Write, msg: string): ApiError {
  const name = w.obj.metadata?.name ?? w.old?.metadata?.name ?? '';
  const qualified = w.info.group ? `${w.info.resource}.${w.info.group}` : w.info.resource;
  return errors.forbidden(`${qualified} "${name}" is forbidden: ${msg}`, { name, ...(w.info.group ? { group: w.info.group } : {}), kind: w.info.resource });
}

/** nodeRestriction returns why node `node` may not make write `w` (upstream's NodeRestriction wording), or undefined. */
export function nodeRestriction(node: string, w: Write): string | undefined {
  const key = `${w.info.group}/${w.info.resource}`;
  if (key === '/pods') {
    const pod = w.obj as unknown as Pod;
    if (w.subresource === 'status') {
      if ((w.old as unknown as Pod | undefined)?.spec?.nodeName !== node) return `node "${node}" can only update pod status for pods with spec.nodeName set to itself`;
      return undefined;
    }
    if (w.subresource) return `unexpected pod subresource "${w.subresource}", only 'status' and 'eviction' are allowed`;
    if (w.operation !== 'CREATE') return `unexpected operation "${w.operation}", node "${node}" can only create and delete mirror pods`;
    if (pod.metadata?.annotations?.[MIRROR_ANNOTATION] === undefined) return `pod does not have "${MIRROR_ANNOTATION}" annotation, node "${node}" can only create mirror pods`;
    if (pod.spec?.nodeName !== node) return `node "${node}" can only create pods with spec.nodeName set to itself`;
    const spec = pod.spec;
    if (spec.serviceAccountName) return `node "${node}" can not create pods that reference a service account`;
    for (const v of spec.volumes ?? []) {
      if (v.secret) return `node "${node}" can not create pods that reference secrets`;
      if (v.configMap) return `node "${node}" can not create pods that reference configmaps`;
      if (v.persistentVolumeClaim || v.ephemeral) return `node "${node}" can not create pods that reference persistentvolumeclaims`;
    }
    return undefined;
  }
  if (key === '/nodes') {
    const name = w.obj.metadata?.name ?? w.old?.metadata?.name;
    if (name !== node) return `node "${node}" is not allowed to modify node "${name}"`;
    if (w.subresource === 'status') return undefined;
    const n = w.obj as unknown as Node;
    const o = w.old as unknown as Node | undefined;
    if (w.operation === 'UPDATE' && JSON.stringify(n.spec?.taints ?? []) !== JSON.stringify(o?.spec?.taints ?? [])) return `node "${node}" is not allowed to modify taints`;
    const bad = forbiddenNodeLabels(n.metadata?.labels, w.operation === 'UPDATE' ? o?.metadata?.labels : {});
    if (bad.length) return w.operation === 'CREATE' ? `node "${node}" is not allowed to set the following labels: ${bad.join(', ')}` : `node "${node}" is not allowed to modify labels: ${bad.join(', ')}`;
    return undefined;
  }
  if (key === 'coordination.k8s.io/leases') {
    if (w.obj.metadata?.namespace !== NODE_LEASE_NS) return undefined; // other leases are RBAC's business
    if (w.obj.metadata?.name !== node) return `can only access node lease with the same name as the requesting node`;
    return undefined;
  }
  return undefined;
}

const isCsr = (info: ResourceInfo): boolean => info.group === 'certificates.k8s.io' && info.resource === 'certificatesigningrequests';

/**
 * admitCreate runs on every create after defaulting: a CSR records its requester (spec.username, uid, groups, extra)
 * and starts with an empty status, as upstream's strategy; a node's write goes through NodeRestriction. `user`
 * undefined = an in-process component (controllers), which is trusted.
 */
export function admitCreate(info: ResourceInfo, obj: KubeObject, user: UserInfo | undefined): void {
  if (isCsr(info) && user) {
    const spec = (obj.spec ??= {}) as NonNullable<CertificateSigningRequest['spec']>;
    spec.username = user.name;
    if (user.uid) spec.uid = user.uid;
    else delete spec.uid;
    spec.groups = [...user.groups];
    if (user.extra) spec.extra = user.extra;
    else delete spec.extra;
    obj.status = {};
  }
  const node = nodeIdentity(user);
  if (node === undefined) return;
  const w: Write = { info, operation: 'CREATE', subresource: '', obj };
  const why = nodeRestriction(node, w);
  if (why) throw forbidden(w, why);
}

/**
 * admitUpdate runs on every update after the registry prepared the object (`next`); it returns the object to store.
 * CSR: the main resource keeps its status, `approval` changes only the conditions, `status` may not add or remove
 * Approved/Denied. A node's write goes through NodeRestriction.
 */
export function admitUpdate(info: ResourceInfo, old: KubeObject, next: KubeObject, subresource: string | undefined, user: UserInfo | undefined): KubeObject {
  if (isCsr(info)) next = csrUpdate(old, next, subresource ?? '');
  const node = nodeIdentity(user);
  if (node === undefined) return next;
  const w: Write = { info, operation: 'UPDATE', subresource: subresource ?? '', old, obj: next };
  const why = nodeRestriction(node, w);
  if (why) throw forbidden(w, why);
  return next;
}

const DECISIONS = new Set(['Approved', 'Denied']);

/** csrUpdate is upstream's CSR strategies for the main resource, `approval` and `status`. */
export function csrUpdate(old: KubeObject, next: KubeObject, subresource: string): KubeObject {
  const o = old as unknown as CertificateSigningRequest;
  const n = next as unknown as CertificateSigningRequest;
  const out = structuredClone(next) as unknown as CertificateSigningRequest;
  out.spec = structuredClone(o.spec);
  if (subresource === 'approval') {
    out.status = { ...(o.status ?? {}), conditions: n.status?.conditions ?? [] };
  } else if (subresource === 'status') {
    const decided = (o.status?.conditions ?? []).filter((c) => DECISIONS.has(c.type));
    const others = (n.status?.conditions ?? []).filter((c) => !DECISIONS.has(c.type));
    const conditions = [...decided, ...others];
    out.status = { ...(n.status ?? {}), ...(conditions.length ? { conditions } : {}) };
    if (!conditions.length) delete out.status.conditions;
  } else {
    out.status = structuredClone(o.status);
  }
  return out as unknown as KubeObject;
}
