// selectors.test: label and field selector grammar, upstream error texts, matching and printing.
import { fieldsOf } from './kinds/index.ts';
import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.ts';
import { RESOURCES } from './resources.ts';
import type { ResourceInfo } from './resources.ts';
import {
  checkFieldSelector,
  formatLabels,
  formatLabelSelector,
  labelSelectorFromObject,
  matchFields,
  matchLabels,
  NOTHING,
  parseFieldSelector,
  parseLabelSelector,
  requirementsToString,
  selectorFromSet,
  selectorToString,
} from './selectors.ts';

const res = (resource: string): ResourceInfo => RESOURCES.find((r) => r.resource === resource)!;

/** thrown runs fn and returns the ApiError it throws. */
function thrown(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected an ApiError');
}

const nameRegexText =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

describe('parseLabelSelector', () => {
  it.each([
    ['', []],
    ['   ', []],
    ['app=web', [{ key: 'app', operator: '=', values: ['web'] }]],
    ['app==web', [{ key: 'app', operator: '==', values: ['web'] }]],
    ['app!=web', [{ key: 'app', operator: '!=', values: ['web'] }]],
    ['app=', [{ key: 'app', operator: '=', values: [''] }]],
    ['app', [{ key: 'app', operator: 'exists', values: [] }]],
    ['!canary', [{ key: 'canary', operator: '!', values: [] }]],
    ['tier in (b, a,b)', [{ key: 'tier', operator: 'in', values: ['a', 'b'] }]],
    ['tier notin (x)', [{ key: 'tier', operator: 'notin', values: ['x'] }]],
    ['tier in ()', [{ key: 'tier', operator: 'in', values: [''] }]],
    ['tier in (,a)', [{ key: 'tier', operator: 'in', values: ['', 'a'] }]],
    ['in in (in, notin)', [{ key: 'in', operator: 'in', values: ['in', 'notin'] }]],
    ['x>5', [{ key: 'x', operator: 'gt', values: ['5'] }]],
    ['x<10', [{ key: 'x', operator: 'lt', values: ['10'] }]],
    ['example.com/role=db', [{ key: 'example.com/role', operator: '=', values: ['db'] }]],
  ])('parses %j', (s, want) => {
    expect(parseLabelSelector(s)).toEqual(want);
  });

  it('sorts requirements by key, whatever the input order', () => {
    const reqs = parseLabelSelector('tier in (a,b), !canary,env notin (prod),app = web');
    expect(reqs.map((r) => r.key)).toEqual(['app', 'canary', 'env', 'tier']);
    expect(requirementsToString(reqs)).toBe('app=web,!canary,env notin (prod),tier in (a,b)');
  });

  it.each([
    ['a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ['a=b c', "found 'c', expected: ',' or 'end of string'"],
    ['a=b,', "found '', expected: identifier after ','"],
    [',a', "found ',', expected: !, identifier, or 'end of string'"],
    ['a in b', "unable to parse requirement: found 'b' expected: '('"],
    ['a in (b', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['a in (b c)', "unable to parse requirement: found 'c', expected: ',' or ')'"],
    ['a=(b)', "unable to parse requirement: found '(', expected: identifier"],
    ['!a=b', "found '=', expected: ',' or 'end of string'"],
    ['-a=b', `unable to parse requirement: <nil>: Invalid value: "-a": name part ${nameRegexText}`],
    ['a/b/c', `unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name ${nameRegexText} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`],
    [
      'Example.com/a',
      `unable to parse requirement: <nil>: Invalid value: "Example.com/a": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ],
    [
      'a=-b',
      `unable to parse requirement: values[0][a]: Invalid value: "-b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    ],
    ['a=' + 'x'.repeat(64), `unable to parse requirement: values[0][a]: Invalid value: "${'x'.repeat(64)}": must be no more than 63 characters`],
    ['x>a', `unable to parse requirement: values[0]: Invalid value: "a": for 'Gt', 'Lt' operators, the value must be an integer`],
  ])('rejects %j with 400 %j', (s, message) => {
    const e = thrown(() => parseLabelSelector(s));
    expect(e.code).toBe(400);
    expect(e.reason).toBe('BadRequest');
    expect(e.message).toBe(message);
  });
});

describe('matchLabels', () => {
  const labels = { app: 'web', tier: 'a', x: '7' };
  it.each([
    ['', true],
    ['app=web', true],
    ['app==web,tier=a', true],
    ['app=db', false],
    ['app!=web', false],
    ['app!=db', true],
    ['missing!=x', true],
    ['tier in (a,b)', true],
    ['tier in (b)', false],
    ['tier notin (a)', false],
    ['missing notin (a)', true],
    ['missing in (a)', false],
    ['app', true],
    ['missing', false],
    ['!canary', true],
    ['!app', false],
    ['x>5', true],
    ['x<5', false],
    ['app>5', false],
  ])('%j → %s', (s, want) => {
    expect(matchLabels(parseLabelSelector(s), labels)).toBe(want);
  });

  it('treats missing labels as an empty set', () => {
    expect(matchLabels([], undefined)).toBe(true);
    expect(matchLabels(parseLabelSelector('!a'), undefined)).toBe(true);
    expect(matchLabels(parseLabelSelector('a'), null)).toBe(false);
  });
});

describe('labelSelectorFromObject', () => {
  it('a nil selector matches nothing, an empty one everything', () => {
    expect(matchLabels(labelSelectorFromObject(null), { app: 'web' })).toBe(false);
    expect(matchLabels(labelSelectorFromObject(undefined), {})).toBe(false);
    expect(matchLabels(NOTHING, {})).toBe(false);
    expect(matchLabels(labelSelectorFromObject({}), { app: 'web' })).toBe(true);
    expect(matchLabels(labelSelectorFromObject({ matchLabels: {}, matchExpressions: [] }), {})).toBe(true);
  });

  it('converts matchLabels and all four expression operators', () => {
    const reqs = labelSelectorFromObject({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['b', 'a'] },
        { key: 'env', operator: 'NotIn', values: ['prod'] },
        { key: 'team', operator: 'Exists' },
        { key: 'canary', operator: 'DoesNotExist', values: [] },
      ],
    });
    expect(matchLabels(reqs, { app: 'web', tier: 'b', team: 'x' })).toBe(true);
    expect(matchLabels(reqs, { app: 'web', tier: 'b', team: 'x', canary: '1' })).toBe(false);
    expect(matchLabels(reqs, { app: 'web', tier: 'b', team: 'x', env: 'prod' })).toBe(false);
    expect(matchLabels(reqs, { app: 'web', tier: 'c', team: 'x' })).toBe(false);
    expect(requirementsToString(reqs)).toBe('app=web,!canary,env notin (prod),team,tier in (a,b)');
  });

  it('rejects unknown operators and invalid values with 400', () => {
    expect(thrown(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] })).message).toBe(
      '"Equals" is not a valid label selector operator',
    );
    expect(thrown(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] })).message).toBe(
      `values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty`,
    );
    expect(thrown(() => labelSelectorFromObject({ matchLabels: { 'a b': 'x' } })).message).toMatch(/^key: Invalid value: "a b": name part must consist/);
  });
});

