// controller: the ReplicaSet/ReplicationController loop — watch handlers that resolve owners and enqueue keys,
// and sync(key): claim pods, create or delete the difference, write status (upstream's replica_set.go).
import type { Logger } from 'pino';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { ApiError } from '../../api/errors.ts';
import { lookupKind } from '../../api/resources.ts';
import { matchLabels } from '../../api/selectors.ts';
import type { KubeObject } from '../../api/types.ts';
import type { ApiClient } from '../../client/interface.ts';
import type { EventRecorder } from '../../client/events.ts';
import { INDEX_NAMESPACE, INDEX_OWNER_UID, keyOf } from '../../client/informer.ts';
import type { SharedInformer } from '../../client/informer.ts';
import { WorkQueue } from '../../client/queue.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { startWorkers, splitKey , type Workers } from '../worker.ts';
import type { SyncResult } from '../worker.ts';
import { claimCandidates, claimPods, ensureOrphanIndex, getControllerOf, newControllerRef, resolveControllerRef } from '../util/controllerref.ts';
import { Expectations } from '../util/expectations.ts';
import { isPodActive, isPodReady, podsToDelete } from '../util/pods.ts';
import { nextTurn, TimeSlice } from '../../util/turns.ts';
import { podFromTemplate } from '../util/template.ts';
import type { SetKind } from './kinds.ts';
import { calculateStatus, replicaDiff, slowStart, statusChanged } from './plan.ts';
import type { SetStatus } from './plan.ts';

const PODS = lookupKind('v1', 'Pod')!;

/**
 * PACE_FACTOR and PACE_MIN_MS pace the syncs of a big set: after a sync whose pod walks (claim and status) took
 * `cost` ms of CPU, the set's next sync waits PACE_FACTOR × cost, so a set of 15,000 pods, re-queued by every pod
 * status change, takes at most 1/(1+PACE_FACTOR) of the event loop instead of all of it, and the events of the wait
 * coalesce into one sync. Sets whose walks cost less than PACE_MIN_MS (every set of a few hundred pods) are not paced.
 */
const PACE_FACTOR = 8;
const PACE_MIN_MS = 2;

/** ReplicaSetController keeps `spec.replicas` pods for every set of one kind. */
export class ReplicaSetController implements Controller {
  readonly name: string;
  /** expectations are exposed for tests */
  readonly expectations = new Expectations();
  private readonly kind: SetKind;
  private readonly client: ApiClient;
  private readonly log: Logger;
  private readonly recorder: EventRecorder;
  private readonly sets: SharedInformer;
  private readonly pods: SharedInformer;
  private readonly queue = new WorkQueue();
  private readonly workers: number;
  private running: Workers | undefined;
  /** per set key: when its next sync may start, and what its last sync's pod walks cost (only costly sets) */
  private readonly pace = new Map<string, { at: number; cost: number }>();

  constructor(ctx: ControllerContext, kind: SetKind) {
    this.kind = kind;
    this.name = kind.name;
    this.client = ctx.client;
    this.log = ctx.log.child({ controller: kind.name });
    this.recorder = ctx.recorder(kind.component);
    this.sets = ctx.informers.informerFor(kind.info);
    this.pods = ctx.informers.informerFor(PODS);
    ensureOrphanIndex(this.pods);
    this.workers = ctx.options.workers;
  }

  start(): void {
    this.sets.addEventHandler({
      add: (rs) => this.enqueue(rs),
      update: (old, cur) => {
        if (old.metadata.uid !== cur.metadata.uid) this.expectations.delete(keyOf(old));
        this.enqueue(cur);
      },
      delete: (rs) => {
        this.expectations.delete(keyOf(rs));
        this.enqueue(rs);
      },
    });
    this.pods.addEventHandler({
      add: (p) => this.addPod(p),
      update: (o, c) => this.updatePod(o, c),
      delete: (p) => this.deletePod(p),
    });
    this.running = startWorkers(this.queue, [this.sets.synced, this.pods.synced], this.workers, (key) => this.sync(key), this.log);
  }

  async stop(): Promise<void> {
    await this.running?.stop();
  }

  private enqueue(set: KubeObject, afterMs = 0): void {
    const key = keyOf(set);
    const paced = this.pace.get(key);
    if (paced !== undefined) afterMs = Math.max(afterMs, paced.at - performance.now());
    if (afterMs > 0) this.queue.addAfter(key, afterMs);
    else this.queue.add(key);
  }

  /** paceAfter records the CPU a sync's pod walks took; a costly one holds the set's next sync back (see PACE_FACTOR). */
  private paceAfter(key: string, costMs: number): void {
    if (costMs < PACE_MIN_MS) this.pace.delete(key);
    else this.pace.set(key, { at: performance.now() + PACE_FACTOR * costMs, cost: costMs });
  }

