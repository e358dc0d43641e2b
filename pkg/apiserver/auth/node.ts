// node: upstream's Node authorizer — a node (system:node:<name>) reads only the Secrets, ConfigMaps, PVCs and ServiceAccount tokens its pods use (a graph kept from the pod watch), its pods and its own Lease; everything else by the static system:node rules.
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { PolicyRule as RbacRule } from 'kubernetes-types/rbac/v1.js';
import type { Logger } from 'pino';
import { lookupKind } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import { nodeIdentity } from '../admission/noderestriction.ts';
import type { Registry } from '../registry.ts';
import type { CacheTarget, Delivery } from '../watchcache.ts';
import { CLUSTER_ROLES } from './bootstrap.ts';
import { ruleAllows } from './rbac.ts';
import type { Attributes, Decision } from './types.ts';


/** RefKind is what a pod can reference that a node then may read. */
export type RefKind = 'secrets' | 'configmaps' | 'persistentvolumeclaims' | 'serviceaccounts';

/**
 * podRefs lists what a pod references, as upstream's graph_populator adds edges: Secrets (volumes, projected
 * sources, env, envFrom, imagePullSecrets, CSI/flex/… secretRefs), ConfigMaps (volumes, projected, env, envFrom),
 * PVCs (volumes, generic ephemeral volumes as `<pod>-<volume>`) and its ServiceAccount.
 */
export function podRefs(pod: Pod): [RefKind, string][] {
  const out: [RefKind, string][] = [];
  const spec = pod.spec;
  if (!spec) return out;
  if (spec.serviceAccountName) out.push(['serviceaccounts', spec.serviceAccountName]);
  for (const s of spec.imagePullSecrets ?? []) if (s.name) out.push(['secrets', s.name]);
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...((spec.ephemeralContainers ?? []) as typeof spec.containers)]) {
    for (const f of c.envFrom ?? []) {
      if (f.secretRef?.name) out.push(['secrets', f.secretRef.name]);
      if (f.configMapRef?.name) out.push(['configmaps', f.configMapRef.name]);
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef?.name) out.push(['secrets', e.valueFrom.secretKeyRef.name]);
      if (e.valueFrom?.configMapKeyRef?.name) out.push(['configmaps', e.valueFrom.configMapKeyRef.name]);
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.secret?.secretName) out.push(['secrets', v.secret.secretName]);
    if (v.configMap?.name) out.push(['configmaps', v.configMap.name]);
    if (v.persistentVolumeClaim?.claimName) out.push(['persistentvolumeclaims', v.persistentVolumeClaim.claimName]);
    if (v.ephemeral) out.push(['persistentvolumeclaims', `${pod.metadata?.name}-${v.name}`]);
    for (const p of v.projected?.sources ?? []) {
      if (p.secret?.name) out.push(['secrets', p.secret.name]);
      if (p.configMap?.name) out.push(['configmaps', p.configMap.name]);
    }
    for (const ref of [v.csi?.nodePublishSecretRef, v.flexVolume?.secretRef, v.cephfs?.secretRef, v.rbd?.secretRef, v.iscsi?.secretRef, v.scaleIO?.secretRef, v.storageos?.secretRef]) {
      if (ref?.name) out.push(['secrets', ref.name]);
    }
    if (v.azureFile?.secretName) out.push(['secrets', v.azureFile.secretName]);
  }
  return out;
}

/** PodEdges is one pod's place in the graph: its node and what it references (keys `kind/ns/name`). */
interface PodEdges {
  node: string;
  refs: string[];
}

/** NodeGraph maps each node to the pods bound to it and the objects those pods reference, with reference counts. */
export class NodeGraph {
  readonly #pods = new Map<string, PodEdges>();
  readonly #byNode = new Map<string, Map<string, number>>();

