// verdict.test: the quick start's judgement of the example's pods, by table.
import type { Event, Pod } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { podVerdict, pullFailure, registryOf, rolloutPending } from './verdict.ts';

const NOW = Date.parse('2026-01-01T00:10:00Z');
const pod = (over: Partial<Pod['status']> & { nodeName?: string; created?: string } = {}): Pod => ({
  metadata: { name: 'client-pod', uid: 'u1', creationTimestamp: over.created ?? '2026-01-01T00:09:50Z' },
  spec: { ...(over.nodeName === undefined ? { nodeName: 'n1' } : over.nodeName ? { nodeName: over.nodeName } : {}), containers: [{ name: 'client', image: 'stephengrider/multi-client' }] },
  status: { phase: over.phase ?? 'Pending', containerStatuses: over.containerStatuses, message: over.message },
});
const ev = (reason: string, message: string, at = '2026-01-01T00:09:55Z'): Event => ({
  metadata: { name: `e-${reason}-${at}` },
  involvedObject: { kind: 'Pod', name: 'client-pod', uid: 'u1' },
  reason,
  message,
  lastTimestamp: at,
});
const waiting = (reason: string) => [{ name: 'client', image: 'stephengrider/multi-client', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason } } }];

describe('podVerdict', () => {
  it.each([
    ['running and ready', pod({ phase: 'Running', containerStatuses: [{ name: 'client', image: 'stephengrider/multi-client', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] }), [], 'running', ''],
    ['running the old image after an update', pod({ phase: 'Running', containerStatuses: [{ name: 'client', image: 'old/image:1', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] }), [], 'waiting', 'pod client-pod: container client is being replaced (image old/image:1 → stephengrider/multi-client)'],
    ['pulling: the latest event says so', pod({ containerStatuses: waiting('ContainerCreating') }), [ev('Scheduled', 'Successfully assigned default/client-pod to n1', '2026-01-01T00:09:51Z'), ev('Pulling', 'Pulling image "stephengrider/multi-client"')], 'waiting', 'pod client-pod on n1: Pulling image "stephengrider/multi-client"'],
    ['pull failed: no route to Docker Hub', pod({ containerStatuses: waiting('ImagePullBackOff') }), [ev('Failed', 'Failed to pull image "stephengrider/multi-client": dial tcp: lookup registry-1.docker.io: no such host'), ev('Failed', 'Error: ErrImagePull', '2026-01-01T00:09:56Z')], 'stuck', 'pod client-pod is not running (ImagePullBackOff): image stephengrider/multi-client could not be pulled: no route to Docker Hub (dial tcp: lookup registry-1.docker.io: no such host) — set KUBELING_EXAMPLE_IMAGE or a registry mirror'],
    ['crash loop', pod({ containerStatuses: [{ ...waiting('CrashLoopBackOff')[0]!, lastState: { terminated: { exitCode: 3, reason: 'Error' } } }] }), [], 'stuck', 'pod client-pod is not running (CrashLoopBackOff): its container keeps exiting (last exit code 3, Error) — see `kubeling kubectl logs client-pod`'],
    ['unscheduled for a moment', pod({ nodeName: '' }), [ev('FailedScheduling', '0/1 nodes are available: 1 node(s) were unschedulable.')], 'waiting', 'pod client-pod waits for a node: 0/1 nodes are available: 1 node(s) were unschedulable.'],
    ['unscheduled for long', pod({ nodeName: '', created: '2026-01-01T00:00:00Z' }), [], 'stuck', 'pod client-pod waits for a node — see `kubeling status`'],
    ['failed', pod({ phase: 'Failed', message: 'evicted' }), [], 'stuck', 'pod client-pod has failed: evicted'],
  ])('%s', (_name, p, events, kind, line) => {
    const v = podVerdict(p, events as Event[], NOW);
    expect(v.kind).toBe(kind);
    if (v.kind !== 'running') expect(v.line).toBe(line);
  });

  it('ignores events of other pods', () => {
    const other = { ...ev('Pulling', 'Pulling image "other"', '2026-01-01T00:09:59Z'), involvedObject: { kind: 'Pod', name: 'x', uid: 'u2' } };
    const v = podVerdict(pod({ containerStatuses: waiting('ContainerCreating') }), [ev('Pulling', 'Pulling image "stephengrider/multi-client"'), other], NOW);
    expect(v.kind === 'waiting' && v.line).toMatch(/stephengrider/);
  });
});

describe('pullFailure', () => {
  it.each([
    ['denied', 'Failed to pull image "r.example/a:1": unauthorized: authentication required', 'image r.example/a:1 could not be pulled: r.example refused access (unauthorized: authentication required) — give the pod imagePullSecrets or set KUBELING_EXAMPLE_IMAGE'],
    ['missing', 'Failed to pull image "r.example/a:1": manifest unknown', 'image r.example/a:1 could not be pulled: r.example has no such image (manifest unknown) — check the name or set KUBELING_EXAMPLE_IMAGE'],
    ['other', 'Failed to pull image "r.example/a:1": disk full', 'image r.example/a:1 could not be pulled: disk full — set KUBELING_EXAMPLE_IMAGE or a registry mirror'],
  ])('%s', (_n, message, want) => {
    expect(pullFailure('r.example/a:1', [ev('Failed', message)])).toBe(want);
  });

  it.each([
    ['stephengrider/multi-client', 'Docker Hub'],
    ['busybox', 'Docker Hub'],
    ['docker.io/library/busybox', 'Docker Hub'],
    ['localhost:5000/a', 'localhost:5000'],
    ['registry.invalid/multi-client:1', 'registry.invalid'],
  ])('registryOf(%s) = %s', (image, want) => expect(registryOf(image)).toBe(want));
});

describe('rolloutPending', () => {
  const d = (generation: number, status: Record<string, number>, replicas = 2) => ({ metadata: { name: 'client-deployment', generation }, spec: { replicas }, status });
  it.each([
    ['not observed yet', d(2, { observedGeneration: 1, updatedReplicas: 2, replicas: 2, availableReplicas: 2 }), 'deployment client-deployment: waiting for the controller to see the change'],
    ['new replicas coming', d(2, { observedGeneration: 2, updatedReplicas: 1, replicas: 3, availableReplicas: 2 }), 'deployment client-deployment: 1 of 2 replicas updated'],
    ['old replicas going', d(2, { observedGeneration: 2, updatedReplicas: 2, replicas: 3, availableReplicas: 2 }), 'deployment client-deployment: 1 old replicas pending termination'],
    ['not available yet', d(2, { observedGeneration: 2, updatedReplicas: 2, replicas: 2, availableReplicas: 1 }), 'deployment client-deployment: 1 of 2 updated replicas available'],
    ['done', d(2, { observedGeneration: 2, updatedReplicas: 2, replicas: 2, availableReplicas: 2 }), undefined],
  ])('%s', (_n, dep, want) => expect(rolloutPending(dep)).toBe(want));
});
