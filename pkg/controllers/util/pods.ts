// pods: pure pod predicates and upstream's deletion ranking (pkg/controller/controller_utils.go, pkg/api/v1/pod).
import type { Pod, PodCondition } from 'kubernetes-types/core/v1.js';

/** POD_DELETION_COST is the annotation that lets users say which pods a set removes first (lower cost first). */
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

/** getPodReadyCondition returns the pod's Ready condition, if any. */
export function getPodReadyCondition(pod: Pod): PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

/** isPodReady is upstream's podutil.IsPodReady: the Ready condition is True. */
export function isPodReady(pod: Pod): boolean {
  return getPodReadyCondition(pod)?.status === 'True';
}

/**
 * isPodAvailable is upstream's podutil.IsPodAvailable: ready, and ready for at least minReadySeconds before `nowMs`.
 * Example: Ready since 10:00:00, minReadySeconds 5 → available from 10:00:05 on (strictly after).
 */
export function isPodAvailable(pod: Pod, minReadySeconds: number, nowMs: number): boolean {
  const c = getPodReadyCondition(pod);
  if (c?.status !== 'True') return false;
  if (!minReadySeconds) return true;
  const t = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
  return !Number.isNaN(t) && t + minReadySeconds * 1000 < nowMs;
}

/**
 * availableInMs tells how long until a ready pod turns available (0 when it already is or never will by waiting:
 * not ready, or no transition time). Controllers requeue after the smallest of these.
 */
export function availableInMs(pod: Pod, minReadySeconds: number, nowMs: number): number {
  const c = getPodReadyCondition(pod);
  if (c?.status !== 'True' || !minReadySeconds || !c.lastTransitionTime) return 0;
  const left = Date.parse(c.lastTransitionTime) + minReadySeconds * 1000 - nowMs;
  return left >= 0 ? left + 1 : 0;
}

/** isPodActive is upstream's controller.IsPodActive: not Succeeded, not Failed, not being deleted. */
export function isPodActive(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata?.deletionTimestamp;
}

