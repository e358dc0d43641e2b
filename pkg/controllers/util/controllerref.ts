// controllerref: upstream's ControllerRefManager — who controls an object, and claiming (adopt/release) by selector.
import { ApiError } from '../../api/errors.ts';
import type { ResourceInfo } from '../../api/resources.ts';
import { matchLabels } from '../../api/selectors.ts';
import type { LabelRequirement } from '../../api/selectors.ts';
import type { KubeObject, OwnerReference } from '../../api/types.ts';
import { INDEX_OWNER_UID } from '../../client/informer.ts';
import type { SharedInformer } from '../../client/informer.ts';
import type { ApiClient } from '../../client/interface.ts';
import type { TimeSlice } from '../../util/turns.ts';

/** OwnerKind is the type meta an ownerReference needs: `{ apiVersion: 'apps/v1', kind: 'ReplicaSet' }`. */
export interface OwnerKind {
  apiVersion: string;
  kind: string;
}

/** getControllerOf returns the ownerReference with controller: true (at most one is allowed). */
export function getControllerOf(obj: Pick<KubeObject, 'metadata'>): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** newControllerRef is upstream's metav1.NewControllerRef: controller and blockOwnerDeletion set. */
export function newControllerRef(owner: Pick<KubeObject, 'metadata'>, kind: OwnerKind): OwnerReference {
  return { apiVersion: kind.apiVersion, kind: kind.kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/**
 * resolveControllerRef is upstream's resolveControllerRef: the owner from `lookup` if `ref` names this kind and
 * the cached owner has the same uid (a recreated owner of the same name does not own the old one's objects).
 */
export function resolveControllerRef(ref: OwnerReference | undefined, kind: string, lookup: (name: string) => KubeObject | undefined): KubeObject | undefined {
  if (!ref || ref.kind !== kind) return undefined;
  const owner = lookup(ref.name);
  return owner && owner.metadata.uid === ref.uid ? owner : undefined;
}

/** INDEX_ORPHAN names the custom index of objects without a controller (and not being deleted), by namespace. */
export const INDEX_ORPHAN = 'orphan';

/** orphanIndex is the INDEX_ORPHAN function: the namespace of an adoptable orphan, nothing otherwise. */
export function orphanIndex(obj: KubeObject): string[] {
  if (getControllerOf(obj) || obj.metadata.deletionTimestamp) return [];
  return [obj.metadata.namespace ?? ''];
}

const withOrphanIndex = new WeakSet<SharedInformer>();

/** ensureOrphanIndex adds INDEX_ORPHAN to a shared informer once, however many controllers ask. */
export function ensureOrphanIndex(informer: SharedInformer): void {
  if (withOrphanIndex.has(informer)) return;
  informer.addIndexer(INDEX_ORPHAN, orphanIndex);
  withOrphanIndex.add(informer);
}

/**
 * claimCandidates is every object a claim for `owner` can act on, from the informer's indexes instead of a scan
 * of the namespace: what the owner already controls (the 'ownerUid' index, narrowed to its controllerRef and its
 * namespace: kept or released) and the namespace's orphans (INDEX_ORPHAN: adopted if they match). Objects other
 * controllers own are never looked at, as claiming would ignore them anyway. The informer needs ensureOrphanIndex.
 */
export function claimCandidates(informer: SharedInformer, owner: KubeObject): KubeObject[] {
  const uid = owner.metadata.uid!;
  const ns = owner.metadata.namespace ?? '';
  const out: KubeObject[] = [];
  for (const o of informer.byIndex(INDEX_OWNER_UID, uid)) {
    if (getControllerOf(o)?.uid === uid && (o.metadata.namespace ?? '') === ns) out.push(o);
  }
  for (const o of informer.byIndex(INDEX_ORPHAN, ns)) out.push(o);
  return out;
}

/**
 * ClaimAction is what claiming does to one object: keep (ours and matching), adopt (a matching orphan), release
 * (ours but no longer matching), ignore (someone else's, or nothing to do).
 */
export type ClaimAction = 'keep' | 'adopt' | 'release' | 'ignore';

/**
 * claimAction is the decision of upstream's ClaimObject, pure: ownership by controllerRef uid, the selector
 * match, and the rules that a deleting owner adopts and releases nothing, a deleting orphan is not adopted, and
 * an orphan of another namespace is ignored.
 */
export function claimAction(obj: KubeObject, owner: KubeObject, matches: boolean): ClaimAction {
  const ref = getControllerOf(obj);
  const ownerDeleting = !!owner.metadata.deletionTimestamp;
  if (ref) {
    if (ref.uid !== owner.metadata.uid) return 'ignore';
    if (matches) return 'keep';
    return ownerDeleting ? 'ignore' : 'release';
  }
  if (ownerDeleting || !matches) return 'ignore';
  if (obj.metadata.deletionTimestamp) return 'ignore';
  if (owner.metadata.namespace && owner.metadata.namespace !== obj.metadata.namespace) return 'ignore';
  return 'adopt';
}

export interface ControllerRefManagerOptions {
  client: ApiClient;
  /** the controller object (a ReplicaSet, Deployment…) as the cache has it */
  owner: KubeObject;
  ownerKind: OwnerKind;
  ownerInfo: ResourceInfo;
  /** the resource of the claimed objects (pods, replicasets) */
  childInfo: ResourceInfo;
  /** the selector match (plus any extra filter) */
  match: (obj: KubeObject) => boolean;
  /** a long claim yields to the event loop when this slice is due (and its time is charged to the slice) */
  slice?: TimeSlice;
}

/**
 * ControllerRefManager claims objects for one owner: adopts matching orphans by patching a controller
 * ownerReference in (with the object's uid in the patch, so a recreated namesake is never touched), releases owned
 * objects that stopped matching, and before the first adoption re-reads the owner from the API (not the cache)
 * to make sure it still exists with the same uid and is not being deleted (upstream's RecheckDeletionTimestamp).
 */
export class ControllerRefManager {
  private readonly o: ControllerRefManagerOptions;
  private canAdoptOnce: Promise<void> | undefined;

  constructor(o: ControllerRefManagerOptions) {
    this.o = o;
  }

  /**
   * claim returns the objects this owner controls after adopting and releasing. It tries every object; if any
   * adoption or release failed (other than the object being gone) it throws the first error afterwards, so the
   * caller re-queues, as upstream's sync returns the claim error.
   */
  async claim(objs: readonly KubeObject[]): Promise<KubeObject[]> {
    const claimed: KubeObject[] = [];
    let firstError: unknown;
    const uid = this.o.owner.metadata.uid;
    const slice = this.o.slice;
    let n = 0;
    for (const obj of objs) {
      // a set of 15,000 pods is a walk of tens of milliseconds: give the event loop back now and then
      if (slice && (++n & 255) === 0 && slice.due()) await slice.yield();
      // someone else's object: ignored whatever the selector says, so don't evaluate it
      const ref = getControllerOf(obj);
      if (ref && ref.uid !== uid) continue;
      const action = claimAction(obj, this.o.owner, this.o.match(obj));
      try {
        if (action === 'keep') claimed.push(obj);
        else if (action === 'adopt') {
          const adopted = await this.adopt(obj);
          if (adopted) claimed.push(adopted);
        } else if (action === 'release') await this.release(obj);
      } catch (e) {
        firstError ??= e;
      }
    }
    if (firstError !== undefined) throw firstError;
    return claimed;
  }

  /** adopt sets the owner as controller of obj; undefined when obj is gone. */
  async adopt(obj: KubeObject): Promise<KubeObject | undefined> {
    await this.canAdopt();
    const patch = { metadata: { ownerReferences: [newControllerRef(this.o.owner, this.o.ownerKind)], uid: obj.metadata.uid } };
    try {
      return await this.o.client.patch(this.o.childInfo, obj.metadata.namespace, obj.metadata.name!, patch, 'strategic');
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  /** release removes the owner's reference from obj; gone (404) or replaced (422, uid differs) objects are fine. */
  async release(obj: KubeObject): Promise<void> {
    const patch = { metadata: { ownerReferences: [{ $patch: 'delete', uid: this.o.owner.metadata.uid }], uid: obj.metadata.uid } };
    try {
      await this.o.client.patch(this.o.childInfo, obj.metadata.namespace, obj.metadata.name!, patch, 'strategic');
    } catch (e) {
      if (e instanceof ApiError && (e.code === 404 || e.code === 422)) return;
      throw e;
    }
  }

  private canAdopt(): Promise<void> {
    this.canAdoptOnce ??= (async () => {
      const { owner, ownerInfo, ownerKind, client } = this.o;
      const fresh = await client.getOrUndefined(ownerInfo, owner.metadata.namespace, owner.metadata.name!);
      const what = `${ownerKind.kind} ${owner.metadata.namespace ? owner.metadata.namespace + '/' : ''}${owner.metadata.name}`;
      if (!fresh || fresh.metadata.uid !== owner.metadata.uid) {
        throw new Error(`original ${what} is gone: got uid ${fresh?.metadata.uid ?? ''}, wanted ${owner.metadata.uid}`);
      }
      if (fresh.metadata.deletionTimestamp) throw new Error(`${what} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
    })();
    return this.canAdoptOnce;
  }
}

/**
 * claimPods is upstream's PodControllerRefManager.ClaimPods: match = the selector holds for the pod's labels
 * and every extra filter passes.
 */
export function claimPods(
  o: Omit<ControllerRefManagerOptions, 'match'> & { selector: readonly LabelRequirement[]; filters?: ((pod: KubeObject) => boolean)[] },
  pods: readonly KubeObject[],
): Promise<KubeObject[]> {
  const filters = o.filters ?? [];
  const match = (p: KubeObject) => matchLabels(o.selector, p.metadata.labels) && filters.every((f) => f(p));
  return new ControllerRefManager({ ...o, match }).claim(pods);
}
