// deployment: the Deployment controller — watches Deployments, their ReplicaSets and pods, and rolls each Deployment one step toward its spec (upstream's deployment_controller.go).
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { selectorIsEmpty, selectorMatches } from '../../api/kinds/meta.ts';
import { lookupKind } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import { INDEX_NAMESPACE, INDEX_OWNER_UID, keyOf } from '../../client/informer.ts';
import { WorkQueue } from '../../client/queue.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { claimCandidates, ControllerRefManager, ensureOrphanIndex, getControllerOf, resolveControllerRef } from '../util/controllerref.ts';
import { startWorkers, splitKey, type SyncResult , type Workers } from '../worker.ts';
import { rolloutRecreate, type PodMap } from './recreate.ts';
import { getRollbackTo, rollback } from './rollback.ts';
import { rolloutRolling } from './rolling.ts';
import { deploymentInfo, DeploymentSync, obj, replicaSetInfo } from './sync.ts';

export { calculateStatus, rolloutStatus } from './progress.ts';
export { computeHash, resolveFenceposts, newRSNewReplicas } from './util.ts';

const podInfo = lookupKind('v1', 'Pod')!;
const DEPLOYMENT_KIND = { apiVersion: 'apps/v1', kind: 'Deployment' };

/**
 * newDeploymentController builds the controller. Handlers only find the owning Deployment (by controllerRef, uid
 * checked; orphan ReplicaSets by selector) and enqueue `ns/name`; syncDeployment does one step: claim the sets,
 * then status-only (deleting), paused scaling, legacy rollback, a scaling event, or the strategy's rollout.
 */
export function newDeploymentController(ctx: ControllerContext): Controller {
  const log = ctx.log;
  const recorder = ctx.recorder('deployment-controller');
  const queue = new WorkQueue();
  const deployments = ctx.informers.informerFor(deploymentInfo);
  const replicaSets = ctx.informers.informerFor(replicaSetInfo);
  const pods = ctx.informers.informerFor(podInfo);
  ensureOrphanIndex(replicaSets);
  const s = new DeploymentSync({ client: ctx.client, recorder, log });
  let running: Workers | undefined;

  const enqueue = (d: KubeObject) => queue.add(keyOf(d));

  /** deploymentOf resolves a ReplicaSet's controlling Deployment from the cache (uid checked). */
  const deploymentOf = (rs: KubeObject): KubeObject | undefined =>
    resolveControllerRef(getControllerOf(rs), 'Deployment', (name) => deployments.get(rs.metadata.namespace, name));

  /** deploymentsSelecting lists the Deployments whose selector matches an orphan set's labels. */
  const deploymentsSelecting = (rs: KubeObject): KubeObject[] =>
    deployments.byIndex(INDEX_NAMESPACE, rs.metadata.namespace ?? '').filter((d) => {
      const sel = (d as Deployment).spec?.selector;
      return !selectorIsEmpty(sel) && selectorMatches(sel!, rs.metadata.labels);
    });

  const onRsAdd = (rs: KubeObject) => {
    if (rs.metadata.deletionTimestamp) return onRsDelete(rs);
    const ref = getControllerOf(rs);
    if (ref) {
      const d = deploymentOf(rs);
      if (d) enqueue(d);
      return;
    }
    for (const d of deploymentsSelecting(rs)) enqueue(d);
  };
  const onRsUpdate = (old: KubeObject, cur: KubeObject) => {
    if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
    const curRef = getControllerOf(cur);
    const oldRef = getControllerOf(old);
    const refChanged = curRef?.uid !== oldRef?.uid;
    if (refChanged && oldRef) {
      const d = deploymentOf(old);
      if (d) enqueue(d);
    }
    if (curRef) {
      const d = deploymentOf(cur);
      if (d) enqueue(d);
      return;
    }
    const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {});
    if (labelsChanged || refChanged) for (const d of deploymentsSelecting(cur)) enqueue(d);
  };
  const onRsDelete = (rs: KubeObject) => {
    const d = deploymentOf(rs);
    if (d) enqueue(d);
  };
  /** a deleted pod may be the last old pod a Recreate rollout waits for */
  const onPodDelete = (pod: KubeObject) => {
    const ref = getControllerOf(pod);
    if (ref?.kind !== 'ReplicaSet') return;
    const rs = replicaSets.get(pod.metadata.namespace, ref.name);
    if (!rs || rs.metadata.uid !== ref.uid) return;
    const d = deploymentOf(rs);
    if (d && (d as Deployment).spec?.strategy?.type === 'Recreate') enqueue(d);
  };

  /**
   * getReplicaSetsForDeployment claims sets: adopt the namespace's matching orphans, release ours that stopped
   * matching. The candidates come from the owner and orphan indexes, not a scan of the namespace's sets.
   */
  const getReplicaSetsForDeployment = async (d: Deployment): Promise<ReplicaSet[]> => {
    const sel = d.spec!.selector!;
    const mgr = new ControllerRefManager({
      client: ctx.client,
      owner: obj(d),
      ownerKind: DEPLOYMENT_KIND,
      ownerInfo: deploymentInfo,
      childInfo: replicaSetInfo,
      match: (rs) => selectorMatches(sel, rs.metadata.labels),
    });
    const claimed = await mgr.claim(claimCandidates(replicaSets, obj(d)));
    return claimed.map((rs) => structuredClone(rs) as unknown as ReplicaSet);
  };

  /** getPodMapForDeployment groups the pods controlled by the Deployment's sets by set uid (every set listed, even empty). */
  const getPodMapForDeployment = (rsList: readonly ReplicaSet[]): PodMap => {
    const m: PodMap = new Map();
    for (const rs of rsList) {
      const uid = rs.metadata!.uid!;
      m.set(uid, pods.byIndex(INDEX_OWNER_UID, uid).filter((p) => getControllerOf(p)?.uid === uid) as unknown as Pod[]);
    }
    return m;
  };

  const syncDeployment = async (key: string): Promise<SyncResult> => {
    const { namespace, name } = splitKey(key);
    const cached = deployments.get(namespace, name);
    if (!cached) return;
    const d = structuredClone(cached) as unknown as Deployment;
    d.apiVersion ??= 'apps/v1';
    d.kind ??= 'Deployment';
    if (selectorIsEmpty(d.spec?.selector)) {
      s.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) {
        d.status = { ...(d.status ?? {}), observedGeneration: d.metadata!.generation };
        await s.updateStatus(d);
      }
      return;
    }
    const rsList = await getReplicaSetsForDeployment(d);
    if (d.metadata!.deletionTimestamp) return s.syncStatusOnly(d, rsList);
    await s.checkPausedConditions(d);
    if (d.spec!.paused) return s.sync(d, rsList);
    if (getRollbackTo(d) !== undefined) return rollback(s, d, rsList);
    if (await s.isScalingEvent(d, rsList)) return s.sync(d, rsList);
    // only Recreate reads the pods: a rolling Deployment's sync (one per status write of its sets) never walks them
    if (d.spec!.strategy?.type === 'Recreate') return rolloutRecreate(s, d, rsList, getPodMapForDeployment(rsList));
    return rolloutRolling(s, d, rsList);
  };

  return {
    name: 'deployment',
    start() {
      deployments.addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n), delete: enqueue });
      replicaSets.addEventHandler({ add: onRsAdd, update: onRsUpdate, delete: onRsDelete });
      pods.addEventHandler({ delete: onPodDelete });
      running = startWorkers(queue, [deployments.synced, replicaSets.synced, pods.synced], ctx.options.workers, syncDeployment, log);
    },
    async stop() {
      await running?.stop();
    },
  };
}
