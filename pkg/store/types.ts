// types: the Store interface the API server consumes; the SQLite log implements it, an etcd one could.
import type { KubeObject } from '../api/types.ts';

/**
 * A resource key is the store's name for one resource type: `pods`, `apps/deployments` (see api/resources.storeKey).
 * Cluster-scoped objects use namespace ''.
 */
export type ResourceKey = string;

export type StoreErrorCode = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Expired';

/** StoreError is what the store throws; the API server turns it into a Status naming the resource. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /** for Expired: the oldest revision still available */
  readonly oldest?: number;
  constructor(code: StoreErrorCode, message: string, oldest?: number) {
    super(message);
    this.code = code;
    this.oldest = oldest;
  }
}

export interface ListOptions {
  /** only this namespace; undefined = all namespaces */
  namespace?: string;
  /** label requirements checked against metadata.labels before the value is returned */
  labelFilter?: (labels: Record<string, string>) => boolean;
  /** at most this many items; a `continue` token is returned when more remain */
  limit?: number;
  /** the token a previous limited list returned */
  continue?: string;
}

export interface ListResult {
  /** the store revision the list reflects */
  revision: number;
  /** objects as stored JSON text (metadata.resourceVersion already set), ordered by namespace, name */
  items: string[];
  /** set when `limit` cut the list short */
  continue?: string;
  /** how many matching items remain after this page, when cut short */
  remaining?: number;
}

/** StoreEvent is one committed change. `object` carries the new revision as resourceVersion. */
export interface StoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  revision: number;
  resource: ResourceKey;
  object: KubeObject;
  /** the previous state, for MODIFIED and DELETED */
  prev?: KubeObject;
}

export interface WatchOptions {
  namespace?: string;
  /** deliver every change with revision > fromRevision; undefined = only changes from now on */
  fromRevision?: number;
}

export interface Watcher {
  stop(): void;
}

/**
 * Store is the persistence the API server needs. Every write resolves only after its transaction
 * committed durably; concurrent writes may share one commit. Objects are copied in and out: callers
 * may mutate what they get.
 */
export interface Store {
  /** the newest committed revision */
  revision(): number;
  /** the oldest revision a watch can still start from (everything at or below was compacted) */
  compactedRevision(): number;
  get(resource: ResourceKey, namespace: string, name: string): Promise<KubeObject | undefined>;
  list(resource: ResourceKey, opts?: ListOptions): Promise<ListResult>;
  /** create fails with AlreadyExists; sets metadata.resourceVersion */
  create(resource: ResourceKey, obj: KubeObject): Promise<KubeObject>;
  /** update fails with NotFound, or Conflict when expectedRevision is given and is not the stored one */
  update(resource: ResourceKey, obj: KubeObject, expectedRevision?: number): Promise<KubeObject>;
  /** delete removes the object; resolves with its last state carrying the deletion's revision */
  delete(resource: ResourceKey, namespace: string, name: string, expectedRevision?: number): Promise<KubeObject>;
  /**
   * watch calls onEvent for every committed change of `resource` (in revision order, synchronously after
   * commit). Throws StoreError Expired when fromRevision is older than the compacted revision.
   */
  watch(resource: ResourceKey, opts: WatchOptions, onEvent: (ev: StoreEvent) => void): Watcher;
  /** compact drops history at or below `revision` (default: keep the newest configured amount) */
  compact(revision?: number): Promise<void>;
  close(): Promise<void>;
}