describe('selector printing', () => {
  it('selectorToString is upstream String() form, keys sorted', () => {
    expect(selectorToString({ matchLabels: { tier: 'fe', app: 'web' } })).toBe('app=web,tier=fe');
    expect(selectorToString({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }] })).toBe('app=web,tier in (a,b)');
    expect(selectorToString({})).toBe('');
    expect(selectorToString(null)).toBe('');
  });
  it('formatLabelSelector says <none> and <error>', () => {
    expect(formatLabelSelector({ matchLabels: { app: 'web' } })).toBe('app=web');
    expect(formatLabelSelector({})).toBe('<none>');
    expect(formatLabelSelector(null)).toBe('<none>');
    expect(formatLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Bogus' }] })).toBe('<error>');
  });
  it('formatLabels sorts keys and says <none> when empty', () => {
    expect(formatLabels({ b: '2', a: '1' })).toBe('a=1,b=2');
    expect(formatLabels({})).toBe('<none>');
    expect(formatLabels(undefined)).toBe('<none>');
  });
  it('selectorFromSet: map selectors, empty selects everything', () => {
    expect(matchLabels(selectorFromSet({ app: 'web' }), { app: 'web', x: 'y' })).toBe(true);
    expect(matchLabels(selectorFromSet({ app: 'web' }), { app: 'db' })).toBe(false);
    expect(matchLabels(selectorFromSet({}), { app: 'db' })).toBe(true);
    expect(requirementsToString(selectorFromSet({ b: '2', a: '1' }))).toBe('a=1,b=2');
  });
});

