// base: the frame the EndpointSlice and EndpointSliceMirroring controllers share — the Service and slice informers,
// the index of the slices one manager owns, the tracker of its own writes, and the workers; each controller adds its
// source informer (Pods or Endpoints) and its reconcile.
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { lookupKind, type ResourceInfo } from '../../api/resources.ts';
import type { SharedInformer } from '../../client/informer.ts';
import { WorkQueue } from '../../client/queue.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { splitKey, startWorkers, type SyncResult, type Workers } from '../worker.ts';
import { applySlicePlan, SliceTracker, watchManagedSlices, type SlicePlan } from './tracker.ts';

const serviceInfo = lookupKind('v1', 'Service')!;

/** SliceController runs a slice controller: `manager` is the managed-by label value of the slices it owns. */
export abstract class SliceController implements Controller {
  abstract readonly name: string;
  protected readonly ctx: ControllerContext;
  protected readonly queue = new WorkQueue();
  private readonly sliceInfo: ResourceInfo | undefined = lookupKind('discovery.k8s.io/v1', 'EndpointSlice');
  private readonly manager: string;
  protected services!: SharedInformer;
  protected tracker!: SliceTracker;
  private slices!: SharedInformer;
  /** sliceIndex files our slices under their Service's key */
  private sliceIndex = '';
  private workers: Workers | undefined;

  constructor(ctx: ControllerContext, manager: string) {
    this.ctx = ctx;
    this.manager = manager;
  }

  /** watchSources adds the controller's handlers (Services included) and returns the informers it reads besides Services and slices. */
  protected abstract watchSources(enqueue: (key: string | undefined) => void): SharedInformer[];

  /** reconcile plans the slices of the Service `namespace`/`name` from `existing`, its live slices; undefined leaves them be. */
  protected abstract reconcile(namespace: string, name: string, existing: EndpointSlice[]): SlicePlan | undefined;

  start(): void {
    if (!this.sliceInfo) {
      this.ctx.log.info(`discovery.k8s.io/v1 EndpointSlice is not served; the ${this.name} stays idle`);
      return;
    }
    this.services = this.ctx.informers.informerFor(serviceInfo);
    this.slices = this.ctx.informers.informerFor(this.sliceInfo);
    this.tracker = new SliceTracker(this.slices);
    const enqueue = (k: string | undefined) => {
      if (k) this.queue.add(k);
    };
    this.sliceIndex = watchManagedSlices(this.slices, this.manager, enqueue);
    const sources = this.watchSources(enqueue);
    const synced = [this.services, ...sources, this.slices].map((i) => i.synced);
    this.workers = startWorkers(this.queue, synced, this.ctx.options.workers, (key) => this.sync(key), this.ctx.log);
  }

  async stop(): Promise<void> {
    await this.workers?.stop();
  }

  /** sync waits until the cache holds our own last writes, then applies the controller's plan through the API. */
  private async sync(key: string): Promise<SyncResult> {
    if (this.tracker.stale(key)) return { requeueAfterMs: 1000 };
    const { namespace, name } = splitKey(key);
    const existing = (this.slices.byIndex(this.sliceIndex, key) as unknown as EndpointSlice[]).filter((s) => !s.metadata?.deletionTimestamp);
    const plan = this.reconcile(namespace ?? '', name, existing);
    if (plan) await applySlicePlan(this.ctx.client, this.sliceInfo!, key, plan, this.tracker);
  }
}

