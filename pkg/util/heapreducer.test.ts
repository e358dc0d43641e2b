import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, exposedGc, HeapReducer, reduceHeap, shouldReduce, type HeapSample, type ReducerState } from './heapreducer.ts';

const MB = 2 ** 20;
/** samples: one every 5 s, ending at `end`, with the given committed sizes (MB), used 150 MB and the loop 30 % busy unless set. */
function samples(committedMb: number[], opts: { usedMb?: number; utilization?: number; end?: number } = {}): HeapSample[] {
  const end = opts.end ?? 100_000;
  return committedMb.map((c, i) => ({ at: end - (committedMb.length - 1 - i) * 5000, committed: c * MB, used: (opts.usedMb ?? 150) * MB, utilization: opts.utilization ?? 0.3 }));
}

describe('shouldReduce', () => {
  const cases: { name: string; state: ReducerState; run: boolean; why?: string }[] = [
    { name: 'a settled, fragmented heap on a calm loop', state: { samples: samples([420, 421, 420, 422]) }, run: true },
    { name: 'little spare heap (committed close to used)', state: { samples: samples([200, 200, 200, 200]) }, run: false, why: 'little spare heap' },
    { name: 'spare under the ratio of used (committed less than 1.5 times what is live)', state: { samples: samples([220, 220, 220, 220]) }, run: false, why: 'little spare heap' },
    { name: 'spare over the ratio: 226 MB committed for 131 MB live', state: { samples: samples([226, 226, 226, 226], { usedMb: 131 }) }, run: true },
    { name: 'watched for less than the stability window', state: { samples: samples([420, 420]) }, run: false, why: 'watched too briefly' },
    { name: 'heap still growing (a burst in progress)', state: { samples: samples([300, 340, 380, 420]) }, run: false, why: 'heap still growing' },
    { name: 'event loop busy', state: { samples: samples([420, 420, 420, 420], { utilization: 0.95 }) }, run: false, why: 'event loop busy' },
    {
      name: 'a lull after a burst: calm only for the last interval',
      state: { samples: samples([420, 420, 420, 420]).map((x, i, all) => ({ ...x, utilization: i === all.length - 1 ? 0.2 : 0.95 })) },
      run: false,
      why: 'event loop busy',
    },
    { name: 'ran less than two minutes ago', state: { samples: samples([420, 420, 420, 420], { end: 200_000 }), lastRunAt: 90_000, committedAfterLastRun: 180 * MB }, run: false, why: 'ran recently' },
    { name: 'has not grown since the last run', state: { samples: samples([220, 220, 220, 220], { usedMb: 100, end: 200_000 }), lastRunAt: 0, committedAfterLastRun: 180 * MB }, run: false, why: 'not grown since the last run' },
    { name: 'grown again long after the last run', state: { samples: samples([420, 420, 420, 420], { end: 200_000 }), lastRunAt: 0, committedAfterLastRun: 180 * MB }, run: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = shouldReduce(c.state, DEFAULT_POLICY);
      expect(r.run).toBe(c.run);
      if (c.why) expect(r.why).toBe(c.why);
    });
  }
});

/** fragment fills the heap with short-lived objects among long-lived ones and returns the long-lived ones. */
function fragment(): Map<number, object> {
  const keep = new Map<number, object>();
  let junk: string[] = [];
  for (let i = 0; i < 300_000; i++) {
    const o = { metadata: { name: `p${i}`, labels: { app: 'web', i: String(i) } }, spec: { nodeName: `n${i % 500}` }, status: { phase: 'Running' } };
    keep.set(i % 100_000, o);
    junk.push(JSON.stringify(o));
    if (junk.length > 20_000) junk = [];
  }
  return keep;
}

describe('reduceHeap', () => {
  it('gets V8 gc without --expose-gc and returns a fragmented heap\'s spare pages', () => {
    const gc = exposedGc();
    expect(gc).toBeTypeOf('function');
    const keep = fragment();
    gc!({ type: 'major' }); // an ordinary full GC first: what is left spare is what only compaction returns
    const r = reduceHeap(gc!);
    expect(keep.size).toBe(100_000);
    expect(r.after.committed).toBeLessThan(r.before.committed);
    expect(r.after.committed - r.after.used).toBeLessThan(r.before.committed - r.before.used);
    expect(r.pauseMs).toBeGreaterThan(0);
  });

  it('HeapReducer.check runs it when the policy says so, and then waits for the interval', () => {
    const gc = exposedGc()!;
    const keep = fragment();
    const reducer = new HeapReducer(gc, { policy: { stableForMs: 0, minSpareBytes: 0, minSpareRatio: 0, maxUtilization: 1, growthSlackBytes: Number.MAX_SAFE_INTEGER } });
    const before = getHeapStatistics().total_heap_size;
    expect(reducer.check()).toBe(true);
    expect(getHeapStatistics().total_heap_size).toBeLessThan(before);
    expect(reducer.check()).toBe(false); // within minIntervalMs of the run
    expect(keep.size).toBe(100_000);
  });
});
