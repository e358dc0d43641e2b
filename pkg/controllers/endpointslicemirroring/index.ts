// endpointslicemirroring: the EndpointSliceMirroring controller (upstream pkg/controller/endpointslicemirroring) —
// mirrors the Endpoints users write for Services without a selector into EndpointSlices; the planning is in mirror.ts.
import type { Endpoints, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { lookupKind } from '../../api/resources.ts';
import { keyOf, type SharedInformer } from '../../client/informer.ts';
import { SliceController } from '../endpointslice/base.ts';
import type { SlicePlan } from '../endpointslice/tracker.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { MIRRORING_CONTROLLER_NAME, planMirror, shouldMirror } from './mirror.ts';

export * from './mirror.ts';

const endpointsInfo = lookupKind('v1', 'Endpoints')!;
/** newEndpointSliceMirroringController is the controller-manager entry of the mirroring controller. */
export function newEndpointSliceMirroringController(ctx: ControllerContext): Controller {
  return new EndpointSliceMirroringController(ctx);
}

export class EndpointSliceMirroringController extends SliceController {
  readonly name = 'endpointslicemirroring-controller';
  private endpoints!: SharedInformer;

  constructor(ctx: ControllerContext) {
    super(ctx, MIRRORING_CONTROLLER_NAME);
  }

  protected watchSources(enqueue: (key: string | undefined) => void): SharedInformer[] {
    this.endpoints = this.ctx.informers.informerFor(endpointsInfo);
    for (const inf of [this.services, this.endpoints]) {
      inf.addEventHandler({
        add: (o) => enqueue(keyOf(o)),
        update: (_o, n) => enqueue(keyOf(n)),
        delete: (o) => enqueue(keyOf(o)),
      });
    }
    return [this.endpoints];
  }

  /** reconcile mirrors an Endpoints of a Service without a selector. */
  protected reconcile(namespace: string, name: string, existing: EndpointSlice[]): SlicePlan | undefined {
    const ep = this.endpoints.get(namespace, name) as Endpoints | undefined;
    const svc = this.services.get(namespace, name) as Service | undefined;
    return planMirror(shouldMirror(ep, svc) ? ep : undefined, existing);
  }
}
