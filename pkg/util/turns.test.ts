// turns.test: TimeSlice gives way and counts only its own time; TurnGate bounds calls in flight and per turn; LoadGate's
// capacity follows the event loop's load.
import { describe, expect, it } from 'vitest';
import { LoadGate, nextTurn, TimeSlice, TurnGate } from './turns.ts';

const busyWait = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('TimeSlice', () => {
  it('is due after its slice and lets a timer run when it yields', async () => {
    const slice = new TimeSlice(5);
    expect(slice.due()).toBe(false);
    busyWait(6);
    expect(slice.due()).toBe(true);
    let ran = false;
    setImmediate(() => (ran = true));
    await slice.yield();
    expect(ran).toBe(true);
    expect(slice.due()).toBe(false);
  });

  it('charges only the time spent in slices', async () => {
    const slice = new TimeSlice(1);
    busyWait(3);
    setImmediate(() => busyWait(30)); // someone else's time, in the turn given away
    await slice.yield();
    expect(slice.busyMs()).toBeGreaterThanOrEqual(3);
    expect(slice.busyMs()).toBeLessThan(25);
  });
});

describe('TurnGate', () => {
  it('runs at most max calls at once, every call in the end, in order', async () => {
    const gate = new TurnGate(3);
    let inFlight = 0;
    let peak = 0;
    const order: number[] = [];
    const calls = Array.from({ length: 20 }, (_, i) =>
      gate.run(async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        order.push(i);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        return i * 2;
      }),
    );
    expect(gate.waiting).toBe(17);
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect(peak).toBe(3);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(gate.waiting).toBe(0);
  });

  it('starts a waiter on a later turn, not in the microtasks of the call that freed its slot', async () => {
    const gate = new TurnGate(1);
    const starts: string[] = [];
    const first = gate.run(async () => void starts.push('first'));
    const second = gate.run(async () => void starts.push('second'));
    await first;
    expect(starts).toEqual(['first']);
    await nextTurn();
    await second;
    expect(starts).toEqual(['first', 'second']);
  });

  it('weighs calls: a heavy one takes more of the capacity and waits, in order, for what it needs', async () => {
    const gate = new TurnGate(4);
    const running = new Set<string>();
    const seen: string[][] = [];
    const call = (name: string, weight: number, ms: number) =>
      gate.run(async () => {
        running.add(name);
        seen.push([...running].sort());
        await new Promise((r) => setTimeout(r, ms));
        running.delete(name);
      }, weight);
    await Promise.all([call('a', 2, 20), call('b', 2, 5), call('heavy', 4, 1), call('c', 1, 1)]);
    // a and b fill the capacity; heavy waits for all 4 units, and c (behind it) for heavy
    expect(seen).toEqual([['a'], ['a', 'b'], ['heavy'], ['c']]);
  });

  it('runs a call heavier than its whole capacity alone, and takes a new capacity at once', async () => {
    const gate = new TurnGate(2);
    const seen: number[] = [];
    let running = 0;
    const call = (weight: number) =>
      gate.run(async () => {
        seen.push(++running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
      }, weight);
    await Promise.all([call(5), call(1), call(1)]);
    expect(seen).toEqual([1, 1, 2]);
    gate.setCapacity(1);
    expect(gate.capacity).toBe(1);
    seen.length = 0;
    await Promise.all([call(1), call(1), call(1)]);
    expect(seen).toEqual([1, 1, 1]);
    expect(gate.idle).toBe(true);
  });

  it('frees the slot of a call that throws', async () => {
    const gate = new TurnGate(1);
    await expect(gate.run(async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(await gate.run(async () => 'yes')).toBe('yes');
  });
});

describe('LoadGate', () => {
  /** keepBusy keeps `n` calls of `ms` each going through the gate until stopped. */
  const keepBusy = (gate: LoadGate, n: number, ms: number) => {
    let stop = false;
    const lane = async () => {
      while (!stop) {
        await gate.run(async () => {
          await new Promise((r) => setTimeout(r, ms));
        });
      }
    };
    const lanes = Array.from({ length: n }, lane);
    return { stop: async () => ((stop = true), await Promise.all(lanes)) };
  };

  it('narrows while the loop runs late, to its minimum, and widens again once it is calm', async () => {
    const gate = new LoadGate({ min: 2, max: 32, highMs: 10, lowMs: 4, sampleMs: 5, windowMs: 50 });
    const calls = keepBusy(gate, 40, 1);
    // a loop whose turns hold 30 ms: timers fire ~25 ms late
    const hog = setInterval(() => busyWait(30), 0);
    await new Promise((r) => setTimeout(r, 1200));
    clearInterval(hog);
    const loaded = gate.capacity;
    await new Promise((r) => setTimeout(r, 1500));
    const calm = gate.capacity;
    await calls.stop();
    expect(loaded).toBe(2);
    expect(calm).toBeGreaterThan(16);
  });

  it('keeps its maximum on a calm loop, and goes back to it once idle', async () => {
    const gate = new LoadGate({ min: 1, max: 8, highMs: 20, lowMs: 8, sampleMs: 5, windowMs: 30 });
    const calls = keepBusy(gate, 20, 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(gate.capacity).toBe(8);
    const hog = setInterval(() => busyWait(40), 0);
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(hog);
    expect(gate.capacity).toBeLessThan(8);
    await calls.stop();
    await new Promise((r) => setTimeout(r, 100)); // a window with nothing running: the timer stops, the capacity resets
    expect(gate.capacity).toBe(8);
  });
});
