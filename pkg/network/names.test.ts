// names.test: the pod network's naming rules and CIDR arithmetic.
import { describe, expect, it } from 'vitest';
import { cidrContains, firstHost, normalizeCidr, parseCidr, parseIp } from './cidr.ts';
import { bridgeName, chainNames, networkName, serviceInterfaceName } from './names.ts';

const ID = '0123456789abcdef';

describe('names', () => {
  it('names the network kl-<id12>-<node> and keeps long names unique and bounded', () => {
    expect(networkName(ID, 'node-a')).toBe('kl-0123456789ab-node-a');
    const long1 = networkName(ID, 'n'.repeat(80) + 'x');
    const long2 = networkName(ID, 'n'.repeat(80) + 'y');
    expect(long1.length).toBeLessThanOrEqual(63);
    expect(long1).not.toBe(long2);
    expect(long1.startsWith('kl-0123456789ab-nnn')).toBe(true);
  });

  it('names the bridge klb + 11 hex, within IFNAMSIZ, distinct per cluster and node', () => {
    const b = bridgeName(ID, 'node-a');
    expect(b).toMatch(/^klb[0-9a-f]{11}$/);
    expect(b.length).toBeLessThanOrEqual(15);
    expect(bridgeName(ID, 'node-b')).not.toBe(b);
    expect(bridgeName('fedcba9876543210', 'node-a')).not.toBe(b);
  });

  it('names the chains and the service interface from the cluster id', () => {
    expect(chainNames(ID)).toEqual({ forward: 'KL-FWD-01234567', postrouting: 'KL-POST-01234567' });
    expect(serviceInterfaceName(ID)).toBe('kl0123456789ab');
  });
});

describe('cidr', () => {
  it.each([
    ['10.42.1.5/24', '10.42.1.0/24'],
    ['10.42.0.0/16', '10.42.0.0/16'],
    ['1.2.3.4', '1.2.3.4/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['10.42.0.0/33', undefined],
    ['10.256.0.0/16', undefined],
    ['10.42.0.0/16/1', undefined],
    ['fd00::/64', undefined],
    ['', undefined],
  ])('normalizes %s → %s', (input, want) => expect(normalizeCidr(input)).toBe(want));

  it.each([
    ['10.42.0.0/16', '10.42.3.0/24', true],
    ['10.42.0.0/16', '10.42.0.0/16', true],
    ['10.42.0.0/16', '10.43.0.0/24', false],
    ['10.42.0.0/16', '10.0.0.0/8', false],
  ])('%s contains %s: %s', (outer, inner, want) => expect(cidrContains(parseCidr(outer)!, parseCidr(inner)!)).toBe(want));

  it('gives the first host as gateway', () => {
    expect(firstHost(parseCidr('10.42.7.0/24')!)).toBe('10.42.7.1');
    expect(parseIp('10.42.7.300')).toBeUndefined();
  });
});
