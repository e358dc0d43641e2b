// plan: the garbage collector's decisions as pure functions — what to do with a dependent given the state of its
// owners, and with an owner being deleted given its dependents (upstream garbagecollector.go attemptToDeleteItem,
// processDeletingDependentsItem, orphanDependents).
import type { KubeObject, OwnerReference } from '../../api/types.ts';

/** FINALIZER_ORPHAN and FINALIZER_FOREGROUND are the finalizers the API adds for `propagationPolicy` Orphan and Foreground. */
export const FINALIZER_ORPHAN = 'orphan';
export const FINALIZER_FOREGROUND = 'foregroundDeletion';

/**
 * OwnerState is what one ownerReference points at:
 * - solid: an owner with the reference's uid exists and is not deleting its dependents;
 * - dangling: no object of that name, or one with another uid (recreated under the same name);
 * - waiting: the owner exists and is being deleted in the foreground (it waits for its dependents);
 * - unresolvable: the reference cannot be looked up (unknown kind, namespaced owner of a cluster-scoped object).
 */
export type OwnerState = 'solid' | 'dangling' | 'waiting' | 'unresolvable';

export interface OwnerVerdict {
  ref: OwnerReference;
  state: OwnerState;
}

export type Propagation = 'Background' | 'Foreground' | 'Orphan';

/** DependentAction is the one step the collector takes for a dependent. */
export type DependentAction =
  | { action: 'none' }
  /** replace metadata.ownerReferences with this list (dangling references dropped, waiting ones unblocked) */
  | { action: 'patchOwners'; ownerReferences: OwnerReference[] }
  | { action: 'delete'; propagationPolicy: Propagation };

/** OwnerAction is the one step the collector takes for an owner that is being deleted. */
export type OwnerAction =
  | { action: 'none' }
  /** strip the ownerReferences to the owner from these dependents; the `orphan` finalizer goes once none is left */
  | { action: 'orphan'; dependents: KubeObject[] }
  /** foreground: look at these dependents (they are to be deleted); the owner stays while `blocking` is not empty */
  | { action: 'deleteDependents'; dependents: KubeObject[]; blocking: KubeObject[] }
  | { action: 'removeFinalizer'; finalizer: string };

export function isBeingDeleted(obj: KubeObject): boolean {
  return !!obj.metadata.deletionTimestamp;
}

export function hasFinalizer(obj: KubeObject, f: string): boolean {
  return (obj.metadata.finalizers ?? []).includes(f);
}

/** isDeletingDependents: the object is being deleted in the foreground (deletionTimestamp and the foregroundDeletion finalizer). */
export function isDeletingDependents(obj: KubeObject): boolean {
  return isBeingDeleted(obj) && hasFinalizer(obj, FINALIZER_FOREGROUND);
}

/** ownerStateOf classifies a found owner object for reference `ref` (undefined = not found). */
export function ownerStateOf(ref: OwnerReference, owner: KubeObject | undefined): OwnerState {
  if (!owner || owner.metadata.uid !== ref.uid) return 'dangling';
  return isDeletingDependents(owner) ? 'waiting' : 'solid';
}

/** referencesTo returns the ownerReferences of `obj` that point at `ownerUid`. */
export function referencesTo(obj: KubeObject, ownerUid: string): OwnerReference[] {
  return (obj.metadata.ownerReferences ?? []).filter((r) => r.uid === ownerUid);
}

/**
 * planDependent is upstream's attemptToDeleteItem for an object that is not itself being deleted:
 * - no ownerReferences, or any owner that cannot be resolved: nothing (an unresolvable reference is retried, never guessed);
 * - some solid owner: keep the object; drop the dangling references and set blockOwnerDeletion=false on the
 *   references to owners waiting for their dependents (so they may go), writing only if that changes anything;
 * - no solid owner, some owner waiting, and the object has dependents itself: delete it in the foreground, so the
 *   waiting owner also waits for the grandchildren;
 * - otherwise (every owner gone or waiting): delete it, propagating as its own finalizers ask (Background by default).
 *
 * Example: a pod owned by ReplicaSet rs-1 (gone) and ConfigMap cm (live) → patchOwners [cm]; owned only by rs-1 → delete.
 */
