// meta.test: table tests for upstream's name, label, annotation and selector rules.
import { describe, expect, it } from 'vitest';
import { fieldErrorText } from '../errors.ts';
import {
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
  nameIsDNSSubdomain,
  selectorMatches,
  validateAnnotations,
  validateLabels,
  validateLabelSelector,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from './meta.ts';

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

describe('names', () => {
  it.each([
    ['web', true],
    ['web.example.com', true],
    ['a', true],
    ['0abc', true],
    ['Web', false],
    ['web_1', false],
    ['-web', false],
    ['web-', false],
    ['web..x', false],
    ['', false],
    ['a'.repeat(253), true],
    ['a'.repeat(254), false],
  ])('subdomain %j valid=%s', (n, ok) => {
    expect(isDNS1123Subdomain(n).length === 0).toBe(ok);
  });

  it('uses the upstream subdomain message', () => {
    expect(isDNS1123Subdomain('Bad_Name')).toEqual([SUBDOMAIN_MSG]);
    expect(isDNS1123Subdomain('a'.repeat(254))).toEqual(['must be no more than 253 characters']);
  });

  it.each([
    ['web', true],
    ['web.x', false],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['UPPER', false],
  ])('label %j valid=%s', (n, ok) => {
    expect(isDNS1123Label(n).length === 0).toBe(ok);
  });

  it('uses the upstream label message (with its double spaces)', () => {
    expect(isDNS1123Label('a.b')).toEqual([LABEL_MSG]);
  });

  it('DNS-1035 labels must start with a letter', () => {
    expect(isDNS1035Label('web')).toEqual([]);
    expect(isDNS1035Label('1web')[0]).toContain('a DNS-1035 label must consist of lower case alphanumeric characters');
  });

  it('masks the trailing dash of a generateName prefix', () => {
    expect(nameIsDNSSubdomain('web-', true)).toEqual([]);
    expect(nameIsDNSSubdomain('web-', false)).toEqual([SUBDOMAIN_MSG]);
  });
});

describe('labels and annotations', () => {
  it.each([
    ['app', true],
    ['app.kubernetes.io/name', true],
    ['example.com/My_Key.1', true],
    ['/x', false],
    ['a/b/c', false],
    ['Example.com/x', false],
    ['-x', false],
    ['x'.repeat(64), false],
  ])('key %j valid=%s', (k, ok) => {
    expect(isQualifiedName(k).length === 0).toBe(ok);
  });

  it.each([
    ['', true],
    ['v1.2_3-x', true],
    ['-x', false],
    ['a b', false],
    ['x'.repeat(64), false],
  ])('value %j valid=%s', (v, ok) => {
    expect(isValidLabelValue(v).length === 0).toBe(ok);
  });

  it('reports label errors on the map path with the upstream text', () => {
    const errs = validateLabels({ 'bad key!': 'ok', good: 'bad value!' }, 'metadata.labels');
    expect(errs.map(fieldErrorText)).toEqual([
      `metadata.labels: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
      `metadata.labels: Invalid value: "bad value!": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    ]);
  });

  it('limits the total annotation size to 256KiB', () => {
    expect(validateAnnotations({ a: 'x'.repeat(256 * 1024) }, 'metadata.annotations').map(fieldErrorText)).toEqual([
      'metadata.annotations: Too long: must have at most 262144 bytes',
    ]);
    expect(validateAnnotations({ 'kubectl.kubernetes.io/last-applied-configuration': '{}' }, 'metadata.annotations')).toEqual([]);
  });
});

describe('other name rules', () => {
  it('config keys', () => {
    expect(isConfigMapKey('app.properties')).toEqual([]);
    expect(isConfigMapKey('a b')[0]).toContain("a valid config key must consist of alphanumeric characters, '-', '_' or '.'");
    expect(isConfigMapKey('..x')).toEqual(["must not start with '..'"]);
  });
  it('env names', () => {
    expect(isEnvVarName('MY_VAR')).toEqual([]);
    expect(isEnvVarName('1X')).toHaveLength(1);
  });
  it('port names', () => {
    expect(isValidPortName('http')).toEqual([]);
    expect(isValidPortName('8080')).toEqual(['must contain at least one letter (a-z)']);
    expect(isValidPortName('a--b')).toEqual(['must not contain consecutive hyphens']);
    expect(isValidPortName('this-is-way-too-long')).toEqual(['must be no more than 15 characters']);
  });
});

describe('selectors', () => {
  it('matches labels and expressions', () => {
    const sel = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }, { key: 'canary', operator: 'DoesNotExist' }] };
    expect(selectorMatches(sel, { app: 'web', tier: 'a' })).toBe(true);
    expect(selectorMatches(sel, { app: 'web', tier: 'c' })).toBe(false);
    expect(selectorMatches(sel, { app: 'web', tier: 'a', canary: 'x' })).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['1'] }] }, {})).toBe(true);
  });
  it('validates operators and values', () => {
    const errs = validateLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In' }, { key: 'b', operator: 'Exists', values: ['x'] }, { key: 'c', operator: 'Maybe' }] }, 'spec.selector');
    expect(errs.map(fieldErrorText)).toEqual([
      "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
      "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
      'spec.selector.matchExpressions[2].operator: Invalid value: "Maybe": not a valid selector operator',
    ]);
  });
});

describe('validateObjectMeta', () => {
  const opts = { namespaced: true, nameRule: nameIsDNSSubdomain };
  it('requires name or generateName', () => {
    expect(validateObjectMeta({ namespace: 'default' }, opts).map(fieldErrorText)).toEqual(['metadata.name: Required value: name or generateName is required']);
  });
  it('accepts generateName alone', () => {
    expect(validateObjectMeta({ generateName: 'web-', name: 'web-abcde', namespace: 'default' }, opts)).toEqual([]);
  });
  it('requires a namespace for namespaced kinds and forbids it otherwise', () => {
    expect(validateObjectMeta({ name: 'x' }, opts).map(fieldErrorText)).toEqual(['metadata.namespace: Required value']);
    expect(validateObjectMeta({ name: 'x', namespace: 'default' }, { namespaced: false, nameRule: nameIsDNSSubdomain }).map(fieldErrorText)).toEqual([
      'metadata.namespace: Forbidden: not allowed on this type',
    ]);
  });
  it('rejects a bad name with the upstream message', () => {
    expect(validateObjectMeta({ name: 'Bad', namespace: 'default' }, opts).map(fieldErrorText)).toEqual([`metadata.name: Invalid value: "Bad": ${SUBDOMAIN_MSG}`]);
  });
  it('keeps name, namespace, uid and creationTimestamp on update', () => {
    const old = { name: 'a', namespace: 'n', uid: 'u1', creationTimestamp: '2024-01-01T00:00:00Z' };
    expect(validateObjectMetaUpdate({ ...old, labels: { x: 'y' } }, old)).toEqual([]);
    expect(validateObjectMetaUpdate({ ...old, uid: 'u2' }, old).map(fieldErrorText)).toEqual(['metadata.uid: Invalid value: "u2": field is immutable']);
  });
});
