// backoff.test: CrashLoopBackOff and image pull back-off arithmetic.
import { describe, expect, it } from 'vitest';
import { Backoff, formatDuration } from './backoff.ts';

describe('Backoff', () => {
  it('restarts at once the first time, then doubles from 10 s to 5 min', () => {
    const b = new Backoff();
    const k = 'uid/c';
    let t = 0;
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const exit = t; // the container exits right after it starts
      expect(b.inBackOffSince(k, exit, exit)).toBe(i > 0);
      t = exit + b.remaining(k, exit, exit);
      expect(b.inBackOffSince(k, exit, t)).toBe(false);
      b.next(k, exit, t);
      delays.push(b.current(k));
    }
    expect(delays).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  });

  it('resets after running stably for twice the maximum (10 min)', () => {
    const b = new Backoff();
    b.next('k', 0, 0);
    b.next('k', 0, 1000);
    expect(b.current('k')).toBe(20_000);
    const exit = 1000 + 600_001;
    expect(b.inBackOffSince('k', exit, exit)).toBe(false);
    b.next('k', exit, exit);
    expect(b.current('k')).toBe(10_000);
  });

  it('tracks back-off since the last update for image pulls', () => {
    const b = new Backoff();
    b.next('img', 0, 0);
    expect(b.inBackOffSinceUpdate('img', 9_999)).toBe(true);
    expect(b.remainingSinceUpdate('img', 4_000)).toBe(6_000);
    expect(b.inBackOffSinceUpdate('img', 10_000)).toBe(false);
  });

  it('gc drops entries by predicate', () => {
    const b = new Backoff();
    b.next('a/x', 0, 0);
    b.next('b/x', 0, 0);
    b.gc(1, (k) => !k.startsWith('a/'));
    expect(b.current('a/x')).toBe(0);
    expect(b.current('b/x')).toBe(10_000);
  });
});

describe('formatDuration', () => {
  it.each([
    [10_000, '10s'],
    [80_000, '1m20s'],
    [300_000, '5m0s'],
  ])('%d ms → %s', (ms, s) => expect(formatDuration(ms)).toBe(s));
});
