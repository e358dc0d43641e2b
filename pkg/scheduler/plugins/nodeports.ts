// nodeports: a pod's host ports must be free on the node (same protocol and port, overlapping host IP).
import { portConflicts } from '../podinfo.ts';
import { SUCCESS, unschedulable } from '../types.ts';
import type { FilterResult, NodeInfo, PodInfo } from '../types.ts';

export const name = 'NodePorts';

/** REASON is upstream's ErrReason. */
export const REASON = "node(s) didn't have free ports for the requested pod ports";

export function filter(pod: PodInfo, node: NodeInfo): FilterResult {
  for (const hp of pod.hostPorts) if (portConflicts(node, hp)) return unschedulable('Unschedulable', REASON);
  return SUCCESS;
}
