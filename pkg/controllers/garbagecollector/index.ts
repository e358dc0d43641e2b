// garbagecollector: ownerReferences cascade (upstream pkg/controller/garbagecollector) — watches every resource through
// the shared informers, collects dependents whose owners are gone, and honours the orphan/foregroundDeletion finalizers.
import { ApiError } from '../../api/errors.ts';
import { lookupKind, RESOURCES, type ResourceInfo } from '../../api/resources.ts';
import type { KubeObject, OwnerReference } from '../../api/types.ts';
import { INDEX_OWNER_UID, type SharedInformer } from '../../client/informer.ts';
import { WorkQueue } from '../../client/queue.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { startWorkers, type SyncResult , type Workers } from '../worker.ts';
import {
  FINALIZER_FOREGROUND,
  FINALIZER_ORPHAN,
  hasFinalizer,
  isBeingDeleted,
  ownerStateOf,
  planDependent,
  planOwner,
  withoutFinalizer,
  withoutReferencesTo,
  type OwnerState,
  type OwnerVerdict,
} from './plan.ts';

export * from './plan.ts';

/**
 * IGNORED_RESOURCES are not watched, as upstream's DefaultIgnoredResources: events are many, short-lived and never
 * owners; the collector would only hold them in memory.
 */
const IGNORED_RESOURCES = new Set(['/events', 'events.k8s.io/events']);

interface Watched {
  id: string;
  info: ResourceInfo;
  informer: SharedInformer;
}

/** resourceId names a resource in queue keys: `group/version/resource`. */
function resourceId(info: ResourceInfo): string {
  return `${info.group}/${info.version}/${info.resource}`;
}

/** ownerInfo resolves where `ref` lives for dependent `item`: its resource and namespace, or undefined when it cannot be resolved. */
function ownerInfo(item: KubeObject, ref: OwnerReference): { info: ResourceInfo; namespace: string | undefined } | undefined {
  const info = lookupKind(ref.apiVersion, ref.kind);
  if (!info) return undefined;
  // a cluster-scoped object cannot be owned by a namespaced one (upstream: namespacedOwnerOfClusterScopedObjectErr)
  if (info.namespaced && !item.metadata.namespace) return undefined;
  return { info, namespace: info.namespaced ? item.metadata.namespace : undefined };
}

