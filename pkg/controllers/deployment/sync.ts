// sync: the Deployment controller's writes — the new ReplicaSet and revisions, scaling with events, history clean-up, status (upstream's sync.go).
import type { Logger } from 'pino';
import type { Deployment, DeploymentStatus, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import { ApiError } from '../../api/errors.ts';
import { deepEqual } from '../../api/kinds/meta.ts';
import { lookupKind } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import type { EventRecorder, EventType } from '../../client/events.ts';
import type { ApiClient } from '../../client/interface.ts';
import { getControllerOf, newControllerRef } from '../util/controllerref.ts';
import type { SyncResult } from '../worker.ts';
import { calculateStatus, pausedCondition, rolloutStatus } from './progress.ts';
import { getRollbackTo } from './rollback.ts';
import {
  byRevision,
  computeHash,
  DEPRECATED_ROLLBACK_TO,
  desiredReplicasAnnotation,
  equalIgnoreHash,
  filterActive,
  findNewReplicaSet,
  findOldReplicaSets,
  getCondition,
  hasProgressDeadline,
  hasRevisionHistoryLimit,
  maxRevision,
  maxSurge,
  newCondition,
  newRSNewReplicas,
  planScale,
  POD_TEMPLATE_HASH,
  REASON,
  replicasAnnotationsNeedUpdate,
  replicasOf,
  REVISION_ANNOTATION,
  setCondition,
  setDeploymentRevision,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
} from './util.ts';
import type { ScaleOp } from './util.ts';

export const deploymentInfo = lookupKind('apps/v1', 'Deployment')!;
export const replicaSetInfo = lookupKind('apps/v1', 'ReplicaSet')!;
const DEPLOYMENT_KIND = { apiVersion: 'apps/v1', kind: 'Deployment' };

/** obj views a typed object as the client's KubeObject (the same JSON). */
export const obj = (x: Deployment | ReplicaSet): KubeObject => x as unknown as KubeObject;

/**
 * planCleanup is upstream's cleanupDeployment decision: beyond revisionHistoryLimit, the oldest revisions go, but
 * only sets that are empty (spec and status 0), fully observed and not already being deleted.
 * Example: limit 1 and old sets of revisions 1, 2 (both empty) and 3 (2 replicas) → the 2 lowest revisions are
 * candidates and both go; were revision 1 still running a pod, only revision 2 would go.
 */
export function planCleanup(oldRSs: readonly ReplicaSet[], d: Deployment): ReplicaSet[] {
  if (!hasRevisionHistoryLimit(d)) return [];
  const cleanable = oldRSs.filter((rs) => rs && !rs.metadata?.deletionTimestamp);
  const diff = cleanable.length - d.spec!.revisionHistoryLimit!;
  if (diff <= 0) return [];
  return [...cleanable]
    .sort(byRevision)
    .slice(0, diff)
    .filter((rs) => (rs.status?.replicas ?? 0) === 0 && replicasOf(rs) === 0 && (rs.metadata?.generation ?? 0) <= (rs.status?.observedGeneration ?? 0));
}

/** setResourceVersion takes the version a write returned, so the next write of the same copy does not conflict. */
function setResourceVersion(d: Deployment, written: KubeObject): void {
  (d.metadata as { resourceVersion?: string }).resourceVersion = written.metadata.resourceVersion;
}

/** selectorWithHash is upstream's CloneSelectorAndAddLabel: the selector plus pod-template-hash in matchLabels. */
function selectorWithHash(sel: LabelSelector | undefined, hash: string): LabelSelector {
  const out = structuredClone(sel ?? {});
  out.matchLabels = { ...(out.matchLabels ?? {}), [POD_TEMPLATE_HASH]: hash };
  return out;
}

export interface DeploymentSyncDeps {
  client: ApiClient;
  recorder: EventRecorder;
  log: Logger;
  now?: () => number;
}

/**
 * DeploymentSync does the controller's writes for one sync of one Deployment. `d` is always the worker's own copy:
 * methods update it in place (annotations, status, resourceVersion after each write) as upstream mutates its copy.
 */
export class DeploymentSync {
  private readonly client: ApiClient;
  private readonly recorder: EventRecorder;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(deps: DeploymentSyncDeps) {
    this.client = deps.client;
    this.recorder = deps.recorder;
    this.log = deps.log;
    this.now = deps.now ?? Date.now;
  }

  /** event records an event on the Deployment. */
  event(d: Deployment, type: EventType, reason: string, message: string): void {
    this.recorder.event({ ...obj(d), apiVersion: 'apps/v1', kind: 'Deployment' }, type, reason, message);
  }

  /**
   * updateStatus writes d.status (and the revision annotation, which the Deployment's status strategy lets through,
   * as upstream's) and takes the new resourceVersion.
   */
  async updateStatus(d: Deployment): Promise<void> {
    const out = await this.client.updateStatus(deploymentInfo, obj(d));
    setResourceVersion(d, out);
  }

  /** updateDeploymentAndClearRollbackTo drops the rollback request and writes the Deployment (spec included). */
  async updateDeploymentAndClearRollbackTo(d: Deployment): Promise<void> {
    if (d.metadata?.annotations) delete d.metadata.annotations[DEPRECATED_ROLLBACK_TO];
    const out = await this.client.update(deploymentInfo, obj(d));
    setResourceVersion(d, out);
  }

  /**
   * getAllReplicaSetsAndSyncRevision returns the new set (created when `create` and missing) and all old sets, with
   * the new set's revision raised above every old one and copied to the Deployment.
   */
  async getAllReplicaSetsAndSyncRevision(d: Deployment, rsList: ReplicaSet[], create: boolean): Promise<{ newRS: ReplicaSet | undefined; oldRSs: ReplicaSet[] }> {
    const { all } = findOldReplicaSets(d, rsList);
    const newRS = await this.getNewReplicaSet(d, rsList, all, create);
    return { newRS, oldRSs: all };
  }

  /**
   * getNewReplicaSet is upstream's getNewReplicaSet. An existing new set gets the Deployment's annotations, the
   * next revision (an old set re-used by a rollback keeps its old number in revision-history) and minReadySeconds;
   * the Deployment gets the revision and, if it has none, a FoundNewReplicaSet condition. Otherwise a set named
   * `<deploy>-<hash>` is created with the hash label on selector, labels and template, sized by NewRSNewReplicas,
   * with a ScalingReplicaSet event and a NewReplicaSetCreated condition. A name taken by a set that is not ours or
   * has another template is a hash collision: status.collisionCount goes up and the sync is retried.
   */
  async getNewReplicaSet(d: Deployment, rsList: ReplicaSet[], oldRSs: ReplicaSet[], create: boolean): Promise<ReplicaSet | undefined> {
    const existing = findNewReplicaSet(d, rsList);
    const newRevision = String(maxRevision(oldRSs) + 1);
    if (existing) {
      const rsCopy = structuredClone(existing);
      const annotationsUpdated = setNewReplicaSetAnnotations(d, rsCopy, newRevision, true);
      if (annotationsUpdated || (rsCopy.spec!.minReadySeconds ?? 0) !== (d.spec!.minReadySeconds ?? 0)) {
        rsCopy.spec!.minReadySeconds = d.spec!.minReadySeconds;
        const updated = (await this.client.update(replicaSetInfo, obj(rsCopy))) as unknown as ReplicaSet;
        rsList.splice(rsList.indexOf(existing), 1, updated);
        return updated;
      }
      let needsUpdate = setDeploymentRevision(d, rsCopy.metadata!.annotations![REVISION_ANNOTATION]);
      if (hasProgressDeadline(d) && !getCondition(d.status, 'Progressing')) {
        d.status ??= {};
        setCondition(d.status, newCondition('Progressing', 'True', REASON.FoundNewRS, `Found new replica set "${rsCopy.metadata!.name}"`, this.now()));
        needsUpdate = true;
      }
      if (needsUpdate) await this.updateStatus(d);
      return rsCopy;
    }
    if (!create) return undefined;

    const template = structuredClone(d.spec!.template);
    const hash = computeHash(d.spec!.template, d.status?.collisionCount);
    template.metadata ??= {};
    template.metadata.labels = { ...(template.metadata.labels ?? {}), [POD_TEMPLATE_HASH]: hash };
    const newRS: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata!.name}-${hash}`,
        namespace: d.metadata!.namespace,
        ownerReferences: [newControllerRef(obj(d), DEPLOYMENT_KIND)],
        labels: { ...template.metadata.labels },
      },
      spec: { replicas: 0, selector: selectorWithHash(d.spec!.selector, hash), template },
    };
    if (d.spec!.minReadySeconds !== undefined) newRS.spec!.minReadySeconds = d.spec!.minReadySeconds;
    const newReplicas = newRSNewReplicas(d, [...oldRSs, newRS], newRS);
    newRS.spec!.replicas = newReplicas;
    setNewReplicaSetAnnotations(d, newRS, newRevision, false);

    let created: ReplicaSet;
    let alreadyExists = false;
    try {
      created = (await this.client.create(replicaSetInfo, d.metadata!.namespace, obj(newRS))) as unknown as ReplicaSet;
    } catch (e) {
      if (e instanceof ApiError && e.code === 409) {
        // a slow cache or a hash collision: ours with our template is the new set; anything else bumps collisionCount
        const rs = (await this.client.get(replicaSetInfo, d.metadata!.namespace, newRS.metadata!.name!)) as unknown as ReplicaSet;
        const ref = getControllerOf(obj(rs));
        if (ref?.uid === d.metadata!.uid && equalIgnoreHash(d.spec!.template, rs.spec?.template)) {
          created = rs;
          alreadyExists = true;
        } else {
          d.status ??= {};
          d.status.collisionCount = (d.status.collisionCount ?? 0) + 1;
          await this.updateStatus(d);
          this.log.info({ deployment: d.metadata!.name, collisionCount: d.status.collisionCount }, 'found a hash collision for deployment - bumping collisionCount to resolve it');
          throw e;
        }
      } else if (e instanceof ApiError && e.status.details?.causes?.some((c) => c.reason === 'NamespaceTerminating')) {
        throw e;
      } else {
        const msg = `Failed to create new replica set "${newRS.metadata!.name}": ${(e as Error).message}`;
        if (hasProgressDeadline(d)) {
          d.status ??= {};
          setCondition(d.status, newCondition('Progressing', 'False', REASON.FailedRSCreate, msg, this.now()));
          await this.updateStatus(d).catch(() => undefined);
        }
        this.event(d, 'Warning', REASON.FailedRSCreate, msg);
        throw e;
      }
    }
    if (!alreadyExists && newReplicas > 0) {
      this.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata!.name} from 0 to ${newReplicas}`);
    }
    let needsUpdate = setDeploymentRevision(d, newRevision);
    if (!alreadyExists && hasProgressDeadline(d)) {
      d.status ??= {};
      setCondition(d.status, newCondition('Progressing', 'True', REASON.NewReplicaSet, `Created new replica set "${created.metadata!.name}"`, this.now()));
      needsUpdate = true;
    }
    if (needsUpdate) await this.updateStatus(d);
    rsList.push(created);
    return created;
  }

  /**
   * scale is upstream's scale (a scaling event, or a paused Deployment): one active (or no active: the newest) set
   * gets all replicas; a saturated new set means the old ones go to 0; otherwise a rolling Deployment's sets are
   * scaled proportionally.
   */
  async scale(d: Deployment, newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): Promise<void> {
    for (const op of planScale(d, newRS, oldRSs)) {
      if (op.refresh) await this.scaleReplicaSet(op.rs, op.to, d, op.direction);
      else await this.scaleReplicaSetAndRecordEvent(op.rs, op.to, d);
    }
  }

  /** scaleReplicaSetAndRecordEvent sets a set's size (no-op if it has it); `scaled` tells whether it changed. */
  async scaleReplicaSetAndRecordEvent(rs: ReplicaSet, to: number, d: Deployment): Promise<{ scaled: boolean; rs: ReplicaSet }> {
    if (replicasOf(rs) === to) return { scaled: false, rs };
    return this.scaleReplicaSet(rs, to, d, replicasOf(rs) < to ? 'up' : 'down');
  }

  /**
   * scaleReplicaSet writes the size and the desired-/max-replicas annotations when either differs; a size change
   * records `Scaled up|down replica set NAME from M to N` on the Deployment.
   */
  async scaleReplicaSet(rs: ReplicaSet, to: number, d: Deployment, direction: 'up' | 'down' | undefined): Promise<{ scaled: boolean; rs: ReplicaSet }> {
    const from = replicasOf(rs);
    const max = replicasOf(d) + maxSurge(d);
    if (from === to && !replicasAnnotationsNeedUpdate(rs, replicasOf(d), max)) return { scaled: false, rs };
    const copy = structuredClone(rs);
    copy.spec!.replicas = to;
    setReplicasAnnotations(copy, replicasOf(d), max);
    const out = (await this.client.update(replicaSetInfo, obj(copy))) as unknown as ReplicaSet;
    if (from === to) return { scaled: false, rs: out };
    this.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${direction ?? (from < to ? 'up' : 'down')} replica set ${rs.metadata!.name} from ${from} to ${to}`);
    return { scaled: true, rs: out };
  }

  /** applyScaleOps applies planned scalings in order (a set scaled twice uses its latest version); returns the sets by name. */
  async applyScaleOps(ops: readonly ScaleOp[], d: Deployment): Promise<Map<string, ReplicaSet>> {
    const latest = new Map<string, ReplicaSet>();
    for (const op of ops) {
      const name = op.rs.metadata!.name!;
      const cur = latest.get(name) ?? op.rs;
      const r = await this.scaleReplicaSetAndRecordEvent(cur, op.to, d);
      latest.set(name, r.rs);
    }
    return latest;
  }

  /** cleanupDeployment deletes the old sets beyond revisionHistoryLimit that planCleanup allows. */
  async cleanupDeployment(oldRSs: readonly ReplicaSet[], d: Deployment): Promise<void> {
    for (const rs of planCleanup(oldRSs, d)) {
      try {
        await this.client.delete(replicaSetInfo, rs.metadata!.namespace, rs.metadata!.name!, { preconditions: { uid: rs.metadata!.uid } });
      } catch (e) {
        if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
      }
    }
  }

  /** writeStatusIfChanged writes `status` unless it equals the stored one. */
  private async writeStatusIfChanged(d: Deployment, status: DeploymentStatus): Promise<boolean> {
    if (deepEqual(d.status ?? {}, status)) return false;
    d.status = status;
    await this.updateStatus(d);
    return true;
  }

  /** syncDeploymentStatus writes calculateStatus (no Progressing bookkeeping: scaling and paused syncs). */
  async syncDeploymentStatus(allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined, d: Deployment): Promise<void> {
    await this.writeStatusIfChanged(d, calculateStatus(allRSs, newRS, d, this.now()));
  }

  /** syncRolloutStatus writes the rollout status; unchanged and still rolling, it asks to look again at the deadline. */
  async syncRolloutStatus(allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined, d: Deployment): Promise<SyncResult> {
    const r = rolloutStatus(allRSs, newRS, d, this.now());
    if (await this.writeStatusIfChanged(d, r.status)) return;
    if (r.requeueAfterMs !== undefined) return { requeueAfterMs: r.requeueAfterMs };
  }

  /** checkPausedConditions records a pause or resume in the Progressing condition. */
  async checkPausedConditions(d: Deployment): Promise<void> {
    const c = pausedCondition(d, this.now());
    if (!c) return;
    d.status ??= {};
    setCondition(d.status, c);
    await this.updateStatus(d);
  }

  /** isScalingEvent: some active set was last sized for a different replica count (desired-replicas annotation). */
  async isScalingEvent(d: Deployment, rsList: ReplicaSet[]): Promise<boolean> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    for (const rs of filterActive([...oldRSs, newRS])) {
      const desired = desiredReplicasAnnotation(rs);
      if (desired !== undefined && desired !== replicasOf(d)) return true;
    }
    return false;
  }

  /** sync is upstream's sync: scale (no rollout), clean up history when paused, write the status. */
  async sync(d: Deployment, rsList: ReplicaSet[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.scale(d, newRS, oldRSs);
    if (d.spec?.paused && getRollbackTo(d) === undefined) await this.cleanupDeployment(oldRSs, d);
    await this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  /** syncStatusOnly writes the status and nothing else (a Deployment being deleted). */
  async syncStatusOnly(d: Deployment, rsList: ReplicaSet[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }
}
