// quantity: parse, format and canonicalise resource quantities ('100m', '128Mi', '1G', '1e3') as upstream's resource.Quantity does.

/** QuantityFormat is how a quantity prints: binary suffixes (Ki, Mi…), decimal suffixes (m, k, M…) or an exponent (1e3). */
export type QuantityFormat = 'BinarySI' | 'DecimalSI' | 'DecimalExponent';

/** QUANTITY_PATTERN is the message upstream gives for a string that is not a quantity. */
export const QUANTITY_PATTERN = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const binarySuffix: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimalSuffix: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/** Exact is a quantity held exactly: num × 10^scale. */
interface Exact {
  num: bigint;
  scale: number;
  format: QuantityFormat;
}

const shape = /^([+-]?)([0-9]+\.?[0-9]*|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;

/** parseExact reads a quantity string into an exact decimal, or returns undefined when it is not one. */
function parseExact(input: string): Exact | undefined {
  const m = shape.exec(input.trim());
  if (!m) return undefined;
  const [, sign, digits, suffix = ''] = m;
  const [whole, frac = ''] = digits.split('.');
  let num = BigInt((whole || '0') + frac);
  let scale = -frac.length;
  let format: QuantityFormat = 'DecimalSI';
  if (suffix in binarySuffix) {
    num *= 1n << BigInt(binarySuffix[suffix]);
    format = 'BinarySI';
  } else if (suffix in decimalSuffix) {
    scale += decimalSuffix[suffix];
  } else {
    const exp = Number(suffix.slice(1));
    if (!Number.isFinite(exp) || Math.abs(exp) > 300) return undefined;
    scale += exp;
    format = 'DecimalExponent';
  }
  if (sign === '-') num = -num;
  return normalise({ num, scale, format });
}

/** normalise strips trailing decimal zeros from num into scale, so equal values compare equal. */
function normalise(q: Exact): Exact {
  let { num, scale } = q;
  if (num === 0n) return { num, scale: 0, format: q.format };
  while (num % 10n === 0n) {
    num /= 10n;
    scale += 1;
  }
  return { num, scale, format: q.format };
}

function toNumber(q: Exact): number {
  return q.scale >= 0 ? Number(q.num) * 10 ** q.scale : Number(q.num) / 10 ** -q.scale;
}

/** isQuantity reports whether s parses as a quantity. */
export function isQuantity(s: unknown): boolean {
  if (typeof s === 'number') return Number.isFinite(s);
  return typeof s === 'string' && parseExact(s) !== undefined;
}

/**
 * parseQuantity returns the value in base units: cores for cpu ('100m' → 0.1), bytes for memory
 * ('128Mi' → 134217728). Numbers pass through. Throws on a string that is not a quantity.
 */
export function parseQuantity(s: string | number): number {
  if (typeof s === 'number') return s;
  const q = parseExact(s);
  if (!q) throw new Error(`${QUANTITY_PATTERN}: ${JSON.stringify(s)}`);
  return toNumber(q);
}

/** exactOf turns a finite number into an exact decimal through its shortest decimal spelling. */
function exactOf(value: number, format: QuantityFormat): Exact {
  const q = parseExact(numberText(value));
  if (!q) throw new Error(`not a finite quantity: ${value}`);
  return { ...q, format };
}

/** numberText spells a number in plain or e-notation that the quantity shape accepts ('1e+21' → '1e21'). */
function numberText(n: number): string {
  return String(n).replace('e+', 'e');
}

/** roundUp rounds an exact value up (away from zero for positives) to the given decimal scale (-3 = milli). */
function roundUp(q: Exact, scale: number): Exact {
  if (q.scale >= scale) return q;
  const div = 10n ** BigInt(scale - q.scale);
  let num = q.num / div;
  if (q.num % div !== 0n && q.num > 0n) num += 1n;
  return normalise({ num, scale, format: q.format });
}

/**
 * formatExact prints a value in upstream's canonical form for its format:
 * BinarySI: the largest power of 1024 that divides it (1536Mi), else decimal; values under 1024 print decimal.
 * DecimalSI: the largest multiple-of-3 exponent keeping an integer mantissa (1500 → '1500', 1000 → '1k', 0.5 → '500m').
 * DecimalExponent: the same exponent rule written as 'eN' (1000 → '1e3').
 */
function formatExact(q: Exact): string {
  if (q.num === 0n) return '0';
  // upstream never keeps precision below nano: round up to it
  let v = roundUp(q, -9);
  if (v.format === 'BinarySI' && v.scale >= 0) {
    const whole = v.num * 10n ** BigInt(v.scale);
    const abs = whole < 0n ? -whole : whole;
    if (abs >= 1024n) {
      let k = 0;
      let m = whole;
      while (k < 6 && m % 1024n === 0n) {
        m /= 1024n;
        k++;
      }
      const suffix = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'][k];
      return `${m}${suffix}`;
    }
  }
  // decimal: pick exponent e (multiple of 3, e <= scale) as large as possible
  let exp = Math.floor(v.scale / 3) * 3;
  if (exp < -9) exp = -9;
  const mant = v.num * 10n ** BigInt(v.scale - exp);
  if (v.format === 'DecimalExponent') return exp === 0 ? `${mant}` : `${mant}e${exp}`;
  if (exp > 18) return `${mant * 10n ** BigInt(exp - 18)}E`;
  const suffix: Record<number, string> = { [-9]: 'n', [-6]: 'u', [-3]: 'm', 0: '', 3: 'k', 6: 'M', 9: 'G', 12: 'T', 15: 'P', 18: 'E' };
  return `${mant}${suffix[exp]}`;
}

/** formatQuantity prints a base-unit value canonically: formatQuantity(0.1) → '100m', formatQuantity(134217728, 'BinarySI') → '128Mi'. */
export function formatQuantity(value: number, format: QuantityFormat = 'DecimalSI'): string {
  return formatExact(exactOf(value, format));
}

/**
 * canonicalQuantity rewrites a quantity string the way the API server stores it: rounded up to milli
 * (SetDefaults_ResourceList) and printed canonically in the format it was written in ('0.5' → '500m',
 * '1024Mi' → '1Gi', '1e3' → '1e3'). Strings that do not parse are returned unchanged for validation to reject.
 */
export function canonicalQuantity(s: string | number): string {
  const q = typeof s === 'number' ? exactOf(s, 'DecimalSI') : parseExact(s);
  if (!q) return String(s);
  return formatExact(roundUp(q, -3));
}

/** compareQuantity returns -1, 0 or 1 comparing two quantities exactly. */
export function compareQuantity(a: string | number, b: string | number): number {
  const x = typeof a === 'number' ? exactOf(a, 'DecimalSI') : parseExact(a);
  const y = typeof b === 'number' ? exactOf(b, 'DecimalSI') : parseExact(b);
  if (!x || !y) throw new Error('not a quantity');
  const s = Math.min(x.scale, y.scale);
  const xn = x.num * 10n ** BigInt(x.scale - s);
  const yn = y.num * 10n ** BigInt(y.scale - s);
  return xn < yn ? -1 : xn > yn ? 1 : 0;
}