  /** set records a pod (or forgets it when it is unbound or gone). */
  set(pod: Pod | undefined, key: string): void {
    const prev = this.#pods.get(key);
    if (prev) {
      const m = this.#byNode.get(prev.node)!;
      for (const r of [`pods/${key}`, ...prev.refs]) {
        const n = (m.get(r) ?? 0) - 1;
        if (n <= 0) m.delete(r);
        else m.set(r, n);
      }
      if (!m.size) this.#byNode.delete(prev.node);
      this.#pods.delete(key);
    }
    const node = pod?.spec?.nodeName;
    if (!pod || !node) return;
    const ns = pod.metadata?.namespace ?? '';
    const refs = [...new Set(podRefs(pod).map(([k, n]) => `${k}/${ns}/${n}`))];
    this.#pods.set(key, { node, refs });
    let m = this.#byNode.get(node);
    if (!m) this.#byNode.set(node, (m = new Map()));
    for (const r of [`pods/${key}`, ...refs]) m.set(r, (m.get(r) ?? 0) + 1);
  }

  /** nodeOf is the node a recorded pod is bound to (undefined: not recorded, e.g. not bound). */
  nodeOf(key: string): string | undefined {
    return this.#pods.get(key)?.node;
  }

  /** has answers whether `node` reaches kind/ns/name through a pod bound to it (kind 'pods' = the pod itself). */
  has(node: string, kind: RefKind | 'pods', namespace: string, name: string): boolean {
    return (this.#byNode.get(node)?.get(`${kind}/${namespace}/${name}`) ?? 0) > 0;
  }
}

/** NODE_RULES are upstream's static node rules (bootstrappolicy.NodeRules), the rules of ClusterRole system:node. */
export const NODE_RULES: RbacRule[] = CLUSTER_ROLES.find((r) => r.metadata?.name === 'system:node')!.rules ?? [];

/** NodeDecision: allowed, or no opinion with upstream's reason (RBAC is asked next). */
export type NodeDecision = Decision;

const NO_OPINION = (reason = ''): NodeDecision => ({ allowed: false, reason });
const ALLOW: NodeDecision = { allowed: true, reason: '' };
const GRAPH_KINDS: Record<string, RefKind> = { secrets: 'secrets', configmaps: 'configmaps', persistentvolumeclaims: 'persistentvolumeclaims' };

/**
 * authorizeNode is upstream's NodeAuthorizer.Authorize for a node identity (undefined = not a node: no opinion).
 *   get secret "db" in default by system:node:a → allowed when a pod on a references "db", else
 *     "no relationship found between node 'a' and this object"
 *   create serviceaccounts/token "default" → allowed when a pod on the node runs as it
 *   update lease kube-node-lease/a → allowed for node a only
 *   list pods with fieldSelector spec.nodeName=a → allowed; get pod → only pods bound to the node
 *   anything else → the static node rules
 */
export function authorizeNode(graph: NodeGraph, a: Attributes, fieldSelector = ''): NodeDecision | undefined {
  const node = nodeIdentity(a.user);
  if (node === undefined) {
    if (a.user.name.startsWith('system:node:') && a.user.groups.includes('system:nodes')) return NO_OPINION(`unknown node for user "${a.user.name}"`);
    return undefined;
  }
  if (a.resourceRequest && a.apiGroup === '') {
    const kind = GRAPH_KINDS[a.resource];
    if (kind === 'secrets' || kind === 'configmaps') {
      if (!['get', 'list', 'watch'].includes(a.verb)) return NO_OPINION('can only read resources of this type');
      if (a.subresource) return NO_OPINION('cannot read subresource');
      if (!a.namespace) return NO_OPINION('can only read namespaced object of this type');
      return related(graph, node, kind, a);
    }
    if (kind === 'persistentvolumeclaims') {
      if (a.subresource === 'status') {
        if (!['update', 'patch'].includes(a.verb)) return NO_OPINION('can only update or patch resources of this type');
      } else if (a.verb !== 'get') return NO_OPINION('can only get individual resources of this type');
      else if (a.subresource) return NO_OPINION('cannot get subresource');
      return related(graph, node, kind, a);
    }
    if (a.resource === 'serviceaccounts') {
      if (a.verb !== 'create') return NO_OPINION('can only create tokens for individual service accounts');
      if (a.subresource !== 'token') return NO_OPINION('can only create token subresource of serviceaccount');
      return related(graph, node, 'serviceaccounts', a);
    }
    if (a.resource === 'pods') {
      if (a.verb === 'get' && !a.subresource) return graph.has(node, 'pods', a.namespace, a.name) ? ALLOW : NO_OPINION(`no relationship found between node '${node}' and this object`);
      if ((a.verb === 'list' || a.verb === 'watch') && !a.subresource) {
        return selects(fieldSelector, 'spec.nodeName', node) ? ALLOW : NO_OPINION('can only list/watch pods with spec.nodeName field selector');
      }
      // delete, status writes and evictions: only pods bound to this node (NodeRestriction also checks writes)
      if ((a.verb === 'delete' || a.subresource === 'status' || a.subresource === 'eviction') && a.name && !graph.has(node, 'pods', a.namespace, a.name)) {
        return NO_OPINION(`node "${node}" can only ${a.verb === 'delete' ? 'delete' : a.subresource === 'status' ? 'update pod status for' : 'evict'} pods with spec.nodeName set to itself`);
      }
    }
  }
  if (a.resourceRequest && a.apiGroup === 'coordination.k8s.io' && a.resource === 'leases') {
    if (!['get', 'create', 'update', 'patch', 'delete'].includes(a.verb)) return NO_OPINION('can only get, create, update, patch, or delete a node lease');
    if (a.namespace !== 'kube-node-lease') return NO_OPINION('can only access leases in the kube-node-lease namespace');
    if (a.verb !== 'create' && a.name !== node) return NO_OPINION('can only access node lease with the same name as the requesting node');
    return ALLOW;
  }
  return NODE_RULES.some((r) => ruleAllows(a, r)) ? ALLOW : NO_OPINION();
}

function related(graph: NodeGraph, node: string, kind: RefKind, a: Attributes): NodeDecision {
  if (!a.name) return NO_OPINION('No Object name found');
  return graph.has(node, kind, a.namespace, a.name) ? ALLOW : NO_OPINION(`no relationship found between node '${node}' and this object`);
}

/** selects reports whether a field selector pins `field` to exactly `value` (`spec.nodeName=a`, `spec.nodeName==a`). */
export function selects(fieldSelector: string, field: string, value: string): boolean {
  return fieldSelector.split(',').some((req) => {
    const m = /^\s*([^=!\s]+)\s*==?\s*(.*?)\s*$/.exec(req);
    return !!m && m[1] === field && m[2] === value;
  });
}

const podInfo = lookupKind('v1', 'Pod')!;

/** NodeGraphCache keeps a NodeGraph current from the registry's pod watch. */
export class NodeGraphCache {
  readonly graph = new NodeGraph();
  readonly #registry: Registry;
  readonly #log: Logger;
  #stop: (() => void) | undefined;

