// scheduler: the loop — informer events feed the cache and the queue; each popped pod is decided at once, assumed on
// its node and bound asynchronously with bounded parallelism; failures are reported and the pod waits for a change.
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { Cache, isTerminal } from './cache.ts';
import { Framework } from './framework.ts';
import { fitErrorMessage } from './message.ts';
import { podInfoOf } from './podinfo.ts';
import { SchedulingQueue } from './queue.ts';
import type { QueueOptions, QueuedPod } from './queue.ts';
import { DEFAULT_PROFILE } from './registry.ts';
import type { ProfileEntry } from './registry.ts';
import { nextTurn } from '../util/turns.ts';

/** DEFAULT_SCHEDULER_NAME is the spec.schedulerName this scheduler answers for (an unset name means it too). */
export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';

/** REPORT_PARALLELISM bounds the failure reports (event + condition patch) in flight: a storm of unschedulable pods must not crowd the binds */
const REPORT_PARALLELISM = 16;

/** MAX_REPORT_BACKLOG bounds the failure reports (event + condition) waiting for a free slot. */
const MAX_REPORT_BACKLOG = 1000;

/** FailureReason is the PodScheduled condition reason of a failed attempt (upstream's Unschedulable / SchedulerError). */
export type FailureReason = 'Unschedulable' | 'SchedulerError';

/** BindOutcome tells the loop what a failed bind means: retry with back-off, or drop (the pod is gone or bound). */
export type BindOutcome = 'bound' | 'gone';

/** SchedulerIO is the scheduler's only contact with the world, so the loop can be tested with fakes. */
export interface SchedulerIO {
  /** bind writes pods/binding; resolves 'gone' when the pod no longer exists or is already bound, throws to retry */
  bind(pod: Pod, nodeName: string): Promise<BindOutcome>;
  /** scheduled records the `Scheduled` event */
  scheduled(pod: Pod, nodeName: string): void;
  /** failed records `FailedScheduling` and sets the PodScheduled condition False with the reason and message */
  failed(pod: Pod, reason: FailureReason, message: string): Promise<void>;
}

export interface SchedulerOptions extends QueueOptions {
  log: Logger;
  profile?: readonly ProfileEntry[];
  random?: () => number;
  /**
   * bindings in flight at once (upstream binds in a goroutine per pod, unbounded). A bind waits for a store commit
   * (one fsync shared by the writes of a turn of the event loop), so throughput is about parallelism / commit latency:
   * 16 capped a busy server near 200 pods/s; 128 lets one commit carry a tick's worth of binds.
   */
  parallelism?: number;
  percentageOfNodesToScore?: number;
}

/** responsibleFor: pods naming no scheduler or the default one. */
export function responsibleFor(pod: Pod): boolean {
  const n = pod.spec?.schedulerName;
  return !n || n === DEFAULT_SCHEDULER_NAME;
}

