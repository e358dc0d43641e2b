// namespace: the namespace controller — empties a terminating namespace through the API, then removes the `kubernetes`
// finalizer through namespaces/finalize so the API server deletes it (upstream's namespace controller and deleter).
import type { Namespace } from 'kubernetes-types/core/v1.js';
import { ApiError } from '../../api/errors.ts';
import { RESOURCES, lookupKind, type ResourceInfo } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import { WorkQueue } from '../../client/queue.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { startWorkers, type SyncResult, type Workers } from '../worker.ts';
import { FINALIZER, deletionConditions, deletionOrder, emptyReport, isEmpty, mergeConditions, retryDelayMs, type ContentReport } from './plan.ts';

export { FINALIZER, deletionConditions, deletionOrder, mergeConditions, retryDelayMs } from './plan.ts';

const nsInfo = lookupKind('v1', 'Namespace')!;
/** LIST_PAGE and DELETE_BATCH bound one pass: objects listed per page, deletes in flight at once. */
const LIST_PAGE = 500;
const DELETE_BATCH = 32;

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * newNamespaceController watches Namespaces; for one with a deletionTimestamp and the `kubernetes` finalizer it
 * deletes every namespaced object (workloads first, then the rest, pods, events last), records upstream's deletion
 * conditions in status, and once nothing is left removes the finalizer. Content still going is looked at again
 * with a short, growing delay.
 */
export function newNamespaceController(ctx: ControllerContext, resources: ResourceInfo[] = RESOURCES): Controller {
  const log = ctx.log;
  const client = ctx.client;
  const namespaces = ctx.informers.informerFor(nsInfo);
  const queue = new WorkQueue();
  const order = deletionOrder(resources);
  const attempts = new Map<string, number>();
  let running: Workers | undefined;

  const terminating = (ns: KubeObject) => !!ns.metadata.deletionTimestamp && !!(ns as Namespace).spec?.finalizers?.includes(FINALIZER);
  const enqueue = (ns: KubeObject) => {
    if (terminating(ns)) queue.add(ns.metadata.name!);
  };

  /**
   * deleteContent makes one pass: delete what is not yet being deleted, count what is still there. Lists go in pages
   * and each page's deletes run concurrently in small batches, so a namespace of tens of thousands of objects is
   * neither held in memory at once nor deleted one commit at a time.
   */
  const deleteContent = async (name: string): Promise<ContentReport> => {
    const report = emptyReport();
    const remove = async (info: (typeof order)[number], item: KubeObject): Promise<void> => {
      await client.delete(info, name, item.metadata.name!, { propagationPolicy: 'Background' }).catch((e) => {
        if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
      });
    };
    for (const info of order) {
      try {
        let cont: string | undefined;
        let count = 0;
        do {
          const page = await client.list(info, name, { limit: LIST_PAGE, ...(cont ? { continue: cont } : {}) });
          cont = page.metadata?.continue || undefined;
          count += page.items.length;
          const doomed: KubeObject[] = [];
          for (const item of page.items) {
            for (const f of item.metadata.finalizers ?? []) report.finalizers.set(f, (report.finalizers.get(f) ?? 0) + 1);
            // a pod is deleted again each pass: it may have been left with a long grace period by someone else
            if (item.metadata.deletionTimestamp && info.kind !== 'Pod') continue;
            doomed.push(item);
          }
          for (let i = 0; i < doomed.length; i += DELETE_BATCH) await Promise.all(doomed.slice(i, i + DELETE_BATCH).map((item) => remove(info, item)));
        } while (cont);
        if (count) report.remaining.set(info.resource, count);
      } catch (e) {
        report.failures.set(info.resource, e instanceof Error ? e.message : String(e));
      }
    }
    return report;
  };

  const writeConditions = async (ns: KubeObject, report: ContentReport): Promise<void> => {
    const status = (ns as Namespace).status ?? {};
    const conditions = mergeConditions(status.conditions, deletionConditions(report), now());
    if (!conditions) return;
    const next = structuredClone(ns);
    next.status = { ...status, phase: 'Terminating', conditions };
    await client.updateStatus(nsInfo, next).catch((e) => {
      if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
    });
  };

  const reconcile = async (name: string): Promise<SyncResult> => {
    const cached = namespaces.get(undefined, name);
    if (!cached || !terminating(cached)) {
      attempts.delete(name);
      return;
    }
    const report = await deleteContent(name);
    // read the namespace afresh: the conditions and the finalize go against its newest version
    const ns = await client.getOrUndefined(nsInfo, undefined, name);
    if (!ns || !terminating(ns)) return;
    await writeConditions(ns, report);
    if (!isEmpty(report)) {
      const n = attempts.get(name) ?? 0;
      attempts.set(name, n + 1);
      if (report.failures.size) log.warn({ namespace: name, failures: Object.fromEntries(report.failures) }, 'namespace content deletion failed; retrying');
      return { requeueAfterMs: retryDelayMs(n) };
    }
    attempts.delete(name);
    const fresh = await client.get(nsInfo, undefined, name);
    const next = structuredClone(fresh);
    next.spec = { ...(next.spec ?? {}), finalizers: ((fresh as Namespace).spec?.finalizers ?? []).filter((f) => f !== FINALIZER) };
    await client.update(nsInfo, next, 'finalize');
    log.info({ namespace: name }, 'namespace emptied and finalized');
  };

  return {
    name: 'namespace',
    start() {
      namespaces.addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n) });
      running = startWorkers(queue, [namespaces.synced], ctx.options.workers, reconcile, log);
    },
    async stop() {
      await running?.stop();
    },
  };
}
