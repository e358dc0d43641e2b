// meta: upstream's name, label, annotation and selector rules, and ObjectMeta validation shared by every kind.
import type { FieldError } from '../errors.ts';
import { field } from '../errors.ts';
import type { KubeObject, ObjectMeta } from '../types.ts';

/** regexError builds upstream's RegexError text, including its double space between examples. */
export function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  let s = msg + ' (e.g. ';
  examples.forEach((e, i) => {
    if (i > 0) s += ' or ';
    s += `'${e}', `;
  });
  return s + `regex used for validation is '${fmt}')`;
}

export const maxLenError = (n: number): string => `must be no more than ${n} characters`;
export const emptyError = (): string => 'must be non-empty';
export const inclusiveRangeError = (lo: number, hi: number): string => `must be between ${lo} and ${hi}, inclusive`;
export const IS_NEGATIVE = 'must be greater than or equal to 0';
export const IMMUTABLE = 'field is immutable';

const dns1123LabelFmt = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dns1123LabelRe = new RegExp(`^${dns1123LabelFmt}$`);
const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`;
const dns1123SubdomainRe = new RegExp(`^${dns1123SubdomainFmt}$`);
const dns1035LabelFmt = '[a-z]([-a-z0-9]*[a-z0-9])?';
const dns1035LabelRe = new RegExp(`^${dns1035LabelFmt}$`);
const qualifiedNameFmt = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const qualifiedNameRe = new RegExp(`^${qualifiedNameFmt}$`);
const labelValueFmt = `(${qualifiedNameFmt})?`;
const labelValueRe = new RegExp(`^${labelValueFmt}$`);
const configMapKeyFmt = '[-._a-zA-Z0-9]+';
const configMapKeyRe = new RegExp(`^${configMapKeyFmt}$`);
const envVarNameFmt = '[-._a-zA-Z][-._a-zA-Z0-9]*';
const envVarNameRe = new RegExp(`^${envVarNameFmt}$`);

/** isDNS1123Label: the rule for namespace and container names; returns upstream's messages, empty when valid. */
export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push(maxLenError(63));
  if (!dns1123LabelRe.test(value)) {
    errs.push(regexError("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character", dns1123LabelFmt, 'my-name', '123-abc'));
  }
  return errs;
}

/** isDNS1123Subdomain: the rule for most object names. */
export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push(maxLenError(253));
  if (!dns1123SubdomainRe.test(value)) {
    errs.push(regexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", dns1123SubdomainFmt, 'example.com'));
  }
  return errs;
}

/** isDNS1035Label: the rule for Service names (must start with a letter). */
export function isDNS1035Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push(maxLenError(63));
  if (!dns1035LabelRe.test(value)) {
    errs.push(regexError("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character", dns1035LabelFmt, 'my-name', 'abc-123'));
  }
  return errs;
}

/** isQualifiedName: label and annotation keys, `[prefix/]name`. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) errs.push('prefix part ' + emptyError());
    else for (const m of isDNS1123Subdomain(prefix)) errs.push('prefix part ' + m);
  } else {
    return [
      'a qualified name ' +
        regexError("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", qualifiedNameFmt, 'MyName', 'my.name', '123-abc') +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push('name part ' + emptyError());
  else if (name.length > 63) errs.push('name part ' + maxLenError(63));
  if (!qualifiedNameRe.test(name)) {
    errs.push('name part ' + regexError("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", qualifiedNameFmt, 'MyName', 'my.name', '123-abc'));
  }
  return errs;
}

/** isValidLabelValue: empty, or up to 63 alphanumerics with '-', '_' and '.' inside. */
export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push(maxLenError(63));
  if (!labelValueRe.test(value)) {
    errs.push(regexError("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", labelValueFmt, 'MyValue', 'my_value', '12345'));
  }
  return errs;
}

/** isConfigMapKey: keys of ConfigMap and Secret data. */
export function isConfigMapKey(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push(maxLenError(253));
  if (!configMapKeyRe.test(value)) errs.push(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", configMapKeyFmt, 'key.name', 'KEY_NAME', 'key-name'));
  if (value === '.') errs.push("must not be '.'");
  else if (value === '..') errs.push("must not be '..'");
  else if (value.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

/** isEnvVarName: container environment variable names. */
export function isEnvVarName(value: string): string[] {
  const errs: string[] = [];
  if (!envVarNameRe.test(value)) {
    errs.push(regexError("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit", envVarNameFmt, 'my.env-name', 'MY_ENV.NAME', 'MyEnvName1'));
  }
  if (value === '.') errs.push("must not be '.'");
  else if (value === '..') errs.push("must not be '..'");
  else if (value.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

/** isValidPortName: IANA_SVC_NAME, the rule for container port names. */
export function isValidPortName(port: string): string[] {
  const errs: string[] = [];
  if (port.length > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(port)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(port)) errs.push('must contain at least one letter (a-z)');
  if (port.includes('--')) errs.push('must not contain consecutive hyphens');
  if (port.length > 0 && (port.startsWith('-') || port.endsWith('-'))) errs.push('must not begin or end with a hyphen');
  return errs;
}

/** isValidPortNum: 1..65535. */
export function isValidPortNum(port: unknown): string[] {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return [inclusiveRangeError(1, 65535)];
  return [];
}

/** NameRule checks a name (or, with prefix true, a generateName prefix whose trailing '-' is masked). */
export type NameRule = (name: string, prefix: boolean) => string[];

function masked(name: string, prefix: boolean): string {
  return prefix && name.endsWith('-') ? name.slice(0, -1) + 'a' : name;
}

export const nameIsDNSSubdomain: NameRule = (n, p) => isDNS1123Subdomain(masked(n, p));
export const nameIsDNSLabel: NameRule = (n, p) => isDNS1123Label(masked(n, p));
export const nameIsDNS1035Label: NameRule = (n, p) => isDNS1035Label(masked(n, p));

/** validateLabels checks label keys and values under path (errors are reported on the map's path itself, as upstream does). */
export function validateLabels(labels: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (labels === undefined || labels === null) return errs;
  if (typeof labels !== 'object' || Array.isArray(labels)) return [field.invalid(path, labels, 'must be a map of string to string')];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    for (const m of isQualifiedName(k)) errs.push(field.invalid(path, k, m));
    if (typeof v !== 'string') errs.push(field.invalid(path, v, 'must be a string'));
    else for (const m of isValidLabelValue(v)) errs.push(field.invalid(path, v, m));
  }
  return errs;
}

/** TOTAL_ANNOTATION_SIZE is upstream's TotalAnnotationSizeLimitB (256 KiB). */
export const TOTAL_ANNOTATION_SIZE = 256 * 1024;

/** validateAnnotations checks annotation keys and the total size of keys plus values. */
export function validateAnnotations(annotations: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (annotations === undefined || annotations === null) return errs;
  if (typeof annotations !== 'object' || Array.isArray(annotations)) return [field.invalid(path, annotations, 'must be a map of string to string')];
  let size = 0;
  for (const [k, v] of Object.entries(annotations as Record<string, unknown>)) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(field.invalid(path, k, m));
    if (typeof v !== 'string') errs.push(field.invalid(`${path}[${k}]`, v, 'must be a string'));
    size += Buffer.byteLength(k) + Buffer.byteLength(typeof v === 'string' ? v : '');
  }
  if (size > TOTAL_ANNOTATION_SIZE) errs.push(field.tooLong(path, '', TOTAL_ANNOTATION_SIZE));
  return errs;
}

/** LabelSelector is metav1.LabelSelector. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** validateLabelSelector checks matchLabels and matchExpressions under path. */
export function validateLabelSelector(sel: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (sel === undefined || sel === null) return errs;
  if (typeof sel !== 'object' || Array.isArray(sel)) return [field.invalid(path, sel, 'invalid label selector')];
  const s = sel as LabelSelector;
  errs.push(...validateLabels(s.matchLabels, `${path}.matchLabels`));
  (s.matchExpressions ?? []).forEach((r, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    const values = r.values ?? [];
    switch (r.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) errs.push(field.required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) errs.push(field.forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        errs.push(field.invalid(`${p}.operator`, r.operator, 'not a valid selector operator'));
    }
    for (const m of isQualifiedName(r.key ?? '')) errs.push(field.invalid(`${p}.key`, r.key, m));
    values.forEach((v, j) => {
      for (const m of isValidLabelValue(v)) errs.push(field.invalid(`${p}.values[${j}]`, v, m));
    });
  });
  return errs;
}

/** selectorIsEmpty: a selector with neither matchLabels nor matchExpressions (upstream: matches everything). */
export function selectorIsEmpty(sel: LabelSelector | undefined): boolean {
  return !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0);
}

/** selectorMatches evaluates a LabelSelector against labels. */
export function selectorMatches(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const r of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(l, r.key);
    const vals = r.values ?? [];
    switch (r.operator) {
      case 'In':
        if (!has || !vals.includes(l[r.key])) return false;
        break;
      case 'NotIn':
        if (has && vals.includes(l[r.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** MetaOptions says how a kind names its objects and whether they live in a namespace. */
export interface MetaOptions {
  namespaced: boolean;
  nameRule: NameRule;
}

/** validateObjectMeta: name or generateName, namespace presence, labels, annotations, owner references, finalizers. */
export function validateObjectMeta(meta: ObjectMeta | undefined, opts: MetaOptions, path = 'metadata'): FieldError[] {
  const errs: FieldError[] = [];
  if (!meta || typeof meta !== 'object') return [field.required(path, '')];
  if (meta.generateName) {
    for (const m of opts.nameRule(meta.generateName, true)) errs.push(field.invalid(`${path}.generateName`, meta.generateName, m));
  }
  if (!meta.name) {
    errs.push(field.required(`${path}.name`, 'name or generateName is required'));
  } else {
    for (const m of opts.nameRule(meta.name, false)) errs.push(field.invalid(`${path}.name`, meta.name, m));
  }
  if (opts.namespaced) {
    if (!meta.namespace) errs.push(field.required(`${path}.namespace`));
    else for (const m of isDNS1123Label(meta.namespace)) errs.push(field.invalid(`${path}.namespace`, meta.namespace, m));
  } else if (meta.namespace) {
    errs.push(field.forbidden(`${path}.namespace`, 'not allowed on this type'));
  }
  if (meta.generation !== undefined && meta.generation < 0) errs.push(field.invalid(`${path}.generation`, meta.generation, IS_NEGATIVE));
  errs.push(...validateLabels(meta.labels, `${path}.labels`));
  errs.push(...validateAnnotations(meta.annotations, `${path}.annotations`));
  errs.push(...validateOwnerReferences(meta.ownerReferences, `${path}.ownerReferences`));
  (meta.finalizers ?? []).forEach((f, i) => {
    for (const m of isQualifiedName(f)) errs.push(field.invalid(`${path}.finalizers[${i}]`, f, m));
  });
  return errs;
}

function validateOwnerReferences(refs: ObjectMeta['ownerReferences'], path: string): FieldError[] {
  const errs: FieldError[] = [];
  let controllers = 0;
  (refs ?? []).forEach((r, i) => {
    const p = `${path}[${i}]`;
    if (!r.apiVersion) errs.push(field.invalid(`${p}.apiVersion`, r.apiVersion ?? '', 'version must not be empty'));
    if (!r.kind) errs.push(field.invalid(`${p}.kind`, r.kind ?? '', 'kind must not be empty'));
    if (!r.name) errs.push(field.invalid(`${p}.name`, r.name ?? '', 'name must not be empty'));
    if (!r.uid) errs.push(field.invalid(`${p}.uid`, r.uid ?? '', 'uid must not be empty'));
    if (r.controller) controllers++;
  });
  if (controllers > 1) errs.push(field.invalid(path, refs, 'Only one reference can have Controller set to true'));
  return errs;
}

/** validateObjectMetaUpdate: name, namespace, uid and creationTimestamp may not change. */
export function validateObjectMetaUpdate(next: ObjectMeta, old: ObjectMeta, path = 'metadata'): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of ['name', 'namespace', 'uid', 'creationTimestamp'] as const) {
    const a = next[k] ?? undefined;
    const b = old[k] ?? undefined;
    if (a !== b) errs.push(field.invalid(`${path}.${k}`, a ?? '', IMMUTABLE));
  }
  return errs;
}

/** validateImmutable is upstream's ValidateImmutableField. */
export function validateImmutable(next: unknown, old: unknown, path: string): FieldError[] {
  return deepEqual(next, old) ? [] : [field.invalid(path, next, IMMUTABLE)];
}

/** validateNonnegative: `must be greater than or equal to 0` for numbers below zero. */
export function validateNonnegative(value: unknown, path: string): FieldError[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'number' || !Number.isInteger(value)) return [field.invalid(path, value, 'must be an integer')];
  return value < 0 ? [field.invalid(path, value, IS_NEGATIVE)] : [];
}

/** validateDNS1123Label reports each DNS-1123 label message as an Invalid error at path. */
export function validateDNS1123Label(value: string, path: string): FieldError[] {
  return isDNS1123Label(value).map((m) => field.invalid(path, value, m));
}

/**
 * deepEqual compares JSON values as their encodings would: a missing key equals an undefined one, an undefined array
 * item equals null. Parts the two share are equal at once, without a walk.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i] ?? null, b[i] ?? null)) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  let defined = 0;
  for (const k in ao) {
    if (!Object.hasOwn(ao, k) || ao[k] === undefined) continue;
    defined++;
    if (!deepEqual(ao[k], bo[k])) return false;
  }
  for (const k in bo) if (Object.hasOwn(bo, k) && bo[k] !== undefined) defined--;
  return defined === 0;
}

/** ensure returns obj[key] as a record, creating it when missing. */
export function ensure(obj: Record<string, any>, key: string): Record<string, any> {
  if (obj[key] === undefined || obj[key] === null || typeof obj[key] !== 'object') obj[key] = {};
  return obj[key];
}

/** specOf is obj.spec as a record, or an empty record when absent. */
export function specOf(obj: KubeObject): Record<string, any> {
  return obj.spec && typeof obj.spec === 'object' ? obj.spec : {};
}

/** KindRules is what each kind contributes: its name rule, defaults, spec validation, update rules and selectable fields. */
export interface KindRules {
  nameRule: NameRule;
  /** defaults mutates obj in place; old is the stored object on update (create-only defaults skip then). */
  defaults?(obj: KubeObject, old?: KubeObject): void;
  /** validate checks everything but ObjectMeta, which index.ts checks for every kind. */
  validate?(obj: KubeObject): FieldError[];
  /** validateUpdate adds the update-only rules (immutable fields). */
  validateUpdate?(next: KubeObject, old: KubeObject): FieldError[];
  /**
   * validateStatusUpdate, when a kind has it, replaces validate and validateUpdate for a write to /status, as upstream's
   * status strategies do (ValidatePodStatusUpdate …): the spec is the stored one, valid already, and only what a status
   * write may change is checked. Kinds without it validate the whole object.
   */
  validateStatusUpdate?(next: KubeObject, old: KubeObject): FieldError[];
  /** fields are the kind-specific field-selector fields. */
  fields?(obj: KubeObject): Record<string, string>;
  /**
   * statusKeepsAnnotations: a write to /status also stores the annotations it carries (upstream's apps status
   * strategies reset only spec and labels; the deployment controller records its revision that way).
   */
  statusKeepsAnnotations?: boolean;
}
