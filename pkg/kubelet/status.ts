// status: pure computation of a pod's status (phase, conditions, container statuses) from runtime facts.
import type { KubeObject } from '../api/types.ts';
import type { ContainerInfo } from './runtime/index.ts';
import type { ContainerHistory, RestartPolicy } from './plan.ts';

/** Waiting is a reason the kubelet recorded for a container that does not run (ErrImagePull, CrashLoopBackOff…). */
export interface Waiting {
  reason: string;
  message?: string;
}

/** ContainerView is what status needs to know of one spec container. */
export interface ContainerView {
  history: ContainerHistory;
  waiting?: Waiting;
  /** ready: the readiness probe passes (true without one) — only meaningful while running. */
  ready: boolean;
  /** started: the startup probe passed (true without one) — only meaningful while running. */
  started: boolean;
}

export interface PodView {
  pod: KubeObject;
  now: string;
  hostIP: string;
  /** podIP is the sandbox's address ('' when there is none). */
  podIP: string;
  sandboxReady: boolean;
  containers: Map<string, ContainerView>;
  initContainers: Map<string, ContainerView>;
}

/** k8sTime truncates an RFC 3339 time with fractions (Docker's) to whole seconds, as metav1.Time serialises. */
export function k8sTime(t: string | undefined): string | undefined {
  if (!t || t.startsWith('0001-')) return undefined;
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return undefined;
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** terminatedState renders an exited container as a ContainerStateTerminated. */
export function terminatedState(c: ContainerInfo): Record<string, unknown> {
  const exitCode = c.exitCode ?? (c.error ? 128 : 0);
  const reason = c.oomKilled ? 'OOMKilled' : c.error ? 'StartError' : exitCode === 0 ? 'Completed' : 'Error';
  const t: Record<string, unknown> = { exitCode, reason };
  if (c.error) t.message = c.error;
  t.startedAt = k8sTime(c.startedAt) ?? null;
  t.finishedAt = k8sTime(c.finishedAt) ?? null;
  t.containerID = `docker://${c.id}`;
  return t;
}

/** containerStatus builds one v1.ContainerStatus. `defaultWaiting` is the reason when nothing ran yet. */
export function containerStatus(spec: any, v: ContainerView | undefined, defaultWaiting: string): Record<string, unknown> {
  const cur = v?.history.current;
  const prev = v?.history.previous;
  // the image of the container that exists (after an image update, the old one until it is replaced), as upstream
  const s: Record<string, unknown> = { name: spec.name, image: cur?.image || spec.image };
  let state: Record<string, unknown>;
  let lastState: Record<string, unknown> = {};
  let ready = false;
  let started = false;
  if (!cur) {
    state = { waiting: { reason: v?.waiting?.reason ?? defaultWaiting, ...(v?.waiting?.message ? { message: v.waiting.message } : {}) } };
  } else if (cur.state === 'running') {
    state = { running: { startedAt: k8sTime(cur.startedAt) ?? null } };
    if (prev && prev.state === 'exited') lastState = { terminated: terminatedState(prev) };
    ready = v!.ready && v!.started;
    started = v!.started;
  } else if (cur.state === 'exited' && v?.waiting) {
    state = { waiting: { reason: v.waiting.reason, ...(v.waiting.message ? { message: v.waiting.message } : {}) } };
    lastState = { terminated: terminatedState(cur) };
  } else if (cur.state === 'exited') {
    state = { terminated: terminatedState(cur) };
    if (prev && prev.state === 'exited') lastState = { terminated: terminatedState(prev) };
  } else {
    state = { waiting: { reason: v?.waiting?.reason ?? 'ContainerCreating' } };
  }
  s.state = state;
  s.lastState = lastState;
  s.ready = ready;
  s.restartCount = cur?.attempt ?? 0;
  s.started = started;
  if (cur) {
    s.imageID = cur.imageID ? `docker://${cur.imageID}` : '';
    s.containerID = `docker://${cur.id}`;
  } else s.imageID = '';
  return s;
}

/**
 * podPhase applies upstream's getPhase: Pending while init containers are pending or app containers wait for their
 * first run; Failed when an init container failed under Never; Running while any container runs; once all have
 * stopped, Always stays Running, all-zero exits give Succeeded, Never gives Failed, OnFailure stays Running.
 */
export function podPhase(restartPolicy: RestartPolicy, initStatuses: any[], statuses: any[], specInit: number): string {
  let pendingInit = 0;
  let failedInit = 0;
  for (let i = 0; i < specInit; i++) {
    const st = initStatuses[i];
    if (!st) {
      pendingInit++;
      continue;
    }
    if (st.state.running) pendingInit++;
    else if (st.state.terminated) {
      if (st.state.terminated.exitCode !== 0) failedInit++;
    } else if (st.state.waiting) {
      if (st.lastState?.terminated) {
        if (st.lastState.terminated.exitCode !== 0) failedInit++;
      } else pendingInit++;
    } else pendingInit++;
  }
  let unknown = 0;
  let runningN = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const st of statuses) {
    if (!st) unknown++;
    else if (st.state.running) runningN++;
    else if (st.state.terminated) {
      stopped++;
      if (st.state.terminated.exitCode === 0) succeeded++;
    } else if (st.state.waiting) {
      if (st.lastState?.terminated) stopped++;
      else waiting++;
    } else unknown++;
  }
  if (failedInit > 0 && restartPolicy === 'Never') return 'Failed';
  if (pendingInit > 0 || failedInit > 0) return 'Pending';
  if (waiting > 0) return 'Pending';
  if (runningN > 0 && unknown === 0) return 'Running';
  if (runningN === 0 && stopped > 0 && unknown === 0) {
    if (restartPolicy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

/** condition builds a PodCondition, keeping lastTransitionTime when the status did not change. */
function condition(old: any[], type: string, ok: boolean, now: string, reason?: string, message?: string): Record<string, unknown> {
  const status = ok ? 'True' : 'False';
  const prev = old.find((c) => c.type === type);
  const c: Record<string, unknown> = { type, status, lastProbeTime: null, lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now };
  if (reason) c.reason = reason;
  if (message) c.message = message;
  return c;
}

/**
 * computePodStatus builds the whole status from a pod view, starting from the old status so fields the kubelet
 * does not own (qosClass, nominatedNodeName…) survive. A terminal phase (Succeeded/Failed) never changes back.
 */
export function computePodStatus(v: PodView): Record<string, any> {
  const pod = v.pod;
  const old = pod.status ?? {};
  const oldConds: any[] = old.conditions ?? [];
  const policy = (pod.spec?.restartPolicy ?? 'Always') as RestartPolicy;
  const specInit: any[] = pod.spec?.initContainers ?? [];
  const specC: any[] = pod.spec?.containers ?? [];
  const initDone = (st: any): boolean => st.state.terminated?.exitCode === 0;
  const initStatuses = specInit.map((c) => containerStatus(c, v.initContainers.get(c.name), 'PodInitializing') as any);
  const initialized = specInit.length === 0 || initStatuses.every(initDone) || specC.some((c) => v.containers.get(c.name)?.history.current);
  const statuses = specC.map((c) => containerStatus(c, v.containers.get(c.name), initialized ? 'ContainerCreating' : 'PodInitializing') as any);
  let phase = podPhase(policy, initStatuses, statuses, specInit.length);
  if (old.phase === 'Succeeded' || old.phase === 'Failed') phase = old.phase;
  const status: Record<string, any> = { ...old, phase };
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name);
  const incomplete = initStatuses.filter((s) => !initDone(s)).map((s) => s.name);
  const completed = phase === 'Succeeded';
  const conds = [
    condition(oldConds, 'PodReadyToStartContainers', v.sandboxReady, v.now),
    initialized
      ? condition(oldConds, 'Initialized', true, v.now, completed && specInit.length ? 'PodCompleted' : undefined)
      : condition(oldConds, 'Initialized', false, v.now, 'ContainersNotInitialized', `containers with incomplete status: [${incomplete.join(' ')}]`),
    unready.length === 0
      ? condition(oldConds, 'Ready', true, v.now)
      : condition(oldConds, 'Ready', false, v.now, completed ? 'PodCompleted' : 'ContainersNotReady', completed ? undefined : `containers with unready status: [${unready.join(' ')}]`),
    unready.length === 0
      ? condition(oldConds, 'ContainersReady', true, v.now)
      : condition(oldConds, 'ContainersReady', false, v.now, completed ? 'PodCompleted' : 'ContainersNotReady', completed ? undefined : `containers with unready status: [${unready.join(' ')}]`),
  ];
  const sched = oldConds.find((c) => c.type === 'PodScheduled') ?? { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: v.now };
  conds.push(sched);
  for (const c of oldConds) if (!conds.some((n) => n.type === c.type)) conds.push(c);
  status.conditions = conds;
  status.hostIP = v.hostIP;
  status.hostIPs = [{ ip: v.hostIP }];
  const podIP = v.podIP || old.podIP;
  if (podIP) {
    status.podIP = podIP;
    status.podIPs = [{ ip: podIP }];
  }
  status.startTime = old.startTime ?? v.now;
  if (specInit.length) status.initContainerStatuses = initStatuses;
  else delete status.initContainerStatuses;
  status.containerStatuses = statuses;
  return status;
}

/** deepEqual compares JSON values regardless of object key order (one implementation, shared with validation). */
export { deepEqual } from '../api/kinds/meta.ts';
