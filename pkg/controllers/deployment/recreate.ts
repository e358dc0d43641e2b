// recreate: the Recreate strategy — every old pod gone before the new ReplicaSet gets any (upstream's recreate.go).
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { SyncResult } from '../worker.ts';
import type { DeploymentSync } from './sync.ts';
import { actualReplicaCount, deploymentComplete, filterActive, replicasOf } from './util.ts';

/** PodMap groups the Deployment's pods by the uid of the ReplicaSet controlling them. */
export type PodMap = Map<string, Pod[]>;

/**
 * oldPodsRunning is upstream's oldPodsRunning: an old set still reports pods, or a pod of a set other than the new
 * one is not Succeeded/Failed (Unknown and terminating pods count: they may still run).
 */
export function oldPodsRunning(newRS: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[], podMap: PodMap): boolean {
  if (actualReplicaCount(oldRSs) > 0) return true;
  for (const [uid, pods] of podMap) {
    if (newRS && newRS.metadata?.uid === uid) continue;
    for (const p of pods) {
      const phase = p.status?.phase;
      if (phase === 'Failed' || phase === 'Succeeded') continue;
      return true;
    }
  }
  return false;
}

/**
 * rolloutRecreate is upstream's rolloutRecreate: scale every old set to 0 and wait until none of their pods runs;
 * only then create (if needed) and scale up the new set; clean up history once complete; write the status.
 */
export async function rolloutRecreate(s: DeploymentSync, d: Deployment, rsList: ReplicaSet[], podMap: PodMap): Promise<SyncResult> {
  // the new set is not created yet, so nothing scales up before the old pods are gone
  let { newRS, oldRSs } = await s.getAllReplicaSetsAndSyncRevision(d, rsList, false);
  let allRSs = [...oldRSs, ...(newRS ? [newRS] : [])];
  const ops = filterActive(oldRSs).filter((rs) => replicasOf(rs) !== 0).map((rs) => ({ rs, to: 0 }));
  if (ops.length) {
    const latest = await s.applyScaleOps(ops, d);
    return s.syncRolloutStatus(allRSs.map((rs) => latest.get(rs.metadata!.name!) ?? rs), newRS, d);
  }
  if (oldPodsRunning(newRS, oldRSs, podMap)) return s.syncRolloutStatus(allRSs, newRS, d);
  if (!newRS) {
    ({ newRS, oldRSs } = await s.getAllReplicaSetsAndSyncRevision(d, rsList, true));
    allRSs = [...oldRSs, newRS!];
  }
  const scaled = await s.scaleReplicaSetAndRecordEvent(newRS!, replicasOf(d), d);
  if (scaled.scaled) allRSs = allRSs.map((rs) => (rs === newRS ? scaled.rs : rs));
  if (deploymentComplete(d, d.status ?? {})) await s.cleanupDeployment(oldRSs, d);
  return s.syncRolloutStatus(allRSs, scaled.rs, d);
}
