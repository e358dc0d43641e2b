// endpointslice: the EndpointSlice controller (upstream pkg/controller/endpointslice) — keeps discovery.k8s.io/v1
// EndpointSlices for every Service with a selector, owned by the Service; the planning is in slices.ts.
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { lookupKind } from '../../api/resources.ts';
import { matchLabels, selectorFromSet } from '../../api/selectors.ts';
import { keyOf, type SharedInformer } from '../../client/informer.ts';
import { podEndpointFacts, serviceSelector, servicesSelecting } from '../endpoints/index.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { SliceController } from './base.ts';
import { CONTROLLER_NAME, desiredGroups, planSlices } from './slices.ts';
import type { SlicePlan } from './tracker.ts';

export * from './slices.ts';

const podInfo = lookupKind('v1', 'Pod')!;
/** newEndpointSliceController is the controller-manager entry of the EndpointSlice controller. */
export function newEndpointSliceController(ctx: ControllerContext): Controller {
  return new EndpointSliceController(ctx);
}

export class EndpointSliceController extends SliceController {
  readonly name = 'endpointslice-controller';
  private pods!: SharedInformer;

  constructor(ctx: ControllerContext) {
    super(ctx, CONTROLLER_NAME);
  }

  protected watchSources(enqueue: (key: string | undefined) => void): SharedInformer[] {
    this.pods = this.ctx.informers.informerFor(podInfo);
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
    return [this.pods];
  }

  /** reconcile plans a Service's slices. A deleted Service's slices go with it through their ownerReference (garbage collector). */
  protected reconcile(namespace: string, name: string, existing: EndpointSlice[]): SlicePlan | undefined {
    const svc = this.services.get(namespace, name) as Service | undefined;
    if (!svc) return;
    // ExternalName services get no endpoints (upstream issue 105986); services without a selector get theirs out of band
    if (svc.spec?.type === 'ExternalName') return;
    const selector = serviceSelector(svc);
    if (!selector) return;
    const reqs = selectorFromSet(selector);
    const pods = this.pods.list(namespace).filter((p) => matchLabels(reqs, p.metadata.labels)) as Pod[];
    const mine: EndpointSlice[] = [];
    const foreign: EndpointSlice[] = [];
    for (const s of existing) {
      if (s.addressType !== 'IPv4') continue;
      // a slice of an earlier Service of the same name is not ours to reuse
      const owned = (s.metadata?.ownerReferences ?? []).some((r) => r.uid === svc.metadata?.uid && r.controller);
      (owned ? mine : foreign).push(s);
    }
    const plan = planSlices(svc, desiredGroups(svc, pods), mine);
    plan.delete.push(...foreign);
    return plan;
  }
}
