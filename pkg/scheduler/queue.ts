// queue: the scheduling queue — an active heap, a back-off area and the unschedulable pods waiting for a cluster change.
import type { PodInfo } from './types.ts';

/** QueuedPod is one pending pod and its scheduling history. */
export interface QueuedPod {
  info: PodInfo;
  /** scheduling attempts so far */
  attempts: number;
  /** when the pod first entered the queue (orders equal priorities) */
  timestamp: number;
  /** arrival order, breaking timestamp ties */
  seq: number;
  /** when the last attempt failed */
  lastFailure: number;
  /** when it was parked as unschedulable */
  unschedulableSince: number;
  /** the last attempt ended in an error (such pods sit out their back-off even when the scheduler is idle) */
  erred?: boolean;
}

export interface QueueOptions {
  now?: () => number;
  /** upstream --pod-initial-backoff-seconds (1 s) and --pod-max-backoff-seconds (10 s) */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** an unschedulable pod is retried at the latest after this long without a cluster change (upstream 5 min; here 30 s) */
  maxUnschedulableMs?: number;
}

/** before orders the active heap: higher priority first, then earlier arrival (upstream's PrioritySort). */
function before(a: QueuedPod, b: QueuedPod): boolean {
  if (a.info.priority !== b.info.priority) return a.info.priority > b.info.priority;
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp;
  return a.seq < b.seq;
}

/**
 * SchedulingQueue is upstream's PriorityQueue in small. Pods wait in `active` until popped. A pod that fits
 * nowhere is parked in `unschedulable` until a cluster event (node added or changed, pod deleted…) moves every
 * parked pod back — to `backoff` while its back-off (1 s doubling to 10 s per attempt) runs, else to `active` —
 * or until it has waited maxUnschedulableMs. A pod whose attempt failed with an error goes to `backoff`. If a move
 * request came while a pod was being scheduled, its failure parks it in `backoff`, not `unschedulable`, so the
 * event is not lost. An idle scheduler takes backing-off unschedulable pods early (see tryPop).
 */
export class SchedulingQueue {
  private readonly heap: QueuedPod[] = [];
  private readonly active = new Map<string, QueuedPod>();
  private readonly backoff = new Map<string, QueuedPod>();
  private readonly unschedulable = new Map<string, QueuedPod>();
  /** pods popped and not yet done: key → the entry (kept for its attempt count) */
  private readonly inFlight = new Map<string, QueuedPod>();
  private readonly now: () => number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxUnschedulableMs: number;
  private waiter: (() => void) | undefined;
  private closed = false;
  private seq = 0;
  /** schedulingCycle counts pops; moveRequestCycle is the cycle of the last move request */
  schedulingCycle = 0;
  private moveRequestCycle = -1;

  constructor(o: QueueOptions = {}) {
    this.now = o.now ?? Date.now;
    this.initialBackoffMs = o.initialBackoffMs ?? 1000;
    this.maxBackoffMs = o.maxBackoffMs ?? 10_000;
    this.maxUnschedulableMs = o.maxUnschedulableMs ?? 30_000;
  }

  /** lengths of the three areas, for tests and logs */
  get stats(): { active: number; backoff: number; unschedulable: number; inFlight: number } {
    return { active: this.active.size, backoff: this.backoff.size, unschedulable: this.unschedulable.size, inFlight: this.inFlight.size };
  }

  has(key: string): boolean {
    return this.active.has(key) || this.backoff.has(key) || this.unschedulable.has(key);
  }

  /** add queues a new pending pod (or refreshes its object where it waits). */
  add(info: PodInfo): void {
    if (this.closed) return;
    const e = this.find(info.key);
    if (e) {
      e.info = info;
      return;
    }
    const prev = this.inFlight.get(info.key);
    this.pushActive({ info, attempts: prev?.attempts ?? 0, timestamp: prev?.timestamp ?? this.now(), seq: prev?.seq ?? ++this.seq, lastFailure: 0, unschedulableSince: 0 });
  }

  /**
   * update refreshes a waiting pod. A parked pod whose spec or labels changed may fit now: it moves on as on a
   * cluster event. A pod not waiting anywhere (being scheduled) is added to active, as upstream does.
   */
  update(info: PodInfo, specChanged: boolean): void {
    if (this.closed) return;
    const parked = this.unschedulable.get(info.key);
    if (parked) {
      parked.info = info;
      if (specChanged) {
        this.unschedulable.delete(info.key);
        this.requeue(parked);
      }
      return;
    }
    this.add(info);
  }

