// iptables.test: the pure parts of the iptables rules — generation, `-S` parsing, stale-rule planning — and the applier over a fake runner.
import { describe, expect, it } from 'vitest';
import { CommandError, type CommandRunner } from './exec.ts';
import { chainRules, clusterIptables, ensureIptables, nodeComment, planChain, removeIptables, splitArgs } from './iptables.ts';

const ID = '0123456789abcdef';
const want = clusterIptables({ clusterId: ID, nodeName: 'node-a', clusterCidr: '10.42.0.0/16', podCidr: '10.42.1.0/24' });

describe('clusterIptables', () => {
  it('accepts the cluster CIDR both ways and masquerades only egress that leaves it', () => {
    expect(want.chains).toEqual([
      { table: 'filter', name: 'KL-FWD-01234567' },
      { table: 'nat', name: 'KL-POST-01234567' },
    ]);
    expect(want.jumps).toEqual([
      { table: 'filter', from: 'FORWARD', to: 'DOCKER-USER' },
      { table: 'filter', from: 'DOCKER-USER', to: 'KL-FWD-01234567' },
      { table: 'nat', from: 'POSTROUTING', to: 'KL-POST-01234567' },
    ]);
    expect(want.rules.map((r) => `${r.table} ${r.chain} ${r.args.join(' ')}`)).toEqual([
      'filter KL-FWD-01234567 -s 10.42.0.0/16 -m comment --comment kubeling pod network -j ACCEPT',
      'filter KL-FWD-01234567 -d 10.42.0.0/16 -m comment --comment kubeling pod network -j ACCEPT',
      'nat KL-POST-01234567 -s 10.42.1.0/24 ! -d 10.42.0.0/16 -m comment --comment kubeling node node-a -j MASQUERADE',
    ]);
  });

  it('keeps long node names within the comment limit', () => {
    expect(nodeComment('x'.repeat(253)).length).toBeLessThanOrEqual(256);
    expect(nodeComment('x'.repeat(252) + 'a')).not.toBe(nodeComment('x'.repeat(252) + 'b'));
  });
});

describe('iptables -S parsing', () => {
  it('splits quoted comments', () => {
    expect(splitArgs('-A KL-POST-1 -s 10.42.1.0/24 ! -d 10.42.0.0/16 -m comment --comment "kubeling node a" -j MASQUERADE')).toEqual([
      '-A', 'KL-POST-1', '-s', '10.42.1.0/24', '!', '-d', '10.42.0.0/16', '-m', 'comment', '--comment', 'kubeling node a', '-j', 'MASQUERADE',
    ]);
  });
  it('keeps only the rules of the chain', () => {
    expect(chainRules('-N KL\n-A KL -j ACCEPT\n-A OTHER -j DROP\n', 'KL')).toEqual([['-j', 'ACCEPT']]);
  });
});

describe('planChain', () => {
  const post = want.rules[2]!.args;
  const owned = want.owned;
  const other = ['-s', '10.42.2.0/24', '!', '-d', '10.42.0.0/16', '-m', 'comment', '--comment', 'kubeling node node-b', '-j', 'MASQUERADE'];
  const stale = ['-s', '10.42.7.0/24', '!', '-d', '10.42.0.0/16', '-m', 'comment', '--comment', 'kubeling node node-a', '-j', 'MASQUERADE'];
  const cases = [
    { name: 'empty chain: add', current: [], add: [post], del: [] },
    { name: 'present: nothing', current: [post], add: [], del: [] },
    { name: "another agent's rule stays", current: [other], add: [post], del: [] },
    { name: 'my stale rule (old podCIDR) goes', current: [stale, other], add: [post], del: [stale] },
    { name: 'duplicates go', current: [post, post], add: [], del: [post] },
    { name: 'foreign rules without our comment stay', current: [['-j', 'RETURN']], add: [post], del: [] },
  ];
  it.each(cases)('$name', ({ current, add, del }) => {
    expect(planChain(current, [post], owned)).toEqual({ add, del });
  });
});

