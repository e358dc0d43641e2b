// message: the FailedScheduling text, built as upstream's FitError.Error() plus DefaultPreemption's PostFilter message.
import type { FilterResult } from './types.ts';

/** Diagnosis is why a pod fits no node: the verdict of every node that failed, and a preFilter message if one failed. */
export interface Diagnosis {
  numAllNodes: number;
  /** node name → its first failing filter's verdict */
  statuses: Map<string, FilterResult>;
  preFilterMsg?: string;
}

/** NO_NODES is upstream's ErrNoNodesAvailable text. */
export const NO_NODES = 'no nodes available to schedule pods';

/** histogram turns reasons into "N reason" strings sorted as strings (upstream's sortReasonsHistogram). */
export function histogram(reasons: Iterable<string>): string[] {
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, n]) => `${n} ${r}`).sort();
}

/**
 * preemptionMessage is DefaultPreemption's PostFilter verdict when it can do nothing: nodes that failed with
 * UnschedulableAndUnresolvable are "Preemption is not helpful for scheduling"; the others would need a victim of
 * lower priority, which kubeling never evicts: "No preemption victims found for incoming pod". A pod with
 * preemptionPolicy Never is not eligible at all.
 */
export function preemptionMessage(d: Diagnosis, preemptionPolicy?: string): string {
  if (preemptionPolicy === 'Never') return 'not eligible due to preemptionPolicy=Never.';
  const reasons: string[] = [];
  for (const s of d.statuses.values()) reasons.push(s.code === 'UnschedulableAndUnresolvable' ? 'Preemption is not helpful for scheduling' : 'No preemption victims found for incoming pod');
  return `preemption: 0/${d.numAllNodes} nodes are available: ${histogram(reasons).join(', ')}.`;
}

/**
 * fitErrorMessage renders a diagnosis as upstream, e.g. "0/3 nodes are available: 1 node(s) had untolerated taint
 * {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available:
 * 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
 */
export function fitErrorMessage(d: Diagnosis, preemptionPolicy?: string): string {
  let msg = `0/${d.numAllNodes} nodes are available:`;
  if (d.preFilterMsg) msg += ` ${d.preFilterMsg}.`;
  else {
    const reasons: string[] = [];
    for (const s of d.statuses.values()) for (const r of s.reasons ?? []) reasons.push(r);
    const h = histogram(reasons);
    if (h.length) msg += ` ${h.join(', ')}.`;
  }
  return `${msg} ${preemptionMessage(d, preemptionPolicy)}`;
}
