// rollback: the deprecated server-side rollback (extensions/v1beta1 spec.rollbackTo, carried in apps/v1 as an annotation) — copy an old revision's template back (upstream's rollback.go).
// Modern kubectl rolls back client-side (`rollout undo` patches the template); the controller then re-uses the old
// ReplicaSet and gives it the next revision in getNewReplicaSet. This file serves clients that still set the annotation.
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { SyncResult } from '../worker.ts';
import type { DeploymentSync } from './sync.ts';
import { DEPRECATED_ROLLBACK_TO, equalIgnoreHash, lastRevision, REASON, revisionOf, setDeploymentAnnotationsTo, setFromReplicaSetTemplate } from './util.ts';

/** getRollbackTo reads the revision to roll back to (0 = the previous one); undefined when none is asked for. */
export function getRollbackTo(d: Deployment): number | undefined {
  const v = d.metadata?.annotations?.[DEPRECATED_ROLLBACK_TO];
  if (!v || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** RollbackPlan is what a rollback does: the set to copy from, or the warning to give instead. */
export type RollbackPlan = { rs: ReplicaSet; revision: number } | { warning: string; reason: string };

/** planRollback picks the set of the wanted revision (0 = the last one before the current). */
export function planRollback(revision: number, allRSs: readonly ReplicaSet[]): RollbackPlan {
  let want = revision;
  if (want === 0) {
    want = lastRevision(allRSs);
    if (want === 0) return { reason: REASON.RollbackRevisionNotFound, warning: 'Unable to find last revision.' };
  }
  const rs = allRSs.find((x) => revisionOf(x) === want);
  return rs ? { rs, revision: want } : { reason: REASON.RollbackRevisionNotFound, warning: 'Unable to find the revision to rollback to.' };
}

/**
 * rollback is upstream's rollback: copy the chosen set's template and annotations into the Deployment and clear
 * the request, with a DeploymentRollback event; a missing revision or an unchanged template gives a warning and
 * just clears the request.
 */
export async function rollback(s: DeploymentSync, d: Deployment, rsList: ReplicaSet[]): Promise<SyncResult> {
  const { newRS, oldRSs } = await s.getAllReplicaSetsAndSyncRevision(d, rsList, true);
  const allRSs = [...oldRSs, ...(newRS ? [newRS] : [])];
  const plan = planRollback(getRollbackTo(d) ?? 0, allRSs);
  if ('warning' in plan) {
    s.event(d, 'Warning', plan.reason, plan.warning);
    return s.updateDeploymentAndClearRollbackTo(d);
  }
  if (equalIgnoreHash(d.spec?.template, plan.rs.spec?.template)) {
    s.event(d, 'Warning', REASON.RollbackTemplateUnchanged, `The rollback revision contains the same template as current deployment "${d.metadata?.name}"`);
    return s.updateDeploymentAndClearRollbackTo(d);
  }
  setFromReplicaSetTemplate(d, plan.rs.spec?.template);
  setDeploymentAnnotationsTo(d, plan.rs);
  await s.updateDeploymentAndClearRollbackTo(d);
  s.event(d, 'Normal', REASON.RollbackDone, `Rolled back deployment "${d.metadata?.name}" to revision ${plan.revision}`);
}
