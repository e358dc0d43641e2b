// types: the scheduler framework's shapes — pod and node summaries, filter statuses, cycle state and the plugin contract.
import type { Node, Pod, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import type { LabelRequirement } from '../api/selectors.ts';

/** MAX_NODE_SCORE is upstream's framework.MaxNodeScore: every normalised score lies in [0, 100]. */
export const MAX_NODE_SCORE = 100;

/** Resources is a request or capacity vector in integer base units (millicores, bytes, counts). */
export interface Resources {
  milliCpu: number;
  memory: number;
  ephemeralStorage: number;
  /** extended resources (nvidia.com/gpu, hugepages-2Mi…) by name; absent when none */
  scalar?: Record<string, number>;
}

/** HostPort is one host port a pod asks for (protocol defaults to TCP, hostIP to 0.0.0.0). */
export interface HostPort {
  ip: string;
  protocol: string;
  port: number;
}

/** AffinityTerm is a required pod (anti-)affinity term with its selector parsed and namespaces resolved. */
export interface AffinityTerm {
  selector: LabelRequirement[];
  /** namespaces the term looks at; undefined = all (an empty namespaceSelector) */
  namespaces: ReadonlySet<string> | undefined;
  topologyKey: string;
}

/**
 * PodInfo is what the scheduler keeps of a pod, computed once when the pod is seen: its requests by upstream's
 * rules, host ports, tolerations, affinity terms and the spreading group it belongs to.
 */
export interface PodInfo {
  pod: Pod;
  key: string;
  uid: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** upstream resource.PodRequests: max(sum of containers, each init container) + overhead */
  requests: Resources;
  /** the same with upstream's non-zero defaults (100m cpu, 200Mi memory) for containers that request nothing — for scoring */
  nonZero: { milliCpu: number; memory: number };
  hostPorts: HostPort[];
  tolerations: Toleration[];
  /** required anti-affinity terms (empty when none) */
  antiAffinity: AffinityTerm[];
  /** required affinity terms (empty when none) */
  affinity: AffinityTerm[];
  /** spreading group: the controller owner's uid, else the pod's namespace and labels; undefined = no spreading */
  spreadKey: string | undefined;
  priority: number;
}

/** NodeInfo is one node with the running totals of the pods bound or assumed on it, kept up to date incrementally. */
export interface NodeInfo {
  name: string;
  node: Node;
  labels: Record<string, string>;
  /** the node's kubernetes.io/hostname and topology.kubernetes.io/zone labels, read once per node change (spreading asks them per pod) */
  hostname: string | undefined;
  zone: string | undefined;
  /** taints with effect NoSchedule or NoExecute (the ones the filter looks at) */
  hardTaints: Taint[];
  /** taints with effect PreferNoSchedule (the ones the score looks at) */
  softTaints: Taint[];
  unschedulable: boolean;
  /** the Ready condition is True */
  ready: boolean;
  allocatable: Resources & { pods: number };
  requested: Resources;
  nonZeroRequested: { milliCpu: number; memory: number };
  pods: Map<string, PodInfo>;
  /** host ports in use: `protocol/port` → hostIP → count */
  usedPorts: Map<string, Map<string, number>>;
}

/** Code is a filter verdict, as upstream's framework.Code. */
export type Code = 'Success' | 'Unschedulable' | 'UnschedulableAndUnresolvable';

/** FilterResult is a filter's verdict on one node; `reasons` feed the FailedScheduling message (one count each). */
export interface FilterResult {
  code: Code;
  reasons?: string[];
}

export const SUCCESS: FilterResult = Object.freeze({ code: 'Success' }) as FilterResult;

/** unschedulable builds a failing result. */
export function unschedulable(code: Exclude<Code, 'Success'>, ...reasons: string[]): FilterResult {
  return { code, reasons };
}

/** ClusterView is what plugins may read of the whole cluster in one cycle (the cache's snapshot). */
export interface ClusterView {
  nodes: readonly NodeInfo[];
  node(name: string): NodeInfo | undefined;
  /** pods with required anti-affinity terms, on any node */
  podsWithAntiAffinity(): Iterable<{ pod: PodInfo; node: NodeInfo }>;
  /** every pod on any node (used only when the incoming pod has affinity terms) */
  allPods(): Iterable<{ pod: PodInfo; node: NodeInfo }>;
  /** spreadCounts: node name → number of pods of `spreadKey` bound or assumed there */
  spreadCounts(spreadKey: string): ReadonlyMap<string, number> | undefined;
}

/** CycleState carries what a plugin computed in preFilter/preScore to its filter/score calls of the same cycle. */
export class CycleState {
  private readonly data = new Map<string, unknown>();
  read<T>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }
  write(key: string, value: unknown): void {
    this.data.set(key, value);
  }
}

/**
 * Plugin is one scheduling plugin (upstream framework/plugins/<name>): `filter` says whether a node can take the
 * pod, `score` ranks feasible nodes (higher is better) and `normalizeScore` maps raw scores onto [0, 100].
 * `preFilter`/`preScore` compute per-pod state once per cycle; a preScore returning false skips the score.
 */
export interface Plugin {
  readonly name: string;
  preFilter?(pod: PodInfo, view: ClusterView, state: CycleState): FilterResult | void;
  filter?(pod: PodInfo, node: NodeInfo, state: CycleState): FilterResult;
  preScore?(pod: PodInfo, nodes: readonly NodeInfo[], view: ClusterView, state: CycleState): boolean;
  score?(pod: PodInfo, node: NodeInfo, state: CycleState): number;
  normalizeScore?(scores: number[], state: CycleState): void;
}

export { tolerates, toleratesTaint } from '../api/tolerations.ts';

/** defaultNormalize is upstream's helper.DefaultNormalizeScore: scale to [0, max] by the largest score; `reverse` flips it. */
export function defaultNormalize(scores: number[], reverse: boolean): void {
  let max = 0;
  for (const s of scores) if (s > max) max = s;
  if (max === 0) {
    if (reverse) scores.fill(MAX_NODE_SCORE);
    return;
  }
  for (let i = 0; i < scores.length; i++) {
    let s = Math.trunc((MAX_NODE_SCORE * scores[i]) / max);
    if (reverse) s = MAX_NODE_SCORE - s;
    scores[i] = s;
  }
}
