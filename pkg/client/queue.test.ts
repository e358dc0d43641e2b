// queue.test: the work queue's contract — many workers, one in flight per key, dedup, delays, back-off, shutdown.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from './queue.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  afterEach(() => vi.useRealTimers());

  it('serves many waiting workers, in arrival order, one key each', async () => {
    const q = new WorkQueue();
    const got: (string | undefined)[] = [];
    const workers = [0, 1, 2].map((i) => q.get().then((k) => (got[i] = k)));
    q.add('a');
    q.add('b');
    q.add('c');
    await Promise.all(workers);
    expect(got).toEqual(['a', 'b', 'c']);
    expect(q.inFlight).toBe(3);
  });

  it('deduplicates a key added many times while waiting', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.length).toBe(0);
  });

  it('never hands a key to two workers; a key added while processing comes back after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const k = await q.get();
    expect(k).toBe('a');
    q.add('a'); // dirty while processing
    q.add('a');
    expect(q.length).toBe(0);
    let second: string | undefined;
    const w2 = q.get().then((x) => (second = x));
    await tick();
    expect(second).toBeUndefined(); // still in flight: the other worker waits
    q.done('a');
    await w2;
    expect(second).toBe('a');
    q.done('a');
    expect(q.length).toBe(0);
    expect(q.inFlight).toBe(0);
  });

  it('three workers on three keys all work (the old single-waiter bug)', async () => {
    const q = new WorkQueue();
    const seen: string[] = [];
    const worker = async () => {
      for (;;) {
        const k = await q.get();
        if (k === undefined) return;
        seen.push(k);
        await new Promise((r) => setTimeout(r, 5));
        q.done(k);
      }
    };
    const ws = [worker(), worker(), worker()];
    for (const k of ['x', 'y', 'z']) q.add(k);
    await new Promise((r) => setTimeout(r, 30));
    q.shutdown();
    await Promise.all(ws); // every worker returns: none hangs through shutdown
    expect(seen.sort()).toEqual(['x', 'y', 'z']);
  });

  it('shutdown wakes every waiter with undefined and ignores later adds', async () => {
    const q = new WorkQueue();
    const ws = [q.get(), q.get(), q.get()];
    q.shutdown();
    expect(await Promise.all(ws)).toEqual([undefined, undefined, undefined]);
    q.add('a');
    expect(q.length).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('shutDownWithDrain resolves once in-flight keys are done', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    const a = (await q.get())!;
    const b = (await q.get())!;
    let drained = false;
    const p = q.shutDownWithDrain().then(() => (drained = true));
    q.done(a);
    await tick();
    expect(drained).toBe(false);
    q.done(b);
    await p;
    expect(drained).toBe(true);
    await q.drained(); // nothing in flight: at once
  });

  it('addAfter adds when the delay passed', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    q.addAfter('a', 100);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(99);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(q.length).toBe(1);
  });

  it('addAfter keeps the earliest deadline per key', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    q.addAfter('a', 1000);
    q.addAfter('a', 100); // earlier wins
    q.addAfter('a', 5000); // later changes nothing
    vi.advanceTimersByTime(100);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    vi.advanceTimersByTime(10_000);
    expect(q.length).toBe(0); // the superseded deadlines do not add it again
  });

  it('addAfter orders different keys by deadline', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    q.addAfter('late', 300);
    q.addAfter('early', 100);
    q.addAfter('mid', 200);
    vi.advanceTimersByTime(300);
    expect([await q.get(), await q.get(), await q.get()]).toEqual(['early', 'mid', 'late']);
  });

  it('addAfter with no delay adds at once; shutdown drops pending delays', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    q.addAfter('now', 0);
    expect(q.length).toBe(1);
    q.addAfter('later', 50);
    q.shutdown();
    vi.advanceTimersByTime(100);
    expect(q.length).toBe(0);
  });

  it('addRateLimited backs off exponentially per key from 5 ms, capped at 1000 s; forget resets', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    const delays: number[] = [];
    const probe = new WorkQueue();
    for (let i = 0; i < 5; i++) delays.push(probe.when('k'));
    expect(delays).toEqual([5, 10, 20, 40, 80]);
    for (let i = 0; i < 30; i++) probe.when('k');
    expect(probe.when('k')).toBe(1_000_000);
    expect(probe.numRequeues('k')).toBe(36);
    expect(probe.when('other')).toBe(5); // per key
    probe.forget('k');
    expect(probe.numRequeues('k')).toBe(0);
    expect(probe.when('k')).toBe(5);

    q.addRateLimited('a'); // 5 ms
    q.addRateLimited('a'); // 10 ms, the earlier deadline (5) stays
    expect(q.numRequeues('a')).toBe(2);
    vi.advanceTimersByTime(5);
    expect(q.length).toBe(1);
  });

  it('keeps constructor options for back-off', () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 300 });
    expect([q.when('a'), q.when('a'), q.when('a'), q.when('a')]).toEqual([100, 200, 300, 300]);
  });

  it('a delayed key that comes due while in flight is processed once more after done', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    q.add('a');
    const k = (await q.get())!;
    q.addAfter('a', 10);
    vi.advanceTimersByTime(10);
    expect(q.length).toBe(0);
    q.done(k);
    expect(q.length).toBe(1);
  });
});