function ownerRefsEqual(a: OwnerReference[] | undefined, b: OwnerReference[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

/** newGarbageCollector is the controller-manager entry of the garbage collector. */
export function newGarbageCollector(ctx: ControllerContext): Controller {
  return new GarbageCollector(ctx);
}

export class GarbageCollector implements Controller {
  readonly name = 'garbage-collector';
  private readonly ctx: ControllerContext;
  private readonly queue = new WorkQueue();
  private readonly watched = new Map<string, Watched>();
  private workers: Workers | undefined;

  constructor(ctx: ControllerContext) {
    this.ctx = ctx;
  }

  start(): void {
    for (const info of RESOURCES) {
      if (IGNORED_RESOURCES.has(`${info.group}/${info.resource}`)) continue;
      if (!['list', 'watch', 'delete'].every((v) => info.verbs.includes(v))) continue;
      const w: Watched = { id: resourceId(info), info, informer: this.ctx.informers.informerFor(info) };
      this.watched.set(w.id, w);
      w.informer.addEventHandler({
        add: (obj) => this.consider(w, obj),
        update: (old, cur) => {
          const refsChanged = !ownerRefsEqual(old.metadata.ownerReferences, cur.metadata.ownerReferences);
          if (refsChanged) this.enqueueOwnersBeingDeleted(old);
          if (refsChanged || old.metadata.deletionTimestamp !== cur.metadata.deletionTimestamp || JSON.stringify(old.metadata.finalizers ?? []) !== JSON.stringify(cur.metadata.finalizers ?? [])) {
            this.consider(w, cur);
          }
        },
        delete: (obj) => {
          // its dependents may now be orphans; owners waiting in the foreground may now be free to go
          for (const d of this.dependentsOf(obj)) this.enqueue(d.w, d.obj);
          this.enqueueOwnersBeingDeleted(obj);
        },
      });
    }
    this.workers = startWorkers(this.queue, [...this.watched.values()].map((w) => w.informer.synced), this.ctx.options.workers, (key) => this.sync(key), this.ctx.log);
  }

  async stop(): Promise<void> {
    await this.workers?.stop();
  }

  private enqueue(w: Watched, obj: KubeObject): void {
    this.queue.add(`${w.id}|${obj.metadata.namespace ?? ''}|${obj.metadata.name}`);
  }

  /** consider enqueues `obj` when the cache suggests work: an owner being deleted with a GC finalizer, or a dependent with an owner not (solidly) there. */
  private consider(w: Watched, obj: KubeObject): void {
    if (isBeingDeleted(obj)) {
      if (hasFinalizer(obj, FINALIZER_ORPHAN) || hasFinalizer(obj, FINALIZER_FOREGROUND)) this.enqueue(w, obj);
      return;
    }
    if (this.needsAttention(obj)) this.enqueue(w, obj);
  }

  /** needsAttention: some ownerReference of `obj` is, by the cache, not a solid owner (cheap; the live check decides). */
  private needsAttention(obj: KubeObject): boolean {
    return (obj.metadata.ownerReferences ?? []).some((ref) => {
      const s = this.cachedOwnerState(obj, ref);
      return s === 'dangling' || s === 'waiting' || s === undefined;
    });
  }

  /** cachedOwnerState is the owner's state as the informers see it; undefined when the owner's resource is not watched. */
  private cachedOwnerState(item: KubeObject, ref: OwnerReference): OwnerState | undefined {
    const where = ownerInfo(item, ref);
    if (!where) return 'unresolvable';
    const w = this.watched.get(resourceId(where.info));
    if (!w) return undefined;
    return ownerStateOf(ref, w.informer.get(where.namespace, ref.name));
  }

  /** liveOwnerState verifies an owner with a GET: a lagging cache is never trusted for deletion. */
  private async liveOwnerState(item: KubeObject, ref: OwnerReference): Promise<OwnerState> {
    const where = ownerInfo(item, ref);
    if (!where) return 'unresolvable';
    return ownerStateOf(ref, await this.ctx.client.getOrUndefined(where.info, where.namespace, ref.name));
  }

  /** dependentsOf lists the cached objects with an ownerReference to `owner`'s uid (in its namespace, unless it is cluster-scoped). */
  private dependentsOf(owner: KubeObject): { w: Watched; obj: KubeObject }[] {
    const uid = owner.metadata.uid;
    if (!uid) return [];
    const out: { w: Watched; obj: KubeObject }[] = [];
    for (const w of this.watched.values()) {
      for (const obj of w.informer.byIndex(INDEX_OWNER_UID, uid)) {
        if (owner.metadata.namespace && obj.metadata.namespace !== owner.metadata.namespace) continue;
        out.push({ w, obj });
      }
    }
    return out;
  }

  /** enqueueOwnersBeingDeleted enqueues the cached owners of `obj` that are being deleted (they may be waiting for it). */
  private enqueueOwnersBeingDeleted(obj: KubeObject): void {
    for (const ref of obj.metadata.ownerReferences ?? []) {
      const where = ownerInfo(obj, ref);
      const w = where && this.watched.get(resourceId(where.info));
      const owner = w?.informer.get(where!.namespace, ref.name);
      if (w && owner && owner.metadata.uid === ref.uid && isBeingDeleted(owner)) this.enqueue(w, owner);
    }
  }

  /** sync is reconcile(key): one step for the object named by key, as an owner being deleted or as a dependent. */
  private async sync(key: string): Promise<SyncResult> {
    const [id, ns, name] = key.split('|');
    const w = this.watched.get(id);
    if (!w) return;
    const namespace = ns || undefined;
    const cached = w.informer.get(namespace, name);
    if (!cached) return;
    if (isBeingDeleted(cached)) {
      if (!hasFinalizer(cached, FINALIZER_ORPHAN) && !hasFinalizer(cached, FINALIZER_FOREGROUND)) return;
      const live = await this.ctx.client.getOrUndefined(w.info, namespace, name);
      if (!live || live.metadata.uid !== cached.metadata.uid) return;
      return this.syncOwner(w, live);
    }
    if (!this.needsAttention(cached)) return;
    const live = await this.ctx.client.getOrUndefined(w.info, namespace, name);
    if (!live || live.metadata.uid !== cached.metadata.uid || isBeingDeleted(live)) return;
    const verdicts: OwnerVerdict[] = await Promise.all((live.metadata.ownerReferences ?? []).map(async (ref) => ({ ref, state: await this.liveOwnerState(live, ref) })));
    const unresolvable = verdicts.filter((v) => v.state === 'unresolvable');
    if (unresolvable.length) this.ctx.log.debug({ key, refs: unresolvable.map((v) => v.ref) }, 'garbage collector: owner reference cannot be resolved');
    const plan = planDependent(live, verdicts, this.dependentsOf(live).length > 0);
    switch (plan.action) {
      case 'none':
        return;
      case 'patchOwners': {
        const next = structuredClone(live);
        if (plan.ownerReferences.length) next.metadata.ownerReferences = plan.ownerReferences;
        else delete next.metadata.ownerReferences;
        await this.ctx.client.update(w.info, next);
        return;
      }
      case 'delete':
        this.ctx.log.debug({ key, propagationPolicy: plan.propagationPolicy }, 'garbage collector: deleting object whose owners are gone');
        await this.deleteObject(w, live, plan.propagationPolicy);
        return;
    }
  }

  private async syncOwner(w: Watched, owner: KubeObject): Promise<SyncResult> {
    const deps = this.dependentsOf(owner);
    const byObj = new Map(deps.map((d) => [d.obj, d.w]));
    const plan = planOwner(owner, deps.map((d) => d.obj));
    switch (plan.action) {
      case 'none':
        return;
      case 'orphan':
        for (const d of plan.dependents) await this.stripOwner(byObj.get(d)!, d, owner.metadata.uid!);
        await this.removeFinalizer(w, owner, FINALIZER_ORPHAN);
        return;
      case 'deleteDependents':
        for (const d of plan.dependents) this.enqueue(byObj.get(d)!, d);
        // the blocking dependents' deletion events bring the owner back; a slow re-check guards against a missed one
        return { requeueAfterMs: 30_000 };
      case 'removeFinalizer':
        await this.removeFinalizer(w, owner, plan.finalizer);
        return;
    }
  }

  /** stripOwner removes the ownerReferences to `ownerUid` from a dependent (upstream orphanDependents). */
  private async stripOwner(w: Watched, dep: KubeObject, ownerUid: string): Promise<void> {
    const live = await this.ctx.client.getOrUndefined(w.info, dep.metadata.namespace, dep.metadata.name!);
    if (!live || live.metadata.uid !== dep.metadata.uid) return;
    if (!(live.metadata.ownerReferences ?? []).some((r) => r.uid === ownerUid)) return;
    const next = structuredClone(live);
    const refs = withoutReferencesTo(live, ownerUid);
    if (refs) next.metadata.ownerReferences = refs;
    else delete next.metadata.ownerReferences;
    try {
      await this.ctx.client.update(w.info, next);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }

  /** removeFinalizer drops finalizer `f` from the owner; when it was the last one, the API completes the deletion. */
  private async removeFinalizer(w: Watched, owner: KubeObject, f: string): Promise<void> {
    if (!hasFinalizer(owner, f)) return;
    const next = structuredClone(owner);
    const fs = withoutFinalizer(owner, f);
    if (fs) next.metadata.finalizers = fs;
    else delete next.metadata.finalizers;
    try {
      await this.ctx.client.update(w.info, next);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }

  private async deleteObject(w: Watched, obj: KubeObject, propagationPolicy: 'Background' | 'Foreground' | 'Orphan'): Promise<void> {
    try {
      await this.ctx.client.delete(w.info, obj.metadata.namespace, obj.metadata.name!, { propagationPolicy, preconditions: { uid: obj.metadata.uid } });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }
}
