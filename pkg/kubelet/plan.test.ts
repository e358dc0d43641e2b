// plan.test: sync decisions — sandbox, init order, restart policies, liveness kills.
import { describe, expect, it } from 'vitest';
import { groupByName, needsSync, planPod, shouldRestart } from './plan.ts';
import type { PlanInput } from './plan.ts';
import type { ContainerInfo } from './runtime/index.ts';

function ci(name: string, state: ContainerInfo['state'], exitCode?: number, attempt = 0): ContainerInfo {
  return { id: `${name}-${attempt}`, name, labels: {}, podUid: 'u', namespace: 'ns', podName: 'p', containerName: name, attempt, isSandbox: false, state, createdAt: `2026-01-01T00:00:0${attempt}Z`, image: 'i', imageID: 'sha256:x', oomKilled: false, ...(exitCode !== undefined ? { exitCode } : {}) };
}

function input(over: Partial<PlanInput>): PlanInput {
  return { restartPolicy: 'Always', initContainers: [], containers: ['a'], sandboxReady: true, sandboxAttempts: 1, current: new Map(), livenessFailed: new Set(), terminal: false, ...over };
}

describe('shouldRestart', () => {
  it.each([
    ['Always', 0, true],
    ['Always', 1, true],
    ['OnFailure', 0, false],
    ['OnFailure', 2, true],
    ['Never', 1, false],
  ] as const)('%s exit %d → %s', (p, code, r) => expect(shouldRestart(p, code)).toBe(r));
});

describe('planPod', () => {
  it('creates the sandbox and starts the first init container on first sync', () => {
    expect(planPod(input({ sandboxReady: false, sandboxAttempts: 0, initContainers: ['i1', 'i2'] }))).toMatchObject({ createSandbox: true, killPod: false, startInit: 'i1', start: [] });
  });
  it('creates the sandbox and starts all app containers without init containers', () => {
    expect(planPod(input({ sandboxReady: false, sandboxAttempts: 0, containers: ['a', 'b'] }))).toMatchObject({ createSandbox: true, start: ['a', 'b'] });
  });
  it('runs init containers in order, waiting for the running one', () => {
    const cur = new Map([['i1', ci('i1', 'exited', 0)], ['i2', ci('i2', 'running')]]);
    const waiting = planPod(input({ initContainers: ['i1', 'i2'], current: cur }));
    expect(waiting.start).toEqual([]);
    expect(waiting.startInit).toBeUndefined();
    expect(waiting.killPod).toBe(false);
    cur.set('i2', ci('i2', 'exited', 0));
    expect(planPod(input({ initContainers: ['i1', 'i2'], current: cur }))).toMatchObject({ start: ['a'] });
  });
  it('restarts a failed init container unless Never, where the pod fails', () => {
    const cur = new Map([['i1', ci('i1', 'exited', 1)]]);
    expect(planPod(input({ initContainers: ['i1'], current: cur })).startInit).toBe('i1');
    expect(planPod(input({ initContainers: ['i1'], current: cur, restartPolicy: 'Never' }))).toMatchObject({ initFailed: true, killPod: true });
  });
  it.each([
    ['Always', 0, ['a']],
    ['Always', 1, ['a']],
    ['OnFailure', 0, []],
    ['OnFailure', 1, ['a']],
    ['Never', 1, []],
  ] as const)('%s with exit %d starts %j', (policy, code, start) => {
    const p = planPod(input({ restartPolicy: policy, current: new Map([['a', ci('a', 'exited', code)]]) }));
    expect(p.start).toEqual(start);
    expect(p.killPod).toBe(start.length === 0);
  });
  it('kills and restarts a container whose liveness probe failed (not under Never)', () => {
    const cur = new Map([['a', ci('a', 'running')]]);
    expect(planPod(input({ current: cur, livenessFailed: new Set(['a']) }))).toMatchObject({ kill: ['a'], start: ['a'] });
    expect(planPod(input({ current: cur, livenessFailed: new Set(['a']), restartPolicy: 'Never' }))).toMatchObject({ kill: ['a'], start: [] });
    // a changed definition (image update) restarts whatever the restart policy, as upstream's containerChanged
    expect(planPod(input({ current: cur, specChanged: new Set(['a']), restartPolicy: 'Never' }))).toMatchObject({ kill: ['a'], start: ['a'], killPod: false });
  });
  it('recreates a dead sandbox and restarts everything under Always', () => {
    const cur = new Map([['a', ci('a', 'running')]]);
    expect(planPod(input({ sandboxReady: false, current: cur }))).toMatchObject({ killPod: true, createSandbox: true, start: ['a'] });
  });
  it('does not recreate the sandbox for Never pods that ran, nor OnFailure pods that succeeded', () => {
    expect(planPod(input({ sandboxReady: false, restartPolicy: 'Never', current: new Map([['a', ci('a', 'exited', 1)]]) }))).toMatchObject({ createSandbox: false, killPod: true });
    expect(planPod(input({ sandboxReady: false, restartPolicy: 'OnFailure', current: new Map([['a', ci('a', 'exited', 0)]]) }))).toMatchObject({ createSandbox: false, killPod: true });
  });
  it('keeps adopted running containers as they are', () => {
    expect(planPod(input({ current: new Map([['a', ci('a', 'running', undefined, 3)]]) }))).toMatchObject({ killPod: false, createSandbox: false, start: [], kill: [] });
  });
  it('does nothing but kill for terminal pods', () => {
    expect(planPod(input({ terminal: true }))).toMatchObject({ killPod: true, start: [] });
  });
});

describe('groupByName', () => {
  it('orders attempts newest first and separates older ones', () => {
    const g = groupByName([ci('a', 'exited', 1, 0), ci('a', 'running', undefined, 2), ci('a', 'exited', 1, 1), { ...ci('POD', 'running'), isSandbox: true }]);
    expect(g.get('a')!.current!.attempt).toBe(2);
    expect(g.get('a')!.previous!.attempt).toBe(1);
    expect(g.get('a')!.older.map((c) => c.attempt)).toEqual([0]);
    expect(g.has('POD')).toBe(false);
  });
});

describe('needsSync', () => {
  const base = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'u1', resourceVersion: '5', labels: { a: '1' } }, spec: { nodeName: 'n', containers: [{ name: 'c', image: 'i' }] }, status: { phase: 'Pending' } };
  const next = (patch: (p: any) => void) => {
    const p = structuredClone(base) as any;
    p.metadata.resourceVersion = '6';
    patch(p);
    return p;
  };
  it('ignores status-only updates (the kubelet\'s own writes coming back)', () => {
    expect(needsSync(base, next((p) => (p.status = { phase: 'Running' })))).toBe(false);
    expect(needsSync(base, next((p) => (p.metadata.managedFields = [{ manager: 'x' }])))).toBe(false);
  });
  it('syncs on spec, label, annotation and deletion changes, new pods and a new uid', () => {
    expect(needsSync(undefined, base)).toBe(true);
    expect(needsSync(base, next((p) => (p.spec.containers[0].image = 'j')))).toBe(true);
    expect(needsSync(base, next((p) => (p.metadata.labels.a = '2')))).toBe(true);
    expect(needsSync(base, next((p) => (p.metadata.annotations = { x: 'y' })))).toBe(true);
    expect(needsSync(base, next((p) => (p.metadata.deletionTimestamp = '2024-01-01T00:00:00Z')))).toBe(true);
    expect(needsSync(base, next((p) => (p.metadata.uid = 'u2')))).toBe(true);
  });
});
