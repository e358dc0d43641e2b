// util: the Deployment controller's pure arithmetic and bookkeeping (upstream's deployment/util/deployment_util.go).
import type { Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { Fnv32a, safeEncodeString } from '../util/hash.ts';

// ---------------------------------------------------------------- names

/** DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY labels a Deployment's ReplicaSets and pods with the template hash. */
export const POD_TEMPLATE_HASH = 'pod-template-hash';
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
/** DEPRECATED_ROLLBACK_TO carries extensions/v1beta1's spec.rollbackTo.revision through apps/v1. */
export const DEPRECATED_ROLLBACK_TO = 'deprecated.deployment.rollback.to';
/** MAX_REV_HISTORY_LENGTH_IN_CHARS bounds the revision-history annotation (upstream's maxRevHistoryLengthInChars). */
export const MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000;

/** Condition reasons, as upstream. */
export const REASON = {
  ReplicaSetUpdated: 'ReplicaSetUpdated',
  FailedRSCreate: 'ReplicaSetCreateError',
  NewReplicaSet: 'NewReplicaSetCreated',
  FoundNewRS: 'FoundNewReplicaSet',
  NewRSAvailable: 'NewReplicaSetAvailable',
  TimedOut: 'ProgressDeadlineExceeded',
  PausedDeploy: 'DeploymentPaused',
  ResumedDeploy: 'DeploymentResumed',
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
  RollbackRevisionNotFound: 'DeploymentRollbackRevisionNotFound',
  RollbackTemplateUnchanged: 'DeploymentRollbackTemplateUnchanged',
  RollbackDone: 'DeploymentRollback',
} as const;

/** annotationsToSkip are never copied between a Deployment and its ReplicaSets. */
const ANNOTATIONS_TO_SKIP = new Set([
  LAST_APPLIED_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  DEPRECATED_ROLLBACK_TO,
]);

export function skipCopyAnnotation(key: string): boolean {
  return ANNOTATIONS_TO_SKIP.has(key);
}

// ---------------------------------------------------------------- small accessors

/** replicasOf is `spec.replicas` with the API's default of 1. */
export function replicasOf(x: Deployment | ReplicaSet | undefined): number {
  return x?.spec?.replicas ?? 1;
}

export function isRollingUpdate(d: Deployment): boolean {
  return (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
}

/** hasProgressDeadline: progressDeadlineSeconds set and not MaxInt32 (upstream's "no deadline"). */
export function hasProgressDeadline(d: Deployment): boolean {
  const p = d.spec?.progressDeadlineSeconds;
  return p !== undefined && p !== null && p !== 2147483647;
}

export function hasRevisionHistoryLimit(d: Deployment): boolean {
  const l = d.spec?.revisionHistoryLimit;
  return l !== undefined && l !== null && l !== 2147483647;
}

function creationMs(rs: ReplicaSet): number {
  const t = rs.metadata?.creationTimestamp ? Date.parse(rs.metadata.creationTimestamp) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

/** byCreationTimestamp is upstream's ReplicaSetsByCreationTimestamp: oldest first, then by name. */
export function byCreationTimestamp(a: ReplicaSet, b: ReplicaSet): number {
  const d = creationMs(a) - creationMs(b);
  if (d !== 0) return d;
  const na = a.metadata?.name ?? '';
  const nb = b.metadata?.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** bySizeOlder is ReplicaSetsBySizeOlder: larger first; equal sizes oldest first. */
export function bySizeOlder(a: ReplicaSet, b: ReplicaSet): number {
  const d = replicasOf(b) - replicasOf(a);
  return d !== 0 ? d : byCreationTimestamp(a, b);
}

/** bySizeNewer is ReplicaSetsBySizeNewer: larger first; equal sizes newest first. */
export function bySizeNewer(a: ReplicaSet, b: ReplicaSet): number {
  const d = replicasOf(b) - replicasOf(a);
  return d !== 0 ? d : byCreationTimestamp(b, a);
}

/** byRevision is ReplicaSetsByRevision: lowest revision first, then oldest. */
export function byRevision(a: ReplicaSet, b: ReplicaSet): number {
  const d = revisionOf(a) - revisionOf(b);
  return d !== 0 ? d : byCreationTimestamp(a, b);
}

/** filterActive is upstream's FilterActiveReplicaSets: sets with spec.replicas > 0. */
export function filterActive(rss: readonly (ReplicaSet | undefined)[]): ReplicaSet[] {
  return rss.filter((rs): rs is ReplicaSet => !!rs && replicasOf(rs) > 0);
}

export function replicaCount(rss: readonly (ReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs ? replicasOf(rs) : 0), 0);
}

export function actualReplicaCount(rss: readonly (ReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs?.status?.replicas ?? 0), 0);
}

export function readyReplicaCount(rss: readonly (ReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs?.status?.readyReplicas ?? 0), 0);
}

export function availableReplicaCount(rss: readonly (ReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs?.status?.availableReplicas ?? 0), 0);
}

