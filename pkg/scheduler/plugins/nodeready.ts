// nodeready: filters out nodes whose Ready condition is not True, so a fresh or failed node takes no pods even before
// the node lifecycle controller has tainted it (upstream relies on the node.kubernetes.io/not-ready:NoSchedule taint).
import { SUCCESS, unschedulable } from '../types.ts';
import type { FilterResult, NodeInfo } from '../types.ts';

export const name = 'NodeReady';

/** REASON is the text of upstream's former CheckNodeCondition predicate (ErrNodeNotReady). */
export const REASON = 'node(s) were not ready';

export function filter(_pod: unknown, node: NodeInfo): FilterResult {
  return node.ready ? SUCCESS : unschedulable('UnschedulableAndUnresolvable', REASON);
}
