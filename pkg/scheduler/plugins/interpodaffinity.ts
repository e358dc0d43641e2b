// interpodaffinity: required pod affinity and anti-affinity, both the incoming pod's terms and existing pods' anti-affinity.
import { matchLabels } from '../../api/selectors.ts';
import { SUCCESS, unschedulable } from '../types.ts';
import type { AffinityTerm, ClusterView, CycleState, FilterResult, NodeInfo, PodInfo } from '../types.ts';

export const name = 'InterPodAffinity';

/** Reasons are upstream's ErrReason* texts. */
export const REASON_AFFINITY = "node(s) didn't match pod affinity rules";
export const REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
export const REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";

/** Counts maps a topology pair `key\0value` to a number of matching pods. */
type Counts = Map<string, number>;

interface State {
  /** pairs where an existing pod's anti-affinity term matches the incoming pod */
  existingAnti: Counts;
  /** pairs holding pods that match the incoming pod's affinity terms */
  affinity: Counts;
  /** pairs holding pods that match the incoming pod's anti-affinity terms */
  anti: Counts;
}

const pair = (k: string, v: string) => `${k}\0${v}`;
const bump = (c: Counts, k: string) => c.set(k, (c.get(k) ?? 0) + 1);

/** termMatchesPod: the pod is in one of the term's namespaces and its labels match the selector. */
export function termMatchesPod(t: AffinityTerm, p: PodInfo): boolean {
  return (t.namespaces === undefined || t.namespaces.has(p.namespace)) && matchLabels(t.selector, p.labels);
}

/** preFilter counts, per topology pair, the existing pods that matter to this pod (upstream's PreFilter). */
export function preFilter(pod: PodInfo, view: ClusterView, state: CycleState): void {
  const s: State = { existingAnti: new Map(), affinity: new Map(), anti: new Map() };
  for (const { pod: other, node } of view.podsWithAntiAffinity()) {
    for (const t of other.antiAffinity) {
      const v = node.labels[t.topologyKey];
      if (v !== undefined && termMatchesPod(t, pod)) bump(s.existingAnti, pair(t.topologyKey, v));
    }
  }
  if (pod.affinity.length || pod.antiAffinity.length) {
    for (const { pod: other, node } of view.allPods()) {
      if (pod.affinity.length && pod.affinity.every((t) => termMatchesPod(t, other))) {
        for (const t of pod.affinity) {
          const v = node.labels[t.topologyKey];
          if (v !== undefined) bump(s.affinity, pair(t.topologyKey, v));
        }
      }
      for (const t of pod.antiAffinity) {
        const v = node.labels[t.topologyKey];
        if (v !== undefined && termMatchesPod(t, other)) bump(s.anti, pair(t.topologyKey, v));
      }
    }
  }
  // nothing to check (no term of the pod, no existing anti-affinity): no state, and filter passes every node at once
  if (s.existingAnti.size || pod.affinity.length || pod.antiAffinity.length) state.write(name, s);
}

function satisfiesAffinity(pod: PodInfo, node: NodeInfo, s: State): boolean {
  let podsExist = true;
  for (const t of pod.affinity) {
    const v = node.labels[t.topologyKey];
    if (v === undefined) return false;
    if ((s.affinity.get(pair(t.topologyKey, v)) ?? 0) <= 0) podsExist = false;
  }
  if (podsExist) return true;
  // the first pod of a group with affinity to itself may go anywhere that has the topology labels
  return s.affinity.size === 0 && pod.affinity.every((t) => termMatchesPod(t, pod));
}

export function filter(pod: PodInfo, node: NodeInfo, state: CycleState): FilterResult {
  const s = state.read<State>(name);
  if (!s) return SUCCESS;
  if (pod.affinity.length && !satisfiesAffinity(pod, node, s)) return unschedulable('UnschedulableAndUnresolvable', REASON_AFFINITY);
  for (const t of pod.antiAffinity) {
    const v = node.labels[t.topologyKey];
    if (v !== undefined && (s.anti.get(pair(t.topologyKey, v)) ?? 0) > 0) return unschedulable('Unschedulable', REASON_ANTI_AFFINITY);
  }
  if (s.existingAnti.size) {
    for (const k in node.labels) {
      if ((s.existingAnti.get(pair(k, node.labels[k])) ?? 0) > 0) return unschedulable('Unschedulable', REASON_EXISTING_ANTI_AFFINITY);
    }
  }
  return SUCCESS;
}
