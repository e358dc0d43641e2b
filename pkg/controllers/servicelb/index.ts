// servicelb: the ServiceLB controller (k3s's servicelb without its DaemonSet pods) — LoadBalancer Services without a
// loadBalancerClass get status.loadBalancer.ingress = the Ready nodes' IPs, where every agent's proxy listens on the
// service port; the planning is in plan.ts.
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import { ApiError } from '../../api/errors.ts';
import { lookupKind } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import { keyOf, type SharedInformer } from '../../client/informer.ts';
import { WorkQueue } from '../../client/queue.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { splitKey, startWorkers, type SyncResult, type Workers } from '../worker.ts';
import { lbNodeIngress, nodeAddress, nodeIsReady, planIngress } from './plan.ts';

export * from './plan.ts';

const serviceInfo = lookupKind('v1', 'Service')!;
const nodeInfo = lookupKind('v1', 'Node')!;

/** newServiceLbController is the controller-manager entry of ServiceLB. */
export function newServiceLbController(ctx: ControllerContext): Controller {
  return new ServiceLbController(ctx);
}

/** nodeFacts is what of a node changes the ingress lists (other node updates, such as heartbeats, are ignored). */
function nodeFacts(n: Node): string {
  return JSON.stringify([nodeAddress(n), nodeIsReady(n), !!n.spec?.unschedulable, !!n.metadata?.deletionTimestamp]);
}

export class ServiceLbController implements Controller {
  readonly name = 'servicelb-controller';
  private readonly ctx: ControllerContext;
  private readonly queue = new WorkQueue();
  private services!: SharedInformer;
  private nodes!: SharedInformer;
  private workers: Workers | undefined;

  constructor(ctx: ControllerContext) {
    this.ctx = ctx;
  }

  start(): void {
    this.services = this.ctx.informers.informerFor(serviceInfo);
    this.nodes = this.ctx.informers.informerFor(nodeInfo);
    const interesting = (s: KubeObject) => (s.spec as Service['spec'])?.type === 'LoadBalancer' || !!(s.status as Service['status'])?.loadBalancer?.ingress?.length;
    this.services.addEventHandler({
      add: (s) => interesting(s) && this.queue.add(keyOf(s)),
      update: (_o, s) => interesting(s) && this.queue.add(keyOf(s)),
    });
    const all = () => {
      for (const s of this.services.list()) if (interesting(s)) this.queue.add(keyOf(s));
    };
    this.nodes.addEventHandler({
      add: all,
      update: (o, n) => nodeFacts(o as Node) !== nodeFacts(n as Node) && all(),
      delete: all,
    });
    this.workers = startWorkers(this.queue, [this.services.synced, this.nodes.synced], this.ctx.options.workers, (key) => this.sync(key), this.ctx.log);
  }

  async stop(): Promise<void> {
    await this.workers?.stop();
  }

  private async sync(key: string): Promise<SyncResult> {
    const { namespace, name } = splitKey(key);
    const svc = this.services.get(namespace, name) as Service | undefined;
    if (!svc) return;
    const ingress = planIngress(svc, lbNodeIngress(this.nodes.list() as Node[]));
    if (!ingress) return;
    const next: Service = { ...structuredClone(svc), status: { ...svc.status, loadBalancer: ingress.length ? { ingress } : {} } };
    try {
      await this.ctx.client.updateStatus(serviceInfo, next as unknown as KubeObject);
    } catch (e) {
      if (e instanceof ApiError && (e.code === 404 || e.code === 409)) return e.code === 409 ? { requeueAfterMs: 100 } : undefined;
      throw e;
    }
  }
}
