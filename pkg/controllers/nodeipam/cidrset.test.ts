// cidrset.test: the pod-CIDR allocator's arithmetic — order, reuse, occupy, bounds and bad input.
import { describe, expect, it } from 'vitest';
import { CidrSet, parseCidr } from './cidrset.ts';

describe('CidrSet', () => {
  it('hands out /24s of 10.42.0.0/16 in order', () => {
    const s = new CidrSet('10.42.0.0/16', 24);
    expect(s.size).toBe(256);
    expect([s.allocateNext(), s.allocateNext(), s.allocateNext()]).toEqual(['10.42.0.0/24', '10.42.1.0/24', '10.42.2.0/24']);
  });

  it('skips subnets occupied at start-up and does not reuse a freed one at once', () => {
    const s = new CidrSet('10.42.0.0/16', 24);
    expect(s.occupy('10.42.0.0/24')).toBe(true);
    expect(s.occupy('10.42.2.0/24')).toBe(true);
    expect(s.allocateNext()).toBe('10.42.1.0/24');
    s.release('10.42.0.0/24');
    expect(s.allocateNext()).toBe('10.42.3.0/24');
    expect(s.allocated).toBe(3);
  });

  it('wraps around to freed subnets and reports full', () => {
    const s = new CidrSet('10.0.0.0/30', 31);
    expect(s.allocateNext()).toBe('10.0.0.0/31');
    expect(s.allocateNext()).toBe('10.0.0.2/31');
    expect(s.allocateNext()).toBeUndefined();
    s.release('10.0.0.0/31');
    expect(s.allocateNext()).toBe('10.0.0.0/31');
  });

  it('refuses subnets that are not its own', () => {
    const s = new CidrSet('10.42.0.0/16', 24);
    expect(s.occupy('10.43.0.0/24')).toBe(false);
    expect(s.occupy('10.42.0.0/25')).toBe(false);
    expect(s.occupy('10.42.0.128/24')).toBe(true); // normalised to its network, 10.42.0.0/24
    expect(s.isUsed('10.42.0.0/24')).toBe(true);
    expect(s.occupy('garbage')).toBe(false);
  });

  it('rejects bad cluster CIDRs and mask sizes', () => {
    expect(() => new CidrSet('10.42.0.0', 24)).toThrow(/invalid CIDR/);
    expect(() => new CidrSet('10.42.0.0/16', 8)).toThrow(/mask size/);
    expect(parseCidr('10.42.7.9/16')).toEqual({ base: (10 * 2 ** 24 + 42 * 2 ** 16) >>> 0, bits: 16 });
  });
});
