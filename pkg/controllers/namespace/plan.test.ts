// plan.test: table tests of the namespace controller's pure parts.
import { describe, expect, it } from 'vitest';
import { RESOURCES } from '../../api/resources.ts';
import { deletionConditions, deletionOrder, emptyReport, isEmpty, mergeConditions, retryDelayMs } from './plan.ts';

describe('deletionOrder', () => {
  it('puts workloads first, pods after the rest, events last; no cluster-scoped kinds', () => {
    const kinds = deletionOrder(RESOURCES).map((r) => r.kind);
    expect(kinds).not.toContain('Namespace');
    expect(kinds).not.toContain('Node');
    const at = (k: string) => kinds.indexOf(k);
    for (const w of ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController']) {
      expect(at(w)).toBeLessThan(at('ConfigMap'));
      expect(at(w)).toBeLessThan(at('Pod'));
    }
    expect(at('Service')).toBeLessThan(at('Pod'));
    expect(kinds[kinds.length - 1]).toBe('Event');
  });
});

describe('deletionConditions', () => {
  it.each([
    ['empty', emptyReport(), { NamespaceContentRemaining: ['False', 'ContentRemoved', 'All content successfully removed'], NamespaceDeletionContentFailure: ['False', 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'], NamespaceFinalizersRemaining: ['False', 'ContentHasNoFinalizers', 'All content-preserving finalizers finished'] }],
    [
      'pods and configmaps left, one with a finalizer',
      { remaining: new Map([['pods', 2], ['configmaps', 1]]), finalizers: new Map([['example.com/hold', 1]]), failures: new Map() },
      {
        NamespaceContentRemaining: ['True', 'SomeResourcesRemain', 'Some resources are remaining: configmaps. has 1 resource instances, pods. has 2 resource instances'],
        NamespaceFinalizersRemaining: ['True', 'SomeFinalizersRemain', 'Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances'],
      },
    ],
    [
      'a failure',
      { remaining: new Map(), finalizers: new Map(), failures: new Map([['secrets', 'boom']]) },
      { NamespaceDeletionContentFailure: ['True', 'ContentDeletionFailed', 'Failed to delete all resource types, 1 remaining: secrets: boom'] },
    ],
  ])('%s', (_n, report, want) => {
    const got = Object.fromEntries(deletionConditions(report).map((c) => [c.type, [c.status, c.reason, c.message]]));
    expect(got).toMatchObject(want);
    expect(Object.keys(got)).toHaveLength(5);
  });

  it('isEmpty only without remaining content and failures', () => {
    expect(isEmpty(emptyReport())).toBe(true);
    expect(isEmpty({ ...emptyReport(), failures: new Map([['pods', 'x']]) })).toBe(false);
    expect(isEmpty({ ...emptyReport(), remaining: new Map([['pods', 1]]) })).toBe(false);
  });
});

describe('mergeConditions', () => {
  const want = deletionConditions(emptyReport());
  it('adds all with the time, then reports no change', () => {
    const first = mergeConditions(undefined, want, 'T1')!;
    expect(first).toHaveLength(5);
    expect(first.every((c) => c.lastTransitionTime === 'T1')).toBe(true);
    expect(mergeConditions(first, want, 'T2')).toBeUndefined();
  });
  it('moves lastTransitionTime only when the status flips', () => {
    const first = mergeConditions(undefined, want, 'T1')!;
    const remaining = deletionConditions({ ...emptyReport(), remaining: new Map([['pods', 1]]) });
    const second = mergeConditions(first, remaining, 'T2')!;
    expect(second.find((c) => c.type === 'NamespaceContentRemaining')).toMatchObject({ status: 'True', lastTransitionTime: 'T2' });
    const third = mergeConditions(second, deletionConditions({ ...emptyReport(), remaining: new Map([['pods', 2]]) }), 'T3')!;
    expect(third.find((c) => c.type === 'NamespaceContentRemaining')).toMatchObject({ status: 'True', lastTransitionTime: 'T2', message: 'Some resources are remaining: pods. has 2 resource instances' });
  });
});

describe('retryDelayMs', () => {
  it.each([
    [0, 100],
    [1, 200],
    [3, 800],
    [6, 5000],
    [50, 5000],
  ])('attempt %i → %i ms', (a, ms) => expect(retryDelayMs(a)).toBe(ms));
});
