// status.test: pod phase rules, container statuses and conditions.
import { describe, expect, it } from 'vitest';
import type { ContainerInfo } from './runtime/index.ts';
import { computePodStatus, containerStatus, deepEqual, k8sTime, podPhase } from './status.ts';
import type { ContainerView } from './status.ts';

function ci(state: ContainerInfo['state'], over: Partial<ContainerInfo> = {}): ContainerInfo {
  return { id: 'abc', name: 'x', labels: {}, podUid: 'u', namespace: 'ns', podName: 'p', containerName: 'c', attempt: 0, isSandbox: false, state, createdAt: '2026-01-01T00:00:00.5Z', startedAt: '2026-01-01T00:00:01.123456789Z', image: 'img', imageID: 'sha256:ff', oomKilled: false, ...over };
}
const view = (current?: ContainerInfo, over: Partial<ContainerView> = {}): ContainerView => ({ history: { current, older: [] }, ready: true, started: true, ...over });
const running = { state: { running: {} }, lastState: {} };
const exited = (code: number) => ({ state: { terminated: { exitCode: code } }, lastState: {} });
const waitingAfter = (code: number) => ({ state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: code } } });
const waitingNew = { state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} };

describe('podPhase', () => {
  it.each([
    ['Always', [], [running], 0, 'Running'],
    ['Always', [], [waitingNew], 0, 'Pending'],
    ['Always', [], [exited(0)], 0, 'Running'],
    ['Always', [], [waitingAfter(1)], 0, 'Running'],
    ['OnFailure', [], [exited(0), exited(0)], 0, 'Succeeded'],
    ['OnFailure', [], [exited(1)], 0, 'Running'],
    ['Never', [], [exited(0), exited(1)], 0, 'Failed'],
    ['Never', [], [exited(0), running], 0, 'Running'],
    ['Never', [], [exited(0)], 0, 'Succeeded'],
    ['Always', [running], [waitingNew], 1, 'Pending'],
    ['Never', [exited(1)], [waitingNew], 1, 'Failed'],
    ['OnFailure', [waitingAfter(1)], [waitingNew], 1, 'Pending'],
    ['Always', [exited(0)], [running], 1, 'Running'],
    ['Always', [], [undefined], 0, 'Pending'],
  ] as const)('%s init=%j app=%j → %s', (policy, init, app, n, phase) => expect(podPhase(policy, init as any, app as any, n)).toBe(phase));
});

describe('containerStatus', () => {
  it('reports a running container with its previous termination', () => {
    const prev = ci('exited', { id: 'old', exitCode: 137, finishedAt: '2026-01-01T00:00:00Z', attempt: 0 });
    const s = containerStatus({ name: 'c', image: 'img' }, view(ci('running', { attempt: 1 }), { history: { current: ci('running', { attempt: 1 }), previous: prev, older: [] } }), 'ContainerCreating');
    expect(s).toMatchObject({
      name: 'c',
      ready: true,
      started: true,
      restartCount: 1,
      state: { running: { startedAt: '2026-01-01T00:00:01Z' } },
      lastState: { terminated: { exitCode: 137, reason: 'Error', containerID: 'docker://old' } },
      containerID: 'docker://abc',
      imageID: 'docker://sha256:ff',
    });
  });
  it('reports waiting reasons with the last termination, and OOMKilled', () => {
    const s = containerStatus({ name: 'c', image: 'img' }, view(ci('exited', { exitCode: 137, oomKilled: true }), { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } }), 'ContainerCreating');
    expect(s.state).toEqual({ waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } });
    expect((s.lastState as any).terminated.reason).toBe('OOMKilled');
    expect(s.ready).toBe(false);
  });
  it('reports Completed for exit 0 and the default waiting reason without a container', () => {
    expect((containerStatus({ name: 'c', image: 'i' }, view(ci('exited', { exitCode: 0 })), 'x').state as any).terminated.reason).toBe('Completed');
    expect(containerStatus({ name: 'c', image: 'i' }, undefined, 'PodInitializing').state).toEqual({ waiting: { reason: 'PodInitializing' } });
  });
  it('is not ready while the readiness probe fails', () => {
    expect(containerStatus({ name: 'c', image: 'i' }, view(ci('running'), { ready: false }), 'x').ready).toBe(false);
  });
});

describe('computePodStatus', () => {
  const pod = (status: any = {}) => ({ metadata: { name: 'p', uid: 'u' }, spec: { restartPolicy: 'Always', containers: [{ name: 'c', image: 'i' }] }, status });
  it('builds conditions, IPs and start time; keeps transition times when unchanged', () => {
    const s = computePodStatus({ pod: pod({ qosClass: 'BestEffort' }), now: 'T1', hostIP: '1.2.3.4', podIP: '10.0.0.2', sandboxReady: true, containers: new Map([['c', view(ci('running'))]]), initContainers: new Map() });
    expect(s.phase).toBe('Running');
    expect(s.qosClass).toBe('BestEffort');
    expect(s.podIP).toBe('10.0.0.2');
    expect(s.podIPs).toEqual([{ ip: '10.0.0.2' }]);
    expect(s.hostIPs).toEqual([{ ip: '1.2.3.4' }]);
    expect(s.startTime).toBe('T1');
    expect(s.conditions.map((c: any) => `${c.type}=${c.status}`)).toEqual(['PodReadyToStartContainers=True', 'Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True']);
    const s2 = computePodStatus({ pod: pod(s), now: 'T2', hostIP: '1.2.3.4', podIP: '10.0.0.2', sandboxReady: true, containers: new Map([['c', view(ci('running'), { ready: false })]]), initContainers: new Map() });
    const ready = s2.conditions.find((c: any) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [c]', lastTransitionTime: 'T2' });
    expect(s2.conditions.find((c: any) => c.type === 'Initialized').lastTransitionTime).toBe('T1');
    expect(s2.startTime).toBe('T1');
  });
  it('never leaves a terminal phase', () => {
    const s = computePodStatus({ pod: pod({ phase: 'Succeeded' }), now: 'T', hostIP: 'h', podIP: '', sandboxReady: false, containers: new Map([['c', view(ci('running'))]]), initContainers: new Map() });
    expect(s.phase).toBe('Succeeded');
  });
  it('waits in PodInitializing while init containers run', () => {
    const p = { metadata: { name: 'p' }, spec: { restartPolicy: 'Always', initContainers: [{ name: 'i', image: 'i' }], containers: [{ name: 'c', image: 'i' }] } };
    const s = computePodStatus({ pod: p, now: 'T', hostIP: 'h', podIP: 'ip', sandboxReady: true, containers: new Map(), initContainers: new Map([['i', view(ci('running'))]]) });
    expect(s.phase).toBe('Pending');
    expect(s.containerStatuses[0].state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(s.conditions.find((c: any) => c.type === 'Initialized')).toMatchObject({ status: 'False', reason: 'ContainersNotInitialized', message: 'containers with incomplete status: [i]' });
  });
});

describe('helpers', () => {
  it('k8sTime truncates to seconds and drops Docker zero times', () => {
    expect(k8sTime('2026-01-01T00:00:01.999999999Z')).toBe('2026-01-01T00:00:01Z');
    expect(k8sTime('0001-01-01T00:00:00Z')).toBeUndefined();
  });
  it('deepEqual ignores key order and undefined', () => {
    expect(deepEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 2 })).toBe(false);
  });
});