  /** paceDuring holds back what is queued while a costly set syncs (else the queue would run it again at once). */
  private paceDuring(key: string): void {
    const p = this.pace.get(key);
    if (p) p.at = performance.now() + (1 + PACE_FACTOR) * p.cost;
  }

  /** ownerOf resolves the pod's controllerRef to a cached set of this kind (uid-checked). */
  private ownerOf(pod: KubeObject, ref = getControllerOf(pod)): KubeObject | undefined {
    return resolveControllerRef(ref, this.kind.ownerKind.kind, (name) => this.sets.get(pod.metadata.namespace, name));
  }

  /** setsMatching is upstream's getPodReplicaSets: every set of the pod's namespace whose selector matches it. */
  private setsMatching(pod: KubeObject): KubeObject[] {
    if (!pod.metadata.namespace) return [];
    return this.sets.byIndex(INDEX_NAMESPACE, pod.metadata.namespace).filter((s) => {
      const sel = this.kind.selector(s);
      return sel !== undefined && sel.length > 0 && matchLabels(sel, pod.metadata.labels);
    });
  }

  private addPod(pod: KubeObject): void {
    if (pod.metadata.deletionTimestamp) {
      // a restarted controller sees a pod already being deleted: that is a deletion, not a creation
      this.deletePod(pod);
      return;
    }
    const ref = getControllerOf(pod);
    if (ref) {
      const set = this.ownerOf(pod, ref);
      if (!set) return;
      this.expectations.creationObserved(keyOf(set));
      this.enqueue(set);
      return;
    }
    // an orphan: every matching set may want to adopt it
    for (const set of this.setsMatching(pod)) this.enqueue(set);
  }

