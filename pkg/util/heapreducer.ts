// heapreducer: gives the V8 heap's spare memory back to the system once a burst is over.
//
// After a burst (a Deployment scaled to 15,000 pods), V8 keeps about 2.5 times the live heap committed: long-lived
// cache entries sit scattered over pages among the medium-lived garbage of the burst, and an ordinary full GC only
// evacuates pages that are nearly empty. The freed pages go to a pool that only a memory-reducing GC releases. V8's own
// memory reducer runs that GC only when the allocation rate is near zero, which a master with hundreds of
// heartbeating nodes never reaches: at 500 nodes and 15,000 pods the server stayed at 700–800 MB for a live heap of
// 145 MB, and one memory-reducing GC brought it to about 400 MB.
//
// HeapReducer runs that GC itself, once the heap has stopped growing and the event loop has been calm for as long, and
// only when the heap committed is at least 1.5 times what the last full GC left live (and 48 MiB more). It holds the
// loop for the whole collection (0.4–1 s at 15,000 pods on 2 cores), so it waits for a calm loop, runs at most every
// two minutes, and not again until the heap has grown.
import { constants, performance, PerformanceObserver, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from 'pino';

/** HeapSample is what one check sees. */
export interface HeapSample {
  /** ms, monotonic */
  at: number;
  /** V8 heap committed, and used right after the last full GC (what is live), bytes */
  committed: number;
  used: number;
  /** event-loop utilisation (0–1) since the previous check */
  utilization: number;
}

/** HeapReducerPolicy says when a memory-reducing GC is worth its pause. */
export interface HeapReducerPolicy {
  /** the committed heap has not grown by more than growthSlackBytes for this long (default 15 s) */
  stableForMs: number;
  growthSlackBytes: number;
  /** the event loop was busy at most this share of each check's interval over stableForMs (default 0.7) */
  maxUtilization: number;
  /** committed − used is at least this (default 48 MiB) … */
  minSpareBytes: number;
  /**
   * … and at least this share of used (default 0.5: committed 1.5 times what is live). At 1 (twice), a master of 500
   * nodes and 15,000 pods settled after a burst with 226 MB committed for 131 MB live, and kept it
   */
  minSpareRatio: number;
  /** at least this long after the previous reduction (default 120 s) */
  minIntervalMs: number;
}

export const DEFAULT_POLICY: HeapReducerPolicy = {
  stableForMs: 15_000,
  growthSlackBytes: 8 * 2 ** 20,
  maxUtilization: 0.7,
  minSpareBytes: 48 * 2 ** 20,
  minSpareRatio: 0.5,
  minIntervalMs: 120_000,
};

/** ReducerState is what the policy remembers between checks. */
export interface ReducerState {
  /** recent samples, oldest first, covering at least stableForMs */
  samples: HeapSample[];
  /** when the last reduction ran, and the committed heap it left */
  lastRunAt?: number;
  committedAfterLastRun?: number;
}

/**
 * shouldReduce decides on the newest sample (already appended to state.samples) whether to run a memory-reducing GC
 * now, and says why not otherwise. Pure: the tests drive it with figures.
 */
export function shouldReduce(state: ReducerState, policy: HeapReducerPolicy = DEFAULT_POLICY): { run: boolean; why: string } {
  const s = state.samples;
  const now = s[s.length - 1];
  if (!now) return { run: false, why: 'no sample' };
  const spare = now.committed - now.used;
  if (spare < policy.minSpareBytes || spare < policy.minSpareRatio * now.used) return { run: false, why: 'little spare heap' };
  if (state.lastRunAt !== undefined && now.at - state.lastRunAt < policy.minIntervalMs) return { run: false, why: 'ran recently' };
  if (state.committedAfterLastRun !== undefined && now.committed - state.committedAfterLastRun < policy.minSpareBytes) return { run: false, why: 'not grown since the last run' };
  const oldest = s[0]!;
  if (now.at - oldest.at < policy.stableForMs) return { run: false, why: 'watched too briefly' };
  const window = s.filter((x) => now.at - x.at <= policy.stableForMs);
  const base = Math.min(...window.map((x) => x.committed));
  if (now.committed - base > policy.growthSlackBytes) return { run: false, why: 'heap still growing' };
  // calm for the whole window, not only the last interval: a short lull between two bursts is no time for a pause
  if (window.some((x) => x.utilization > policy.maxUtilization)) return { run: false, why: 'event loop busy' };
  return { run: true, why: 'heap stopped growing with spare pages, loop calm' };
}

/** GcFunction is V8's gc extension (`--expose-gc`) with its options. */
type GcFunction = (opts?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;

/**
 * exposedGc gets V8's gc function without `node --expose-gc`: the flag set at run time installs `gc` in contexts made
 * afterwards, so a fresh context hands it over. undefined when the runtime refuses.
 */
export function exposedGc(): GcFunction | undefined {
  const existing = (globalThis as { gc?: GcFunction }).gc;
  if (typeof existing === 'function') return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as GcFunction) : undefined;
  } catch {
    return undefined;
  }
}

