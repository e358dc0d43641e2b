// nodename: a pod that names its node (spec.nodeName) fits only that node.
import { SUCCESS, unschedulable } from '../types.ts';
import type { FilterResult, NodeInfo, PodInfo } from '../types.ts';

export const name = 'NodeName';

/** REASON is upstream's ErrReason. */
export const REASON = "node(s) didn't match the requested node name";

export function filter(pod: PodInfo, node: NodeInfo): FilterResult {
  const want = pod.pod.spec?.nodeName;
  if (!want || want === node.name) return SUCCESS;
  return unschedulable('UnschedulableAndUnresolvable', REASON);
}
