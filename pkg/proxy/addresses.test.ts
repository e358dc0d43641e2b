// addresses.test: the dummy-interface address manager against a fake `ip` (idempotence, on-demand link, stale cleanup, parsing).
import { describe, expect, it } from 'vitest';
import { parseAddrShow, ServiceAddresses, serviceInterfaceName } from './addresses.ts';

/** fakeIp imitates iproute2 for one dummy interface. */
function fakeIp(opts: { noDummy?: boolean } = {}) {
  const calls: string[] = [];
  let link = false;
  const addrs = new Set<string>();
  const fail = (m: string) => Promise.reject(new Error(m));
  const run = (args: string[]): Promise<string> => {
    calls.push(args.join(' '));
    const [a, b, c] = args;
    if (a === 'link' && b === 'add' && opts.noDummy && args.at(-1) === 'dummy') return fail('Error: Unknown device type.');
    if (a === 'link' && b === 'add') return link ? fail('RTNETLINK answers: File exists') : ((link = true), Promise.resolve(''));
    if (a === 'link' && b === 'set') return link ? Promise.resolve('') : fail('Cannot find device');
    if (a === 'addr' && b === 'add') {
      if (!link) return fail('Cannot find device "x"');
      if (addrs.has(c)) return fail('RTNETLINK answers: File exists');
      addrs.add(c);
      return Promise.resolve('');
    }
    if (a === 'addr' && b === 'del') return addrs.delete(c) ? Promise.resolve('') : fail('RTNETLINK answers: Cannot assign requested address');
    if (a === '-4') return link ? Promise.resolve([...addrs].map((x, i) => `${i + 9}: kl0123456789ab    inet ${x} scope global kl0123456789ab\n`).join('')) : fail('Device "x" does not exist.');
    return fail(`unexpected ${args.join(' ')}`);
  };
  return { run, calls, addrs, dropLink: () => ((link = false), addrs.clear()) };
}

describe('ServiceAddresses', () => {
  it('names the interface kl + 12 hex of the cluster id', () => {
    expect(serviceInterfaceName('0123456789abcdef')).toBe('kl0123456789ab');
  });

  it('creates the link on demand, adds and removes idempotently, recreates a link removed behind its back', async () => {
    const ip = fakeIp();
    const a = new ServiceAddresses({ clusterId: '0123456789abcdef', ip: ip.run });
    await a.ensure('10.43.0.7');
    await a.ensure('10.43.0.7');
    await Promise.all([a.ensure('10.43.0.8'), a.release('10.43.0.7'), a.release('10.43.0.99')]);
    expect([...ip.addrs]).toEqual(['10.43.0.8/32']);
    expect(ip.calls.filter((c) => c.startsWith('link add'))).toHaveLength(1);
    ip.dropLink();
    await a.ensure('10.43.0.9');
    expect([...ip.addrs]).toEqual(['10.43.0.9/32']);
  });

  it('falls back to an empty bridge where the kernel has no dummy driver', async () => {
    const ip = fakeIp({ noDummy: true });
    const a = new ServiceAddresses({ clusterId: '0123456789abcdef', ip: ip.run });
    await a.ensure('10.43.0.7');
    expect(ip.calls.filter((c) => c.startsWith('link add'))).toEqual(['link add kl0123456789ab type dummy', 'link add kl0123456789ab type bridge']);
    expect([...ip.addrs]).toEqual(['10.43.0.7/32']);
  });

  it('releaseStale keeps wanted and ensured addresses and removes the rest', async () => {
    const ip = fakeIp();
    const old = new ServiceAddresses({ clusterId: '0123456789abcdef', ip: ip.run });
    for (const x of ['10.43.0.1', '10.43.0.2', '10.43.0.10', '10.43.0.3']) await old.ensure(x);
    const a = new ServiceAddresses({ clusterId: '0123456789abcdef', ip: ip.run });
    await a.ensure('10.43.0.10'); // the DNS responder's
    expect(await a.releaseStale(new Set(['10.43.0.2']))).toEqual(['10.43.0.1', '10.43.0.3']);
    expect(await a.list()).toEqual(['10.43.0.2', '10.43.0.10']);
  });

  it('parses ip -o addr show', () => {
    expect(parseAddrShow('7: kl01    inet 10.43.0.7/32 scope global kl01\\       valid_lft forever\n7: kl01    inet 10.43.0.8/32 scope global kl01\n')).toEqual(['10.43.0.7', '10.43.0.8']);
  });
});
