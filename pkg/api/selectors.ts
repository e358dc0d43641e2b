// selectors: label and field selectors — parsing, matching and printing exactly as upstream's labels and fields packages.
import { errors, fieldErrorText, field } from './errors.ts';
import type { FieldError } from './errors.ts';
import type { KubeObject } from './types.ts';
import { isQualifiedName, isValidLabelValue } from './kinds/meta.ts';

/** LabelOperator is upstream's selection.Operator spelling: `in`, `notin`, `=`, `==`, `!=`, `exists`, `!`, `gt`, `lt`. */
export type LabelOperator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

/** LabelRequirement is one term of a label selector; a selector is the AND of its requirements. */
export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

/** LabelSelectorObject is the structured selector of Deployments, ReplicaSets, Jobs… (metav1.LabelSelector). */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: { key: string; operator: string; values?: string[] | null }[] | null;
}

/**
 * NOTHING is the selector that matches no label set, upstream's labels.Nothing(): one `key in ()` term
 * with an empty key and no values, which no label set can satisfy. It prints as the empty string.
 */
export const NOTHING: readonly LabelRequirement[] = Object.freeze([Object.freeze({ key: '', operator: 'in', values: [] as string[] })]) as readonly LabelRequirement[];

/** selectsNothing tells whether reqs is (or contains) the NOTHING term. */
export function selectsNothing(reqs: readonly LabelRequirement[]): boolean {
  return reqs.some((r) => r.key === '' && (r.operator === 'in' || r.operator === '=') && r.values.length === 0);
}

// ---------------------------------------------------------------------------------------------
// Validation texts (k8s.io/apimachinery/pkg/util/validation).

/** labelKeyErrors is upstream's IsQualifiedName: `[prefix/]name`, the texts kubectl users see. Empty = valid. */
export const labelKeyErrors = isQualifiedName;

/** labelValueErrors is upstream's IsValidLabelValue. Empty = valid. */
export const labelValueErrors = isValidLabelValue;

/** aggregate joins error texts as Go's utilerrors aggregate prints them: one bare, several in `[a, b]`, duplicates once. */
function aggregate(msgs: string[]): string {
  const seen = [...new Set(msgs)];
  return seen.length === 1 ? seen[0] : `[${seen.join(', ')}]`;
}

