// client: the HTTP client every component uses to reach the API (agents, controllers, CLI), plus informers.
export { Client, resourcePath, type ClientOptions, type WatchHandle } from './client.ts';
export { Informer, type InformerHandlers } from './informer.ts';
export { WorkQueue } from './queue.ts';
