// endpointslicemirroring: the EndpointSliceMirroring controller (upstream pkg/controller/endpointslicemirroring) —
// mirrors the Endpoints users write for Services without a selector into EndpointSlices; the planning is in mirror.ts.
import type { Endpoints, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { lookupKind, type ResourceInfo } from '../../api/resources.ts';
import { keyOf, type SharedInformer } from '../../client/informer.ts';
import { WorkQueue } from '../../client/queue.ts';
import { applySlicePlan, SliceTracker, watchManagedSlices } from '../endpointslice/tracker.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { splitKey, startWorkers, type SyncResult, type Workers } from '../worker.ts';
import { MIRRORING_CONTROLLER_NAME, planMirror, shouldMirror } from './mirror.ts';

export * from './mirror.ts';

const serviceInfo = lookupKind('v1', 'Service')!;
const endpointsInfo = lookupKind('v1', 'Endpoints')!;
/** newEndpointSliceMirroringController is the controller-manager entry of the mirroring controller. */
export function newEndpointSliceMirroringController(ctx: ControllerContext): Controller {
  return new EndpointSliceMirroringController(ctx);
}

export class EndpointSliceMirroringController implements Controller {
  readonly name = 'endpointslicemirroring-controller';
  private readonly ctx: ControllerContext;
  private readonly queue = new WorkQueue();
  private readonly sliceInfo: ResourceInfo | undefined = lookupKind('discovery.k8s.io/v1', 'EndpointSlice');
  private services!: SharedInformer;
  private endpoints!: SharedInformer;
  private slices!: SharedInformer;
  private tracker!: SliceTracker;
  /** sliceIndex files our slices under their Service's key */
  private sliceIndex = '';
  private workers: Workers | undefined;

  constructor(ctx: ControllerContext) {
    this.ctx = ctx;
  }

  start(): void {
    if (!this.sliceInfo) {
      this.ctx.log.info('discovery.k8s.io/v1 EndpointSlice is not served; the endpointslicemirroring controller stays idle');
      return;
    }
    this.services = this.ctx.informers.informerFor(serviceInfo);
    this.endpoints = this.ctx.informers.informerFor(endpointsInfo);
    this.slices = this.ctx.informers.informerFor(this.sliceInfo);
    this.tracker = new SliceTracker(this.slices);
    const enqueue = (k: string | undefined) => {
      if (k) this.queue.add(k);
    };
    this.sliceIndex = watchManagedSlices(this.slices, MIRRORING_CONTROLLER_NAME, enqueue);
    for (const inf of [this.services, this.endpoints]) {
      inf.addEventHandler({
        add: (o) => enqueue(keyOf(o)),
        update: (_o, n) => enqueue(keyOf(n)),
        delete: (o) => enqueue(keyOf(o)),
      });
    }
    this.workers = startWorkers(this.queue, [this.services.synced, this.endpoints.synced, this.slices.synced], this.ctx.options.workers, (key) => this.sync(key), this.ctx.log);
  }

  async stop(): Promise<void> {
    await this.workers?.stop();
  }

  /** sync is reconcile(`ns/name` of an Endpoints and its Service). */
  private async sync(key: string): Promise<SyncResult> {
    const info = this.sliceInfo!;
    const { namespace, name } = splitKey(key);
    if (this.tracker.stale(key)) return { requeueAfterMs: 1000 };
    const ep = this.endpoints.get(namespace, name) as Endpoints | undefined;
    const svc = this.services.get(namespace, name) as Service | undefined;
    const existing = (this.slices.byIndex(this.sliceIndex, key) as unknown as EndpointSlice[]).filter((s) => !s.metadata?.deletionTimestamp);
    const plan = planMirror(shouldMirror(ep, svc) ? ep : undefined, existing);
    await applySlicePlan(this.ctx.client, info, key, plan, this.tracker);
  }
}