// ---------------------------------------------------------------- maxSurge / maxUnavailable

/**
 * scaledValue is upstream's intstr.GetScaledValueFromIntOrPercent: an int as is, a percentage of `total` rounded
 * up or down. Example: '25%' of 10 → 3 rounded up (surge), 2 rounded down (unavailable).
 */
export function scaledValue(v: number | string | undefined, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage`);
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

/**
 * resolveFenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded down) against `desired`; if both
 * come out 0 (a small percentage rounded down), maxUnavailable becomes 1 so the rollout can move.
 * Example: 2 desired, surge 0%, unavailable 1% → (0, 1): old −1, new +1, old −1, new +1.
 */
export function resolveFenceposts(maxSurge: number | string | undefined, maxUnavailable: number | string | undefined, desired: number): { surge: number; unavailable: number } {
  const surge = scaledValue(maxSurge, desired, true);
  let unavailable = scaledValue(maxUnavailable, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

/** maxSurge is the surge a rolling Deployment may take (0 for Recreate). */
export function maxSurge(d: Deployment): number {
  if (!isRollingUpdate(d)) return 0;
  const ru = d.spec?.strategy?.rollingUpdate;
  return resolveFenceposts(ru?.maxSurge ?? '25%', ru?.maxUnavailable ?? '25%', replicasOf(d)).surge;
}

/** maxUnavailable is the unavailability a rolling Deployment may take, never more than its replicas (0 for Recreate). */
export function maxUnavailable(d: Deployment): number {
  if (!isRollingUpdate(d) || replicasOf(d) === 0) return 0;
  const ru = d.spec?.strategy?.rollingUpdate;
  const { unavailable } = resolveFenceposts(ru?.maxSurge ?? '25%', ru?.maxUnavailable ?? '25%', replicasOf(d));
  return Math.min(unavailable, replicasOf(d));
}

/**
 * newRSNewReplicas is upstream's NewRSNewReplicas: the size the new ReplicaSet may grow to now. Rolling: up to
 * replicas + maxSurge pods in all sets together, never beyond replicas. Recreate: replicas.
 * Example: replicas 10, surge 3, sets hold 10 (old) + 0 (new) → new may have 3.
 */
export function newRSNewReplicas(d: Deployment, allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet): number {
  const desired = replicasOf(d);
  if (!isRollingUpdate(d)) return desired;
  const surge = scaledValue(d.spec?.strategy?.rollingUpdate?.maxSurge ?? '25%', desired, true);
  const current = replicaCount(allRSs);
  const maxTotal = desired + surge;
  if (current >= maxTotal) return replicasOf(newRS);
  const up = Math.min(maxTotal - current, desired - replicasOf(newRS));
  return replicasOf(newRS) + up;
}

/** isSaturated: the new set has all the replicas, its desired-replicas annotation agrees, and all are available. */
export function isSaturated(d: Deployment, rs: ReplicaSet | undefined): boolean {
  if (!rs) return false;
  const desired = intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION);
  return desired !== undefined && replicasOf(rs) === replicasOf(d) && desired === replicasOf(d) && (rs.status?.availableReplicas ?? 0) === replicasOf(d);
}

/**
 * findActiveOrLatest returns the only active set, or the newest (the new one first) when none is active;
 * undefined when several are active (they are scaled proportionally).
 */
export function findActiveOrLatest(newRS: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[]): ReplicaSet | undefined {
  if (!newRS && oldRSs.length === 0) return undefined;
  const sortedOld = [...oldRSs].sort((a, b) => byCreationTimestamp(b, a));
  const active = filterActive([...sortedOld, newRS]);
  if (active.length === 0) return newRS ?? sortedOld[0];
  if (active.length === 1) return active[0];
  return undefined;
}

// ---------------------------------------------------------------- proportional scaling

function intAnnotation(rs: ReplicaSet, key: string): number | undefined {
  const v = rs.metadata?.annotations?.[key];
  if (v === undefined || !/^-?\d+$/.test(v)) return undefined;
  return Number(v);
}

export function desiredReplicasAnnotation(rs: ReplicaSet): number | undefined {
  return intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION);
}

/** roundToInt is Go's math.Round as integer.RoundToInt32 uses it: halves away from zero. */
function roundToInt(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * replicaSetFraction is upstream's getReplicaSetFraction: how many replicas `rs` gains (or loses) when the
 * Deployment's allowed size changes, from the max-replicas annotation it was last scaled under.
 * Example: rs 3 of max-replicas 10, Deployment now 15 + surge 0 → round(3·15/10) − 3 = +2 (4.5 rounds to 5).
 */
export function replicaSetFraction(rs: ReplicaSet, d: Deployment): number {
  if (replicasOf(d) === 0) return -replicasOf(rs);
  const deploymentReplicas = replicasOf(d) + maxSurge(d);
  const annotated = intAnnotation(rs, MAX_REPLICAS_ANNOTATION) ?? d.status?.replicas ?? 0;
  if (annotated === 0) return 0;
  return roundToInt((replicasOf(rs) * deploymentReplicas) / annotated) - replicasOf(rs);
}

/**
 * getProportion is upstream's GetReplicaSetProportion: the set's fraction, capped so the sum never overshoots what
 * is left to add (scaling up) or remove (scaling down).
 */
export function getProportion(rs: ReplicaSet | undefined, d: Deployment, toAdd: number, added: number): number {
  if (!rs || replicasOf(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

/** ScaleOp is one planned change of a ReplicaSet's size. */
export interface ScaleOp {
  rs: ReplicaSet;
  to: number;
  /** 'up' or 'down' as upstream's event wording; undefined = derived from the sizes */
  direction?: 'up' | 'down';
  /** write even when the size is unchanged, to refresh the replica annotations (proportional scaling) */
  refresh?: boolean;
}

/**
 * planScale is upstream's scale() decision for a scaling event or a paused Deployment: the only active set (or,
 * with none active, the newest) gets all replicas; a saturated new set sends the old ones to 0; otherwise a rolling
 * Deployment's active sets are scaled proportionally (Recreate: nothing).
 */
export function planScale(d: Deployment, newRS: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[]): ScaleOp[] {
  const one = findActiveOrLatest(newRS, oldRSs);
  if (one) return replicasOf(one) === replicasOf(d) ? [] : [{ rs: one, to: replicasOf(d) }];
  if (isSaturated(d, newRS)) return filterActive(oldRSs).map((rs) => ({ rs, to: 0 }));
  if (!isRollingUpdate(d)) return [];
  return planProportionalScale(d, newRS, oldRSs).map((op) => ({ ...op, refresh: true }));
}

/**
 * planProportionalScale is the arithmetic of upstream's scale() when several sets are active and the new one is
 * not saturated (a scaling event in the middle of a rollout, or a paused one): the difference between the allowed
 * size (replicas + maxSurge) and what the active sets hold is shared by their proportions, largest set first, and
 * any leftover goes to the first. Returns every active set with its new size (some may be unchanged, which still
 * refreshes their replica annotations).
 * Example: sets 5 (old) + 5 (new) of max 10, Deployment scaled 10 → 20 with surge 0 → 10 + 10.
 */
export function planProportionalScale(d: Deployment, newRS: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[]): ScaleOp[] {
  const all = filterActive([...oldRSs, newRS]);
  const total = replicaCount(all);
  const allowed = replicasOf(d) > 0 ? replicasOf(d) + maxSurge(d) : 0;
  const toAdd = allowed - total;
  let direction: 'up' | 'down' | undefined;
  if (toAdd > 0) {
    all.sort(bySizeNewer);
    direction = 'up';
  } else if (toAdd < 0) {
    all.sort(bySizeOlder);
    direction = 'down';
  }
  let added = 0;
  const sizes = all.map((rs) => {
    if (toAdd === 0) return replicasOf(rs);
    const p = getProportion(rs, d, toAdd, added);
    added += p;
    return replicasOf(rs) + p;
  });
  if (all.length && toAdd !== 0) sizes[0] = Math.max(0, sizes[0] + (toAdd - added));
  return all.map((rs, i) => ({ rs, to: sizes[i], direction }));
}

// ---------------------------------------------------------------- templates and hashes

/** canonical sorts object keys and drops undefined, so equal objects serialise equally. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = canonical(x);
    }
    return out;
  }
  return v;
}

/** semantic drops what Go's semantic equality treats as absent: null, empty maps and empty lists. */
function semantic(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? v.map(semantic) : undefined;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = semantic((v as Record<string, unknown>)[k]);
      if (x !== undefined) out[k] = x;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v === null ? undefined : v;
}

/**
 * computeHash is upstream's controller.ComputeHash: FNV-32a over the template (here its canonical JSON: Go's spew
 * bytes can't be reproduced) and, when set, the collisionCount as 8 bytes (uint32 little-endian, then zeros), the
 * decimal sum made safe with SafeEncodeString. The result names the ReplicaSet `<deploy>-<hash>`.
 */
export function computeHash(template: PodTemplateSpec | undefined, collisionCount?: number): string {
  const h = new Fnv32a().write(JSON.stringify(canonical(template ?? {})));
  if (collisionCount !== undefined && collisionCount !== null) {
    const n = collisionCount >>> 0;
    h.write(new Uint8Array([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff, 0, 0, 0, 0]));
  }
  return safeEncodeString(String(h.sum32()));
}

/** withoutHash copies a template without its pod-template-hash label. */
function withoutHash(t: PodTemplateSpec | undefined): PodTemplateSpec {
  const c = structuredClone(t ?? {});
  if (c.metadata?.labels) delete c.metadata.labels[POD_TEMPLATE_HASH];
  return c;
}

/** equalIgnoreHash is upstream's EqualIgnoreHash: templates semantically equal apart from pod-template-hash. */
export function equalIgnoreHash(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  return JSON.stringify(semantic(withoutHash(a)) ?? {}) === JSON.stringify(semantic(withoutHash(b)) ?? {});
}

/** findNewReplicaSet returns the oldest set whose template is the Deployment's (ignoring the hash label). */
export function findNewReplicaSet(d: Deployment, rsList: readonly ReplicaSet[]): ReplicaSet | undefined {
  return [...rsList].sort(byCreationTimestamp).find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
}

/** findOldReplicaSets returns the old sets that still have replicas, and all old sets. */
export function findOldReplicaSets(d: Deployment, rsList: readonly ReplicaSet[]): { withReplicas: ReplicaSet[]; all: ReplicaSet[] } {
  const newRS = findNewReplicaSet(d, rsList);
  const all = rsList.filter((rs) => !newRS || rs.metadata?.uid !== newRS.metadata?.uid);
  return { withReplicas: all.filter((rs) => replicasOf(rs) !== 0), all };
}

/** setFromReplicaSetTemplate puts a set's template (without its hash label) into the Deployment (rollback). */
export function setFromReplicaSetTemplate(d: Deployment, template: PodTemplateSpec | undefined): void {
  d.spec!.template = withoutHash(template);
}

// ---------------------------------------------------------------- revisions and annotations

/** revisionOf reads the revision annotation (0 when absent or unparsable). */
export function revisionOf(obj: { metadata?: { annotations?: Record<string, string> } } | undefined): number {
  const v = obj?.metadata?.annotations?.[REVISION_ANNOTATION];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : 0;
}

export function maxRevision(rss: readonly (ReplicaSet | undefined)[]): number {
  return rss.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
}

/** lastRevision is the second highest revision (the one before the current). */
export function lastRevision(rss: readonly (ReplicaSet | undefined)[]): number {
  let max = 0;
  let sec = 0;
  for (const rs of rss) {
    if (!rs) continue;
    const v = revisionOf(rs);
    if (v >= max) {
      sec = max;
      max = v;
    } else if (v > sec) sec = v;
  }
  return sec;
}

/** setDeploymentRevision sets the Deployment's revision annotation; true when it changed. */
export function setDeploymentRevision(d: Deployment, revision: string): boolean {
  d.metadata ??= {};
  d.metadata.annotations ??= {};
  if (d.metadata.annotations[REVISION_ANNOTATION] === revision) return false;
  d.metadata.annotations[REVISION_ANNOTATION] = revision;
  return true;
}

/** replicasAnnotationsNeedUpdate: desired-replicas or max-replicas differ from the given values. */
export function replicasAnnotationsNeedUpdate(rs: ReplicaSet, desired: number, max: number): boolean {
  const a = rs.metadata?.annotations ?? {};
  return a[DESIRED_REPLICAS_ANNOTATION] !== String(desired) || a[MAX_REPLICAS_ANNOTATION] !== String(max);
}

/** setReplicasAnnotations records the Deployment's replicas and replicas + maxSurge on a set; true when changed. */
export function setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
  rs.metadata ??= {};
  const a = (rs.metadata.annotations ??= {});
  let changed = false;
  if (a[DESIRED_REPLICAS_ANNOTATION] !== String(desired)) {
    a[DESIRED_REPLICAS_ANNOTATION] = String(desired);
    changed = true;
  }
  if (a[MAX_REPLICAS_ANNOTATION] !== String(max)) {
    a[MAX_REPLICAS_ANNOTATION] = String(max);
    changed = true;
  }
  return changed;
}

/**
 * setNewReplicaSetAnnotations is upstream's SetNewReplicaSetAnnotations: copy the Deployment's annotations (all
 * but the skipped ones, e.g. kubernetes.io/change-cause), raise the set's revision to `newRevision` if lower, and
 * when an existing revision is replaced (a rollback re-using an old set) append the old number to
 * revision-history (bounded to `limitChars`). A set about to be created also gets the replica annotations.
 * Returns whether anything changed.
 */
export function setNewReplicaSetAnnotations(d: Deployment, rs: ReplicaSet, newRevision: string, exists: boolean, limitChars = MAX_REV_HISTORY_LENGTH_IN_CHARS): boolean {
  let changed = copyDeploymentAnnotationsToReplicaSet(d, rs);
  const a = (rs.metadata!.annotations ??= {});
  const oldRevision = a[REVISION_ANNOTATION];
  const had = oldRevision !== undefined;
  let oldInt = 0;
  if (had && oldRevision !== '') {
    if (!/^-?\d+$/.test(oldRevision)) return false;
    oldInt = Number(oldRevision);
  }
  if (!/^-?\d+$/.test(newRevision)) return false;
  const newInt = Number(newRevision);
  if (oldInt < newInt) {
    a[REVISION_ANNOTATION] = newRevision;
    changed = true;
  }
  if (had && oldInt < newInt) {
    const history = a[REVISION_HISTORY_ANNOTATION] ?? '';
    if (history === '') a[REVISION_HISTORY_ANNOTATION] = oldRevision;
    else {
      let olds = history.split(',');
      let total = history.length + oldRevision.length + 1;
      let start = 0;
      while (total > limitChars && start < olds.length) {
        total -= olds[start].length + 1;
        start++;
      }
      if (total <= limitChars) {
        olds = [...olds.slice(start), oldRevision];
        a[REVISION_HISTORY_ANNOTATION] = olds.join(',');
      }
    }
  }
  if (!exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d) + maxSurge(d))) changed = true;
  return changed;
}

/** copyDeploymentAnnotationsToReplicaSet copies every annotation not skipped; true when the set changed. */
export function copyDeploymentAnnotationsToReplicaSet(d: Deployment, rs: ReplicaSet): boolean {
  rs.metadata ??= {};
  const a = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (skipCopyAnnotation(k) || a[k] === v) continue;
    a[k] = v;
    changed = true;
  }
  return changed;
}

/** setDeploymentAnnotationsTo replaces the Deployment's copyable annotations by the set's (rollback). */
export function setDeploymentAnnotationsTo(d: Deployment, rs: ReplicaSet): void {
  d.metadata ??= {};
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (skipCopyAnnotation(k)) kept[k] = v;
  for (const [k, v] of Object.entries(rs.metadata?.annotations ?? {})) if (!skipCopyAnnotation(k)) kept[k] = v;
  d.metadata.annotations = kept;
}

// ---------------------------------------------------------------- conditions

/** rfc3339 formats a time as metav1.Time does (seconds). */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

export function newCondition(type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string, nowMs: number): DeploymentCondition {
  const t = rfc3339(nowMs);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

export function getCondition(status: DeploymentStatus | undefined, type: string): DeploymentCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/**
 * setCondition is upstream's SetDeploymentCondition: a condition of the same status and reason is left alone;
 * the same status keeps its lastTransitionTime; the new one goes last.
 */
export function setCondition(status: DeploymentStatus, c: DeploymentCondition): void {
  const cur = getCondition(status, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  const next = { ...c };
  if (cur && cur.status === c.status) next.lastTransitionTime = cur.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), next];
}

export function removeCondition(status: DeploymentStatus, type: string): void {
  const rest = (status.conditions ?? []).filter((x) => x.type !== type);
  if (rest.length) status.conditions = rest;
  else delete status.conditions;
}

// ---------------------------------------------------------------- progress predicates

/** deploymentComplete: every replica updated, no old ones, minimum availability held, and the spec observed. */
export function deploymentComplete(d: Deployment, s: DeploymentStatus): boolean {
  const want = replicasOf(d);
  return (s.updatedReplicas ?? 0) === want && (s.replicas ?? 0) === want && (s.availableReplicas ?? 0) >= want - maxUnavailable(d) && (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
}

/** deploymentProgressing: more updated or available replicas, or fewer old ones, than the Deployment's status says. */
export function deploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) || newOld < oldOld || (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0);
}

/**
 * deploymentTimedOut: the Progressing condition was last updated more than progressDeadlineSeconds ago (or has
 * already timed out). A completed rollout (NewReplicaSetAvailable) never times out.
 */
export function deploymentTimedOut(d: Deployment, s: DeploymentStatus, nowMs: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, 'Progressing');
  if (!c) return false;
  if (c.reason === REASON.NewRSAvailable) return false;
  if (c.reason === REASON.TimedOut) return true;
  const from = c.lastUpdateTime ? Date.parse(c.lastUpdateTime) : NaN;
  if (Number.isNaN(from)) return false;
  return from + d.spec!.progressDeadlineSeconds! * 1000 < nowMs;
}
