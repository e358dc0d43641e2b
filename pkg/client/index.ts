// client: the client every component uses to reach the API (HTTP implementation and the shared contract), plus the controller toolkit.
export { Client, resourcePath, type ClientOptions } from './client.ts';
export type { ApiClient, DeleteOptions, ListQuery, ListResult, PatchKind, WatchHandle, WatchQuery, WriteQuery } from './interface.ts';
export {
  Informer,
  SharedIndexInformer,
  SharedInformerFactory,
  keyOf,
  INDEX_NAMESPACE,
  INDEX_NODE_NAME,
  INDEX_OWNER_UID,
  type IndexFunc,
  type InformerHandlers,
  type ResourceEventHandler,
  type SharedInformer,
} from './informer.ts';
export { WorkQueue } from './queue.ts';
export { EventRecorder, podTarget, objectReference, type EventSource, type EventTarget, type EventType } from './events.ts';
export { LeaderElector, microTime, type LeaderElectorOptions } from './leaderelection.ts';
