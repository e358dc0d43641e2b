// queue: the controllers' key queue as client-go's workqueue — deduplicated keys, one in flight per key, delayed adds by earliest deadline, per-key back-off, clean shutdown.

export interface WorkQueueOptions {
  /** first back-off of addRateLimited (upstream's ItemExponentialFailureRateLimiter base: 5 ms) */
  baseDelayMs?: number;
  /** back-off cap (upstream: 1000 s) */
  maxDelayMs?: number;
}

interface Delayed {
  key: string;
  at: number;
}

/**
 * WorkQueue holds keys (`ns/name`), never objects. As upstream's workqueue:
 * - a key added many times while waiting is handed out once (dirty set);
 * - a key is processed by one worker at a time: added while processing, it is queued again when done() is called;
 * - any number of workers may wait in get(); they are served in arrival order;
 * - addAfter keeps, per key, the earliest pending deadline;
 * - addRateLimited waits base·2^failures (capped) per key, until forget();
 * - shutdown() wakes every waiting worker with undefined; later get()s return undefined at once (keys still
 *   queued are dropped: controllers stop rather than drain), and shutDownWithDrain() also waits for in-flight keys.
 */
export class WorkQueue {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** queue: keys ready to hand out, FIFO (head index instead of shift() to stay O(1)) */
  private queue: string[] = [];
  private head = 0;
  /** dirty: keys that need processing (queued, or re-added while processing) */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly failures = new Map<string, number>();
  /** delayed: key → earliest pending deadline; heap holds (key, at) with stale entries skipped when popped */
  private readonly delayed = new Map<string, number>();
  private readonly heap: Delayed[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private shuttingDown = false;
  private drainWaiters: (() => void)[] = [];

  constructor(opts: WorkQueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 1_000_000;
  }

  /** add marks the key for processing; a no-op if it already is, or after shutdown. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // re-queued by done()
    this.push(key);
  }

  /** addAfter adds the key once `ms` have passed; an earlier pending deadline for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.delayed.get(key);
    if (pending !== undefined && pending <= at) return;
    this.delayed.set(key, at);
    heapPush(this.heap, { key, at });
    this.schedule();
  }

  /** addRateLimited re-queues a failed key after base·2^failures (capped), counting the failure. */
  addRateLimited(key: string): void {
    this.addAfter(key, this.when(key));
  }

  /** when is the back-off for the key's next failure (and counts it), as upstream's ItemExponentialFailureRateLimiter.When. */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n overflows to Infinity for large n, which the cap absorbs
    return Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
  }

  /** forget clears the key's failure count (call after a successful sync). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** numRequeues is how many times the key failed since the last forget. */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** get waits for the next key; undefined once shut down. Call done(key) after processing it. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.pop();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((r) => this.waiters.push(r));
  }

  /** done ends processing of the key; if it was added meanwhile it is queued again. */
  done(key: string): void {
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
    if (this.processing.size === 0) for (const r of this.drainWaiters.splice(0)) r();
  }

  /** length is the number of keys ready to hand out (not in flight, not delayed). */
  get length(): number {
    return this.queue.length - this.head;
  }

  /** inFlight is the number of keys being processed. */
  get inFlight(): number {
    return this.processing.size;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** shutdown stops the queue: waiting workers get undefined, delayed adds are dropped. */
  shutdown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.delayed.clear();
    this.heap.length = 0;
    this.queue = [];
    this.head = 0;
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** shutDownWithDrain shuts down and resolves once every key in flight is done. */
  shutDownWithDrain(): Promise<void> {
    this.shutdown();
    return this.drained();
  }

  /** drained resolves when no key is in flight. */
  drained(): Promise<void> {
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  /** push makes a dirty key ready: straight to a waiting worker if there is one. */
  private push(key: string): void {
    const w = this.waiters.shift();
    if (w) {
      this.dirty.delete(key);
      this.processing.add(key);
      w(key);
      return;
    }
    this.queue.push(key);
  }

  private pop(): string | undefined {
    if (this.head >= this.queue.length) return undefined;
    const key = this.queue[this.head++];
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }

  /** schedule arms one timer for the earliest deadline. */
  private schedule(): void {
    const top = this.heap[0];
    if (!top || top.at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = top.at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, top.at - Date.now()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    while (this.heap.length && this.heap[0].at <= now) {
      const { key, at } = heapPop(this.heap)!;
      if (this.delayed.get(key) !== at) continue; // superseded by an earlier deadline
      this.delayed.delete(key);
      this.add(key);
    }
    this.schedule();
  }
}

function heapPush(h: Delayed[], d: Delayed): void {
  h.push(d);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p].at <= h[i].at) break;
    [h[p], h[i]] = [h[i], h[p]];
    i = p;
  }
}

function heapPop(h: Delayed[]): Delayed | undefined {
  if (!h.length) return undefined;
  const top = h[0];
  const last = h.pop()!;
  if (h.length) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l].at < h[m].at) m = l;
      if (r < h.length && h[r].at < h[m].at) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
  return top;
}
