// podtopologyspread: upstream's system-default topology spreading (ScheduleAnyway: hostname maxSkew 3, zone maxSkew 5)
// over the pods of one group — the same controller owner, else the same namespace and labels.
import { HOSTNAME_LABEL, ZONE_LABEL } from '../podinfo.ts';
import { MAX_NODE_SCORE } from '../types.ts';
import type { ClusterView, CycleState, NodeInfo, PodInfo } from '../types.ts';

export const name = 'PodTopologySpread';

export const HOSTNAME_KEY = HOSTNAME_LABEL;
export const ZONE_KEY = ZONE_LABEL;
const HOSTNAME_MAX_SKEW = 3;
const ZONE_MAX_SKEW = 5;

interface State {
  perNode: ReadonlyMap<string, number>;
  perZone: Map<string, number>;
  hostWeight: number;
  zoneWeight: number;
}

/** topologyNormalizingWeight is upstream's log(size + 2): more domains weigh a pod more. */
export function topologyNormalizingWeight(size: number): number {
  return Math.log(size + 2);
}

/** preScore counts the group's pods per node and per zone; pods in no group are not spread. */
export function preScore(pod: PodInfo, nodes: readonly NodeInfo[], view: ClusterView, state: CycleState): boolean {
  if (!pod.spreadKey) return false;
  const perNode = view.spreadCounts(pod.spreadKey) ?? new Map<string, number>();
  const zones = new Set<string>();
  for (const n of nodes) if (n.zone !== undefined) zones.add(n.zone);
  const perZone = new Map<string, number>();
  if (zones.size) {
    for (const z of zones) perZone.set(z, 0);
    for (const [nodeName, count] of perNode) {
      const z = view.node(nodeName)?.zone;
      if (z !== undefined && perZone.has(z)) perZone.set(z, perZone.get(z)! + count);
    }
  }
  const s: State = { perNode, perZone, hostWeight: topologyNormalizingWeight(nodes.length), zoneWeight: topologyNormalizingWeight(zones.size) };
  state.write(name, s);
  return true;
}

/** scoreForCount is upstream's cnt · weight + (maxSkew − 1). */
function scoreForCount(cnt: number, maxSkew: number, weight: number): number {
  return cnt * weight + (maxSkew - 1);
}

/** score grows with the number of the group's pods already in the node's domains (fewer is better after normalising). */
export function score(_pod: PodInfo, node: NodeInfo, state: CycleState): number {
  const s = state.read<State>(name)!;
  let v = 0;
  if (node.hostname !== undefined) v += scoreForCount(s.perNode.get(node.name) ?? 0, HOSTNAME_MAX_SKEW, s.hostWeight);
  if (node.zone !== undefined) v += scoreForCount(s.perZone.get(node.zone) ?? 0, ZONE_MAX_SKEW, s.zoneWeight);
  return Math.round(v);
}

/** normalizeScore is upstream's 100 · (max + min − s) / max: the emptiest domain scores highest. */
export function normalizeScore(scores: number[]): void {
  let min = Infinity;
  let max = 0;
  for (const s of scores) {
    if (s < min) min = s;
    if (s > max) max = s;
  }
  for (let i = 0; i < scores.length; i++) {
    scores[i] = max === 0 ? MAX_NODE_SCORE : Math.trunc((MAX_NODE_SCORE * (max + min - scores[i])) / max);
  }
}
