// turns: sharing the event loop — long synchronous walks give way every few milliseconds, bursts of in-process
// requests start a bounded number per turn, so HTTP requests are read and answered between them.
import { performance } from 'node:perf_hooks';
import { setImmediate as immediate } from 'node:timers/promises';

/** nextTurn resolves on the event loop's next check phase, after the I/O that is ready has been handled. */
export const nextTurn = (): Promise<void> => immediate();

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

/** Waiter is a call queued at a TurnGate: its weight and what starts it. */
interface Waiter {
  weight: number;
  start: () => void;
}

/**
 * TurnGate bounds the work in flight through it, in units (a call's weight: what its synchronous part costs relative
 * to the others), and starts a waiter only on a later turn of the event loop: however many callers start at once (a
 * slow-start batch of 512 creates), the calls that run their synchronous part in any one turn weigh at most `capacity`.
 * Waiters start in order; one heavier than what is free waits for it (and those behind it wait too).
 */
export class TurnGate {
  readonly #capacity: number;
  #used = 0;
  readonly #waiting: Waiter[] = [];
  #head = 0;
  #handing = false;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** run calls f once `weight` units are free (at most the capacity) and frees them when f settles. */
  async run<T>(f: () => Promise<T>, weight = 1): Promise<T> {
    const w = Math.min(Math.max(1, weight), this.#capacity);
    if (this.#head === this.#waiting.length && this.#used + w <= this.#capacity) this.#used += w;
    else await new Promise<void>((start) => this.#waiting.push({ weight: w, start })); // counted when handed over
    try {
      return await f();
    } finally {
      this.#used -= w;
      this.#handOver();
    }
  }

  /** waiting counts the callers queued for units. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** #handOver starts, on the next turn, the waiters at the front that fit in what is free. */
  #handOver(): void {
    if (this.#handing || this.#head === this.#waiting.length) return;
    this.#handing = true;
    setImmediate(() => {
      this.#handing = false;
      while (this.#head < this.#waiting.length && this.#used + this.#waiting[this.#head]!.weight <= this.#capacity) {
        const next = this.#waiting[this.#head]!;
        this.#waiting[this.#head++] = undefined as unknown as Waiter;
        this.#used += next.weight;
        next.start();
      }
      if (this.#head === this.#waiting.length) (this.#waiting.length = 0), (this.#head = 0);
      else if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) this.#waiting.splice(0, this.#head), (this.#head = 0);
    });
  }
}