  delete(key: string): void {
    this.active.delete(key); // its heap slot is dropped when it surfaces
    this.backoff.delete(key);
    this.unschedulable.delete(key);
  }

  private find(key: string): QueuedPod | undefined {
    return this.active.get(key) ?? this.backoff.get(key) ?? this.unschedulable.get(key);
  }

  /** pop waits for the next pod by priority; undefined once closed. Call done(key) when its attempt is over. */
  async pop(): Promise<QueuedPod | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const e = this.tryPop();
      if (e) return e;
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = undefined;
    }
  }

  /**
   * tryPop is pop without waiting. When nothing is active, pods backing off after an unschedulable verdict are
   * taken early (upstream 1.33's SchedulerPopFromBackoffQ): an idle scheduler need not wait out their back-off.
   */
  tryPop(): QueuedPod | undefined {
    let e = this.heapPop();
    if (!e) {
      this.popFromBackoff();
      e = this.heapPop();
    }
    if (!e) return undefined;
    this.active.delete(e.info.key);
    e.attempts++;
    this.schedulingCycle++;
    this.inFlight.set(e.info.key, e);
    return e;
  }

  private popFromBackoff(): void {
    for (const [k, e] of this.backoff) {
      if (e.erred) continue;
      this.backoff.delete(k);
      this.pushActive(e);
    }
  }

  done(key: string): void {
    this.inFlight.delete(key);
  }

  /** backoffMs is the pod's current back-off: initial · 2^(attempts−1), capped. */
  backoffMs(e: QueuedPod): number {
    if (e.attempts <= 0) return 0;
    return Math.min(this.initialBackoffMs * 2 ** (e.attempts - 1), this.maxBackoffMs);
  }

  private backingOff(e: QueuedPod): boolean {
    return e.lastFailure > 0 && this.now() < e.lastFailure + this.backoffMs(e);
  }

  /**
   * addUnschedulable parks a pod that fits nowhere (`cycle` = the schedulingCycle when it was popped). Ignored if
   * the pod is already waiting again (an update re-added it).
   */
  addUnschedulable(e: QueuedPod, cycle: number): void {
    if (this.closed || this.has(e.info.key)) return;
    e.lastFailure = this.now();
    e.erred = false;
    if (this.moveRequestCycle >= cycle) {
      this.backoff.set(e.info.key, e);
      this.waiter?.();
    } else {
      e.unschedulableSince = this.now();
      this.unschedulable.set(e.info.key, e);
    }
  }

  /** addBackoff re-queues a pod whose attempt failed with an error (binding failed, API error). */
  addBackoff(e: QueuedPod): void {
    if (this.closed || this.has(e.info.key)) return;
    e.lastFailure = this.now();
    e.erred = true;
    this.backoff.set(e.info.key, e);
  }

  /** moveAllToActiveOrBackoff answers a cluster event: every parked pod is tried again (after its back-off). */
  moveAllToActiveOrBackoff(): void {
    for (const e of this.unschedulable.values()) this.requeue(e);
    this.unschedulable.clear();
    this.moveRequestCycle = this.schedulingCycle;
  }

  private requeue(e: QueuedPod): void {
    if (this.backingOff(e)) {
      this.backoff.set(e.info.key, e);
      this.waiter?.();
    } else this.pushActive(e);
  }

  /** flush moves pods whose back-off is over to active and retries pods parked longer than maxUnschedulableMs. */
  flush(): void {
    for (const [k, e] of this.backoff) {
      if (!this.backingOff(e)) {
        this.backoff.delete(k);
        this.pushActive(e);
      }
    }
    const now = this.now();
    for (const [k, e] of this.unschedulable) {
      if (now - e.unschedulableSince >= this.maxUnschedulableMs) {
        this.unschedulable.delete(k);
        this.requeue(e);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.waiter?.();
  }

  private pushActive(e: QueuedPod): void {
    this.active.set(e.info.key, e);
    const h = this.heap;
    h.push(e);
    this.up(h.length - 1);
    this.waiter?.();
  }

  // ---- binary heap over `heap`, ordered by `before`; entries removed from `active` are dropped lazily ----

  private heapPop(): QueuedPod | undefined {
    const h = this.heap;
    while (h.length) {
      const top = h[0];
      const last = h.pop()!;
      if (h.length) {
        h[0] = last;
        this.down(0);
      }
      if (this.active.get(top.info.key) === top) return top;
    }
    return undefined;
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l], h[m])) m = l;
      if (r < h.length && before(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
