// plan: pure decisions of one pod sync — which containers to start or kill, whether to (re)create the sandbox.
import type { KubeObject } from '../api/types.ts';
import type { ContainerInfo } from './runtime/index.ts';
import { deepEqual } from './status.ts';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** ContainerHistory is one spec container's runtime containers: the newest attempt, the one before, and older ones. */
export interface ContainerHistory {
  current?: ContainerInfo;
  previous?: ContainerInfo;
  older: ContainerInfo[];
}

/** groupByName sorts a pod's spec containers (sandboxes excluded) into per-name histories, newest attempt first. */
export function groupByName(containers: ContainerInfo[]): Map<string, ContainerHistory> {
  const by = new Map<string, ContainerInfo[]>();
  for (const c of containers) {
    if (c.isSandbox) continue;
    const list = by.get(c.containerName) ?? [];
    list.push(c);
    by.set(c.containerName, list);
  }
  const out = new Map<string, ContainerHistory>();
  for (const [name, list] of by) {
    list.sort((a, b) => b.attempt - a.attempt || b.createdAt.localeCompare(a.createdAt));
    out.set(name, { current: list[0], previous: list[1], older: list.slice(2) });
  }
  return out;
}

/** shouldRestart applies restartPolicy to an exited container: Always restarts, OnFailure on a non-zero exit. */
export function shouldRestart(policy: RestartPolicy, exitCode: number | undefined): boolean {
  if (policy === 'Always') return true;
  if (policy === 'OnFailure') return exitCode !== 0;
  return false;
}

export interface PlanInput {
  restartPolicy: RestartPolicy;
  initContainers: string[];
  containers: string[];
  /** sandboxReady: the newest sandbox runs. */
  sandboxReady: boolean;
  /** sandboxAttempts counts sandboxes ever created for the pod (0 = first sync). */
  sandboxAttempts: number;
  current: Map<string, ContainerInfo | undefined>;
  /** livenessFailed names running containers whose liveness or startup probe failed. */
  livenessFailed: Set<string>;
  /**
   * specChanged names running containers created from another definition than the spec's (an image update): they are
   * restarted whatever the restart policy, as upstream's containerChanged.
   */
  specChanged?: Set<string>;
  /** terminal: the pod's phase is already Succeeded or Failed; nothing runs again. */
  terminal: boolean;
}

export interface Plan {
  /** killPod stops every container and the sandbox (before a new sandbox, or for good). */
  killPod: boolean;
  createSandbox: boolean;
  /** startInit is the init container to (re)start next. */
  startInit?: string;
  /** start lists app containers to (re)start, in spec order (back-off still applies). */
  start: string[];
  /** kill lists running containers to stop, with the reason (liveness). */
  kill: string[];
  /** initFailed: an init container failed under restartPolicy Never, so the pod fails. */
  initFailed: boolean;
}

function running(c: ContainerInfo | undefined): boolean {
  return c?.state === 'running';
}

/**
 * planPod mirrors upstream's computePodActions. A missing sandbox means a new one and all containers again (init
 * containers first), unless the pod must not restart: Never after its containers were created, OnFailure once all
 * succeeded. With a sandbox, init containers run one at a time in order; then every app container that is missing
 * or exited and allowed by restartPolicy starts; a failed liveness probe kills (and per policy restarts) its
 * container. When nothing runs and nothing will, the pod is killed (its sandbox stopped).
 */
export function planPod(p: PlanInput): Plan {
  const plan: Plan = { killPod: false, createSandbox: false, start: [], kill: [], initFailed: false };
  if (p.terminal) {
    plan.killPod = true;
    return plan;
  }
  const cur = (n: string): ContainerInfo | undefined => p.current.get(n);
  if (!p.sandboxReady) {
    const created = [...p.current.values()].some((c) => c !== undefined);
    if (p.sandboxAttempts > 0 && created) {
      if (p.restartPolicy === 'Never') {
        plan.killPod = true;
        return plan;
      }
      if (p.restartPolicy === 'OnFailure' && p.containers.every((n) => cur(n)?.state === 'exited' && cur(n)?.exitCode === 0)) {
        plan.killPod = true;
        return plan;
      }
    }
    plan.killPod = p.sandboxAttempts > 0;
    plan.createSandbox = true;
    if (p.initContainers.length) plan.startInit = p.initContainers[0];
    else plan.start = [...p.containers];
    return plan;
  }
  // Init containers, unless an app container already exists (they ran before; e.g. adopted after cleanup).
  const appStarted = p.containers.some((n) => cur(n) !== undefined);
  if (!appStarted) {
    for (const name of p.initContainers) {
      const c = cur(name);
      if (!c) {
        plan.startInit = name;
        return plan;
      }
      if (c.state === 'running' || c.state === 'created' || c.state === 'unknown') return plan;
      if (c.exitCode === 0) continue;
      if (p.restartPolicy === 'Never') {
        plan.initFailed = true;
        plan.killPod = true;
        return plan;
      }
      plan.startInit = name;
      return plan;
    }
  }
  let keep = 0;
  for (const name of p.containers) {
    const c = cur(name);
    if (!c) {
      plan.start.push(name);
    } else if (running(c)) {
      if (p.specChanged?.has(name)) {
        plan.kill.push(name);
        plan.start.push(name);
      } else if (p.livenessFailed.has(name)) {
        plan.kill.push(name);
        if (p.restartPolicy !== 'Never') plan.start.push(name);
      } else keep++;
    } else if (c.state === 'created') {
      plan.start.push(name);
    } else if (shouldRestart(p.restartPolicy, c.exitCode)) {
      plan.start.push(name);
    }
  }
  if (keep === 0 && plan.start.length === 0) plan.killPod = true;
  return plan;
}

/**
 * needsSync tells whether a pod update asks for a sync: its spec or metadata changed (labels and annotations feed
 * the downward API; deletionTimestamp starts termination). Status-only updates (most often the kubelet's own status
 * write coming back through the watch) do not, as upstream's pod config ignores them.
 */
export function needsSync(old: KubeObject | undefined, cur: KubeObject): boolean {
  if (!old || old.metadata.uid !== cur.metadata.uid) return true;
  const meta = (o: KubeObject) => ({ ...o.metadata, resourceVersion: undefined, managedFields: undefined });
  return !deepEqual(old.spec, cur.spec) || !deepEqual(meta(old), meta(cur));
}
