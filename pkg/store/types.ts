// types: the Store interface the API server consumes; the SQLite log implements it, an etcd one could.
import type { KubeObject } from '../api/types.ts';

/**
 * A resource key is the store's name for one resource type: `pods`, `apps/deployments` (see api/resources.storeKey).
 * Cluster-scoped objects use namespace ''.
 */
export type ResourceKey = string;

/** Expired: the revision asked for was compacted; TooLarge: it is newer than the newest committed revision. */
export type StoreErrorCode = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Expired' | 'TooLarge';

/** StoreError is what the store throws; the API server turns it into a Status naming the resource. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /** for Expired: the oldest revision still available; for TooLarge: the newest committed revision */
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
  /** the token a previous limited list returned; the page is read at the revision the token carries */
  continue?: string;
  /**
   * read the state as of this revision (upstream's resourceVersionMatch=Exact) instead of the newest. Expired when it
   * was compacted, TooLarge when it is newer than the newest committed revision. Ignored with `continue`.
   */
  revision?: number;
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

/**
 * ObjectSummary is what a watch consumer routes an event by — type meta, key, labels and the kind's selectable
 * fields — made by whoever serialised the object (a write computed on a worker), so that a large object's text need
 * not be parsed on the event loop to select its event. It describes the text exactly as stored.
 */
export interface ObjectSummary {
  apiVersion?: string;
  kind?: string;
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  /** the kind's selectable fields (api/kinds fieldsOf) */
  fields: Record<string, string>;
}

/**
 * StoreEvent is one committed change. `object` carries the new revision as resourceVersion. Events are shared
 * between watchers: never mutate them.
 */
export interface StoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  revision: number;
  resource: ResourceKey;
  /** the object; an event the store made from its log is parsed only when this is first read */
  object: KubeObject;
  /** the object's key ('' = cluster-scoped), known without parsing, when the store has it */
  namespace?: string;
  name?: string;
  /** what the write that made the object knew of it (see ObjectSummary), when it carried that */
  summary?: ObjectSummary;
  /** the previous state, for MODIFIED and DELETED (may be decoded lazily, on first read) */
  prev?: KubeObject;
  /** `object` as the stored JSON text, when the store has it: a consumer can forward it without serialising again */
  value?: string;
}

export interface WatchOptions {
  namespace?: string;
  /** deliver every change with revision > fromRevision; undefined = only changes from now on */
  fromRevision?: number;
  /**
   * onProgress (etcd's progress notify) is called with a revision R once every change up to R that this watch
   * selects has been delivered to onEvent — also when R belongs to another resource, so a consumer learns that it is
   * current although nothing of its own changed. Called in order with the events, after them.
   */
  onProgress?: (revision: number) => void;
  /**
   * false: this watcher never reads StoreEvent.prev of a live event, so the store need not fetch the values writes
   * replace for it (a large object's old value then stays in the file). Default true. An event may carry prev anyway.
   */
  prev?: boolean;
}

export interface Watcher {
  stop(): void;
}

/**
 * Store is the persistence the API server needs. Every write resolves only after its transaction
 * committed durably; concurrent writes may share one commit. Objects are copied in and out: callers
 * may mutate what they get.
 *
 * Watch delivery is asynchronous: an event arrives after its commit, in revision order, but may arrive before or
 * after the write's promise resolves (etcd's watch is a stream of its own). Nothing may rely on seeing the event of
 * its own write by the time the write resolves; read the store (or wait for onProgress) instead.
 */
export interface Store {
  /** the newest committed revision */
  revision(): number;
  /** the oldest revision a watch can still start from (everything at or below was compacted) */
  compactedRevision(): number;
  get(resource: ResourceKey, namespace: string, name: string): Promise<KubeObject | undefined>;
  /** getRaw is get's stored JSON text and revision, unparsed (for a caller that hands the text on) */
  getRaw?(resource: ResourceKey, namespace: string, name: string): Promise<{ value: string; revision: number } | undefined>;
  /**
   * list reads the newest state, or the state as of `opts.revision` or the continue token's revision: every page of
   * a paginated list shows one consistent revision. Expired once that revision was compacted.
   */
  list(resource: ResourceKey, opts?: ListOptions): Promise<ListResult>;
  /**
   * create fails with AlreadyExists; sets metadata.resourceVersion. An object carrying its text (mvcc.SERIALISED) is
   * stored as that text, and the write resolves with the shell it was given, stamped, not with the parsed text.
   */
  create(resource: ResourceKey, obj: KubeObject): Promise<KubeObject>;
  /** update fails with NotFound, or Conflict when expectedRevision is given and is not the stored one */
  update(resource: ResourceKey, obj: KubeObject, expectedRevision?: number): Promise<KubeObject>;
  /** delete removes the object; resolves with its last state carrying the deletion's revision */
  delete(resource: ResourceKey, namespace: string, name: string, expectedRevision?: number): Promise<KubeObject>;
  /**
   * watch calls onEvent for every committed change of `resource` with revision > fromRevision, in revision order,
   * asynchronously after commit (see above). Throws StoreError Expired when fromRevision is older than the compacted
   * revision. A callback that throws is logged and does not stop the watch.
   */
  watch(resource: ResourceKey, opts: WatchOptions, onEvent: (ev: StoreEvent) => void): Watcher;
  /** compact drops history at or below `revision` (default: what is older than the configured history) */
  compact(revision?: number): Promise<void>;
  close(): Promise<void>;
}
