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
  #capacity: number;
  #used = 0;
  readonly #waiting: Waiter[] = [];
  #head = 0;
  #handing = false;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** run calls f once `weight` units are free and frees them when f settles; a call heavier than the capacity runs alone. */
  async run<T>(f: () => Promise<T>, weight = 1): Promise<T> {
    const w = Math.max(1, weight);
    if (this.#head === this.#waiting.length && (this.#used + w <= this.#capacity || this.#used === 0)) this.#used += w;
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

  /** capacity is the units that may be in flight at once. */
  get capacity(): number {
    return this.#capacity;
  }

  /** setCapacity changes the units that may be in flight: calls running keep theirs, waiters start once they fit. */
  setCapacity(capacity: number): void {
    this.#capacity = Math.max(1, capacity);
    this.#handOver();
  }

  /** idle is true when nothing runs through the gate and nothing waits. */
  get idle(): boolean {
    return this.#used === 0 && this.waiting === 0;
  }

  /** #handOver starts, on the next turn, the waiters at the front that fit in what is free. */
  #handOver(): void {
    if (this.#handing || this.#head === this.#waiting.length) return;
    this.#handing = true;
    setImmediate(() => {
      this.#handing = false;
      // a waiter heavier than the whole capacity starts alone
      while (this.#head < this.#waiting.length && (this.#used + this.#waiting[this.#head]!.weight <= this.#capacity || this.#used === 0)) {
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

/** LoadGateOptions: the range of a LoadGate's capacity and the lateness (ms) that narrows or widens it. */
export interface LoadGateOptions {
  min: number;
  max: number;
  /** a window whose timers ran this late on average (ms) narrows the gate by a quarter */
  highMs?: number;
  /** a window whose timers ran less late than this widens it by an eighth (at least one call) */
  lowMs?: number;
  /** how often the loop's lateness is sampled, ms */
  sampleMs?: number;
  /** how often the capacity is reconsidered, ms */
  windowMs?: number;
}

/**
 * LoadGate is a TurnGate of calls (weight 1 each) whose capacity follows the event loop's load, as a congestion
 * window: while calls run or wait, a timer notes how late it fires every sampleMs (a long turn of the loop makes it
 * late); at the end of each window the average lateness above highMs cuts the capacity by a quarter, below lowMs
 * raises it by an eighth, between the two it stays. Once nothing runs or waits the timer stops and the capacity goes
 * back to max: only a loaded loop is paced. Bursts of background work (a controller creating thousands of pods) go
 * through it so that requests from outside keep short turns of the loop.
 */
export class LoadGate {
  readonly #gate: TurnGate;
  readonly #min: number;
  readonly #max: number;
  readonly #highMs: number;
  readonly #lowMs: number;
  readonly #sampleMs: number;
  readonly #windowMs: number;
  #timer: NodeJS.Timeout | undefined;
  #expected = 0;
  #windowStart = 0;
  #lateSum = 0;
  #samples = 0;

  constructor(o: LoadGateOptions) {
    this.#min = Math.max(1, o.min);
    this.#max = Math.max(this.#min, o.max);
    this.#highMs = o.highMs ?? 15;
    this.#lowMs = o.lowMs ?? 5;
    this.#sampleMs = o.sampleMs ?? 10;
    this.#windowMs = o.windowMs ?? 200;
    this.#gate = new TurnGate(this.#max);
  }

  /** capacity is the calls that may run at once now. */
  get capacity(): number {
    return this.#gate.capacity;
  }

  /** run calls f once the gate has room (see TurnGate.run). */
  run<T>(f: () => Promise<T>): Promise<T> {
    this.#watch();
    return this.#gate.run(f, 1);
  }

  #watch(): void {
    if (this.#timer) return;
    const now = performance.now();
    this.#windowStart = now;
    this.#expected = now + this.#sampleMs;
    this.#lateSum = 0;
    this.#samples = 0;
    this.#timer = setInterval(() => this.#sample(), this.#sampleMs);
    this.#timer.unref();
  }

  #sample(): void {
    const now = performance.now();
    this.#lateSum += Math.max(0, now - this.#expected);
    this.#samples++;
    this.#expected = now + this.#sampleMs; // an interval timer is re-armed from when its callback ran
    if (now - this.#windowStart < this.#windowMs) return;
    const late = this.#lateSum / this.#samples;
    const cap = this.#gate.capacity;
    if (late > this.#highMs) this.#gate.setCapacity(Math.max(this.#min, Math.floor((cap * 3) / 4)));
    else if (late < this.#lowMs) this.#gate.setCapacity(Math.min(this.#max, cap + Math.max(1, Math.floor(cap / 8))));
    this.#windowStart = now;
    this.#lateSum = 0;
    this.#samples = 0;
    if (this.#gate.idle) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#gate.setCapacity(this.#max);
    }
  }
}
