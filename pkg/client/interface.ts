// interface: the one client contract every component codes against; HTTP (client.ts) and in-process
// (apiserver/localclient.ts) implementations behave the same, so a component can move between processes unchanged.
import type { ResourceInfo } from '../api/resources.ts';
import type { KubeObject, Status, WatchEvent } from '../api/types.ts';

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  /** '' or undefined = most recent (consistent); '0' = any (served from the watch cache); a number = see the match */
  resourceVersion?: string;
  /** with a numeric resourceVersion: 'Exact' reads the state as of it; 'NotOlderThan' (default) the newest */
  resourceVersionMatch?: string;
}

export interface ListResult {
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: KubeObject[];
}

export interface WatchQuery {
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
  sendInitialEvents?: boolean;
  [key: string]: string | number | boolean | undefined;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface WriteQuery {
  dryRun?: 'All';
  fieldManager?: string;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  [key: string]: string | undefined;
}

export interface WatchHandle {
  stop(): void;
  /** resolves when the stream ends (server closed it, error, or stop) */
  done: Promise<void>;
}

export type PatchKind = 'merge' | 'strategic' | 'json';

/**
 * ApiClient is what a component needs of the API. Errors are ApiError carrying the server's Status (404, 409, 410…).
 * Objects returned are the caller's to mutate.
 */
export interface ApiClient {
  get(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject>;
  /** getOrUndefined is get with NotFound as undefined. */
  getOrUndefined(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject | undefined>;
  list(info: ResourceInfo, namespace?: string, query?: ListQuery): Promise<ListResult>;
  create(info: ResourceInfo, namespace: string | undefined, obj: KubeObject, query?: WriteQuery): Promise<KubeObject>;
  /** update replaces the object (PUT), or its subresource `sub` ('status', 'scale'). */
  update(info: ResourceInfo, obj: KubeObject, sub?: string): Promise<KubeObject>;
  updateStatus(info: ResourceInfo, obj: KubeObject): Promise<KubeObject>;
  patch(info: ResourceInfo, namespace: string | undefined, name: string, patch: unknown, type?: PatchKind, sub?: string): Promise<KubeObject>;
  delete(info: ResourceInfo, namespace: string | undefined, name: string, opts?: DeleteOptions): Promise<KubeObject | Status>;
  /** bind assigns a pod to a node through pods/binding (the scheduler's one write). */
  bind(namespace: string, name: string, nodeName: string, uid?: string): Promise<void>;
  /** evict deletes a pod through pods/eviction. */
  evict(namespace: string, name: string, opts?: DeleteOptions): Promise<void>;
  /**
   * watch streams events to `onEvent` in order until the stream ends or stop() is called. An ERROR event
   * (e.g. 410 Expired) is delivered like the others; `done` rejects when the watch could not be opened.
   */
  watch(info: ResourceInfo, namespace: string | undefined, query: WatchQuery, onEvent: (ev: WatchEvent) => void): WatchHandle;
  close(): Promise<void>;
}
