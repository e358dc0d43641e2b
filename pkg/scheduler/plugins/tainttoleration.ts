// tainttoleration: NoSchedule/NoExecute taints must be tolerated; untolerated PreferNoSchedule taints lower the score.
import type { Toleration } from 'kubernetes-types/core/v1.js';
import { defaultNormalize, SUCCESS, tolerates, unschedulable } from '../types.ts';
import type { CycleState, FilterResult, NodeInfo, PodInfo } from '../types.ts';

export const name = 'TaintToleration';

/** filter fails on the first untolerated NoSchedule/NoExecute taint: "node(s) had untolerated taint {key: value}". */
export function filter(pod: PodInfo, node: NodeInfo): FilterResult {
  for (const t of node.hardTaints) {
    if (!tolerates(pod.tolerations, t)) return unschedulable('UnschedulableAndUnresolvable', `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`);
  }
  return SUCCESS;
}

/** preScore keeps the tolerations that can apply to PreferNoSchedule taints (effect empty or PreferNoSchedule). */
export function preScore(pod: PodInfo, _nodes: unknown, _view: unknown, state: CycleState): boolean {
  state.write(name, pod.tolerations.filter((t) => !t.effect || t.effect === 'PreferNoSchedule'));
  return true;
}

/** score counts the node's untolerated PreferNoSchedule taints (fewer is better after the reversed normalisation). */
export function score(_pod: PodInfo, node: NodeInfo, state: CycleState): number {
  const tols = state.read<Toleration[]>(name) ?? [];
  let n = 0;
  for (const t of node.softTaints) if (!tolerates(tols, t)) n++;
  return n;
}

export function normalizeScore(scores: number[]): void {
  defaultNormalize(scores, true);
}
