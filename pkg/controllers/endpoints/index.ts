// endpoints: the Endpoints controller (upstream pkg/controller/endpoint) — keeps an Endpoints object beside every
// Service with a selector, listing the IPs and resolved ports of the pods it selects; the arithmetic is in subsets.ts.
import type { Endpoints, Pod, Service } from 'kubernetes-types/core/v1.js';
import { ApiError } from '../../api/errors.ts';
import { lookupKind } from '../../api/resources.ts';
import { matchLabels, selectorFromSet } from '../../api/selectors.ts';
import type { KubeObject } from '../../api/types.ts';
import { keyOf, type SharedInformer } from '../../client/informer.ts';
import { WorkQueue } from '../../client/queue.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { splitKey, startWorkers, type SyncResult, type Workers } from '../worker.ts';
import { isPodReady, planEndpoints, serviceSelector } from './subsets.ts';

export * from './subsets.ts';

const serviceInfo = lookupKind('v1', 'Service')!;
const podInfo = lookupKind('v1', 'Pod')!;
const endpointsInfo = lookupKind('v1', 'Endpoints')!;

/** API_SERVER_SERVICE is the API server's own Service; its Endpoints are the server's to keep, never this controller's. */
export const API_SERVER_SERVICE = 'default/kubernetes';

/** podEndpointFacts is what of a pod can change its place in Endpoints or EndpointSlices; other updates are ignored. */
export function podEndpointFacts(p: Pod): string {
  return JSON.stringify([
    p.status?.podIP,
    p.status?.podIPs,
    p.status?.phase,
    isPodReady(p),
    p.metadata?.deletionTimestamp,
    p.metadata?.labels,
    p.spec?.nodeName,
    p.spec?.hostname,
    p.spec?.subdomain,
  ]);
}

/**
 * servicesSelecting lists the keys of the cached Services in the pod's namespace whose selector matches the pod's
 * labels (old or new: a pod that stops matching must leave).
 */
export function servicesSelecting(services: SharedInformer, ...pods: KubeObject[]): Set<string> {
  const keys = new Set<string>();
  const ns = pods[0]?.metadata.namespace;
  if (!ns) return keys;
  for (const s of services.list(ns)) {
    const sel = serviceSelector(s as Service);
    if (!sel) continue;
    const reqs = selectorFromSet(sel);
    if (pods.some((p) => matchLabels(reqs, p.metadata.labels))) keys.add(keyOf(s));
  }
  return keys;
}

/** newEndpointsController is the controller-manager entry of the Endpoints controller. */
export function newEndpointsController(ctx: ControllerContext): Controller {
  return new EndpointsController(ctx);
}

export class EndpointsController implements Controller {
  readonly name = 'endpoints-controller';
  private readonly ctx: ControllerContext;
  private readonly queue = new WorkQueue();
  private services!: SharedInformer;
  private pods!: SharedInformer;
  private endpoints!: SharedInformer;
  private workers: Workers | undefined;

  constructor(ctx: ControllerContext) {
    this.ctx = ctx;
  }

  start(): void {
    this.services = this.ctx.informers.informerFor(serviceInfo);
    this.pods = this.ctx.informers.informerFor(podInfo);
    this.endpoints = this.ctx.informers.informerFor(endpointsInfo);
    const enqueue = (k: string) => {
      if (k !== API_SERVER_SERVICE) this.queue.add(k);
    };
    this.services.addEventHandler({
      add: (s) => enqueue(keyOf(s)),
      update: (_o, s) => enqueue(keyOf(s)),
      delete: (s) => enqueue(keyOf(s)),
    });
    this.pods.addEventHandler({
      add: (p) => servicesSelecting(this.services, p).forEach(enqueue),
      update: (o, p) => {
        if (podEndpointFacts(o as Pod) === podEndpointFacts(p as Pod)) return;
        servicesSelecting(this.services, o, p).forEach(enqueue);
      },
      delete: (p) => servicesSelecting(this.services, p).forEach(enqueue),
    });
    // Endpoints changed or deleted behind our back are put right (upstream onEndpointsDelete)
    this.endpoints.addEventHandler({
      update: (_o, e) => enqueue(keyOf(e)),
      delete: (e) => enqueue(keyOf(e)),
    });
    this.workers = startWorkers(this.queue, [this.services.synced, this.pods.synced, this.endpoints.synced], this.ctx.options.workers, (key) => this.sync(key), this.ctx.log);
  }

  async stop(): Promise<void> {
    await this.workers?.stop();
  }

  /** sync is reconcile(`ns/name` of a Service). */
  private async sync(key: string): Promise<SyncResult> {
    if (key === API_SERVER_SERVICE) return;
    const { namespace, name } = splitKey(key);
    const svc = this.services.get(namespace, name) as Service | undefined;
    if (!svc) {
      // the Service is gone: so are its Endpoints
      try {
        await this.ctx.client.delete(endpointsInfo, namespace, name);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
      return;
    }
    const selector = serviceSelector(svc);
    // a Service without a selector gets its Endpoints from its user, out of band (upstream leaves them alone)
    if (!selector) return;
    const reqs = selectorFromSet(selector);
    const pods = this.pods.list(namespace).filter((p) => matchLabels(reqs, p.metadata.labels)) as Pod[];
    const current = this.endpoints.get(namespace, name) as Endpoints | undefined;
    const plan = planEndpoints(svc, pods, current);
    if (plan.action === 'create') await this.ctx.client.create(endpointsInfo, namespace, plan.endpoints as unknown as KubeObject);
    else if (plan.action === 'update') await this.ctx.client.update(endpointsInfo, plan.endpoints as unknown as KubeObject);
  }
}
