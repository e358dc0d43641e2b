// tracker: what the EndpointSlice and mirroring controllers share — upstream's endpointSliceTracker (a sync waits
// until the cache has seen the controller's own writes), the application of a slice plan through the API, and the
// index + handler that turn a change of a managed slice into a sync of its Service.
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { ApiError } from '../../api/errors.ts';
import type { ResourceInfo } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import type { SharedInformer } from '../../client/informer.ts';
import type { ApiClient } from '../../client/interface.ts';
import { splitKey } from '../worker.ts';
import { LABEL_MANAGED_BY, LABEL_SERVICE_NAME } from './slices.ts';

/** SlicePlan is what a planner decided for one service's slices. */
export interface SlicePlan {
  create: EndpointSlice[];
  update: EndpointSlice[];
  delete: EndpointSlice[];
}

/**
 * SliceTracker remembers, per service key, what the controller last wrote (slice name → resourceVersion, or 'gone')
 * until the slice cache shows it: a sync on a cache that has not seen the controller's own writes would create
 * duplicate slices.
 */
export class SliceTracker {
  private readonly slices: SharedInformer;
  private readonly written = new Map<string, Map<string, string>>();

  constructor(slices: SharedInformer) {
    this.slices = slices;
  }

  /** stale tells whether the cache has not yet seen every write made for the key. */
  stale(key: string): boolean {
    const w = this.written.get(key);
    if (!w) return false;
    const { namespace } = splitKey(key);
    for (const [name, rv] of w) {
      const cached = this.slices.get(namespace, name);
      const seen = rv === 'gone' ? !cached : !!cached && Number(cached.metadata.resourceVersion) >= Number(rv);
      if (seen) w.delete(name);
    }
    if (w.size === 0) this.written.delete(key);
    return w.size > 0;
  }

  remember(key: string, name: string, rv: string): void {
    let w = this.written.get(key);
    if (!w) this.written.set(key, (w = new Map()));
    w.set(name, rv);
  }

  forget(key: string): void {
    this.written.delete(key);
  }
}

/** applySlicePlan writes a plan (creates, updates, then deletes guarded by uid) and records each write in the tracker. */
export async function applySlicePlan(client: ApiClient, info: ResourceInfo, key: string, plan: SlicePlan, tracker: SliceTracker): Promise<void> {
  const { namespace } = splitKey(key);
  for (const s of plan.create) {
    const made = await client.create(info, namespace, s as unknown as KubeObject);
    tracker.remember(key, made.metadata.name!, made.metadata.resourceVersion!);
  }
  for (const s of plan.update) {
    const saved = await client.update(info, s as unknown as KubeObject);
    tracker.remember(key, saved.metadata.name!, saved.metadata.resourceVersion!);
  }
  for (const s of plan.delete) {
    try {
      await client.delete(info, namespace, s.metadata!.name!, { preconditions: { uid: s.metadata!.uid } });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
    tracker.remember(key, s.metadata!.name!, 'gone');
  }
}

/**
 * watchManagedSlices files the slices `manager` manages (their managed-by label) under their Service's `ns/name`, in
 * an index named after the manager, and enqueues that key whenever one changes, so a slice that someone else edits
 * or deletes is put back. It returns the index name, for `byIndex`.
 */
export function watchManagedSlices(slices: SharedInformer, manager: string, enqueue: (serviceKey: string) => void): string {
  const serviceKey = (s: KubeObject): string | undefined => {
    const l = s.metadata.labels ?? {};
    return l[LABEL_MANAGED_BY] === manager && l[LABEL_SERVICE_NAME] ? `${s.metadata.namespace}/${l[LABEL_SERVICE_NAME]}` : undefined;
  };
  const index = `${manager}/service`;
  slices.addIndexer(index, (s) => {
    const k = serviceKey(s);
    return k ? [k] : [];
  });
  const kick = (s: KubeObject) => {
    const k = serviceKey(s);
    if (k) enqueue(k);
  };
  slices.addEventHandler({
    add: kick,
    update: (o, s) => {
      kick(o);
      kick(s);
    },
    delete: kick,
  });
  return index;
}
