// progress: a Deployment's status from its ReplicaSets — counts, the Available and Progressing conditions, and when to look again (upstream's calculateStatus, syncRolloutStatus, requeueStuckDeployment).
import type { Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import {
  actualReplicaCount,
  availableReplicaCount,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  getCondition,
  hasProgressDeadline,
  maxUnavailable,
  newCondition,
  REASON,
  readyReplicaCount,
  removeCondition,
  replicaCount,
  replicasOf,
  setCondition,
} from './util.ts';

/** compact drops zero counts (not collisionCount, a pointer upstream), as Go's omitempty does, so a computed status compares equal to the stored one. */
function compact(s: DeploymentStatus): DeploymentStatus {
  const out: DeploymentStatus = {};
  for (const [k, v] of Object.entries(s) as [keyof DeploymentStatus, unknown][]) {
    if (v === undefined || (v === 0 && k !== 'collisionCount') || (Array.isArray(v) && v.length === 0)) continue;
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/**
 * calculateStatus is upstream's calculateStatus: replicas/updated/ready/available/unavailable summed over the
 * sets (unavailable = spec replicas of all sets − available, never negative), observedGeneration, the
 * collisionCount kept, and the Available condition: True "Deployment has minimum availability." when available ≥
 * replicas − maxUnavailable, else False. Other conditions are copied.
 * Example: replicas 4, maxUnavailable 1, sets available 3 → Available True.
 */
export function calculateStatus(allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined, d: Deployment, nowMs: number): DeploymentStatus {
  const available = availableReplicaCount(allRSs);
  const unavailable = Math.max(0, replicaCount(allRSs) - available);
  const status: DeploymentStatus = {
    observedGeneration: d.metadata?.generation,
    replicas: actualReplicaCount(allRSs),
    updatedReplicas: actualReplicaCount([newRS]),
    readyReplicas: readyReplicaCount(allRSs),
    availableReplicas: available,
    unavailableReplicas: unavailable,
    collisionCount: d.status?.collisionCount,
  };
  const conditions = (d.status?.conditions ?? []).map((c) => ({ ...c }));
  if (conditions.length) status.conditions = conditions;
  if (available >= replicasOf(d) - maxUnavailable(d)) {
    setCondition(status, newCondition('Available', 'True', REASON.MinimumReplicasAvailable, 'Deployment has minimum availability.', nowMs));
  } else {
    setCondition(status, newCondition('Available', 'False', REASON.MinimumReplicasUnavailable, 'Deployment does not have minimum availability.', nowMs));
  }
  return compact(status);
}

/** RolloutStatus is the status to write (when it differs) and when to look at the Deployment again. */
export interface RolloutStatus {
  status: DeploymentStatus;
  /** re-check the progress deadline after this many ms (undefined: no need) */
  requeueAfterMs?: number;
}

/** replicaFailures converts ReplicaFailure conditions of the new set (else of any set) into Deployment conditions. */
function replicaFailures(allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined): DeploymentCondition[] {
  const conv = (rs: ReplicaSet | undefined): DeploymentCondition[] =>
    (rs?.status?.conditions ?? [])
      .filter((c) => c.type === 'ReplicaFailure')
      .map((c) => ({ type: c.type, status: c.status, lastTransitionTime: c.lastTransitionTime, lastUpdateTime: c.lastTransitionTime, reason: c.reason, message: c.message }));
  const own = conv(newRS);
  return own.length ? own : allRSs.flatMap(conv);
}

/**
 * rolloutStatus is upstream's syncRolloutStatus without the write: calculateStatus plus the Progressing
 * condition. With a progress deadline and a rollout not yet marked complete:
 * - complete → True NewReplicaSetAvailable `ReplicaSet "x" has successfully progressed.`
 * - progress since the stored status → True ReplicaSetUpdated `ReplicaSet "x" is progressing.` (lastUpdateTime
 *   refreshed, lastTransitionTime kept while True)
 * - no progress for progressDeadlineSeconds → False ProgressDeadlineExceeded `ReplicaSet "x" has timed out progressing.`
 * Without a deadline the Progressing condition is dropped. A ReplicaFailure condition of the sets is mirrored.
 * When nothing changed and the rollout is neither complete nor timed out, requeueAfterMs says when the deadline
 * falls (lastUpdateTime + deadline − now, plus a second against skew; just past the deadline if under a second).
 */
export function rolloutStatus(allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined, d: Deployment, nowMs: number): RolloutStatus {
  const status = calculateStatus(allRSs, newRS, d, nowMs);
  if (!hasProgressDeadline(d)) removeCondition(status, 'Progressing');
  const current = getCondition(d.status, 'Progressing');
  const isComplete = (status.replicas ?? 0) === (status.updatedReplicas ?? 0) && current?.reason === REASON.NewRSAvailable;
  if (hasProgressDeadline(d) && !isComplete) {
    const subject = newRS ? `ReplicaSet "${newRS.metadata?.name}"` : `Deployment "${d.metadata?.name}"`;
    if (deploymentComplete(d, status)) {
      setCondition(status, newCondition('Progressing', 'True', REASON.NewRSAvailable, `${subject} has successfully progressed.`, nowMs));
    } else if (deploymentProgressing(d, status)) {
      const c = newCondition('Progressing', 'True', REASON.ReplicaSetUpdated, `${subject} is progressing.`, nowMs);
      if (current) {
        if (current.status === 'True') c.lastTransitionTime = current.lastTransitionTime;
        removeCondition(status, 'Progressing');
      }
      setCondition(status, c);
    } else if (deploymentTimedOut(d, status, nowMs)) {
      setCondition(status, newCondition('Progressing', 'False', REASON.TimedOut, `${subject} has timed out progressing.`, nowMs));
    }
  }
  const failures = replicaFailures(allRSs, newRS);
  if (failures.length) setCondition(status, failures[0]);
  else removeCondition(status, 'ReplicaFailure');
  return { status, requeueAfterMs: stuckRequeueMs(d, status, nowMs) };
}

/**
 * stuckRequeueMs is upstream's requeueStuckDeployment: for a rollout with a deadline that is neither complete nor
 * timed out, the time until its deadline passes. Example: Progressing updated 3 min ago, deadline 10 min → 7 min + 1 s.
 */
export function stuckRequeueMs(d: Deployment, next: DeploymentStatus, nowMs: number): number | undefined {
  const current = getCondition(d.status, 'Progressing');
  if (!hasProgressDeadline(d) || !current) return undefined;
  if (deploymentComplete(d, next) || current.reason === REASON.TimedOut) return undefined;
  const from = current.lastUpdateTime ? Date.parse(current.lastUpdateTime) : NaN;
  if (Number.isNaN(from)) return undefined;
  const after = from + d.spec!.progressDeadlineSeconds! * 1000 - nowMs;
  // under a second left: look again just after the deadline (upstream re-queues rate-limited)
  return after < 1000 ? Math.max(after, 0) + 50 : after + 1000;
}

/**
 * pausedCondition is upstream's checkPausedConditions decision: a paused Deployment gets Progressing Unknown
 * DeploymentPaused "Deployment is paused", a resumed one Unknown DeploymentResumed "Deployment is resumed" (so
 * the pause does not count against the deadline). A timed-out rollout keeps its condition. Undefined: no change.
 */
export function pausedCondition(d: Deployment, nowMs: number): DeploymentCondition | undefined {
  if (!hasProgressDeadline(d)) return undefined;
  const cond = getCondition(d.status, 'Progressing');
  if (cond?.reason === REASON.TimedOut) return undefined;
  const pausedExists = cond?.reason === REASON.PausedDeploy;
  if (d.spec?.paused && !pausedExists) return newCondition('Progressing', 'Unknown', REASON.PausedDeploy, 'Deployment is paused', nowMs);
  if (!d.spec?.paused && pausedExists) return newCondition('Progressing', 'Unknown', REASON.ResumedDeploy, 'Deployment is resumed', nowMs);
  return undefined;
}