  private updatePod(old: KubeObject, cur: KubeObject): void {
    if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return; // a resync
    const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {});
    if (cur.metadata.deletionTimestamp) {
      // graceful deletion: count it as deleted now so the set replaces it at once
      this.deletePod(cur);
      if (labelsChanged) this.deletePod(old);
      return;
    }
    const curRef = getControllerOf(cur);
    const oldRef = getControllerOf(old);
    const refChanged = curRef?.uid !== oldRef?.uid;
    if (refChanged && oldRef) {
      const oldSet = this.ownerOf(old, oldRef);
      if (oldSet) this.enqueue(oldSet);
    }
    if (curRef) {
      const set = this.ownerOf(cur, curRef);
      if (!set) return;
      this.enqueue(set);
      // a pod turning ready becomes available minReadySeconds later: look again then
      const minReady = this.kind.view(set).minReadySeconds;
      if (minReady > 0 && !isPodReady(old as Pod) && isPodReady(cur as Pod)) this.enqueue(set, minReady * 1000 + 1);
      return;
    }
    if (labelsChanged || refChanged) for (const set of this.setsMatching(cur)) this.enqueue(set);
  }

  private deletePod(pod: KubeObject): void {
    const set = this.ownerOf(pod);
    if (!set) return;
    this.expectations.deletionObserved(keyOf(set), keyOf(pod));
    this.enqueue(set);
  }

  /** sync is upstream's syncReplicaSet: one step toward `replicas` pods, then the status. */
  async sync(key: string): Promise<SyncResult> {
    const { namespace, name } = splitKey(key);
    const cached = this.sets.get(namespace, name);
    if (!cached) {
      this.expectations.delete(key);
      this.pace.delete(key);
      return;
    }
    const set: KubeObject = { ...structuredClone(cached), apiVersion: this.kind.ownerKind.apiVersion, kind: this.kind.ownerKind.kind };
    const needsSync = this.expectations.satisfied(key);
    const selector = this.kind.selector(set);
    if (!selector) {
      this.log.warn({ key }, 'invalid selector; ignoring the set');
      return;
    }
    // the active pods we control (also those that stopped matching: released) and the namespace's orphans (adopted
    // if they match), from the indexes: never a scan of every pod of the namespace
    this.paceDuring(key);
    // the walks over the set's pods (claim, status) give the event loop back every few ms; the slice counts their time
    const slice = new TimeSlice();
    const active = claimCandidates(this.pods, set).filter((p) => isPodActive(p as Pod));
    const claiming = claimPods(
      { client: this.client, owner: set, ownerKind: this.kind.ownerKind, ownerInfo: this.kind.info, childInfo: PODS, selector, slice },
      active,
    );
    // the claim's slices are the walk's time (also the wait of an adoption's write, a rare case, charged too)
    const owned = await claiming;
    let cost = slice.busyMs();
    let manageError: unknown;
    if (needsSync && !set.metadata.deletionTimestamp) {
      try {
        await this.manageReplicas(key, set, owned);
      } catch (e) {
        manageError = e;
      }
    }
    const view = this.kind.view(set);
    if (owned.length > 1000) await nextTurn();
    const t = performance.now();
    const { status, requeueAfterMs } = calculateStatus(view, owned as Pod[], manageError === undefined ? undefined : errorText(manageError), Date.now());
    cost += performance.now() - t;
    this.paceAfter(key, cost);
    if (statusChanged(view.status, status)) await this.writeStatus(set, status);
    if (manageError !== undefined) throw manageError;
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }

  /** manageReplicas is upstream's manageReplicas: create in slow-start batches, or delete the surplus by rank. */
  private async manageReplicas(key: string, set: KubeObject, owned: KubeObject[]): Promise<void> {
    const ns = set.metadata.namespace;
    const { create, delete: del } = replicaDiff(owned.length, this.kind.view(set).replicas);
    if (create > 0) {
      this.expectations.expectCreations(key, create);
      const ref = newControllerRef(set, this.kind.ownerKind);
      const { successes, error } = await slowStart(create, async () => {
        const pod = podFromTemplate(this.kind.template(set), set.metadata.name!, ref);
        if (!pod.metadata.labels || Object.keys(pod.metadata.labels).length === 0) throw new Error('unable to create pods, no labels');
        try {
          const made = await this.client.create(PODS, ns, pod);
          this.recorder.event(set, 'Normal', 'SuccessfulCreate', `Created pod: ${made.metadata.name}`);
        } catch (e) {
          // a terminating namespace refuses creates: nothing more to do
          if (namespaceTerminating(e)) return;
          this.recorder.event(set, 'Warning', 'FailedCreate', `Error creating: ${errorText(e)}`);
          throw e;
        }
      });
      // the pods never created will never be observed
      if (create - successes > 0) this.expectations.creationSkipped(key, create - successes);
      if (error !== undefined) throw error;
    } else if (del > 0) {
      const victims = podsToDelete(owned as Pod[], this.relatedPods(set, owned) as Pod[], del, Date.now()) as KubeObject[];
      this.expectations.expectDeletions(key, victims.map(keyOf));
      const results = await Promise.allSettled(
        victims.map(async (pod) => {
          try {
            await this.client.delete(PODS, ns, pod.metadata.name!);
            this.recorder.event(set, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
          } catch (e) {
            // the informer won't observe this deletion
            this.expectations.deletionObserved(key, keyOf(pod));
            if (e instanceof ApiError && e.code === 404) return;
            this.recorder.event(set, 'Warning', 'FailedDelete', `Error deleting: ${errorText(e)}`);
            throw e;
          }
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  /**
   * relatedPods is upstream's getIndirectlyRelatedPods: the pods of every set with the same controlling owner
   * (the sets of one Deployment), so scale-down spreads across nodes for the whole Deployment.
   */
  private relatedPods(set: KubeObject, owned: KubeObject[]): KubeObject[] {
    const ownerRef = getControllerOf(set);
    if (!ownerRef) return owned;
    const siblings = this.sets.byIndex(INDEX_OWNER_UID, ownerRef.uid).filter((s) => getControllerOf(s)?.uid === ownerRef.uid);
    const out = new Map<string, KubeObject>();
    for (const s of siblings) {
      for (const p of this.pods.byIndex(INDEX_OWNER_UID, s.metadata.uid!)) {
        if (getControllerOf(p)?.uid === s.metadata.uid) out.set(p.metadata.uid!, p);
      }
    }
    for (const p of owned) out.set(p.metadata.uid!, p);
    return [...out.values()];
  }

  /** writeStatus is upstream's updateReplicaSetStatus: PUT status, re-reading once on a conflict. */
  private async writeStatus(set: KubeObject, status: SetStatus): Promise<void> {
    let obj = set;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.updateStatus(this.kind.info, { ...obj, status: { ...status, observedGeneration: obj.metadata.generation ?? status.observedGeneration } });
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 409) || attempt >= 1) throw e;
        const fresh = await this.client.getOrUndefined(this.kind.info, set.metadata.namespace, set.metadata.name!);
        if (!fresh || fresh.metadata.uid !== set.metadata.uid) return;
        obj = { ...fresh, apiVersion: this.kind.ownerKind.apiVersion, kind: this.kind.ownerKind.kind };
      }
    }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function namespaceTerminating(e: unknown): boolean {
  return e instanceof ApiError && !!e.status.details?.causes?.some((c) => c.reason === 'NamespaceTerminating');
}
