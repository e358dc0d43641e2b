// endpointslice: the EndpointSlice controller (upstream pkg/controller/endpointslice) — keeps discovery.k8s.io/v1
// EndpointSlices for every Service with a selector, owned by the Service; the planning is in slices.ts.
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { lookupKind, type ResourceInfo } from '../../api/resources.ts';
import { matchLabels, selectorFromSet } from '../../api/selectors.ts';
import { keyOf, type SharedInformer } from '../../client/informer.ts';
import { WorkQueue } from '../../client/queue.ts';
import { podEndpointFacts, serviceSelector, servicesSelecting } from '../endpoints/index.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { splitKey, startWorkers, type SyncResult, type Workers } from '../worker.ts';
import { applySlicePlan, SliceTracker, watchManagedSlices } from './tracker.ts';
import { CONTROLLER_NAME, desiredGroups, planSlices } from './slices.ts';

export * from './slices.ts';

const serviceInfo = lookupKind('v1', 'Service')!;
const podInfo = lookupKind('v1', 'Pod')!;
/** newEndpointSliceController is the controller-manager entry of the EndpointSlice controller. */
export function newEndpointSliceController(ctx: ControllerContext): Controller {
  return new EndpointSliceController(ctx);
}

export class EndpointSliceController implements Controller {
  readonly name = 'endpointslice-controller';
  private readonly ctx: ControllerContext;
  private readonly queue = new WorkQueue();
  private readonly sliceInfo: ResourceInfo | undefined = lookupKind('discovery.k8s.io/v1', 'EndpointSlice');
  private services!: SharedInformer;
  private pods!: SharedInformer;
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
      this.ctx.log.info('discovery.k8s.io/v1 EndpointSlice is not served; the endpointslice controller stays idle');
      return;
    }
    this.services = this.ctx.informers.informerFor(serviceInfo);
    this.pods = this.ctx.informers.informerFor(podInfo);
    this.slices = this.ctx.informers.informerFor(this.sliceInfo);
    this.tracker = new SliceTracker(this.slices);
    const enqueue = (k: string | undefined) => {
      if (k) this.queue.add(k);
    };
    this.sliceIndex = watchManagedSlices(this.slices, CONTROLLER_NAME, enqueue);
    this.services.addEventHandler({
      add: (s) => enqueue(keyOf(s)),
      update: (_o, s) => enqueue(keyOf(s)),
      delete: (s) => {
        this.tracker.forget(keyOf(s));
        enqueue(keyOf(s));
      },
    });
    this.pods.addEventHandler({
      add: (p) => servicesSelecting(this.services, p).forEach(enqueue),
      update: (o, p) => {
        if (podEndpointFacts(o as Pod) === podEndpointFacts(p as Pod)) return;
        servicesSelecting(this.services, o, p).forEach(enqueue);
      },
      delete: (p) => servicesSelecting(this.services, p).forEach(enqueue),
    });
    this.workers = startWorkers(this.queue, [this.services.synced, this.pods.synced, this.slices.synced], this.ctx.options.workers, (key) => this.sync(key), this.ctx.log);
  }

  async stop(): Promise<void> {
    await this.workers?.stop();
  }

  /** sync is reconcile(`ns/name` of a Service). A deleted Service's slices go with it through their ownerReference (garbage collector). */
  private async sync(key: string): Promise<SyncResult> {
    const info = this.sliceInfo!;
    const { namespace, name } = splitKey(key);
    const svc = this.services.get(namespace, name) as Service | undefined;
    if (!svc) return;
    // ExternalName services get no endpoints (upstream issue 105986); services without a selector get theirs out of band
    if (svc.spec?.type === 'ExternalName') return;
    const selector = serviceSelector(svc);
    if (!selector) return;
    if (this.tracker.stale(key)) return { requeueAfterMs: 1000 };
    const reqs = selectorFromSet(selector);
    const pods = this.pods.list(namespace).filter((p) => matchLabels(reqs, p.metadata.labels)) as Pod[];
    const mine: EndpointSlice[] = [];
    const foreign: EndpointSlice[] = [];
    for (const s of this.slices.byIndex(this.sliceIndex, key) as unknown as EndpointSlice[]) {
      if (s.metadata?.deletionTimestamp) continue;
      if (s.addressType !== 'IPv4') continue;
      // a slice of an earlier Service of the same name is not ours to reuse
      const owned = (s.metadata?.ownerReferences ?? []).some((r) => r.uid === svc.metadata?.uid && r.controller);
      (owned ? mine : foreign).push(s);
    }
    const plan = planSlices(svc, desiredGroups(svc, pods), mine);
    plan.delete.push(...foreign);
    await applySlicePlan(this.ctx.client, info, key, plan, this.tracker);
  }
}
