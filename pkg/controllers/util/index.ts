// util: helpers shared by the workload controllers (replicaset, deployment, …): controller refs and claiming,
// expectations, pod readiness/availability and deletion ranking, pods from templates, the FNV template hash.
export { getControllerOf, newControllerRef, resolveControllerRef, claimAction, ControllerRefManager, claimPods, claimCandidates, ensureOrphanIndex, orphanIndex, INDEX_ORPHAN } from './controllerref.ts';
export type { OwnerKind, ClaimAction, ControllerRefManagerOptions } from './controllerref.ts';
export { Expectations, EXPECTATIONS_TIMEOUT_MS } from './expectations.ts';
export {
  POD_DELETION_COST,
  getPodReadyCondition,
  isPodReady,
  isPodAvailable,
  availableInMs,
  isPodActive,
  isPodTerminal,
  filterActivePods,
  podReadyTime,
  maxContainerRestarts,
  deletionCost,
  logarithmicRankDiff,
  preferForDeletion,
  sortForDeletion,
  podsToDelete,
} from './pods.ts';
export type { RankedPod } from './pods.ts';
export { podFromTemplate } from './template.ts';
export { Fnv32a, fnv32a, safeEncodeString } from './hash.ts';
