// balancedallocation: NodeResourcesBalancedAllocation — prefers nodes whose cpu and memory would be used in equal shares.
import { MAX_NODE_SCORE } from '../types.ts';
import type { NodeInfo, PodInfo } from '../types.ts';

export const name = 'NodeResourcesBalancedAllocation';

/** preScore skips best-effort pods (no cpu or memory request), as upstream does since 1.33. */
export function preScore(pod: PodInfo): boolean {
  return pod.requests.milliCpu > 0 || pod.requests.memory > 0;
}

/**
 * score is (1 − |cpuFraction − memoryFraction| / 2) · 100 with fractions of allocatable after adding the pod,
 * capped at 1. Example: cpu 50 %, memory 10 % → (1 − 0.2) · 100 = 80.
 */
export function score(pod: PodInfo, node: NodeInfo): number {
  const a = node.allocatable;
  // a node reporting only one of the two resources is balanced by definition (std 0); no array per call: this runs
  // for every feasible node of every pod
  if (!(a.milliCpu > 0 && a.memory > 0)) return MAX_NODE_SCORE;
  const cpu = Math.min(1, (node.requested.milliCpu + pod.requests.milliCpu) / a.milliCpu);
  const memory = Math.min(1, (node.requested.memory + pod.requests.memory) / a.memory);
  return Math.trunc((1 - Math.abs((cpu - memory) / 2)) * MAX_NODE_SCORE);
}
