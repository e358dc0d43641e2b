// podinfo: turns Pods and Nodes into the scheduler's summaries — requests by upstream's rules, ports, affinity terms, taints.
import type { Container, Node, Pod, PodAffinityTerm } from 'kubernetes-types/core/v1.js';
import { parseQuantity } from '../api/quantity.ts';
import { labelSelectorFromObject, NOTHING } from '../api/selectors.ts';
import type { LabelRequirement } from '../api/selectors.ts';
import type { AffinityTerm, HostPort, NodeInfo, PodInfo, Resources } from './types.ts';

/** DEFAULT_MILLI_CPU_REQUEST and DEFAULT_MEMORY_REQUEST are upstream's non-zero defaults for scoring (100m, 200Mi). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

type ResourceMap = Map<string, number>;

/** quantityOf converts a quantity to integer base units: cpu in millicores, everything else in units (rounded up). */
function quantityOf(name: string, q: string | number): number {
  let v: number;
  try {
    v = parseQuantity(q);
  } catch {
    return 0;
  }
  return name === 'cpu' ? Math.ceil(v * 1000 - 1e-9) : Math.ceil(v - 1e-9);
}

function containerRequests(c: Container, nonZero: boolean): ResourceMap {
  const m: ResourceMap = new Map();
  const reqs = c.resources?.requests ?? {};
  for (const [k, v] of Object.entries(reqs)) m.set(k, quantityOf(k, v as string | number));
  if (nonZero) {
    if (!Object.hasOwn(reqs, 'cpu')) m.set('cpu', DEFAULT_MILLI_CPU_REQUEST);
    if (!Object.hasOwn(reqs, 'memory')) m.set('memory', DEFAULT_MEMORY_REQUEST);
  }
  return m;
}

function addTo(into: ResourceMap, from: ResourceMap): void {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
}

function maxInto(into: ResourceMap, from: ResourceMap): void {
  for (const [k, v] of from) if (v > (into.get(k) ?? 0)) into.set(k, v);
}

/**
 * podRequests is upstream's resource.PodRequests: regular containers and sidecars (restartable init containers)
 * add up; each ordinary init container needs its own request plus the sidecars started before it; the pod needs
 * the larger of the two, plus spec.overhead. With `nonZero`, containers missing a cpu/memory request count 100m/200Mi.
 * Example: init 2 cpu/3G, containers 2+1 cpu and 1G+1G → 3 cpu, 3G.
 */
export function podRequests(pod: Pod, nonZero = false): ResourceMap {
  const spec = pod.spec;
  const reqs: ResourceMap = new Map();
  for (const c of spec?.containers ?? []) addTo(reqs, containerRequests(c, nonZero));
  const sidecars: ResourceMap = new Map();
  const init: ResourceMap = new Map();
  for (const c of spec?.initContainers ?? []) {
    const cr = containerRequests(c, nonZero);
    if (c.restartPolicy === 'Always') {
      addTo(reqs, cr);
      addTo(sidecars, cr);
      maxInto(init, sidecars);
    } else {
      const tmp: ResourceMap = new Map();
      addTo(tmp, cr);
      addTo(tmp, sidecars);
      maxInto(init, tmp);
    }
  }
  maxInto(reqs, init);
  for (const [k, v] of Object.entries(spec?.overhead ?? {})) reqs.set(k, (reqs.get(k) ?? 0) + quantityOf(k, v as string | number));
  return reqs;
}

/** toResources folds a resource map into the fixed vector (pods is dropped: it is counted per pod, not requested). */
export function toResources(m: ResourceMap): Resources {
  const r: Resources = { milliCpu: 0, memory: 0, ephemeralStorage: 0 };
  for (const [k, v] of m) {
    if (k === 'cpu') r.milliCpu = v;
    else if (k === 'memory') r.memory = v;
    else if (k === 'ephemeral-storage') r.ephemeralStorage = v;
    else if (k !== 'pods' && v !== 0) (r.scalar ??= {})[k] = v;
  }
  return r;
}

