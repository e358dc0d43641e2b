// negotiate.test: body media types (415), YAML in linear time with duplicate keys refused, nesting limits, list limit parsing.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import { decodeBody, parseListLimit } from './negotiate.ts';

const proto = () => ({ proto: true });
function status(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    return (e as ApiError).code;
  }
  return 0;
}

describe('decodeBody', () => {
  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/cbor'])('%s is a 415', (type) => {
    expect(status(() => decodeBody(Buffer.from('{}'), type, proto))).toBe(415);
  });

  it('reads JSON (also without a content type), YAML and protobuf', () => {
    expect(decodeBody(Buffer.from('{"a":1}'), 'application/json; charset=utf-8', proto)).toEqual({ a: 1 });
    expect(decodeBody(Buffer.from('{"a":1}'), undefined, proto)).toEqual({ a: 1 });
    expect(decodeBody(Buffer.from('a: 1\n'), 'application/yaml', proto)).toEqual({ a: 1 });
    expect(decodeBody(Buffer.from('x'), 'application/vnd.kubernetes.protobuf', proto)).toEqual({ proto: true });
  });

  // the time it takes (linear since the duplicate check keeps one set per mapping) is measured by bench:abuse
  it('refuses duplicate YAML keys and parses a 50,000-key mapping', () => {
    expect(status(() => decodeBody(Buffer.from('a: 1\na: 2\n'), 'application/yaml', proto))).toBe(400);
    expect(status(() => decodeBody(Buffer.from('m:\n  - x: 1\n    x: 2\n'), 'application/yaml', proto))).toBe(400);
    let text = 'data:\n';
    for (let i = 0; i < 50_000; i++) text += `  k${i}: v\n`;
    const v = decodeBody(Buffer.from(text), 'application/yaml', proto) as { data: Record<string, string> };
    expect(Object.keys(v.data)).toHaveLength(50_000);
  });

  it('refuses nesting deeper than the limit, in JSON and YAML', () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    expect(status(() => decodeBody(Buffer.from(deep(1001)), 'application/json', proto))).toBe(400);
    expect(status(() => decodeBody(Buffer.from(deep(1000)), 'application/json', proto))).toBe(0);
    expect(status(() => decodeBody(Buffer.from(`a: ${deep(5000)}`), 'application/yaml', proto))).toBe(400);
  });
});

describe('parseListLimit', () => {
  it.each([
    [null, undefined],
    ['', undefined],
    ['0', 0],
    ['500', 500],
  ])('%s → %s', (raw, want) => expect(parseListLimit(raw)).toBe(want));
  it.each([['1.5', 400], ['1e20', 400], ['1e309', 400], ['abc', 400], ['99999999999999999999', 400], ['-1', 422]])('%s is a %i', (raw, code) => {
    expect(status(() => parseListLimit(raw))).toBe(code);
  });
});

describe('apply patches', () => {
  it('reads JSON apply bodies directly and YAML ones with the YAML parser; duplicates stay refused', () => {
    expect(decodeBody(Buffer.from(' {"a": {"b": [1]}}'), 'application/apply-patch+yaml', proto)).toEqual({ a: { b: [1] } });
    expect(decodeBody(Buffer.from('a:\n  b: [1]\n'), 'application/apply-patch+yaml', proto)).toEqual({ a: { b: [1] } });
    expect(decodeBody(Buffer.from('{a: 1}'), 'application/apply-patch+yaml', proto)).toEqual({ a: 1 });
    expect(status(() => decodeBody(Buffer.from('{a: 1, a: 2}'), 'application/apply-patch+yaml', proto))).toBe(400);
  });
});
