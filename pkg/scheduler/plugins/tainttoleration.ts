// tainttoleration: NoSchedule/NoExecute taints must be tolerated; untolerated PreferNoSchedule taints lower the score.
import type { Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { defaultNormalize, SUCCESS, tolerates, unschedulable } from '../types.ts';
import type { CycleState, FilterResult, NodeInfo, PodInfo } from '../types.ts';

export const name = 'TaintToleration';

/** verdicts keeps one failure per taint object (a node's taints are replaced, not changed, when the node changes). */
const verdicts = new WeakMap<Taint, FilterResult>();

/** untolerated is the verdict for taint `t`: "node(s) had untolerated taint {key: value}". */
function untolerated(t: Taint): FilterResult {
  let r = verdicts.get(t);
  if (!r) verdicts.set(t, (r = Object.freeze(unschedulable('UnschedulableAndUnresolvable', `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`))));
  return r;
}

/** filter fails on the first untolerated NoSchedule/NoExecute taint. */
export function filter(pod: PodInfo, node: NodeInfo): FilterResult {
  for (const t of node.hardTaints) {
    if (!tolerates(pod.tolerations, t)) return untolerated(t);
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
