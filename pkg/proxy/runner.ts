// runner: the loop both proxy modes share (upstream's BoundedFrequencyRunner role) — Service and EndpointSlice events
// debounced into one sync at a time, a re-run when something changed meanwhile, retries after failures, a periodic
// resync that asks the sync to verify what the kernel holds, and `ready` after the first pass over synced caches.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Logger } from 'pino';
import { lookupKind } from '../api/resources.ts';
import type { ResourceEventHandler, SharedInformer, SharedInformerFactory } from '../client/informer.ts';
import { buildServiceMap, type ServiceMap } from './servicemap.ts';

/** Pass tells a sync what kind of run it is. */
export interface Pass {
  /** first: the first run after start (leftovers of an earlier agent may be cleaned up) */
  first: boolean;
  /** verify: re-read what the kernel holds and repair what went missing (resync ticks, after failures) */
  verify: boolean;
}

/** SyncOutcome: `retry` asks for another run after the retry delay (a port that could not be bound, an address). */
export interface SyncOutcome {
  retry?: boolean;
}

export interface SyncRunnerOptions {
  informers: SharedInformerFactory;
  nodeName: string;
  clusterDNS?: string;
  /** sync applies one service map; a rejection is logged and retried after retryMs with verify set */
  sync: (map: ServiceMap, pass: Pass) => Promise<SyncOutcome | void>;
  log: Logger;
  /** what names the loop in logs, e.g. 'proxy reconcile' */
  what: string;
  debounceMs?: number;
  retryMs?: number;
  resyncMs?: number;
}

/** DEBOUNCE_MS batches a burst of watch events into one sync; changes apply well within a second. */
export const DEBOUNCE_MS = 20;
/** RETRY_MS is how soon a failed (or incomplete) sync runs again. */
export const RETRY_MS = 2000;

/** SyncRunner runs `sync` over the service map whenever Services or EndpointSlices change; never two at once. */
export class SyncRunner {
  readonly ready: Promise<void>;
  private readyResolve!: () => void;
  private readonly o: SyncRunnerOptions;
  private readonly services: SharedInformer;
  private readonly slices: SharedInformer;
  private readonly handler: ResourceEventHandler;
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;
  private first = true;
  private verify = false;

  constructor(o: SyncRunnerOptions) {
    this.o = o;
    this.ready = new Promise((r) => (this.readyResolve = r));
    this.services = o.informers.informerFor(lookupKind('v1', 'Service')!);
    this.slices = o.informers.informerFor(lookupKind('discovery.k8s.io/v1', 'EndpointSlice')!);
    const kick = () => this.schedule(o.debounceMs ?? DEBOUNCE_MS);
    this.handler = { add: kick, update: kick, delete: kick };
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  start(): void {
    this.services.addEventHandler(this.handler);
    this.slices.addEventHandler(this.handler);
    void Promise.all([this.services.synced, this.slices.synced]).then(() => this.schedule(0));
    this.resync = setInterval(() => {
      this.verify = true;
      this.schedule(0);
    }, this.o.resyncMs ?? 10_000);
    this.resync.unref();
  }

  /** schedule runs a sync after `ms` unless one is pending; during a run it only marks another run as needed. */
  private schedule(ms: number): void {
    if (this.stopped || !this.services.hasSynced() || !this.slices.hasSynced()) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      let again = false;
      this.running = this.runOnce()
        .then((outcome) => {
          again = !!outcome?.retry;
        })
        .catch((err) => {
          this.o.log.error({ err }, `${this.o.what} failed; retrying`);
          this.verify = true;
          again = true;
        })
        .finally(() => {
          this.running = undefined;
          if (this.stopped) return;
          if (this.dirty) {
            this.dirty = false;
            this.schedule(this.o.debounceMs ?? DEBOUNCE_MS);
          } else if (again) this.schedule(this.o.retryMs ?? RETRY_MS);
        });
    }, ms);
  }

  private async runOnce(): Promise<SyncOutcome | void> {
    const map = buildServiceMap(this.services.list() as unknown as Service[], this.slices.list() as unknown as EndpointSlice[], { nodeName: this.o.nodeName, clusterDNS: this.o.clusterDNS });
    const pass: Pass = { first: this.first, verify: this.verify };
    this.verify = false;
    const outcome = await this.o.sync(map, pass);
    if (this.first) {
      this.first = false;
      this.readyResolve();
    }
    return outcome;
  }

  /** stop ends the loop after a running sync; the work it did stays (listeners are the caller's to close). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resync) clearInterval(this.resync);
    await this.running?.catch(() => undefined);
    this.services.removeEventHandler(this.handler);
    this.slices.removeEventHandler(this.handler);
  }
}
