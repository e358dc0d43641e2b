// plan: the namespace controller's pure parts — which resources go first, what the deletion conditions say, when to look again.
import type { NamespaceCondition } from 'kubernetes-types/core/v1.js';
import type { ResourceInfo } from '../../api/resources.ts';

/** FINALIZER is the spec.finalizers entry the namespace controller owns (upstream's FinalizerKubernetes). */
export const FINALIZER = 'kubernetes';

/**
 * deletionOrder sorts namespaced resources for emptying a namespace: workloads (apps, batch) first so their
 * controllers stop making pods, then the rest, then pods, and Events last so the deletion can still be reported.
 */
export function deletionOrder(resources: ResourceInfo[]): ResourceInfo[] {
  const rank = (i: ResourceInfo) => (i.kind === 'Event' ? 3 : i.kind === 'Pod' ? 2 : i.group === 'apps' || i.group === 'batch' || i.kind === 'ReplicationController' ? 0 : 1);
  return resources.filter((r) => r.namespaced && r.verbs.includes('list') && r.verbs.includes('delete')).sort((a, b) => rank(a) - rank(b));
}

/** ContentReport is what one pass over a terminating namespace found. */
export interface ContentReport {
  /** resource (plural) → objects still present */
  remaining: Map<string, number>;
  /** finalizer → objects still carrying it */
  finalizers: Map<string, number>;
  /** resource → error text of a list or delete that failed */
  failures: Map<string, string>;
}

export function emptyReport(): ContentReport {
  return { remaining: new Map(), finalizers: new Map(), failures: new Map() };
}

/** isEmpty: nothing left and nothing failed — the `kubernetes` finalizer may go. */
export function isEmpty(r: ContentReport): boolean {
  return r.remaining.size === 0 && r.failures.size === 0;
}

type Cond = Pick<NamespaceCondition, 'type' | 'status' | 'reason' | 'message'>;

/**
 * deletionConditions are upstream's five namespace deletion conditions for a report (updateNamespaceStatusFunc +
 * the deleter's condition updater), e.g. NamespaceContentRemaining True "Some resources are remaining: pods. has 2
 * resource instances".
 */
export function deletionConditions(r: ContentReport): Cond[] {
  const remaining = [...r.remaining].sort(([a], [b]) => a.localeCompare(b)).map(([res, n]) => `${res}. has ${n} resource instances`);
  const fins = [...r.finalizers].sort(([a], [b]) => a.localeCompare(b)).map(([f, n]) => `${f} in ${n} resource instances`);
  const fails = [...r.failures].sort(([a], [b]) => a.localeCompare(b)).map(([res, e]) => `${res}: ${e}`);
  return [
    { type: 'NamespaceDeletionDiscoveryFailure', status: 'False', reason: 'ResourcesDiscovered', message: 'All resources successfully discovered' },
    { type: 'NamespaceDeletionGroupVersionParsingFailure', status: 'False', reason: 'ParsedGroupVersions', message: 'All legacy kube types successfully parsed' },
    fails.length
      ? { type: 'NamespaceDeletionContentFailure', status: 'True', reason: 'ContentDeletionFailed', message: `Failed to delete all resource types, ${fails.length} remaining: ${fails.join(', ')}` }
      : { type: 'NamespaceDeletionContentFailure', status: 'False', reason: 'ContentDeleted', message: 'All content successfully deleted, may be waiting on finalization' },
    remaining.length
      ? { type: 'NamespaceContentRemaining', status: 'True', reason: 'SomeResourcesRemain', message: `Some resources are remaining: ${remaining.join(', ')}` }
      : { type: 'NamespaceContentRemaining', status: 'False', reason: 'ContentRemoved', message: 'All content successfully removed' },
    fins.length
      ? { type: 'NamespaceFinalizersRemaining', status: 'True', reason: 'SomeFinalizersRemain', message: `Some content in the namespace has finalizers remaining: ${fins.join(', ')}` }
      : { type: 'NamespaceFinalizersRemaining', status: 'False', reason: 'ContentHasNoFinalizers', message: 'All content-preserving finalizers finished' },
  ];
}

/**
 * mergeConditions puts `want` into `have`, keeping lastTransitionTime where the status did not change. Returns
 * undefined when nothing changed (no write needed).
 */
export function mergeConditions(have: NamespaceCondition[] | undefined, want: Cond[], now: string): NamespaceCondition[] | undefined {
  const old = new Map((have ?? []).map((c) => [c.type, c]));
  let changed = false;
  const out: NamespaceCondition[] = [];
  for (const w of want) {
    const o = old.get(w.type);
    old.delete(w.type);
    if (o && o.status === w.status && o.reason === w.reason && o.message === w.message) {
      out.push(o);
      continue;
    }
    changed = true;
    out.push({ ...w, lastTransitionTime: o && o.status === w.status ? o.lastTransitionTime : now });
  }
  out.push(...old.values());
  return changed ? out : undefined;
}

/**
 * retryDelayMs is how long to wait before looking again at a namespace whose content is still going: quick at first
 * (controllers and agents usually finish within a second), doubling up to 5 s. E.g. attempts 0,1,2,… → 100, 200, 400 … 5000 ms.
 */
export function retryDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt, 6), 5000);
}
