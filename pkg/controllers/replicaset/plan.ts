// plan: the ReplicaSet/ReplicationController arithmetic, pure — how many pods to create or delete, in which
// batches, and the status a set should report (upstream's manageReplicas, slowStartBatch and calculateStatus).
import type { Pod } from 'kubernetes-types/core/v1.js';
import { availableInMs, isPodAvailable, isPodReady } from '../util/pods.ts';

/** BURST_REPLICAS is upstream's BurstReplicas: at most this many creates or deletes per sync. */
export const BURST_REPLICAS = 500;

/** SLOW_START_INITIAL_BATCH is upstream's SlowStartInitialBatchSize. */
export const SLOW_START_INITIAL_BATCH = 1;

/** SetCondition is a ReplicaSetCondition / ReplicationControllerCondition (the same shape). */
export interface SetCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** SetStatus is ReplicaSetStatus / ReplicationControllerStatus (the same fields). */
export interface SetStatus {
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: SetCondition[];
}

/** SetView is what the planner needs of a set, whatever its kind. */
export interface SetView {
  /** spec.replicas (defaulted to 1) */
  replicas: number;
  minReadySeconds: number;
  /** spec.template.metadata.labels */
  templateLabels: Record<string, string>;
  generation: number;
  status: SetStatus;
}

/** REPLICA_FAILURE is the condition type both kinds set when pods cannot be created or deleted. */
export const REPLICA_FAILURE = 'ReplicaFailure';

/**
 * replicaDiff is manageReplicas' arithmetic: create or delete the difference between desired and active pods,
 * at most `burst` at once. Example: 3 active, 10 desired → create 7; 700 active, 0 desired → delete 500.
 */
export function replicaDiff(active: number, desired: number, burst = BURST_REPLICAS): { create: number; delete: number } {
  const diff = active - desired;
  if (diff < 0) return { create: Math.min(-diff, burst), delete: 0 };
  return { create: 0, delete: Math.min(diff, burst) };
}

/**
 * slowStartBatches is the batch sizes of upstream's slowStartBatch: 1, 2, 4, 8… (doubling from `initial`), the
 * last one cut to what remains. Example: 10 → [1, 2, 4, 3]. A batch that has a failure stops the rest.
 */
export function slowStartBatches(count: number, initial = SLOW_START_INITIAL_BATCH): number[] {
  const out: number[] = [];
  let remaining = count;
  for (let size = Math.min(remaining, initial); size > 0; size = Math.min(2 * size, remaining)) {
    out.push(size);
    remaining -= size;
  }
  return out;
}

/**
 * slowStart runs `fn` count times in the batches of slowStartBatches, each batch in parallel; it stops after the
 * first batch with a failure and returns the successes and that batch's first error (upstream's slowStartBatch).
 */
export async function slowStart(count: number, fn: () => Promise<void>, initial = SLOW_START_INITIAL_BATCH): Promise<{ successes: number; error?: unknown }> {
  let successes = 0;
  for (const size of slowStartBatches(count, initial)) {
    const results = await Promise.allSettled(Array.from({ length: size }, () => fn()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += size - failed.length;
    if (failed.length > 0) return { successes, error: failed[0].reason };
  }
  return { successes };
}

function labelsMatch(want: readonly [string, string][], have: Record<string, string> | undefined): boolean {
  for (const [k, v] of want) if (have?.[k] !== v) return false;
  return true;
}

/**
 * calculateStatus is upstream's calculateStatus: counts over the set's active, claimed pods — replicas,
 * fullyLabeledReplicas (pods carrying every template label), readyReplicas, availableReplicas (ready for
 * minReadySeconds) — and the ReplicaFailure condition: set (FailedCreate / FailedDelete, with the error) when
 * managing replicas failed and it was not already set, removed when managing succeeded. Zero counts are left out
 * as upstream's JSON does. `requeueAfterMs` is when the next ready pod turns available, if any is waiting.
 */
export function calculateStatus(set: SetView, pods: readonly Pod[], manageError: string | undefined, nowMs: number): { status: SetStatus; requeueAfterMs?: number } {
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  let wait = Infinity;
  const templateLabels = Object.entries(set.templateLabels);
  for (const pod of pods) {
    if (labelsMatch(templateLabels, pod.metadata?.labels)) fullyLabeled++;
    if (isPodReady(pod)) {
      ready++;
      if (isPodAvailable(pod, set.minReadySeconds, nowMs)) available++;
      else {
        const left = availableInMs(pod, set.minReadySeconds, nowMs);
        if (left > 0) wait = Math.min(wait, left);
      }
    }
  }
  let conditions = set.status.conditions ?? [];
  const failure = conditions.find((c) => c.type === REPLICA_FAILURE);
  if (manageError !== undefined && !failure) {
    const diff = pods.length - set.replicas;
    const reason = diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : '';
    const cond: SetCondition = { type: REPLICA_FAILURE, status: 'True', lastTransitionTime: new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z'), message: manageError };
    if (reason) cond.reason = reason;
    conditions = [...conditions, cond];
  } else if (manageError === undefined && failure) {
    conditions = conditions.filter((c) => c.type !== REPLICA_FAILURE);
  }
  const status: SetStatus = { replicas: pods.length };
  if (fullyLabeled) status.fullyLabeledReplicas = fullyLabeled;
  if (ready) status.readyReplicas = ready;
  if (available) status.availableReplicas = available;
  status.observedGeneration = set.generation;
  if (conditions.length) status.conditions = conditions;
  return wait === Infinity ? { status } : { status, requeueAfterMs: wait };
}

/**
 * statusChanged is the test of upstream's updateReplicaSetStatus: write only when a count, the observed
 * generation or the conditions differ from what the set reports.
 */
export function statusChanged(cur: SetStatus | undefined, next: SetStatus): boolean {
  const c = cur ?? { replicas: 0 };
  return (
    (c.replicas ?? 0) !== next.replicas ||
    (c.fullyLabeledReplicas ?? 0) !== (next.fullyLabeledReplicas ?? 0) ||
    (c.readyReplicas ?? 0) !== (next.readyReplicas ?? 0) ||
    (c.availableReplicas ?? 0) !== (next.availableReplicas ?? 0) ||
    (c.observedGeneration ?? 0) !== (next.observedGeneration ?? 0) ||
    JSON.stringify(c.conditions ?? []) !== JSON.stringify(next.conditions ?? [])
  );
}