/** reduceHeap runs one memory-reducing GC (V8's last-resort collection: compacts every page, releases pooled ones) and reports its effect. */
export function reduceHeap(gc: GcFunction): { pauseMs: number; before: { committed: number; used: number; rss: number }; after: { committed: number; used: number; rss: number } } {
  const measure = () => {
    const h = getHeapStatistics();
    return { committed: h.total_heap_size, used: h.used_heap_size, rss: process.memoryUsage.rss() };
  };
  const before = measure();
  const t = performance.now();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const pauseMs = performance.now() - t;
  return { pauseMs, before, after: measure() };
}

/** HeapReducer checks the heap every few seconds and runs reduceHeap when shouldReduce says so. */
export class HeapReducer {
  readonly #gc: GcFunction;
  readonly #policy: HeapReducerPolicy;
  readonly #log: Logger | undefined;
  readonly #state: ReducerState = { samples: [] };
  #elu: EventLoopUtilization = performance.eventLoopUtilization();
  #timer: NodeJS.Timeout | undefined;
  /** heap used right after the last full GC: what is live (used at any other moment counts garbage too) */
  #liveAfterMajor: number | undefined;
  readonly #gcObserver = new PerformanceObserver((list) => {
    if (list.getEntries().some((e) => ((e as PerformanceEntry & { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) this.#liveAfterMajor = getHeapStatistics().used_heap_size;
  });

  constructor(gc: GcFunction, opts: { policy?: Partial<HeapReducerPolicy>; log?: Logger } = {}) {
    this.#gc = gc;
    this.#policy = { ...DEFAULT_POLICY, ...opts.policy };
    this.#log = opts.log;
  }

  /** start checks every checkEveryMs (the timer does not keep the process alive). */
  start(checkEveryMs = 5000): this {
    if (!this.#timer) {
      this.#gcObserver.observe({ entryTypes: ['gc'] });
      this.#timer = setInterval(() => this.check(), checkEveryMs).unref();
    }
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#gcObserver.disconnect();
  }

  /** check samples the heap and the loop, and reduces the heap when the policy says so; true when it did. */
  check(): boolean {
    const elu = performance.eventLoopUtilization(this.#elu);
    this.#elu = performance.eventLoopUtilization();
    const h = getHeapStatistics();
    const at = performance.now();
    const s = this.#state.samples;
    s.push({ at, committed: h.total_heap_size, used: Math.min(h.used_heap_size, this.#liveAfterMajor ?? Infinity), utilization: elu.utilization });
    // keep what the stability window needs, and one sample older than it
    while (s.length > 2 && at - s[1]!.at > this.#policy.stableForMs) s.shift();
    if (!shouldReduce(this.#state, this.#policy).run) return false;
    const r = reduceHeap(this.#gc);
    this.#state.lastRunAt = performance.now();
    this.#state.committedAfterLastRun = r.after.committed;
    this.#state.samples = [];
    this.#liveAfterMajor = r.after.used;
    const mb = (n: number) => Math.round(n / 2 ** 20);
    this.#log?.info(
      { pauseMs: Math.round(r.pauseMs), heapCommittedMb: [mb(r.before.committed), mb(r.after.committed)], heapUsedMb: [mb(r.before.used), mb(r.after.used)], rssMb: [mb(r.before.rss), mb(r.after.rss)] },
      'heap reduced after a burst: spare pages returned to the system',
    );
    return true;
  }
}
