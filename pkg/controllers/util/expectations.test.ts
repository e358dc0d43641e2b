// expectations.test: creations and deletions awaited, observed once, and expired after the timeout.
import { describe, expect, it } from 'vitest';
import { EXPECTATIONS_TIMEOUT_MS, Expectations } from './expectations.ts';

describe('Expectations', () => {
  it('is satisfied for an unknown key', () => {
    expect(new Expectations().satisfied('ns/a')).toBe(true);
  });

  it('waits for every expected creation', () => {
    const e = new Expectations();
    e.expectCreations('ns/a', 2);
    expect(e.satisfied('ns/a')).toBe(false);
    e.creationObserved('ns/a');
    expect(e.satisfied('ns/a')).toBe(false);
    e.creationObserved('ns/a');
    expect(e.satisfied('ns/a')).toBe(true);
    expect(e.pending('ns/a')).toEqual({ add: 0, del: 0 });
  });

  it('counts skipped creations', () => {
    const e = new Expectations();
    e.expectCreations('ns/a', 5);
    e.creationSkipped('ns/a', 4);
    e.creationObserved('ns/a');
    expect(e.satisfied('ns/a')).toBe(true);
  });

  it('counts each awaited deletion once, and ignores others', () => {
    const e = new Expectations();
    e.expectDeletions('ns/a', ['ns/p1', 'ns/p2']);
    e.deletionObserved('ns/a', 'ns/p1');
    e.deletionObserved('ns/a', 'ns/p1');
    e.deletionObserved('ns/a', 'ns/other');
    expect(e.satisfied('ns/a')).toBe(false);
    e.deletionObserved('ns/a', 'ns/p2');
    expect(e.satisfied('ns/a')).toBe(true);
  });

  it('expires after the timeout', () => {
    let now = 1000;
    const e = new Expectations({ now: () => now });
    e.expectCreations('ns/a', 1);
    now += EXPECTATIONS_TIMEOUT_MS;
    expect(e.satisfied('ns/a')).toBe(false);
    now += 1;
    expect(e.satisfied('ns/a')).toBe(true);
  });

  it('delete forgets the key', () => {
    const e = new Expectations();
    e.expectCreations('ns/a', 3);
    e.delete('ns/a');
    expect(e.satisfied('ns/a')).toBe(true);
    expect(e.pending('ns/a')).toBeUndefined();
  });
});