/** isPodTerminal: the pod has finished (Succeeded or Failed). */
export function isPodTerminal(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** filterActivePods is upstream's controller.FilterActivePods. */
export function filterActivePods<T extends Pod>(pods: readonly T[]): T[] {
  return pods.filter(isPodActive);
}

/** podReadyTime is when the pod last turned Ready (undefined when not ready or unknown). */
export function podReadyTime(pod: Pod): number | undefined {
  const c = getPodReadyCondition(pod);
  if (c?.status !== 'True' || !c.lastTransitionTime) return undefined;
  const t = Date.parse(c.lastTransitionTime);
  return Number.isNaN(t) ? undefined : t;
}

/** maxContainerRestarts returns the highest restart count of regular containers and of sidecars (restartable init containers). */
export function maxContainerRestarts(pod: Pod): { regular: number; sidecar: number } {
  const sidecars = new Set((pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
  let regular = 0;
  let sidecar = 0;
  for (const s of pod.status?.containerStatuses ?? []) regular = Math.max(regular, s.restartCount ?? 0);
  for (const s of pod.status?.initContainerStatuses ?? []) if (sidecars.has(s.name)) sidecar = Math.max(sidecar, s.restartCount ?? 0);
  return { regular, sidecar };
}

/** deletionCost reads the pod-deletion-cost annotation (an int32; anything else counts as 0, as upstream). */
export function deletionCost(pod: Pod): number {
  const v = pod.metadata?.annotations?.[POD_DELETION_COST];
  if (v === undefined || !/^[+-]?\d+$/.test(v)) return 0;
  const n = Number(v);
  return n >= -(2 ** 31) && n < 2 ** 31 ? n : 0;
}

const phaseOrdinal: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function creationMs(pod: Pod): number | undefined {
  const t = pod.metadata?.creationTimestamp ? Date.parse(pod.metadata.creationTimestamp) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

/** afterOrZero: an empty time sorts first, then the later time first (upstream's afterOrZero). */
function afterOrZero(a: number | undefined, b: number | undefined): boolean {
  if (a === undefined || b === undefined) return a === undefined;
  return a > b;
}

/**
 * logarithmicRankDiff compares ages in powers of two (upstream's LogarithmicScaleDown): pods whose ages fall in
 * the same log2 bucket of nanoseconds count as equally old. Example at now=0: ages 5 s and 6 s share bucket 32,
 * ages 1 s and 5 s do not (29 vs 32).
 */
export function logarithmicRankDiff(aMs: number, bMs: number, nowMs: number): number {
  const rank = (t: number) => {
    const d = (nowMs - t) * 1e6;
    return d > 0 ? Math.floor(Math.log2(d)) : -1;
  };
  return rank(aMs) - rank(bMs);
}

function uidLess(a: Pod, b: Pod): boolean {
  return (a.metadata?.uid ?? '') < (b.metadata?.uid ?? '');
}

/** RankedPod is a pod with its rank: how many active related pods share its node (more = deleted first). */
export interface RankedPod<T extends Pod = Pod> {
  pod: T;
  rank: number;
}

/**
 * preferForDeletion is upstream's ActivePodsWithRanks.Less: true when `a` should be deleted before `b`.
 * 1 unassigned < assigned; 2 Pending < Unknown < Running; 3 not ready < ready; 4 lower pod-deletion-cost first;
 * 5 higher rank (more pods doubled up on the node) first; 6 ready for a shorter time first (log2 buckets,
 * then uid); 7 more container restarts first; 8 newer first (log2 buckets, then uid). `nowMs` undefined turns
 * the log2 buckets off (plain comparison), as a zero `Now` does upstream.
 */
export function preferForDeletion(a: RankedPod, b: RankedPod, nowMs?: number): boolean {
  const pa = a.pod;
  const pb = b.pod;
  const na = pa.spec?.nodeName ?? '';
  const nb = pb.spec?.nodeName ?? '';
  if (na !== nb && (na === '' || nb === '')) return na === '';
  const oa = phaseOrdinal[pa.status?.phase ?? ''] ?? 0;
  const ob = phaseOrdinal[pb.status?.phase ?? ''] ?? 0;
  if (oa !== ob) return oa < ob;
  const ra = isPodReady(pa);
  const rb = isPodReady(pb);
  if (ra !== rb) return !ra;
  const ca = deletionCost(pa);
  const cb = deletionCost(pb);
  if (ca !== cb) return ca < cb;
  if (a.rank !== b.rank) return a.rank > b.rank;
  if (ra && rb) {
    const ta = podReadyTime(pa);
    const tb = podReadyTime(pb);
    if (ta !== tb) {
      if (nowMs === undefined || ta === undefined || tb === undefined) return afterOrZero(ta, tb);
      const d = logarithmicRankDiff(ta, tb, nowMs);
      if (d === 0) return uidLess(pa, pb);
      return d < 0;
    }
  }
  const xa = maxContainerRestarts(pa);
  const xb = maxContainerRestarts(pb);
  if (xa.regular !== xb.regular) return xa.regular > xb.regular;
  if (xa.sidecar !== xb.sidecar) return xa.sidecar > xb.sidecar;
  const ka = creationMs(pa);
  const kb = creationMs(pb);
  if (ka !== kb) {
    if (nowMs === undefined || ka === undefined || kb === undefined) return afterOrZero(ka, kb);
    const d = logarithmicRankDiff(ka, kb, nowMs);
    if (d === 0) return uidLess(pa, pb);
    return d < 0;
  }
  return false;
}

/** sortForDeletion orders pods so that the ones to delete first come first (stable for equal pods). */
export function sortForDeletion<T extends Pod>(ranked: RankedPod<T>[], nowMs?: number): T[] {
  return [...ranked]
    .sort((a, b) => (preferForDeletion(a, b, nowMs) ? -1 : preferForDeletion(b, a, nowMs) ? 1 : 0))
    .map((r) => r.pod);
}

/**
 * podsToDelete is upstream's getPodsToDelete: rank each of `pods` by how many active `related` pods (the set's own,
 * or every pod of the sets of one Deployment) share its node, sort, and take the first `diff`.
 */
export function podsToDelete<T extends Pod>(pods: readonly T[], related: readonly Pod[], diff: number, nowMs?: number): T[] {
  if (diff >= pods.length) return [...pods];
  const onNode = new Map<string, number>();
  for (const p of related) if (isPodActive(p)) onNode.set(p.spec?.nodeName ?? '', (onNode.get(p.spec?.nodeName ?? '') ?? 0) + 1);
  const ranked = pods.map((pod) => ({ pod, rank: onNode.get(pod.spec?.nodeName ?? '') ?? 0 }));
  return sortForDeletion(ranked, nowMs).slice(0, diff);
}