/** hostPortsOf lists the containers' host ports (upstream's NodePorts looks at spec.containers only). */
export function hostPortsOf(pod: Pod): HostPort[] {
  const out: HostPort[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort || p.hostPort <= 0) continue;
      out.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol || 'TCP', port: p.hostPort });
    }
  }
  return out;
}

/** safeSelector parses a structured selector; an invalid one (the API rejects it) selects nothing. */
function safeSelector(sel: Parameters<typeof labelSelectorFromObject>[0]): LabelRequirement[] {
  try {
    return labelSelectorFromObject(sel);
  } catch {
    return [...NOTHING];
  }
}

/**
 * affinityTermOf resolves one required term: its selector plus matchLabelKeys (key in (own value)) and
 * mismatchLabelKeys (key notin (own value)); namespaces default to the pod's own, an empty namespaceSelector means all.
 * A non-empty namespaceSelector cannot be evaluated without namespace labels; it is treated as the listed namespaces.
 */
export function affinityTermOf(pod: Pod, t: PodAffinityTerm): AffinityTerm {
  const labels = pod.metadata?.labels ?? {};
  const selector = safeSelector(t.labelSelector);
  for (const k of t.matchLabelKeys ?? []) if (Object.hasOwn(labels, k)) selector.push({ key: k, operator: 'in', values: [labels[k]] });
  for (const k of t.mismatchLabelKeys ?? []) if (Object.hasOwn(labels, k)) selector.push({ key: k, operator: 'notin', values: [labels[k]] });
  const ns = t.namespaceSelector;
  const allNamespaces = ns != null && Object.keys(ns.matchLabels ?? {}).length === 0 && !ns.matchExpressions?.length;
  const namespaces = allNamespaces ? undefined : new Set(t.namespaces?.length ? t.namespaces : [pod.metadata?.namespace ?? 'default']);
  return { selector, namespaces, topologyKey: t.topologyKey };
}

/** spreadKeyOf groups pods for default spreading: the controller owner's uid, else namespace + labels, else none. */
export function spreadKeyOf(pod: Pod): string | undefined {
  const owner = pod.metadata?.ownerReferences?.find((r) => r.controller);
  if (owner?.uid) return `owner:${owner.uid}`;
  const labels = pod.metadata?.labels;
  if (!labels || Object.keys(labels).length === 0) return undefined;
  const text = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
  return `labels:${pod.metadata?.namespace ?? ''}:${text}`;
}

/** podInfoOf summarises a pod once; the result is shared by the queue, the cache and every plugin. */
export function podInfoOf(pod: Pod): PodInfo {
  const m = pod.metadata ?? {};
  const nz = podRequests(pod, true);
  const aff = pod.spec?.affinity;
  const namespace = m.namespace ?? 'default';
  return {
    pod,
    key: `${namespace}/${m.name}`,
    uid: m.uid ?? '',
    namespace,
    name: m.name ?? '',
    labels: m.labels ?? {},
    requests: toResources(podRequests(pod)),
    nonZero: { milliCpu: nz.get('cpu') ?? 0, memory: nz.get('memory') ?? 0 },
    hostPorts: hostPortsOf(pod),
    tolerations: pod.spec?.tolerations ?? [],
    antiAffinity: (aff?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => affinityTermOf(pod, t)),
    affinity: (aff?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => affinityTermOf(pod, t)),
    spreadKey: spreadKeyOf(pod),
    priority: pod.spec?.priority ?? 0,
  };
}

/** allocatableOf reads node.status.allocatable (falling back to capacity) into integer units. */
function allocatableOf(node: Node): Resources & { pods: number } {
  const alloc = (node.status?.allocatable ?? node.status?.capacity ?? {}) as Record<string, string | number>;
  const m: ResourceMap = new Map();
  for (const [k, v] of Object.entries(alloc)) m.set(k, quantityOf(k, v));
  return { ...toResources(m), pods: m.get('pods') ?? 0 };
}

