// plan: the node lifecycle controller's pure decisions — node health from lease/heartbeat, condition taints, taint-based eviction.
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Node, NodeCondition, Pod, PodCondition, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { toleratesTaint } from '../../api/tolerations.ts';

/** Taint keys the controller owns (upstream k8s.io/api/core/v1 well_known_taints.go). */
export const TAINT = {
  notReady: 'node.kubernetes.io/not-ready',
  unreachable: 'node.kubernetes.io/unreachable',
  unschedulable: 'node.kubernetes.io/unschedulable',
  memoryPressure: 'node.kubernetes.io/memory-pressure',
  diskPressure: 'node.kubernetes.io/disk-pressure',
  pidPressure: 'node.kubernetes.io/pid-pressure',
  networkUnavailable: 'node.kubernetes.io/network-unavailable',
} as const;

/** OWNED_KEYS are the taint keys this controller adds and removes; every other taint is left alone. */
const OWNED_KEYS = new Set<string>(Object.values(TAINT));

/** CONDITION_TAINTS maps a node condition's status to the NoSchedule taint it brings (upstream nodeConditionToTaintKeyStatusMap). */
const CONDITION_TAINTS: { type: string; status: string; key: string }[] = [
  { type: 'Ready', status: 'False', key: TAINT.notReady },
  { type: 'Ready', status: 'Unknown', key: TAINT.unreachable },
  { type: 'MemoryPressure', status: 'True', key: TAINT.memoryPressure },
  { type: 'DiskPressure', status: 'True', key: TAINT.diskPressure },
  { type: 'NetworkUnavailable', status: 'True', key: TAINT.networkUnavailable },
  { type: 'PIDPressure', status: 'True', key: TAINT.pidPressure },
];

/** MONITORED are the conditions turned Unknown when the kubelet goes silent (upstream nodeConditionsToMonitor plus Ready). */
export const MONITORED = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'] as const;

export const UNKNOWN_REASON = 'NodeStatusUnknown';
export const UNKNOWN_MESSAGE = 'Kubelet stopped posting node status.';
export const NEVER_REASON = 'NodeStatusNeverUpdated';
export const NEVER_MESSAGE = 'Kubelet never posted node status.';

/** Probe is when this controller last saw the node's kubelet alive: a new status heartbeat or a renewed lease. */
export interface Probe {
  heartbeat?: string;
  renew?: string;
  /** probedAt is this controller's clock (ms) when either last changed, as upstream's probeTimestamp */
  probedAt: number;
}

export function condition(node: Node, type: string): NodeCondition | undefined {
  return node.status?.conditions?.find((c) => c.type === type);
}

/** readyStatus is the node's Ready condition status: 'True', 'False' or 'Unknown' (missing counts as Unknown). */
export function readyStatus(node: Node): string {
  return condition(node, 'Ready')?.status ?? 'Unknown';
}

/**
 * observe updates the probe: the first sight of a node, or a changed heartbeat or lease renewTime, counts as
 * "heard from the kubelet now". Comparing values rather than times keeps clocks of other hosts out of it.
 */
export function observe(prev: Probe | undefined, node: Node, lease: Lease | undefined, now: number): Probe {
  const heartbeat = condition(node, 'Ready')?.lastHeartbeatTime;
  const renew = lease?.spec?.renewTime;
  if (!prev || prev.heartbeat !== heartbeat || prev.renew !== renew) return { heartbeat, renew, probedAt: now };
  return prev;
}

/**
 * silentConditions returns the node's conditions with Ready and the pressure conditions set to Unknown when the
 * kubelet has been silent longer than the grace period, or undefined when nothing must change. Worked example:
 * grace 20 s, lease last renewed (as observed) at t=100 s → at t=121 s Ready True becomes Unknown, reason
 * NodeStatusUnknown, lastTransitionTime now, lastHeartbeatTime kept.
 */
export function silentConditions(node: Node, probe: Probe, now: number, graceMs: number): NodeCondition[] | undefined {
  if (now - probe.probedAt <= graceMs) return undefined;
  const nowIso = isoSeconds(now);
  const conds = (node.status?.conditions ?? []).map((c) => ({ ...c }));
  let changed = false;
  for (const type of MONITORED) {
    const c = conds.find((x) => x.type === type);
    if (!c) {
      conds.push({ type, status: 'Unknown', reason: NEVER_REASON, message: NEVER_MESSAGE, lastHeartbeatTime: node.metadata?.creationTimestamp, lastTransitionTime: nowIso });
      changed = true;
    } else if (c.status !== 'Unknown') {
      c.status = 'Unknown';
      c.reason = UNKNOWN_REASON;
      c.message = UNKNOWN_MESSAGE;
      c.lastTransitionTime = nowIso;
      changed = true;
    }
  }
  return changed ? conds : undefined;
}

