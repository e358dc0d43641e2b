// cidr: pure IPv4 address and CIDR arithmetic for the pod network (parse, contain, first host address).

/** Cidr is a parsed IPv4 prefix: the network address as an unsigned number and the prefix length. */
export interface Cidr {
  base: number;
  bits: number;
}

const IP_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** parseIp turns `10.42.1.7` into an unsigned number; undefined when it is not an IPv4 address. */
export function parseIp(ip: string): number | undefined {
  const m = IP_RE.exec(ip.trim());
  if (!m) return undefined;
  const o = m.slice(1, 5).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

/** formatIp is parseIp's inverse. */
export function formatIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** parseCidr parses `a.b.c.d/n` (a bare address is /32) and masks the host bits; undefined when invalid. */
export function parseCidr(cidr: string): Cidr | undefined {
  const [ip, len, extra] = cidr.trim().split('/');
  if (extra !== undefined || ip === undefined) return undefined;
  const n = parseIp(ip);
  const bits = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
  if (n === undefined || !(bits >= 0 && bits <= 32)) return undefined;
  return { base: (n & maskOf(bits)) >>> 0, bits };
}

/** mustParseCidr is parseCidr for configuration: it throws a message naming the bad value. */
export function mustParseCidr(cidr: string, what = 'CIDR'): Cidr {
  const c = parseCidr(cidr);
  if (!c) throw new Error(`invalid ${what} ${JSON.stringify(cidr)}: want an IPv4 a.b.c.d/n`);
  return c;
}

/** formatCidr prints a parsed prefix in canonical form, e.g. `10.42.1.0/24`. */
export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.bits}`;
}

/** normalizeCidr canonicalises `10.42.1.5/24` → `10.42.1.0/24` and `1.2.3.4` → `1.2.3.4/32`; undefined when invalid. */
export function normalizeCidr(cidr: string): string | undefined {
  const c = parseCidr(cidr);
  return c ? formatCidr(c) : undefined;
}

/** cidrContainsIp: is `ip` inside `outer`? */
export function cidrContainsIp(outer: Cidr, ip: number): boolean {
  return ((ip & maskOf(outer.bits)) >>> 0) === outer.base;
}

/** cidrContains: is the whole prefix `inner` inside `outer`? (10.42.0.0/16 contains 10.42.3.0/24, not 10.0.0.0/8.) */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.bits >= outer.bits && cidrContainsIp(outer, inner.base);
}

/** firstHost is the gateway address docker and flannel use: the network address + 1 (10.42.1.0/24 → 10.42.1.1). */
export function firstHost(c: Cidr): string {
  return formatIp((c.base + (c.bits >= 31 ? 0 : 1)) >>> 0);
}
