// noderesourcesfit: the pod's requests must fit the node's allocatable minus what its pods request; scores least allocated.
import { MAX_NODE_SCORE, SUCCESS, unschedulable } from '../types.ts';
import type { FilterResult, NodeInfo, PodInfo } from '../types.ts';

export const name = 'NodeResourcesFit';

/**
 * insufficient lists upstream's fitsRequest reasons: "Too many pods" when the pod count is at allocatable pods,
 * then "Insufficient cpu" / "Insufficient memory" / "Insufficient ephemeral-storage" / "Insufficient <name>".
 * Example: allocatable 2 cpu, 1500m requested, pod asks 600m → ["Insufficient cpu"].
 */
export function insufficient(pod: PodInfo, node: NodeInfo): string[] {
  const out: string[] = [];
  const a = node.allocatable;
  const used = node.requested;
  if (node.pods.size + 1 > a.pods) out.push('Too many pods');
  const r = pod.requests;
  if (r.milliCpu === 0 && r.memory === 0 && r.ephemeralStorage === 0 && !r.scalar) return out;
  if (r.milliCpu > 0 && r.milliCpu > a.milliCpu - used.milliCpu) out.push('Insufficient cpu');
  if (r.memory > 0 && r.memory > a.memory - used.memory) out.push('Insufficient memory');
  if (r.ephemeralStorage > 0 && r.ephemeralStorage > a.ephemeralStorage - used.ephemeralStorage) out.push('Insufficient ephemeral-storage');
  if (r.scalar) {
    for (const [k, v] of Object.entries(r.scalar)) {
      if (v > 0 && v > (a.scalar?.[k] ?? 0) - (used.scalar?.[k] ?? 0)) out.push(`Insufficient ${k}`);
    }
  }
  return out;
}

/** fits is insufficient(pod, node).length === 0 without building the list (the common answer, asked per node per pod). */
export function fits(pod: PodInfo, node: NodeInfo): boolean {
  const a = node.allocatable;
  const used = node.requested;
  const r = pod.requests;
  if (node.pods.size + 1 > a.pods) return false;
  if (r.milliCpu > 0 && r.milliCpu > a.milliCpu - used.milliCpu) return false;
  if (r.memory > 0 && r.memory > a.memory - used.memory) return false;
  if (r.ephemeralStorage > 0 && r.ephemeralStorage > a.ephemeralStorage - used.ephemeralStorage) return false;
  if (r.scalar) {
    for (const k in r.scalar) {
      const v = r.scalar[k]!;
      if (v > 0 && v > (a.scalar?.[k] ?? 0) - (used.scalar?.[k] ?? 0)) return false;
    }
  }
  return true;
}

export function filter(pod: PodInfo, node: NodeInfo): FilterResult {
  if (fits(pod, node)) return SUCCESS;
  const reasons = insufficient(pod, node);
  return reasons.length ? unschedulable('Unschedulable', ...reasons) : SUCCESS;
}

/** leastRequestedScore is upstream's: (capacity − requested) · 100 / capacity, 0 when full or no capacity. */
export function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.floor(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/**
 * score is the LeastAllocated strategy over cpu and memory (weight 1 each) with non-zero requests (100m/200Mi for
 * containers that ask nothing). Example: 4 cpu / 8Gi node, 1 cpu / 2Gi used, pod 1 cpu / 2Gi → (50 + 50) / 2 = 50.
 */
export function score(pod: PodInfo, node: NodeInfo): number {
  let sum = 0;
  let weights = 0;
  const a = node.allocatable;
  if (a.milliCpu > 0) {
    sum += leastRequestedScore(node.nonZeroRequested.milliCpu + pod.nonZero.milliCpu, a.milliCpu);
    weights++;
  }
  if (a.memory > 0) {
    sum += leastRequestedScore(node.nonZeroRequested.memory + pod.nonZero.memory, a.memory);
    weights++;
  }
  return weights ? Math.floor(sum / weights) : 0;
}