  constructor(registry: Registry, log: Logger) {
    this.#registry = registry;
    this.#log = log;
  }

  async start(): Promise<void> {
    const target: CacheTarget = { deliver: (d) => (this.#apply(d), 0), close: () => {} };
    const w = await this.#registry.watchShared(podInfo, undefined, { resourceVersion: '' }, target);
    this.#stop = () => w.stop();
    this.#log.debug('node graph watching pods');
  }

  /**
   * #apply records one pod event. As upstream's graph populator, a change that keeps the pod's node is skipped
   * unparsed (the references a pod's spec makes are immutable): most events are status writes.
   */
  #apply(d: Delivery): void {
    const f = d.fields;
    if (f) {
      const key = `${f['metadata.namespace']}/${f['metadata.name']}`;
      if (d.type === 'DELETED') return this.graph.set(undefined, key);
      if ((f['spec.nodeName'] ?? '') === (this.graph.nodeOf(key) ?? '')) return;
    }
    const o = d.view();
    if (!o?.metadata) return;
    const key = `${o.metadata.namespace}/${o.metadata.name}`;
    this.graph.set(d.type === 'DELETED' ? undefined : (o as unknown as Pod), key);
  }

  /** fresh waits until the graph reflects every write committed so far (a denial re-checks after it). */
  async fresh(): Promise<void> {
    await (await this.#registry.cacheFor(podInfo)).waitDispatched(this.#registry.store.revision());
  }

  stop(): void {
    this.#stop?.();
  }
}
