// turns: sharing the event loop — long synchronous walks give way every few milliseconds, bursts of in-process
// requests start a bounded number per turn, so HTTP requests are read and answered between them.
import { performance } from 'node:perf_hooks';

/** nextTurn resolves on the event loop's next check phase, after the I/O that is ready has been handled. */
export const nextTurn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

/**
 * TimeSlice measures a long loop's time on the event loop and tells when to give way: `if (slice.due()) await
 * slice.yield()`. busyMs() is the loop's own time, without the turns it gave away (what pacing should charge it).
 */
export class TimeSlice {
  readonly #sliceMs: number;
  #start = performance.now();
  #busy = 0;

  constructor(sliceMs = 5) {
    this.#sliceMs = sliceMs;
  }

  /** due is true once the current slice has run for sliceMs. */
  due(): boolean {
    return performance.now() - this.#start >= this.#sliceMs;
  }

  /** yield gives the rest of the turn away and starts a new slice when the loop comes back. */
  async yield(): Promise<void> {
    this.#busy += performance.now() - this.#start;
    await nextTurn();
    this.#start = performance.now();
  }

  /** busyMs is the time spent in slices so far (the current one included). */
  busyMs(): number {
    return this.#busy + performance.now() - this.#start;
  }
}

/**
 * TurnGate bounds the calls in flight through it, and hands a freed slot to the next waiter on the next turn: however
 * many callers start at once (a slow-start batch of 512 creates), at most `max` of them run their synchronous part
 * in any one turn of the event loop.
 */
export class TurnGate {
  readonly #max: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  #head = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** run calls f once a slot is free and frees it when f settles. */
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.#active < this.#max && this.#head === this.#waiting.length) this.#active++;
    else await new Promise<void>((r) => this.#waiting.push(r)); // the slot is handed over, already counted
    try {
      return await f();
    } finally {
      this.#release();
    }
  }

  /** waiting counts the callers queued for a slot. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  #release(): void {
    if (this.#head === this.#waiting.length) {
      this.#active--;
      return;
    }
    const next = this.#waiting[this.#head]!;
    this.#waiting[this.#head++] = undefined as unknown as () => void;
    if (this.#head === this.#waiting.length) (this.#waiting.length = 0), (this.#head = 0);
    else if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) this.#waiting.splice(0, this.#head), (this.#head = 0);
    setImmediate(next);
  }
}