/** pendingForUs: an unbound pod of ours that is neither being deleted nor finished. */
function pendingForUs(pod: Pod): boolean {
  return !pod.spec?.nodeName && responsibleFor(pod) && !pod.metadata?.deletionTimestamp && !isTerminal(pod);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const readyOf = (n: Node) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status;

/** nodeChangeMatters: a node update that can make a parked pod fit (upstream's node update event types). */
export function nodeChangeMatters(old: Node, cur: Node): boolean {
  return (
    !same(old.status?.allocatable, cur.status?.allocatable) ||
    !same(old.metadata?.labels, cur.metadata?.labels) ||
    !same(old.spec?.taints, cur.spec?.taints) ||
    old.spec?.unschedulable !== cur.spec?.unschedulable ||
    readyOf(old) !== readyOf(cur)
  );
}

/**
 * Scheduler owns the cache, the queue and the framework. The informer wiring (index.ts) calls the on* methods;
 * run() is the decision loop.
 */
export class Scheduler {
  readonly cache = new Cache();
  readonly queue: SchedulingQueue;
  readonly framework: Framework;
  private readonly io: SchedulerIO;
  private readonly log: Logger;
  private readonly parallelism: number;
  private binding = 0;
  private reporting = 0;
  private readonly reportBacklog = new Map<string, () => Promise<void>>();
  private readonly bindsDone = new Set<Promise<void>>();
  private slotFree: (() => void) | undefined;
  private stopped = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /** counters for logs and the benchmark */
  readonly counts = { attempts: 0, bound: 0, unschedulable: 0, errors: 0 };

  constructor(io: SchedulerIO, o: SchedulerOptions) {
    this.io = io;
    this.log = o.log;
    this.queue = new SchedulingQueue(o);
    this.framework = new Framework(o.profile ?? DEFAULT_PROFILE, { random: o.random, percentageOfNodesToScore: o.percentageOfNodesToScore });
    this.parallelism = o.parallelism ?? 128;
  }

  // ---- informer events ----

  onPodAdd(pod: Pod): void {
    if (pod.spec?.nodeName) {
      this.queue.delete(keyOfPod(pod));
      this.cache.setPod(pod);
    } else if (pendingForUs(pod)) this.queue.add(podInfoOf(pod));
  }

  onPodUpdate(old: Pod, cur: Pod): void {
    if (cur.spec?.nodeName) {
      if (!old.spec?.nodeName) this.queue.delete(keyOfPod(cur));
      this.cache.setPod(cur);
      // a pod that finished frees its node; changed labels may change affinity and spreading verdicts
      if ((isTerminal(cur) && !isTerminal(old)) || !same(old.metadata?.labels, cur.metadata?.labels)) this.queue.moveAllToActiveOrBackoff();
      return;
    }
    if (!pendingForUs(cur)) {
      this.queue.delete(keyOfPod(cur));
      return;
    }
    const changed = !same(old.spec, cur.spec) || !same(old.metadata?.labels, cur.metadata?.labels);
    this.queue.update(podInfoOf(cur), changed);
  }

  onPodDelete(pod: Pod): void {
    this.queue.delete(keyOfPod(pod));
    if (this.cache.has(pod.metadata?.uid ?? '')) {
      this.cache.removePod(pod);
      this.queue.moveAllToActiveOrBackoff();
    }
  }

  onNodeAdd(node: Node): void {
    this.cache.addNode(node);
    this.queue.moveAllToActiveOrBackoff();
  }

  onNodeUpdate(old: Node, cur: Node): void {
    this.cache.updateNode(cur);
    if (nodeChangeMatters(old, cur)) this.queue.moveAllToActiveOrBackoff();
  }

  onNodeDelete(node: Node): void {
    this.cache.removeNode(node.metadata?.name ?? '');
  }

  // ---- the loop ----

  /**
   * scheduleOne decides one popped pod synchronously: skipped if it was bound or assumed meanwhile; on success it is
   * assumed and its binding started (not awaited); on failure the reason is reported and the pod re-queued.
   */
  scheduleOne(e: QueuedPod): void {
    const info = e.info;
    const cycle = this.queue.schedulingCycle;
    if (this.cache.has(info.uid)) {
      this.queue.done(info.key);
      return;
    }
    this.counts.attempts++;
    const out = this.framework.schedule(info, this.cache);
    if (out.kind === 'scheduled') {
      this.cache.assume(info, out.node.name);
      this.startBind(e, out.node.name);
      return;
    }
    this.queue.done(info.key);
    if (out.kind === 'unschedulable') {
      this.counts.unschedulable++;
      const msg = fitErrorMessage(out.diagnosis, info.pod.spec?.preemptionPolicy);
      this.log.debug({ pod: info.key, msg }, 'unschedulable');
      this.report(info.pod, 'Unschedulable', msg);
      this.queue.addUnschedulable(e, cycle);
    } else {
      this.counts.errors++;
      this.report(info.pod, 'SchedulerError', out.message);
      this.queue.addBackoff(e);
    }
  }

  /**
   * report records a failure with at most REPORT_PARALLELISM reports in flight; the rest wait, newest per pod, up to
   * MAX_REPORT_BACKLOG pods (beyond that a report is dropped: the pod is reported again at its next attempt).
   */
  private report(pod: Pod, reason: FailureReason, msg: string): void {
    const task = () => this.io.failed(pod, reason, msg);
    if (this.reporting < REPORT_PARALLELISM) this.runReport(keyOfPod(pod), task);
    else if (this.reportBacklog.size < MAX_REPORT_BACKLOG || this.reportBacklog.has(keyOfPod(pod))) this.reportBacklog.set(keyOfPod(pod), task);
  }

  private runReport(key: string, task: () => Promise<void>): void {
    this.reporting++;
    task()
      .catch((err) => this.log.debug({ err, pod: key }, 'could not record the scheduling failure'))
      .finally(() => {
        this.reporting--;
        const next = this.reportBacklog.entries().next();
        if (next.done || this.stopped) return;
        this.reportBacklog.delete(next.value[0]);
        this.runReport(next.value[0], next.value[1]);
      });
  }

  private startBind(e: QueuedPod, nodeName: string): void {
    const info = e.info;
    this.binding++;
    const p = this.io
      .bind(info.pod, nodeName)
      .then(
        (outcome) => {
          if (outcome === 'gone') {
            this.cache.forget(info.uid);
            return;
          }
          this.counts.bound++;
          this.io.scheduled(info.pod, nodeName);
        },
        (err: unknown) => {
          this.counts.errors++;
          this.cache.forget(info.uid);
          this.log.debug({ err, pod: info.key, node: nodeName }, 'binding failed; retrying');
          this.report(info.pod, 'SchedulerError', `binding rejected: ${(err as Error)?.message ?? String(err)}`);
          this.queue.addBackoff(e);
          this.queue.moveAllToActiveOrBackoff();
        },
      )
      .finally(() => {
        this.queue.done(info.key);
        this.binding--;
        this.bindsDone.delete(p);
        const w = this.slotFree;
        this.slotFree = undefined;
        w?.();
      });
    this.bindsDone.add(p);
  }

  /** run pops and decides until stop(); it waits for a free binding slot, and yields to I/O every few pods. */
  async run(): Promise<void> {
    this.flushTimer = setInterval(() => this.queue.flush(), 1000);
    this.flushTimer.unref();
    let sinceYield = 0;
    while (!this.stopped) {
      while (this.binding >= this.parallelism && !this.stopped) await new Promise<void>((r) => (this.slotFree = r));
      const e = await this.queue.pop();
      if (!e || this.stopped) break;
      try {
        this.scheduleOne(e);
      } catch (err) {
        this.log.error({ err, pod: e.info.key }, 'scheduling attempt failed');
        this.queue.done(e.info.key);
        this.queue.addBackoff(e);
      }
      if (++sinceYield >= 64) {
        sinceYield = 0;
        await nextTurn();
      }
    }
  }

  /** stop ends the loop and waits for the bindings in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.queue.close();
    this.slotFree?.();
    await Promise.allSettled([...this.bindsDone]);
  }
}

function keyOfPod(pod: Pod): string {
  return `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name}`;
}
