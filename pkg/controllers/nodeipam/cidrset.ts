// cidrset: the pure pod-CIDR allocator of node IPAM — carves a cluster CIDR into equal node subnets (upstream cidrset).

/** parseCidr turns `10.42.0.0/16` into its network address as a number and its prefix length; IPv4 only. */
export function parseCidr(cidr: string): { base: number; bits: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr.trim());
  if (!m) throw new Error(`invalid CIDR ${JSON.stringify(cidr)}: want an IPv4 a.b.c.d/n`);
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) throw new Error(`invalid CIDR ${JSON.stringify(cidr)}`);
  const ip = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (ip & mask) >>> 0, bits };
}

function formatIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/**
 * CidrSet hands out the /`maskSize` subnets of a cluster CIDR. Like upstream's cidrset it searches from the
 * subnet after the last one given, so a freed subnet is not handed out again at once.
 * Example: cluster 10.42.0.0/16, mask 24 → 256 subnets: 10.42.0.0/24, 10.42.1.0/24, … 10.42.255.0/24.
 */
export class CidrSet {
  readonly size: number;
  private readonly base: number;
  private readonly maskSize: number;
  private readonly used = new Set<number>();
  private next = 0;

  constructor(clusterCidr: string, maskSize: number) {
    const { base, bits } = parseCidr(clusterCidr);
    if (maskSize < bits || maskSize > 32) throw new Error(`node CIDR mask size ${maskSize} must lie between the cluster CIDR's ${bits} and 32`);
    if (maskSize - bits > 24) throw new Error(`cluster CIDR ${clusterCidr} holds too many /${maskSize} subnets`);
    this.base = base;
    this.maskSize = maskSize;
    this.size = 2 ** (maskSize - bits);
  }

  /** allocated counts the subnets in use. */
  get allocated(): number {
    return this.used.size;
  }

  /** allocateNext returns the next free subnet, or undefined when the cluster CIDR is full. */
  allocateNext(): string | undefined {
    for (let i = 0; i < this.size; i++) {
      const idx = (this.next + i) % this.size;
      if (this.used.has(idx)) continue;
      this.used.add(idx);
      this.next = (idx + 1) % this.size;
      return this.cidrAt(idx);
    }
    return undefined;
  }

  /** occupy marks `cidr` used (a node that already has it); false when it is not one of this set's subnets. */
  occupy(cidr: string): boolean {
    const idx = this.indexOf(cidr);
    if (idx === undefined) return false;
    this.used.add(idx);
    return true;
  }

  /** release frees `cidr`; unknown or foreign subnets are ignored. */
  release(cidr: string): void {
    const idx = this.indexOf(cidr);
    if (idx !== undefined) this.used.delete(idx);
  }

  /** contains tells whether `cidr` is one of this set's subnets and in use. */
  isUsed(cidr: string): boolean {
    const idx = this.indexOf(cidr);
    return idx !== undefined && this.used.has(idx);
  }

  private cidrAt(idx: number): string {
    return `${formatIp((this.base + idx * 2 ** (32 - this.maskSize)) >>> 0)}/${this.maskSize}`;
  }

  private indexOf(cidr: string): number | undefined {
    let p: { base: number; bits: number };
    try {
      p = parseCidr(cidr);
    } catch {
      return undefined;
    }
    if (p.bits !== this.maskSize) return undefined;
    const off = p.base - this.base;
    const step = 2 ** (32 - this.maskSize);
    if (off < 0 || off % step !== 0 || off / step >= this.size) return undefined;
    return off / step;
  }
}