describe('parseFieldSelector', () => {
  it('parses terms in any order and sorts them', () => {
    expect(parseFieldSelector('involvedObject.name=web,involvedObject.namespace=default,involvedObject.kind=Pod')).toEqual([
      { field: 'involvedObject.kind', operator: '=', value: 'Pod' },
      { field: 'involvedObject.name', operator: '=', value: 'web' },
      { field: 'involvedObject.namespace', operator: '=', value: 'default' },
    ]);
  });
  it.each([
    ['', []],
    ['metadata.name=web', [{ field: 'metadata.name', operator: '=', value: 'web' }]],
    ['metadata.name==web', [{ field: 'metadata.name', operator: '=', value: 'web' }]],
    ['status.phase!=Running', [{ field: 'status.phase', operator: '!=', value: 'Running' }]],
    ['spec.nodeName=', [{ field: 'spec.nodeName', operator: '=', value: '' }]],
    ['a=b,,', [{ field: 'a', operator: '=', value: 'b' }]],
    ['metadata.name=a\\,b\\=c\\\\d', [{ field: 'metadata.name', operator: '=', value: 'a,b=c\\d' }]],
  ])('parses %j', (s, want) => {
    expect(parseFieldSelector(s)).toEqual(want);
  });
  it.each([
    ['foo', "invalid selector: 'foo'; can't understand 'foo'"],
    ['a=b,c', "invalid selector: 'a=b,c'; can't understand 'c'"],
    ['a=b=c', 'invalid field selector: unescaped character in value: 61'],
    ['a=b\\x', 'invalid field selector: invalid escape sequence: \\x'],
    ['a=b\\', 'invalid field selector: invalid escape sequence: \\'],
  ])('rejects %j with 400 %j', (s, message) => {
    const e = thrown(() => parseFieldSelector(s));
    expect(e.code).toBe(400);
    expect(e.message).toBe(message);
  });
});

describe('field matching and support', () => {
  it('matchFields: missing fields read as empty', () => {
    const f = { 'metadata.name': 'web', 'status.phase': 'Running' };
    expect(matchFields(parseFieldSelector('metadata.name=web'), f)).toBe(true);
    expect(matchFields(parseFieldSelector('metadata.name=web,status.phase!=Running'), f)).toBe(false);
    expect(matchFields(parseFieldSelector('status.phase!=Succeeded'), f)).toBe(true);
    expect(matchFields(parseFieldSelector('spec.nodeName='), f)).toBe(true);
    expect(matchFields([], f)).toBe(true);
  });

  it('checkFieldSelector answers upstream 400s', () => {
    expect(thrown(() => checkFieldSelector(parseFieldSelector('foo=bar'), new Set(Object.keys(fieldsOf(res('pods'), { metadata: {} }))))).message).toBe('field label not supported: foo');
    expect(thrown(() => checkFieldSelector(parseFieldSelector('data.x=1'), new Set(Object.keys(fieldsOf(res('configmaps'), { metadata: {} }))))).message).toBe(
      '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"',
    );
    expect(() => checkFieldSelector(parseFieldSelector('spec.nodeName=n1,status.phase!=Running'), new Set(Object.keys(fieldsOf(res('pods'), { metadata: {} }))))).not.toThrow();
    expect(() => checkFieldSelector(parseFieldSelector('involvedObject.uid=1,type=Warning'), new Set(Object.keys(fieldsOf(res('events'), { metadata: {} }))))).not.toThrow();
  });
});
