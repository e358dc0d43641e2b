// quantity.test: table tests for quantity parsing, canonical formatting and comparison.
import { describe, expect, it } from 'vitest';
import { canonicalQuantity, compareQuantity, formatQuantity, isQuantity, parseQuantity } from './quantity.ts';

describe('parseQuantity', () => {
  it.each([
    ['100m', 0.1],
    ['128Mi', 134217728],
    ['1G', 1e9],
    ['1e3', 1000],
    ['1E3', 1000],
    ['2', 2],
    ['0.5', 0.5],
    ['1.5Gi', 1610612736],
    ['1Ki', 1024],
    ['500u', 0.0005],
    ['10n', 1e-8],
    ['1k', 1000],
    ['1E', 1e18],
    ['-1', -1],
    ['.5', 0.5],
    ['1e-3', 0.001],
  ])('%s → %d', (s, v) => {
    expect(parseQuantity(s)).toBeCloseTo(v, 12);
  });

  it('passes numbers through', () => {
    expect(parseQuantity(3)).toBe(3);
  });

  it.each(['', 'abc', '1Mb', '1 Gi', '1K', '--1', '1..0', 'Mi'])('rejects %j', (s) => {
    expect(() => parseQuantity(s)).toThrow(/quantities must match/);
    expect(isQuantity(s)).toBe(false);
  });
});

describe('formatQuantity', () => {
  it.each([
    [0.1, 'DecimalSI', '100m'],
    [134217728, 'BinarySI', '128Mi'],
    [1610612736, 'BinarySI', '1536Mi'],
    [1000, 'DecimalSI', '1k'],
    [1500, 'DecimalSI', '1500'],
    [2, 'DecimalSI', '2'],
    [0, 'DecimalSI', '0'],
    [1e9, 'DecimalSI', '1G'],
    [512, 'BinarySI', '512'],
    [1000, 'DecimalExponent', '1e3'],
    [0.25, 'DecimalSI', '250m'],
  ] as const)('%d (%s) → %s', (v, f, s) => {
    expect(formatQuantity(v, f)).toBe(s);
  });
});

describe('canonicalQuantity', () => {
  it.each([
    ['0.5', '500m'],
    ['1024Mi', '1Gi'],
    ['1e3', '1e3'],
    ['100m', '100m'],
    ['1000m', '1'],
    ['0.0001', '1m'],
    ['2Gi', '2Gi'],
    ['1G', '1G'],
    ['128974848', '128974848'],
    ['129e6', '129e6'],
    ['123Mi', '123Mi'],
    ['bogus', 'bogus'],
  ])('%s → %s', (a, b) => {
    expect(canonicalQuantity(a)).toBe(b);
  });
});

describe('compareQuantity', () => {
  it('compares exactly across suffixes', () => {
    expect(compareQuantity('1', '1000m')).toBe(0);
    expect(compareQuantity('2', '1')).toBe(1);
    expect(compareQuantity('1Gi', '1G')).toBe(1);
    expect(compareQuantity('100m', 0.2)).toBe(-1);
  });
});
