// picker.test: round robin, ClientIP affinity (stickiness, expiry, target removal) of the endpoint picker.
import { describe, expect, it } from 'vitest';
import { EndpointPicker } from './picker.ts';

const T = (n: number) => Array.from({ length: n }, (_, i) => ({ ip: `10.42.0.${i + 1}`, port: 80 }));

describe('EndpointPicker', () => {
  it('round-robins and returns -1 with no targets', () => {
    const p = new EndpointPicker();
    expect(p.start('1.1.1.1')).toBe(-1);
    p.set(T(3), 0);
    expect([0, 1, 2, 3, 4].map(() => p.start('1.1.1.1'))).toEqual([0, 1, 2, 0, 1]);
    p.set(T(1), 0);
    expect([p.start(undefined), p.start(undefined)]).toEqual([0, 0]);
  });

  it('sticks a client to where it connected until the timeout, and only while the target is listed', () => {
    let now = 1_000_000;
    const p = new EndpointPicker(() => now);
    p.set(T(3), 10);
    expect(p.start('1.1.1.1')).toBe(0);
    p.connected('1.1.1.1', p.targets[2]); // it landed on the third after retries
    expect([p.start('1.1.1.1'), p.start('1.1.1.1')]).toEqual([2, 2]);
    expect(p.start('2.2.2.2')).toBe(1); // another client round-robins on
    now += 9_000;
    expect(p.start('1.1.1.1')).toBe(2);
    now += 10_001; // expired: round robin again
    expect(p.start('1.1.1.1')).toBe(2);
    p.connected('1.1.1.1', p.targets[1]);
    expect(p.start('1.1.1.1')).toBe(1);
    p.set([p.targets[0], p.targets[2]], 10); // the sticky target leaves
    expect(p.start('1.1.1.1')).toBe(0);
    p.set(T(3), 0);
    expect(p.affinitySize).toBe(0);
  });

  it('re-points a client only through connected, and sweeps expired clients', () => {
    let now = 0;
    const p = new EndpointPicker(() => now);
    p.set(T(2), 1);
    for (let i = 0; i < 100; i++) p.connected(`10.0.0.${i}`, p.targets[i % 2]);
    expect(p.affinitySize).toBe(100);
    now = 61_000;
    p.start('9.9.9.9');
    expect(p.affinitySize).toBe(0);
  });
});