/** wantedTaints are the taints the node's conditions and spec.unschedulable call for (NoExecute ones without time yet). */
export function wantedTaints(node: Node): Taint[] {
  const out: Taint[] = [];
  for (const m of CONDITION_TAINTS) {
    if (condition(node, m.type)?.status === m.status) out.push({ key: m.key, effect: 'NoSchedule' });
  }
  // a node that never posted a Ready condition gets no taint until the grace period turns it Unknown
  const ready = condition(node, 'Ready')?.status;
  if (ready === 'False') out.push({ key: TAINT.notReady, effect: 'NoExecute' });
  if (ready === 'Unknown') out.push({ key: TAINT.unreachable, effect: 'NoExecute' });
  if (node.spec?.unschedulable) out.push({ key: TAINT.unschedulable, effect: 'NoSchedule' });
  return out;
}

/**
 * reconcileTaints returns the node's new taint list — foreign taints untouched, owned taints exactly `wanted`,
 * an owned taint already present keeping its timeAdded, a new NoExecute one stamped `now` — or undefined when the
 * list would not change.
 */
export function reconcileTaints(current: Taint[] | undefined, wanted: Taint[], now: number): Taint[] | undefined {
  const cur = current ?? [];
  const same = (a: Taint, b: Taint) => a.key === b.key && a.effect === b.effect;
  const kept = cur.filter((t) => !OWNED_KEYS.has(t.key) || wanted.some((w) => same(w, t)));
  const added = wanted.filter((w) => !cur.some((t) => same(t, w))).map((w) => (w.effect === 'NoExecute' ? { ...w, timeAdded: isoSeconds(now) } : w));
  if (!added.length && kept.length === cur.length) return undefined;
  return [...kept, ...added];
}


/** TimedTaint is a NoExecute taint with the time (ms) since which it holds. */
export interface TimedTaint {
  taint: Taint;
  since: number;
}

/** Eviction says what to do with one pod on a node with NoExecute taints. */
export type Eviction = { action: 'none' } | { action: 'delete'; taint: Taint } | { action: 'wait'; ms: number };

/**
 * evictionFor is the NoExecute taint manager's decision for one pod: a taint it does not tolerate → delete now;
 * tolerated for N seconds → delete once N seconds have passed since the taint was added (the earliest such
 * deadline over all taints); tolerated without tolerationSeconds → stay. Pods already terminating are left alone.
 * Example: unreachable since t=50 s, toleration 30 s → at t=60 s wait 20 s; at t=80 s delete.
 */
export function evictionFor(pod: Pod, taints: TimedTaint[], now: number): Eviction {
  if (pod.metadata?.deletionTimestamp) return { action: 'none' };
  const tolerations = pod.spec?.tolerations ?? [];
  let deadline = Infinity;
  let first: Taint | undefined;
  for (const { taint, since } of taints) {
    if (taint.effect !== 'NoExecute') continue;
    const used = tolerations.filter((t) => (!t.effect || t.effect === 'NoExecute') && toleratesTaint(t, taint));
    if (!used.length) return { action: 'delete', taint };
    if (used.some((t) => t.tolerationSeconds === undefined || t.tolerationSeconds === null)) continue;
    const secs = Math.max(0, Math.min(...used.map((t) => t.tolerationSeconds!)));
    const d = since + secs * 1000;
    if (d < deadline) {
      deadline = d;
      first = taint;
    }
  }
  if (!first) return { action: 'none' };
  return deadline <= now ? { action: 'delete', taint: first } : { action: 'wait', ms: deadline - now };
}

/** notReadyStatus is upstream's MarkPodsNotReady for one pod: its Ready condition set False, or undefined when it is not True. */
export function notReadyStatus(pod: Pod, now: number): Pod['status'] | undefined {
  const conds = pod.status?.conditions ?? [];
  const ready = conds.find((c) => c.type === 'Ready');
  if (!ready || ready.status === 'False') return undefined;
  const next: PodCondition = { ...ready, status: 'False', lastTransitionTime: isoSeconds(now) };
  return { ...pod.status, conditions: conds.map((c) => (c === ready ? next : c)) };
}

/** isoSeconds renders a metav1.Time: whole seconds, `Z`. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
