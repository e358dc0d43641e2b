// hash: FNV-32a and upstream's rand.SafeEncodeString, the pieces of the pod-template-hash (ComputeHash).
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Fnv32a is an incremental FNV-1a 32-bit hash (Go's hash/fnv New32a): write bytes, read sum32(). */
export class Fnv32a {
  private h = FNV_OFFSET;

  write(data: string | Uint8Array): this {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    let h = this.h;
    for (const b of bytes) h = Math.imul(h ^ b, FNV_PRIME) >>> 0;
    this.h = h;
    return this;
  }

  /** writeUint32LE writes n as 4 little-endian bytes (how ComputeHash mixes in collisionCount). */
  writeUint32LE(n: number): this {
    return this.write(new Uint8Array([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]));
  }

  sum32(): number {
    return this.h >>> 0;
  }
}

/** fnv32a hashes data in one go. Example: fnv32a('') = 0x811c9dc5, fnv32a('a') = 0xe40c292c. */
export function fnv32a(data: string | Uint8Array): number {
  return new Fnv32a().write(data).sum32();
}

const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * safeEncodeString is upstream's rand.SafeEncodeString: each byte maps to one of 27 characters without vowels or
 * look-alikes, so the result can't spell words. ComputeHash applies it to the decimal string of the hash:
 * safeEncodeString(String(h)).
 */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(s)) out += ALPHANUMS[b % ALPHANUMS.length];
  return out;
}
