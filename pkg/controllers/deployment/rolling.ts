// rolling: the RollingUpdate strategy — scale the new ReplicaSet up within maxSurge, the old ones down within maxUnavailable (upstream's rolling.go).
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { SyncResult } from '../worker.ts';
import type { DeploymentSync } from './sync.ts';
import { availableReplicaCount, byCreationTimestamp, deploymentComplete, filterActive, maxUnavailable, newRSNewReplicas, replicaCount, replicasOf } from './util.ts';
import type { ScaleOp } from './util.ts';

/**
 * planNewReplicaSet is upstream's reconcileNewReplicaSet decision: the new set's target size, or undefined when it
 * has the right size. Too big → the Deployment's replicas; too small → as far as maxSurge allows.
 * Example: replicas 3, surge 1, old 3 + new 0 → new to 1.
 */
export function planNewReplicaSet(d: Deployment, allRSs: readonly ReplicaSet[], newRS: ReplicaSet): number | undefined {
  const want = replicasOf(d);
  const have = replicasOf(newRS);
  if (have === want) return undefined;
  if (have > want) return want;
  const to = newRSNewReplicas(d, allRSs, newRS);
  return to === have ? undefined : to;
}

/** withReplicas copies a set at a new size (the plan's view of a scale it has decided). */
function withReplicas(rs: ReplicaSet, n: number): ReplicaSet {
  return { ...rs, spec: { ...rs.spec!, replicas: n } };
}

/**
 * cleanupUnhealthyReplicas is upstream's cleanupUnhealthyReplicas: oldest first, scale each old set down by its
 * unavailable replicas (spec − available), in total at most maxCleanup. Returns the ops and the sets after them.
 */
export function cleanupUnhealthyReplicas(oldRSs: readonly ReplicaSet[], maxCleanup: number): { ops: ScaleOp[]; oldRSs: ReplicaSet[]; count: number } {
  const sorted = [...oldRSs].sort(byCreationTimestamp);
  const ops: ScaleOp[] = [];
  let total = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (total >= maxCleanup) break;
    const rs = sorted[i];
    const n = replicasOf(rs);
    const available = rs.status?.availableReplicas ?? 0;
    if (n === 0 || n === available) continue;
    const down = Math.min(maxCleanup - total, n - available);
    ops.push({ rs, to: n - down });
    sorted[i] = withReplicas(rs, n - down);
    total += down;
  }
  return { ops, oldRSs: sorted, count: total };
}

/**
 * scaleDownOldForRollingUpdate is upstream's scaleDownOldReplicaSetsForRollingUpdate: with more pods available than
 * replicas − maxUnavailable, take the surplus away from the old sets, oldest first.
 */
export function scaleDownOldForRollingUpdate(d: Deployment, allRSs: readonly ReplicaSet[], oldRSs: readonly ReplicaSet[]): { ops: ScaleOp[]; count: number } {
  const minAvailable = replicasOf(d) - maxUnavailable(d);
  const available = availableReplicaCount(allRSs);
  if (available <= minAvailable) return { ops: [], count: 0 };
  const wanted = available - minAvailable;
  const ops: ScaleOp[] = [];
  let total = 0;
  for (const rs of [...oldRSs].sort(byCreationTimestamp)) {
    if (total >= wanted) break;
    const n = replicasOf(rs);
    if (n === 0) continue;
    const down = Math.min(n, wanted - total);
    ops.push({ rs, to: n - down });
    total += down;
  }
  return { ops, count: total };
}

/**
 * planOldReplicaSets is upstream's reconcileOldReplicaSets decision. At most allPods − minAvailable −
 * newUnavailable pods may go: first the old sets' unhealthy replicas (they cost no availability), then available
 * old replicas beyond minAvailable.
 * Example: replicas 10, maxUnavailable 2, old 10 (all available) + new 3 (0 available) → max scaled down
 * 13 − 8 − 3 = 2; nothing unhealthy; available 10 − 8 = 2 → old to 8.
 */
export function planOldReplicaSets(d: Deployment, allRSs: readonly ReplicaSet[], oldRSs: readonly ReplicaSet[], newRS: ReplicaSet): ScaleOp[] {
  if (replicaCount(oldRSs) === 0) return [];
  const minAvailable = replicasOf(d) - maxUnavailable(d);
  const newUnavailable = replicasOf(newRS) - (newRS.status?.availableReplicas ?? 0);
  const maxScaledDown = replicaCount(allRSs) - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return [];
  const cleanup = cleanupUnhealthyReplicas(oldRSs, maxScaledDown);
  const down = scaleDownOldForRollingUpdate(d, [...cleanup.oldRSs, newRS], cleanup.oldRSs);
  return [...cleanup.ops, ...down.ops];
}

/**
 * rolloutRolling is upstream's rolloutRolling: make sure the new set exists, scale it up if possible; else scale
 * old sets down if possible; once complete, clean up old sets beyond revisionHistoryLimit; write the status.
 */
export async function rolloutRolling(s: DeploymentSync, d: Deployment, rsList: ReplicaSet[]): Promise<SyncResult> {
  const { newRS, oldRSs } = await s.getAllReplicaSetsAndSyncRevision(d, rsList, true);
  const allRSs = [...oldRSs, newRS!];
  const up = planNewReplicaSet(d, allRSs, newRS!);
  if (up !== undefined) {
    const scaled = await s.scaleReplicaSetAndRecordEvent(newRS!, up, d);
    if (scaled.scaled) return s.syncRolloutStatus(allRSs.map((rs) => (rs === newRS ? scaled.rs : rs)), scaled.rs, d);
  }
  const ops = planOldReplicaSets(d, allRSs, filterActive(oldRSs), newRS!);
  if (ops.length) {
    const latest = await s.applyScaleOps(ops, d);
    return s.syncRolloutStatus(allRSs.map((rs) => latest.get(rs.metadata!.name!) ?? rs), newRS, d);
  }
  if (deploymentComplete(d, d.status ?? {})) await s.cleanupDeployment(oldRSs, d);
  return s.syncRolloutStatus(allRSs, newRS, d);
}