/** HOSTNAME_LABEL and ZONE_LABEL are the well-known topology labels (upstream's v1.LabelHostname, v1.LabelTopologyZone). */
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** newNodeInfo is a node with no pods. */
export function newNodeInfo(node: Node): NodeInfo {
  const ni: NodeInfo = {
    name: node.metadata?.name ?? '',
    node,
    labels: {},
    hostname: undefined,
    zone: undefined,
    hardTaints: [],
    softTaints: [],
    unschedulable: false,
    ready: false,
    allocatable: { milliCpu: 0, memory: 0, ephemeralStorage: 0, pods: 0 },
    requested: { milliCpu: 0, memory: 0, ephemeralStorage: 0 },
    nonZeroRequested: { milliCpu: 0, memory: 0 },
    pods: new Map(),
    usedPorts: new Map(),
  };
  setNode(ni, node);
  return ni;
}

/** setNode refreshes the node-derived fields (labels, taints, readiness, allocatable), keeping the pod totals. */
export function setNode(ni: NodeInfo, node: Node): void {
  ni.node = node;
  ni.labels = node.metadata?.labels ?? {};
  ni.hostname = ni.labels[HOSTNAME_LABEL];
  ni.zone = ni.labels[ZONE_LABEL];
  const taints = node.spec?.taints ?? [];
  ni.hardTaints = taints.filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  ni.softTaints = taints.filter((t) => t.effect === 'PreferNoSchedule');
  ni.unschedulable = node.spec?.unschedulable === true;
  ni.ready = (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  ni.allocatable = allocatableOf(node);
}

function addResources(into: Resources, r: Resources, sign: 1 | -1): void {
  into.milliCpu += sign * r.milliCpu;
  into.memory += sign * r.memory;
  into.ephemeralStorage += sign * r.ephemeralStorage;
  if (r.scalar) {
    into.scalar ??= {};
    for (const [k, v] of Object.entries(r.scalar)) into.scalar[k] = (into.scalar[k] ?? 0) + sign * v;
  }
}

const portKey = (p: HostPort) => `${p.protocol}/${p.port}`;

/** addPodToNode counts a pod's requests and ports on the node. */
export function addPodToNode(ni: NodeInfo, p: PodInfo): void {
  ni.pods.set(p.uid, p);
  addResources(ni.requested, p.requests, 1);
  ni.nonZeroRequested.milliCpu += p.nonZero.milliCpu;
  ni.nonZeroRequested.memory += p.nonZero.memory;
  for (const hp of p.hostPorts) {
    let ips = ni.usedPorts.get(portKey(hp));
    if (!ips) ni.usedPorts.set(portKey(hp), (ips = new Map()));
    ips.set(hp.ip, (ips.get(hp.ip) ?? 0) + 1);
  }
}

/** removePodFromNode undoes addPodToNode (for the PodInfo that was added). */
export function removePodFromNode(ni: NodeInfo, p: PodInfo): void {
  if (!ni.pods.delete(p.uid)) return;
  addResources(ni.requested, p.requests, -1);
  ni.nonZeroRequested.milliCpu -= p.nonZero.milliCpu;
  ni.nonZeroRequested.memory -= p.nonZero.memory;
  for (const hp of p.hostPorts) {
    const ips = ni.usedPorts.get(portKey(hp));
    if (!ips) continue;
    const n = (ips.get(hp.ip) ?? 0) - 1;
    if (n > 0) ips.set(hp.ip, n);
    else ips.delete(hp.ip);
    if (ips.size === 0) ni.usedPorts.delete(portKey(hp));
  }
}

/** portConflicts is upstream's HostPortInfo.CheckConflict: 0.0.0.0 on either side conflicts with any address. */
export function portConflicts(ni: NodeInfo, hp: HostPort): boolean {
  const ips = ni.usedPorts.get(portKey(hp));
  if (!ips) return false;
  if (hp.ip === '0.0.0.0') return ips.size > 0;
  return ips.has(hp.ip) || ips.has('0.0.0.0');
}
