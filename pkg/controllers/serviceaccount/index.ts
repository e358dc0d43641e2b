// serviceaccount: two controller-manager loops per namespace — the serviceaccount controller (a `default`
// ServiceAccount, re-created if deleted) and the root-ca-cert-publisher (ConfigMap kube-root-ca.crt with the cluster
// CA); the decisions are in plan.ts.
import type { ConfigMap, Namespace, ServiceAccount } from 'kubernetes-types/core/v1.js';
import { ApiError } from '../../api/errors.ts';
import { lookupKind } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import type { SharedInformer } from '../../client/informer.ts';
import { WorkQueue } from '../../client/queue.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { startWorkers, type SyncResult, type Workers } from '../worker.ts';
import { MANAGED_SERVICE_ACCOUNTS, ROOT_CA_CONFIGMAP, missingServiceAccounts, planRootCa } from './plan.ts';

export * from './plan.ts';

const nsInfo = lookupKind('v1', 'Namespace')!;
const saInfo = lookupKind('v1', 'ServiceAccount')!;
const cmInfo = lookupKind('v1', 'ConfigMap')!;

/** newServiceAccountsController is the controller-manager entry of the serviceaccount controller. */
export function newServiceAccountsController(ctx: ControllerContext): Controller {
  return new NamespaceLoop(ctx, 'serviceaccount-controller', saInfo, (o) => MANAGED_SERVICE_ACCOUNTS.includes(o.metadata.name!), async (loop, ns) => {
    for (const sa of missingServiceAccounts(ns, (n) => loop.objects.get(ns?.metadata?.name, n) as ServiceAccount | undefined)) {
      await loop.tolerate(ctx.client.create(saInfo, sa.metadata!.namespace, sa as unknown as KubeObject), 409);
    }
  });
}

/** newRootCaCertPublisher is the controller-manager entry of the root-ca-cert-publisher (needs options.rootCaPem). */
export function newRootCaCertPublisher(ctx: ControllerContext): Controller {
  const ca = ctx.options.rootCaPem;
  return new NamespaceLoop(ctx, 'root-ca-cert-publisher', cmInfo, (o) => o.metadata.name === ROOT_CA_CONFIGMAP, async (loop, ns) => {
    if (!ca) return;
    const cm = loop.objects.get(ns?.metadata?.name, ROOT_CA_CONFIGMAP) as ConfigMap | undefined;
    const p = planRootCa(ns, cm, ca);
    if (!p) return;
    if ('create' in p) await loop.tolerate(ctx.client.create(cmInfo, p.create.metadata!.namespace, p.create as unknown as KubeObject), 409);
    else await loop.tolerate(ctx.client.update(cmInfo, p.update as unknown as KubeObject), 404);
  });
}

/**
 * NamespaceLoop is the shape both loops share (upstream's serviceaccounts_controller and publisher): namespaces
 * added or changed, and managed objects changed or deleted, enqueue the namespace; sync reads the caches and makes
 * what is missing.
 */
class NamespaceLoop implements Controller {
  readonly name: string;
  objects!: SharedInformer;
  private namespaces!: SharedInformer;
  private readonly queue = new WorkQueue();
  private workers: Workers | undefined;

  private readonly ctx: ControllerContext;
  private readonly info: typeof saInfo;
  private readonly managed: (o: KubeObject) => boolean;
  private readonly syncNamespace: (loop: NamespaceLoop, ns: Namespace | undefined) => Promise<void>;

  constructor(ctx: ControllerContext, name: string, info: typeof saInfo, managed: (o: KubeObject) => boolean, syncNamespace: (loop: NamespaceLoop, ns: Namespace | undefined) => Promise<void>) {
    this.ctx = ctx;
    this.name = name;
    this.info = info;
    this.managed = managed;
    this.syncNamespace = syncNamespace;
  }

  start(): void {
    this.namespaces = this.ctx.informers.informerFor(nsInfo);
    this.objects = this.ctx.informers.informerFor(this.info);
    const ns = (o: KubeObject) => this.queue.add(o.metadata.name!);
    this.namespaces.addEventHandler({ add: ns, update: (_o, n) => ns(n) });
    const obj = (o: KubeObject) => this.managed(o) && this.queue.add(o.metadata.namespace!);
    this.objects.addEventHandler({ update: (_o, n) => obj(n), delete: obj });
    this.workers = startWorkers(this.queue, [this.namespaces.synced, this.objects.synced], this.ctx.options.workers, (key) => this.sync(key), this.ctx.log);
  }

  async stop(): Promise<void> {
    await this.workers?.stop();
  }

  /** tolerate ignores the answers that mean someone else got there first (or the object went meanwhile). */
  async tolerate(p: Promise<unknown>, ...codes: number[]): Promise<void> {
    try {
      await p;
    } catch (e) {
      if (e instanceof ApiError && codes.includes(e.code)) return;
      // a namespace terminating meanwhile refuses new content: its next event brings it back, if it still matters
      if (e instanceof ApiError && e.code === 403 && /is being terminated/.test(e.message)) return;
      throw e;
    }
  }

  private async sync(key: string): Promise<SyncResult> {
    await this.syncNamespace(this, this.namespaces.get(undefined, key) as Namespace | undefined);
  }
}
