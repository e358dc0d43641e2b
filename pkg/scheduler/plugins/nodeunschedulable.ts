// nodeunschedulable: filters out cordoned nodes (spec.unschedulable) unless the pod tolerates the unschedulable taint.
import type { Taint } from 'kubernetes-types/core/v1.js';
import { SUCCESS, tolerates, unschedulable } from '../types.ts';
import type { FilterResult, NodeInfo, PodInfo } from '../types.ts';

export const name = 'NodeUnschedulable';

/** REASON is upstream's ErrReasonUnschedulable. */
export const REASON = 'node(s) were unschedulable';

const UNSCHEDULABLE_TAINT: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

/** CORDONED is the one verdict for a cordoned node, shared (an unschedulable storm asks it millions of times). */
const CORDONED: FilterResult = Object.freeze(unschedulable('UnschedulableAndUnresolvable', REASON));

/** filter passes a schedulable node, or a cordoned one when the pod tolerates node.kubernetes.io/unschedulable:NoSchedule. */
export function filter(pod: PodInfo, node: NodeInfo): FilterResult {
  if (!node.unschedulable || tolerates(pod.tolerations, UNSCHEDULABLE_TAINT)) return SUCCESS;
  return CORDONED;
}