/** fakeIptables keeps chains in memory and answers like iptables: exit 1 for a missing rule or chain. */
function fakeIptables(): { run: CommandRunner; chains: Map<string, string[][]>; calls: string[] } {
  const chains = new Map<string, string[][]>([
    ['filter/FORWARD', []],
    ['nat/POSTROUTING', []],
  ]);
  const calls: string[] = [];
  const run: CommandRunner = async (cmd, argv) => {
    calls.push(`${cmd} ${argv.join(' ')}`);
    let a = [...argv];
    let table = 'filter';
    if (a[0] === '-t') {
      table = a[1]!;
      a = a.slice(2);
    }
    const [op, chain, ...rest] = a;
    const key = `${table}/${chain}`;
    const fail = (code: number) => {
      throw new CommandError(cmd, argv, code, 'no');
    };
    const c = chains.get(key);
    const eq = (r: string[]) => r.join(' ') === rest.join(' ');
    switch (op) {
      case '-N':
        if (c) fail(1);
        chains.set(key, []);
        return '';
      case '-S':
        if (!c) fail(1);
        return `-N ${chain}\n` + c!.map((r) => `-A ${chain} ${r.map((x) => (x.includes(' ') ? `"${x}"` : x)).join(' ')}`).join('\n');
      case '-C':
        if (!c || !c.some(eq)) fail(1);
        return '';
      case '-I':
        c!.unshift(rest.slice(1));
        return '';
      case '-A':
        c!.push(rest);
        return '';
      case '-D': {
        const i = c ? c.findIndex(eq) : -1;
        if (i < 0) fail(1);
        c!.splice(i, 1);
        return '';
      }
      case '-F':
        chains.set(key, []);
        return '';
      case '-X':
        chains.delete(key);
        return '';
    }
    throw new Error(`unexpected ${argv.join(' ')}`);
  };
  return { run, chains, calls };
}

describe('ensureIptables / removeIptables over a fake iptables', () => {
  it('creates chains, jumps and rules once, is idempotent, and removes everything', async () => {
    const f = fakeIptables();
    expect(await ensureIptables(f.run, want)).toBe(6);
    expect(f.chains.get('filter/FORWARD')).toEqual([['-j', 'DOCKER-USER']]);
    expect(f.chains.get('filter/DOCKER-USER')).toEqual([['-j', 'KL-FWD-01234567']]);
    expect(f.chains.get('nat/POSTROUTING')).toEqual([['-j', 'KL-POST-01234567']]);
    expect(f.chains.get('filter/KL-FWD-01234567')).toHaveLength(2);
    expect(await ensureIptables(f.run, want)).toBe(0);
    // a restart of dockerd dropped our jump: it comes back
    f.chains.set('filter/DOCKER-USER', [['-j', 'RETURN']]);
    expect(await ensureIptables(f.run, want)).toBe(1);
    expect(f.chains.get('filter/DOCKER-USER')).toEqual([['-j', 'KL-FWD-01234567'], ['-j', 'RETURN']]);
    // two agents of the cluster raced and both inserted it: one copy stays
    f.chains.set('filter/DOCKER-USER', [['-j', 'KL-FWD-01234567'], ['-j', 'KL-FWD-01234567'], ['-j', 'RETURN']]);
    expect(await ensureIptables(f.run, want)).toBe(1);
    expect(f.chains.get('filter/DOCKER-USER')).toEqual([['-j', 'KL-FWD-01234567'], ['-j', 'RETURN']]);
    // concurrent calls in one process never insert twice
    f.chains.set('nat/POSTROUTING', []);
    await Promise.all([ensureIptables(f.run, want), ensureIptables(f.run, want), ensureIptables(f.run, want)]);
    expect(f.chains.get('nat/POSTROUTING')).toEqual([['-j', 'KL-POST-01234567']]);

    await removeIptables(f.run, ID);
    expect(f.chains.has('filter/KL-FWD-01234567')).toBe(false);
    expect(f.chains.has('nat/KL-POST-01234567')).toBe(false);
    expect(f.chains.get('filter/DOCKER-USER')).toEqual([['-j', 'RETURN']]);
    expect(f.chains.get('nat/POSTROUTING')).toEqual([]);
    await removeIptables(f.run, ID); // absent: no error
  });
});
