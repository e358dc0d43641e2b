// mvcc.test: table tests for the store's pure rules.
import { describe, expect, it } from 'vitest';
import { checkWrite, compactTarget, decodeContinue, encodeContinue, joinStamped, keyOf, labelsText, serialise, SERIALISED, stamp } from './mvcc.ts';

describe('checkWrite', () => {
  const cases: [string, Parameters<typeof checkWrite>[0], { revision: number } | undefined, number | undefined, string | undefined][] = [
    ['create on absent key', 'create', undefined, undefined, undefined],
    ['create on live key', 'create', { revision: 3 }, undefined, 'AlreadyExists'],
    ['update on absent key', 'update', undefined, undefined, 'NotFound'],
    ['update, no precondition', 'update', { revision: 3 }, undefined, undefined],
    ['update, matching revision', 'update', { revision: 3 }, 3, undefined],
    ['update, stale revision', 'update', { revision: 3 }, 2, 'Conflict'],
    ['delete on absent key', 'delete', undefined, 1, 'NotFound'],
    ['delete, stale revision', 'delete', { revision: 3 }, 2, 'Conflict'],
    ['delete, matching revision', 'delete', { revision: 3 }, 3, undefined],
  ];
  for (const [title, kind, current, expected, code] of cases) {
    it(title, () => {
      expect(checkWrite(kind, 'pods', 'ns', 'a', current, expected)?.code).toBe(code);
    });
  }
  it('names the object in its message', () => {
    expect(checkWrite('update', 'pods', 'ns', 'a', undefined)?.message).toBe('pods "ns/a" not found');
    expect(checkWrite('create', 'nodes', '', 'n1', { revision: 1 })?.message).toBe('nodes "n1" already exists');
  });
});

describe('stamp, keyOf, labelsText', () => {
  it('stamps the revision without touching the input', () => {
    const obj = { kind: 'Pod', metadata: { name: 'a', resourceVersion: '1' }, spec: {} };
    expect(JSON.parse(stamp(obj, 42)).metadata.resourceVersion).toBe('42');
    expect(obj.metadata.resourceVersion).toBe('1');
  });
  it('reads the key; cluster-scoped is namespace ""', () => {
    expect(keyOf({ metadata: { name: 'a', namespace: 'x' } })).toEqual({ namespace: 'x', name: 'a' });
    expect(keyOf({ metadata: { name: 'n' } })).toEqual({ namespace: '', name: 'n' });
    expect(() => keyOf({ metadata: {} })).toThrow();
  });
  it('keeps labels as JSON, null when there are none', () => {
    expect(labelsText({ metadata: { labels: { a: 'b' } } })).toBe('{"a":"b"}');
    expect(labelsText({ metadata: { labels: {} } })).toBeNull();
    expect(labelsText({ metadata: {} })).toBeNull();
  });
});

describe('serialise, joinStamped', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['no resourceVersion yet: it goes last in metadata', { kind: 'Pod', metadata: { name: 'a' }, spec: { x: 1 } }],
    ['an old resourceVersion keeps its place', { kind: 'Pod', metadata: { resourceVersion: '1', name: 'a' }, spec: {} }],
    ['the same text elsewhere is left alone', { kind: 'Pod', metadata: { name: 'resourceVersion', annotations: { rv: '"7"' } }, data: { resourceVersion: '9' } }],
    ['metadata after the body', { spec: { big: 'x'.repeat(1000) }, metadata: { name: 'a', namespace: 'n' } }],
  ];
  for (const [title, obj] of cases) {
    it(`${title}: joined at a revision = stamp at that revision`, () => {
      const before = JSON.stringify(obj);
      const text = serialise(obj as never);
      expect(joinStamped(text, 42)).toBe(stamp(obj as never, 42));
      expect(JSON.stringify(obj)).toBe(before); // untouched
    });
  }
  it('an object that carries its text is not serialised again', () => {
    const made = { before: '{"metadata":{"name":"a","resourceVersion":', after: '}}' };
    const shell = { metadata: { name: 'a' }, [SERIALISED]: made };
    expect(serialise(shell as never)).toBe(made);
    expect(joinStamped(made, 7)).toBe('{"metadata":{"name":"a","resourceVersion":"7"}}');
  });
  it('throws for what JSON cannot hold, as stamp does', () => {
    expect(() => serialise({ metadata: { name: 'a' }, n: 1n } as never)).toThrow();
  });
});

describe('continue tokens', () => {
  it('round-trip and are bound to their resource', () => {
    const k = { resource: 'pods', namespace: 'ns', name: 'a', revision: 9 };
    const t = encodeContinue(k);
    expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeContinue(t, 'pods')).toEqual(k);
    expect(decodeContinue(t, 'services')).toMatch(/another resource/);
    expect(decodeContinue('not a token', 'pods')).toMatch(/not valid/);
    expect(decodeContinue(Buffer.from('{"v":2}').toString('base64url'), 'pods')).toMatch(/not valid/);
  });
});

describe('compactTarget', () => {
  it.each([
    [5000, 3000, 1000, 4000],
    [3500, 3000, 1000, undefined],
    [800, 0, 1000, undefined],
    [1001, 0, 1000, 1],
  ])('revision %i, compacted %i, keep %i → %s', (rev, compacted, keep, want) => {
    expect(compactTarget(rev, compacted, keep)).toBe(want);
  });
});
