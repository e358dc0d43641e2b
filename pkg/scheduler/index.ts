// scheduler: the default scheduler's entry — wires the shared pod and node informers and the API client to the loop.
import type { Node, Pod, PodCondition } from 'kubernetes-types/core/v1.js';
import { ApiError } from '../api/errors.ts';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { Controller, ControllerContext } from '../controllers/types.ts';
import { DEFAULT_SCHEDULER_NAME, Scheduler } from './scheduler.ts';
import type { FailureReason, SchedulerIO } from './scheduler.ts';

export { Scheduler, DEFAULT_SCHEDULER_NAME, responsibleFor } from './scheduler.ts';
export type { SchedulerIO, SchedulerOptions, BindOutcome, FailureReason } from './scheduler.ts';
export { fitErrorMessage } from './message.ts';

const podsInfo = lookupKind('v1', 'Pod')!;
const nodesInfo = lookupKind('v1', 'Node')!;

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** unschedulableCondition is the PodScheduled condition a failed attempt leaves; undefined when the pod already has it. */
export function unschedulableCondition(pod: Pod, reason: FailureReason, message: string): PodCondition | undefined {
  const cur = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (cur && cur.status === 'False' && cur.reason === reason && cur.message === message) return undefined;
  return {
    type: 'PodScheduled',
    status: 'False',
    reason,
    message,
    lastProbeTime: null as unknown as string,
    lastTransitionTime: cur && cur.status === 'False' && cur.lastTransitionTime ? cur.lastTransitionTime : now(),
  };
}

/**
 * newScheduler is the default scheduler as a controller: pods without spec.nodeName whose schedulerName is
 * default-scheduler (or unset) are placed on nodes through pods/binding; events name `default-scheduler`.
 */
export function newScheduler(ctx: ControllerContext): Controller {
  const recorder = ctx.recorder(DEFAULT_SCHEDULER_NAME);
  const io: SchedulerIO = {
    async bind(pod, nodeName) {
      try {
        await ctx.client.bind(pod.metadata!.namespace!, pod.metadata!.name!, nodeName, pod.metadata?.uid);
        return 'bound';
      } catch (err) {
        // gone, or bound by someone else (or a new pod of the same name): the informer will tell the rest
        if (err instanceof ApiError && (err.code === 404 || err.code === 409)) return 'gone';
        throw err;
      }
    },
    scheduled(pod, nodeName) {
      recorder.event(pod as KubeObject, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata?.namespace}/${pod.metadata?.name} to ${nodeName}`);
    },
    async failed(pod, reason, message) {
      recorder.event(pod as KubeObject, 'Warning', 'FailedScheduling', message);
      const cond = unschedulableCondition(pod, reason, message);
      if (!cond) return;
      try {
        await ctx.client.patch(podsInfo, pod.metadata?.namespace, pod.metadata!.name!, { status: { conditions: [cond] } }, 'strategic', 'status');
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    },
  };
  const sched = new Scheduler(io, { log: ctx.log });
  const pods = ctx.informers.informerFor(podsInfo);
  const nodes = ctx.informers.informerFor(nodesInfo);
  let running: Promise<void> | undefined;
  let stopped = false;

  return {
    name: 'scheduler',
    start() {
      nodes.addEventHandler({
        add: (n) => sched.onNodeAdd(n as Node),
        update: (o, n) => sched.onNodeUpdate(o as Node, n as Node),
        delete: (n) => sched.onNodeDelete(n as Node),
      });
      pods.addEventHandler({
        add: (p) => sched.onPodAdd(p as Pod),
        update: (o, p) => sched.onPodUpdate(o as Pod, p as Pod),
        delete: (p) => sched.onPodDelete(p as Pod),
      });
      // decide only once both caches are full, so the first pods see every node and every bound pod
      running = Promise.all([pods.synced, nodes.synced]).then(() => (stopped ? undefined : sched.run()));
      running.catch((err) => ctx.log.error({ err }, 'scheduler loop ended'));
    },
    async stop() {
      stopped = true;
      await sched.stop();
      await running?.catch(() => undefined);
    },
  };
}
