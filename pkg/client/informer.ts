// informer: list + watch into a local cache, calling handlers on changes; re-lists on 410 and reconnects.
import type { Logger } from 'pino';
import type { ResourceInfo } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { Client, WatchHandle } from './client.ts';

export interface InformerHandlers {
  add?(obj: KubeObject): void;
  update?(oldObj: KubeObject, newObj: KubeObject): void;
  delete?(obj: KubeObject): void;
}

export function keyOf(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name!;
}

/**
 * Informer keeps a cache of one resource (optionally filtered by namespace and selectors) in step with the
 * server. It never assumes it saw every event: after a broken watch it lists again and diffs against its cache.
 */
export class Informer {
  readonly cache = new Map<string, KubeObject>();
  private readonly client: Client;
  private readonly info: ResourceInfo;
  private readonly opts: { namespace?: string; labelSelector?: string; fieldSelector?: string };
  private readonly handlers: InformerHandlers[] = [];
  private readonly log: Logger;
  private resourceVersion = '';
  private watch: WatchHandle | undefined;
  private stopped = false;
  private syncedResolve!: () => void;
  /** resolves after the first list has filled the cache */
  readonly synced: Promise<void>;

  constructor(client: Client, info: ResourceInfo, opts: { namespace?: string; labelSelector?: string; fieldSelector?: string }, log: Logger) {
    this.client = client;
    this.info = info;
    this.opts = opts;
    this.log = log;
    this.synced = new Promise((r) => (this.syncedResolve = r));
  }

  on(h: InformerHandlers): this {
    this.handlers.push(h);
    return this;
  }

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): KubeObject[] {
    return [...this.cache.values()];
  }

  start(): this {
    void this.run();
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.watch?.stop();
  }

  private async run(): Promise<void> {
    let backoff = 200;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        backoff = 200;
        let expired = false;
        this.watch = this.client.watch(
          this.info,
          this.opts.namespace,
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, timeoutSeconds: 300 + Math.floor(Math.random() * 300) },
          (ev) => {
            if (ev.type === 'ERROR') {
              expired = true;
              this.resourceVersion = '';
              this.watch?.stop();
              return;
            }
            const rv = ev.object.metadata?.resourceVersion;
            if (rv) this.resourceVersion = rv;
            if (ev.type === 'BOOKMARK') return;
            this.apply(ev.type, ev.object);
          },
        );
        await this.watch.done;
        if (expired) this.log.debug({ resource: this.info.resource }, 'watch expired; re-listing');
      } catch (e) {
        if (this.stopped) return;
        this.log.warn({ err: e, resource: this.info.resource }, 'watch failed; retrying');
        this.resourceVersion = '';
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  private async relist(): Promise<void> {
    const list = await this.client.list(this.info, this.opts.namespace, { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector });
    const seen = new Set<string>();
    for (const item of list.items) {
      item.apiVersion ??= this.info.group ? `${this.info.group}/${this.info.version}` : this.info.version;
      item.kind ??= this.info.kind;
      const k = keyOf(item);
      seen.add(k);
      const old = this.cache.get(k);
      if (!old) this.apply('ADDED', item);
      else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) this.apply('MODIFIED', item);
    }
    for (const [k, old] of [...this.cache]) if (!seen.has(k)) this.apply('DELETED', old);
    this.resourceVersion = list.metadata.resourceVersion;
    this.syncedResolve();
  }

  private apply(type: string, obj: KubeObject): void {
    const k = keyOf(obj);
    const old = this.cache.get(k);
    if (type === 'DELETED') {
      this.cache.delete(k);
      for (const h of this.handlers) safe(() => h.delete?.(obj), this.log);
      return;
    }
    this.cache.set(k, obj);
    for (const h of this.handlers) {
      if (old) safe(() => h.update?.(old, obj), this.log);
      else safe(() => h.add?.(obj), this.log);
    }
  }
}

function safe(fn: () => void, log: Logger): void {
  try {
    fn();
  } catch (e) {
    log.error({ err: e }, 'informer handler failed');
  }
}