/** newRequirement is upstream's labels.NewRequirement: validates the key, the operator's arity and each value. */
function newRequirement(key: string, operator: LabelOperator, values: string[]): LabelRequirement {
  const errs: FieldError[] = [];
  const keyErrs = labelKeyErrors(key);
  if (keyErrs.length) errs.push(field.invalid('key', key, keyErrs.join('; ')));
  switch (operator) {
    case 'in':
    case 'notin':
      if (values.length === 0) errs.push(field.invalid('values', values, "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case '=':
    case '==':
    case '!=':
      if (values.length !== 1) errs.push(field.invalid('values', values, 'exact-match compatibility requires one single value'));
      break;
    case 'exists':
    case '!':
      if (values.length !== 0) errs.push(field.invalid('values', values, 'values set must be empty for exists and does not exist'));
      break;
    case 'gt':
    case 'lt':
      if (values.length !== 1) errs.push(field.invalid('values', values, "for 'Gt', 'Lt' operators, exactly one value is required"));
      values.forEach((v, i) => {
        if (!/^[+-]?\d+$/.test(v)) errs.push(field.invalid(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
      });
      break;
  }
  values.forEach((v, i) => {
    const vErrs = labelValueErrors(v);
    if (vErrs.length) errs.push(field.invalid(`values[${i}][${key}]`, v, vErrs.join('; ')));
  });
  if (errs.length) throw new Error(aggregate(errs.map(fieldErrorText)));
  return { key, operator, values };
}

function byKey(a: LabelRequirement, b: LabelRequirement): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** sortedSet is Go's sets.String(...).List(): unique and sorted. */
function sortedSet(values: string[]): string[] {
  return [...new Set(values)].sort();
}

// ---------------------------------------------------------------------------------------------
// Label selector string grammar (k8s.io/apimachinery/pkg/labels/selector.go: Lexer + Parser).

type Tok = 'err' | 'eos' | ')' | ',' | '!' | '==' | '=' | '>' | 'id' | 'in' | '<' | '!=' | 'notin' | '(';
interface Item {
  tok: Tok;
  lit: string;
}

const literalTokens: Record<string, Tok> = { ')': ')', ',': ',', '!': '!', '==': '==', '=': '=', '>': '>', in: 'in', '<': '<', '!=': '!=', notin: 'notin', '(': '(' };
const isWhitespace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
const isSpecial = (ch: string) => '=!(),><'.includes(ch);

/** lex splits a selector into tokens as upstream's Lexer does (identifiers run until whitespace or a special symbol). */
function lex(s: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && isWhitespace(s[pos])) pos++;
    if (pos >= s.length) {
      items.push({ tok: 'eos', lit: '' });
      return items;
    }
    if (isSpecial(s[pos])) {
      // longest run of special symbols that is still a known operator
      let buf = '';
      let last: Item | undefined;
      while (pos < s.length && isSpecial(s[pos])) {
        buf += s[pos];
        const t = literalTokens[buf];
        if (t) {
          last = { tok: t, lit: buf };
          pos++;
        } else if (last) {
          break;
        } else {
          pos++;
        }
      }
      items.push(last ?? { tok: 'err', lit: `error expected: keyword found '${buf}'` });
    } else {
      let buf = '';
      while (pos < s.length && !isSpecial(s[pos]) && !isWhitespace(s[pos])) buf += s[pos++];
      items.push({ tok: literalTokens[buf] ?? 'id', lit: buf });
    }
  }
}

class LabelParser {
  private items: Item[];
  private pos = 0;
  constructor(s: string) {
    this.items = lex(s);
  }
  /** in the values context the keywords `in` and `notin` are plain identifiers */
  private look(values: boolean): Item {
    const it = this.items[this.pos];
    return values && (it.tok === 'in' || it.tok === 'notin') ? { tok: 'id', lit: it.lit } : it;
  }
  private next(values: boolean): Item {
    const it = this.look(values);
    this.pos++;
    return it;
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.look(true);
      if (tok === 'id' || tok === '!') {
        let r: LabelRequirement;
        try {
          r = this.requirement();
        } catch (e) {
          throw new Error(`unable to parse requirement: ${(e as Error).message}`);
        }
        reqs.push(r);
        const t = this.next(true);
        if (t.tok === 'eos') return reqs;
        if (t.tok === ',') {
          const t2 = this.look(true);
          if (t2.tok !== 'id' && t2.tok !== '!') throw new Error(`found '${t2.lit}', expected: identifier after ','`);
        } else {
          throw new Error(`found '${t.lit}', expected: ',' or 'end of string'`);
        }
      } else if (tok === 'eos') {
        return reqs;
      } else {
        throw new Error(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
    }
  }

  private requirement(): LabelRequirement {
    let t = this.next(true);
    let op: LabelOperator | undefined;
    if (t.tok === '!') {
      op = '!';
      t = this.next(true);
    }
    if (t.tok !== 'id') throw new Error(`found '${t.lit}', expected: identifier`);
    const key = t.lit;
    const keyErrs = labelKeyErrors(key);
    if (keyErrs.length) throw new Error(fieldErrorText(field.invalid('<nil>', key, keyErrs.join('; '))));
    const after = this.look(true).tok;
    if (after === 'eos' || after === ',') op ??= 'exists';
    if (op === 'exists' || op === '!') return newRequirement(key, op, []);

    const o = this.next(false);
    const ops: Partial<Record<Tok, LabelOperator>> = { in: 'in', '=': '=', '==': '==', '>': 'gt', '<': 'lt', notin: 'notin', '!=': '!=' };
    const operator = ops[o.tok];
    if (!operator) throw new Error(`found '${o.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    const values = operator === 'in' || operator === 'notin' ? this.setValues() : this.exactValue();
    return newRequirement(key, operator, sortedSet(values));
  }

  private setValues(): string[] {
    const open = this.next(true);
    if (open.tok !== '(') throw new Error(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.look(true);
    if (tok === 'id' || tok === ',') {
      const s = this.identifierList();
      if (this.next(true).tok !== ')') throw new Error(`found '${lit}', expected: ')'`);
      return s;
    }
    if (tok === ')') {
      this.next(true);
      return [''];
    }
    throw new Error(`found '${lit}', expected: ',', ')' or identifier`);
  }

  private identifierList(): string[] {
    const s = new Set<string>();
    for (;;) {
      const t = this.next(true);
      if (t.tok === 'id') {
        s.add(t.lit);
        const t2 = this.look(true);
        if (t2.tok === ',') continue;
        if (t2.tok === ')') return [...s];
        throw new Error(`found '${t2.lit}', expected: ',' or ')'`);
      } else if (t.tok === ',') {
        if (s.size === 0) s.add('');
        const t2 = this.look(true).tok;
        if (t2 === ')') {
          s.add('');
          return [...s];
        }
        if (t2 === ',') s.add('');
      } else {
        throw new Error(`found '${t.lit}', expected: ',', or identifier`);
      }
    }
  }

  private exactValue(): string[] {
    const t = this.look(true).tok;
    if (t === 'eos' || t === ',') return [''];
    const v = this.next(true);
    if (v.tok === 'id') return [v.lit];
    throw new Error(`found '${v.lit}', expected: identifier`);
  }
}

/**
 * parseLabelSelector parses `app=web,tier in (a,b),!canary` — upstream's labels.Parse — into requirements
 * sorted by key. The empty string selects everything. Errors throw a 400 BadRequest with upstream's text,
 * e.g. `unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt`.
 */
export function parseLabelSelector(s: string): LabelRequirement[] {
  try {
    return new LabelParser(s).parse().sort(byKey);
  } catch (e) {
    throw errors.badRequest((e as Error).message);
  }
}

/**
 * labelSelectorFromObject converts a structured selector (metav1.LabelSelectorAsSelector).
 * null/undefined selects NOTHING (upstream: a nil selector matches nothing); `{}` selects everything.
 * An unknown operator or an invalid key/value throws 400 BadRequest.
 */
export function labelSelectorFromObject(sel: LabelSelectorObject | null | undefined): LabelRequirement[] {
  if (sel === null || sel === undefined) return [...NOTHING];
  const reqs: LabelRequirement[] = [];
  const ops: Record<string, LabelOperator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' };
  try {
    for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push(newRequirement(k, '=', [v]));
    for (const expr of sel.matchExpressions ?? []) {
      const op = ops[expr.operator];
      if (!op) throw new Error(`${JSON.stringify(expr.operator)} is not a valid label selector operator`);
      reqs.push(newRequirement(expr.key, op, [...(expr.values ?? [])]));
    }
  } catch (e) {
    throw errors.badRequest((e as Error).message);
  }
  return reqs.sort(byKey);
}

/** selectorFromSet is labels.SelectorFromSet for map selectors (Service, ReplicationController): an empty map selects everything. */
export function selectorFromSet(set: Record<string, string> | null | undefined): LabelRequirement[] {
  return Object.entries(set ?? {})
    .map(([key, v]) => ({ key, operator: '=' as const, values: [v] }))
    .sort(byKey);
}

function requirementMatches(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const val = labels[r.key];
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return has && r.values.includes(val);
    case 'notin':
    case '!=':
      return !has || !r.values.includes(val);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has || !/^[+-]?\d+$/.test(val) || r.values.length !== 1) return false;
      const a = Number(val);
      const b = Number(r.values[0]);
      return r.operator === 'gt' ? a > b : a < b;
    }
  }
}

/** matchLabels reports whether every requirement holds for the labels; [] matches everything, NOTHING matches nothing. */
export function matchLabels(reqs: readonly LabelRequirement[], labels: Record<string, string> | null | undefined): boolean {
  const ls = labels ?? {};
  return reqs.every((r) => requirementMatches(r, ls));
}

const opText: Record<LabelOperator, string> = { '=': '=', '==': '==', '!=': '!=', in: ' in ', notin: ' notin ', gt: '>', lt: '<', exists: '', '!': '' };

/** requirementToString prints one term as upstream's Requirement.String: `!a`, `a`, `a=b`, `a in (x,y)` (values sorted). */
export function requirementToString(r: LabelRequirement): string {
  let s = (r.operator === '!' ? '!' : '') + r.key + opText[r.operator];
  if (r.operator === 'exists' || r.operator === '!') return s;
  const vals = r.values.length === 1 ? r.values[0] : [...r.values].sort().join(',');
  s += r.operator === 'in' || r.operator === 'notin' ? `(${vals})` : vals;
  return s;
}

/** requirementsToString joins terms with `,` as upstream's Selector.String; NOTHING and [] both print as ``. */
export function requirementsToString(reqs: readonly LabelRequirement[]): string {
  if (selectsNothing(reqs)) return '';
  return reqs.map(requirementToString).join(',');
}

/**
 * selectorToString is `LabelSelectorAsSelector(sel).String()`: `app=web,tier in (a,b)`, keys sorted.
 * This is Scale.status.selector and the deployment SELECTOR column. Throws 400 if the selector is invalid.
 */
export function selectorToString(sel: LabelSelectorObject | null | undefined): string {
  return requirementsToString(labelSelectorFromObject(sel));
}

/** formatLabelSelector is metav1.FormatLabelSelector: like selectorToString, but `<none>` when empty and `<error>` when invalid. */
export function formatLabelSelector(sel: LabelSelectorObject | null | undefined): string {
  let s: string;
  try {
    s = selectorToString(sel);
  } catch {
    return '<error>';
  }
  return s === '' ? '<none>' : s;
}

/** formatLabels is labels.FormatLabels: `a=1,b=2` with sorted keys, `<none>` when empty. */
export function formatLabels(map: Record<string, string> | null | undefined): string {
  const keys = Object.keys(map ?? {}).sort();
  return keys.length ? keys.map((k) => `${k}=${map![k]}`).join(',') : '<none>';
}

// ---------------------------------------------------------------------------------------------
// Field selectors (k8s.io/apimachinery/pkg/fields/selector.go).

/** FieldRequirement is one term of a field selector: `spec.nodeName=n1` (`==` is read as `=`) or `status.phase!=Running`. */
export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

/** splitTerms cuts at commas not escaped by a backslash. */
function splitTerms(s: string): string[] {
  if (s === '') return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

/** splitTerm splits at the first operator; the left side cannot be escaped. */
function splitTerm(term: string): [string, string, string] | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '=']) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

/** unescapeFieldValue undoes `\\`, `\,` and `\=`; any other escape, or a bare `,`/`=`, is an error (upstream's UnescapeValue). */
export function unescapeFieldValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c === '\\' || c === ',' || c === '=') out += c;
      else throw new Error(`invalid field selector: invalid escape sequence: \\${c}`);
      inSlash = false;
      continue;
    }
    if (c === '\\') inSlash = true;
    // upstream prints the rune with %v, i.e. as its number
    else if (c === ',' || c === '=') throw new Error(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    else out += c;
  }
  if (inSlash) throw new Error('invalid field selector: invalid escape sequence: \\');
  return out;
}

/**
 * parseFieldSelector parses `metadata.name=x,spec.nodeName!=n1` (terms in any order; values may escape `\,` `\=` `\\`).
 * Terms come back sorted as upstream sorts them. Errors throw 400 BadRequest with upstream's text.
 */
export function parseFieldSelector(s: string): FieldRequirement[] {
  const reqs: FieldRequirement[] = [];
  for (const part of splitTerms(s).sort()) {
    if (part === '') continue;
    const t = splitTerm(part);
    if (!t) throw errors.badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
    let value: string;
    try {
      value = unescapeFieldValue(t[2]);
    } catch (e) {
      throw errors.badRequest((e as Error).message);
    }
    reqs.push({ field: t[0], operator: t[1] === '!=' ? '!=' : '=', value });
  }
  return reqs;
}

/** matchFields reports whether every term holds; a missing field reads as the empty string, as upstream's Fields.Get. */
export function matchFields(reqs: readonly FieldRequirement[], fields: Record<string, string>): boolean {
  return reqs.every((r) => ((fields[r.field] ?? '') === r.value) === (r.operator === '='));
}

const metaOnly = new Set(['metadata.name', 'metadata.namespace']);

/**
 * checkFieldSelector rejects fields the resource cannot select on, with upstream's 400: resources with their own
 * field label conversion answer `field label not supported: foo`; resources with only the default metadata fields
 * answer `"foo" is not a known field selector: only "metadata.name", "metadata.namespace"`.
 */
export function checkFieldSelector(reqs: readonly FieldRequirement[], supported: ReadonlySet<string>): void {
  const isDefault = supported.size === metaOnly.size && [...metaOnly].every((f) => supported.has(f));
  for (const r of reqs) {
    if (supported.has(r.field)) continue;
    throw errors.badRequest(
      isDefault ? `${JSON.stringify(r.field)} is not a known field selector: only "metadata.name", "metadata.namespace"` : `field label not supported: ${r.field}`,
    );
  }
}
