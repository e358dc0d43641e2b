// queue: the controllers' key queue — deduplicated keys, one in flight per key, delayed adds, back-off.

/**
 * WorkQueue holds keys (`ns/name`), never objects. A key added while it is being processed is processed once
 * more afterwards; a key added many times while waiting is processed once.
 */
export class WorkQueue {
  private readonly waiting = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly order: string[] = [];
  private wake: (() => void) | undefined;
  private shutDown = false;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;

  constructor(opts: { baseDelayMs?: number; maxDelayMs?: number } = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 60_000;
  }

  add(key: string): void {
    if (this.shutDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.waiting.has(key)) return;
    this.waiting.add(key);
    this.order.push(key);
    this.wake?.();
  }

  /** addAfter adds the key once `ms` have passed (the earliest pending timer wins). */
  addAfter(key: string, ms: number): void {
    if (this.shutDown) return;
    if (ms <= 0) return this.add(key);
    if (this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  /** addRateLimited re-queues a failed key with exponential back-off (base · 2^failures, capped). */
  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs));
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  /** get waits for the next key; undefined once shut down. Call done(key) after processing. */
  async get(): Promise<string | undefined> {
    for (;;) {
      if (this.shutDown) return undefined;
      const key = this.order.shift();
      if (key !== undefined) {
        this.waiting.delete(key);
        this.processing.add(key);
        return key;
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  get length(): number {
    return this.order.length;
  }

  shutdown(): void {
    this.shutDown = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.wake?.();
  }
}