export function planDependent(item: KubeObject, verdicts: OwnerVerdict[], hasDependents: boolean): DependentAction {
  if (isBeingDeleted(item) || verdicts.length === 0) return { action: 'none' };
  if (verdicts.some((v) => v.state === 'unresolvable')) return { action: 'none' };
  const solid = verdicts.filter((v) => v.state === 'solid');
  const dangling = new Set(verdicts.filter((v) => v.state === 'dangling').map((v) => v.ref.uid));
  const waiting = new Set(verdicts.filter((v) => v.state === 'waiting').map((v) => v.ref.uid));
  if (solid.length > 0) {
    if (dangling.size === 0 && waiting.size === 0) return { action: 'none' };
    let changed = false;
    const refs: OwnerReference[] = [];
    for (const r of item.metadata.ownerReferences ?? []) {
      if (dangling.has(r.uid)) {
        changed = true;
        continue;
      }
      if (waiting.has(r.uid) && r.blockOwnerDeletion) {
        changed = true;
        refs.push({ ...r, blockOwnerDeletion: false });
        continue;
      }
      refs.push(r);
    }
    return changed ? { action: 'patchOwners', ownerReferences: refs } : { action: 'none' };
  }
  if (waiting.size > 0 && hasDependents) return { action: 'delete', propagationPolicy: 'Foreground' };
  if (hasFinalizer(item, FINALIZER_ORPHAN)) return { action: 'delete', propagationPolicy: 'Orphan' };
  if (hasFinalizer(item, FINALIZER_FOREGROUND)) return { action: 'delete', propagationPolicy: 'Foreground' };
  return { action: 'delete', propagationPolicy: 'Background' };
}

/**
 * planOwner is what happens to an owner being deleted, given the dependents that reference it:
 * - `orphan` finalizer: first strip its references from every dependent, then remove the finalizer;
 * - `foregroundDeletion` finalizer: its dependents are to be deleted; the finalizer goes once no dependent with
 *   blockOwnerDeletion=true is left (dependents being deleted still block until they are gone);
 * - anything else: nothing (the API deletes it when its other finalizers go).
 * Orphan wins when both finalizers are present, as upstream processes orphaning first.
 */
export function planOwner(owner: KubeObject, dependents: KubeObject[]): OwnerAction {
  if (!isBeingDeleted(owner)) return { action: 'none' };
  const uid = owner.metadata.uid!;
  const mine = dependents.filter((d) => referencesTo(d, uid).length > 0);
  if (hasFinalizer(owner, FINALIZER_ORPHAN)) {
    return mine.length > 0 ? { action: 'orphan', dependents: mine } : { action: 'removeFinalizer', finalizer: FINALIZER_ORPHAN };
  }
  if (hasFinalizer(owner, FINALIZER_FOREGROUND)) {
    const blocking = mine.filter((d) => referencesTo(d, uid).some((r) => r.blockOwnerDeletion === true));
    if (blocking.length === 0) return { action: 'removeFinalizer', finalizer: FINALIZER_FOREGROUND };
    // dependents themselves deleting their own dependents are left to finish (upstream skips isDeletingDependents ones)
    return { action: 'deleteDependents', dependents: mine.filter((d) => !isDeletingDependents(d)), blocking };
  }
  return { action: 'none' };
}

/** withoutReferencesTo returns `obj`'s ownerReferences minus those pointing at `ownerUid` (undefined when none is left). */
export function withoutReferencesTo(obj: KubeObject, ownerUid: string): OwnerReference[] | undefined {
  const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== ownerUid);
  return refs.length ? refs : undefined;
}

/** withoutFinalizer returns `obj`'s finalizers minus `f` (undefined when none is left). */
export function withoutFinalizer(obj: KubeObject, f: string): string[] | undefined {
  const fs = (obj.metadata.finalizers ?? []).filter((x) => x !== f);
  return fs.length ? fs : undefined;
}
