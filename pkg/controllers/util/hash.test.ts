// hash.test: FNV-32a reference vectors and SafeEncodeString's alphabet.
import { describe, expect, it } from 'vitest';
import { Fnv32a, fnv32a, safeEncodeString } from './hash.ts';

describe('fnv32a', () => {
  it.each([
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ])('%j', (s, want) => expect(fnv32a(s)).toBe(want));

  it('is incremental', () => {
    expect(new Fnv32a().write('foo').write('bar').sum32()).toBe(fnv32a('foobar'));
    expect(new Fnv32a().write('x').writeUint32LE(1).sum32()).toBe(fnv32a(new Uint8Array([0x78, 1, 0, 0, 0])));
  });
});

describe('safeEncodeString', () => {
  it('maps each byte into the 27-character alphabet', () => {
    // '0' = 48 → 48 % 27 = 21 → '4'; '1' = 49 → 22 → '5'; '9' = 57 → 3 → 'f'
    expect(safeEncodeString('0019')).toBe('445f');
    expect(safeEncodeString(String(fnv32a('x')))).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
  });
});
