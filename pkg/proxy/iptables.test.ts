// iptables.test: table tests of the kernel data path's rule generator (service map → chains and iptables-restore text), chain names and stale UDP flows.
import { describe, expect, it } from 'vitest';
import { buildRules, chainsInSave, isClusterChain, isNodeChain, nodePortMatches, probability, proxyChains, renderRestore, staleUdpFlows, type RuleOptions } from './iptables.ts';
import type { ServicePortEntry } from './servicemap.ts';

const entry = (key: string, e: Partial<ServicePortEntry>): ServicePortEntry => ({
  key: `default/${key}:/TCP`,
  namespace: 'default',
  name: key,
  portName: '',
  protocol: 'TCP',
  clusterIPs: ['10.43.0.7'],
  port: 80,
  loadBalancer: false,
  affinityTimeoutSeconds: 0,
  clusterTargets: [],
  externalTargets: [],
  externalPolicyLocal: false,
  ...e,
});
const t3 = [
  { ip: '10.42.0.5', port: 8080 },
  { ip: '10.42.0.6', port: 8080 },
  { ip: '10.42.0.7', port: 8080 },
];
const opts: RuleOptions = { clusterId: '0123456789abcdef', nodeName: 'node-a', nodeIp: '127.0.5.6', nodePortAddresses: ['127.0.5.6/32'], clusterCidr: '10.42.0.0/16' };
const ch = proxyChains(opts.clusterId, opts.nodeName);
const mapOf = (...es: ServicePortEntry[]) => new Map(es.map((e) => [e.key, e]));
/** rulesIn: the rules of one chain as strings without `-A CHAIN` */
const rulesIn = (rules: string[][], chain: string) => rules.filter((r) => r[1] === chain).map((r) => r.slice(2).join(' '));
const jumpTarget = (rule: string) => rule.split(' -j ')[1]!.split(' ')[0]!;

describe('proxyChains', () => {
  it('names every chain KL-<KIND>-<id8>-<n4> within 28 characters, apart from pkg/network chains', () => {
    expect(ch.services).toMatch(/^KL-SVC-01234567-[0-9a-f]{4}$/);
    expect(proxyChains(opts.clusterId, 'node-b').tag).not.toBe(ch.tag);
    for (const c of [ch.services, ch.nodePorts, ch.mark, ch.postrouting, ch.reject, ch.firewall]) {
      expect(isClusterChain(c, opts.clusterId)).toBe(true);
      expect(isNodeChain(c, ch)).toBe(true);
      expect(isNodeChain(c, proxyChains(opts.clusterId, 'node-b'))).toBe(false);
    }
    expect(isClusterChain('KL-FWD-01234567', opts.clusterId)).toBe(false);
    expect(isClusterChain('KL-POST-01234567', opts.clusterId)).toBe(false);
    expect(isClusterChain(ch.services, 'fedcba9876543210')).toBe(false);
    const rs = buildRules(mapOf(entry('web', { clusterTargets: t3, nodePort: 30001, externalTargets: t3, externalPolicyLocal: true })), opts);
    for (const c of [...rs.chains.nat, ...rs.chains.filter]) {
      expect(c.length).toBeLessThanOrEqual(28);
      expect(isNodeChain(c, ch)).toBe(true);
    }
  });
});

describe('buildRules', () => {
  it('ClusterIP with three endpoints: upstream probabilities, hairpin mark, DNAT; masquerade from outside the cluster CIDR', () => {
    const rs = buildRules(mapOf(entry('web', { clusterTargets: t3 })), opts);
    const svc = rulesIn(rs.rules.nat, ch.services);
    expect(svc[0]).toBe('-m comment --comment default/web cluster IP -d 10.43.0.7/32 -p tcp -m tcp --dport 80 -j ' + jumpTarget(svc[0]!));
    expect(svc.at(-1)).toBe(`-m comment --comment kubeling service nodeports -d 127.0.5.6/32 -m addrtype --dst-type LOCAL -j ${ch.nodePorts}`);
    const sv = jumpTarget(svc[0]!);
    expect(sv).toMatch(/^KL-SV-/);
    const pick = rulesIn(rs.rules.nat, sv);
    expect(pick[0]).toBe(`-m comment --comment default/web cluster IP ! -s 10.42.0.0/16 -j ${ch.mark}`);
    expect(pick.slice(1).map((r) => r.match(/--probability (\S+)/)?.[1] ?? 'rest')).toEqual(['0.3333333333', '0.5000000000', 'rest']);
    const ep = jumpTarget(pick[1]!);
    expect(rulesIn(rs.rules.nat, ep)).toEqual([`-m comment --comment default/web -s 10.42.0.5/32 -j ${ch.mark}`, '-m comment --comment default/web -p tcp -m tcp -j DNAT --to-destination 10.42.0.5:8080']);
    expect(rs.rules.filter).toEqual(rs.routeLocalnet ? [expect.arrayContaining(['DROP'])] : []);
  });

  it('ClientIP affinity: a recent check per endpoint before the random pick, and --set with the DNAT', () => {
    const rs = buildRules(mapOf(entry('sticky', { clusterTargets: t3.slice(0, 2), affinityTimeoutSeconds: 60 })), opts);
    const sv = jumpTarget(rulesIn(rs.rules.nat, ch.services)[0]!);
    const pick = rulesIn(rs.rules.nat, sv).slice(1);
    expect(pick).toHaveLength(4);
    expect(pick[0]).toMatch(/-m recent --name (KL-EP-\S+) --mask 255.255.255.255 --rsource --rcheck --seconds 60 --reap -j \1$/);
    expect(pick[2]).toMatch(/--probability 0.5000000000 -j KL-EP-/);
    const ep = jumpTarget(pick[0]!);
    expect(rulesIn(rs.rules.nat, ep)[1]).toBe(`-m comment --comment default/sticky -p tcp -m recent --name ${ep} --mask 255.255.255.255 --rsource --set -m tcp -j DNAT --to-destination 10.42.0.5:8080`);
  });

  it('no endpoints: no DNAT, REJECT in filter for the ClusterIP and the node port (not for an LB port)', () => {
    const rs = buildRules(mapOf(entry('none', { nodePort: 30002, loadBalancer: true, protocol: 'UDP', key: 'default/none:/UDP' })), opts);
    expect(rulesIn(rs.rules.nat, ch.services)).toHaveLength(1); // only the node-port jump
    expect(rulesIn(rs.rules.nat, ch.nodePorts)).toEqual([]);
    expect(rulesIn(rs.rules.filter, ch.reject)).toEqual([
      '-m comment --comment default/none has no endpoints -d 10.43.0.7/32 -p udp -m udp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
      '-m comment --comment default/none has no endpoints -d 127.0.5.6/32 -m addrtype --dst-type LOCAL -p udp -m udp --dport 30002 -j REJECT --reject-with icmp-port-unreachable',
    ]);
  });

  it('NodePort and LoadBalancer: masquerade then the service chain when the targets are the same; policy Local picks its own and keeps the source', () => {
    const same = buildRules(mapOf(entry('lb', { clusterTargets: t3, externalTargets: t3, nodePort: 30003, loadBalancer: true })), opts);
    const np = rulesIn(same.rules.nat, ch.nodePorts);
    expect(np.map((r) => r.match(/--dport (\d+)/)?.[1])).toEqual(['30003', '80']);
    const xt = jumpTarget(np[0]!);
    expect(jumpTarget(np[1]!)).toBe(xt);
    const sv = jumpTarget(rulesIn(same.rules.nat, ch.services)[0]!);
    expect(rulesIn(same.rules.nat, xt)).toEqual([`-m comment --comment default/lb external -j ${ch.mark}`, `-m comment --comment default/lb -j ${sv}`]);

    const local = buildRules(mapOf(entry('loc', { clusterTargets: t3, externalTargets: [t3[1]!], nodePort: 30004, externalPolicyLocal: true })), opts);
    const xl = jumpTarget(rulesIn(local.rules.nat, ch.nodePorts)[0]!);
    const xr = rulesIn(local.rules.nat, xl);
    expect(xr[0]).toBe(`-m comment --comment default/loc local origin -m addrtype --src-type LOCAL -j ${ch.mark}`);
    expect(xr).toHaveLength(2);
    expect(rulesIn(local.rules.nat, jumpTarget(xr[1]!))[1]).toMatch(/DNAT --to-destination 10.42.0.6:8080$/);
  });

  it('headless services get nothing; the jumps and localnet follow --nodeport-addresses', () => {
    const rs = buildRules(mapOf(entry('hl', { clusterIPs: [], clusterTargets: t3 })), { ...opts, nodePortAddresses: ['10.0.0.0/8'] });
    expect(rulesIn(rs.rules.nat, ch.services)).toEqual([`-m comment --comment kubeling service nodeports -d 10.0.0.0/8 -m addrtype --dst-type LOCAL -j ${ch.nodePorts}`]);
    expect(rs.routeLocalnet).toBe(false);
    expect(rs.jumps.map((j) => `${j.table}/${j.from}`)).toEqual(['nat/PREROUTING', 'nat/OUTPUT', 'nat/POSTROUTING', 'filter/INPUT', 'filter/FORWARD', 'filter/OUTPUT']);
    const all = buildRules(new Map(), { ...opts, nodePortAddresses: [] });
    expect(all.routeLocalnet).toBe(true);
    expect(all.jumps.at(-1)).toEqual({ table: 'filter', from: 'INPUT', args: ['-m', 'comment', '--comment', 'kubeling firewall', '-j', ch.firewall] });
  });
});

describe('nodePortMatches', () => {
  const cases: [string[], string[][]][] = [
    [[], [['-m', 'addrtype', '--dst-type', 'LOCAL']]],
    [['0.0.0.0/0'], [['-m', 'addrtype', '--dst-type', 'LOCAL']]],
    [['primary', '127.0.5.6/32', '10.1.0.0/16'], [['-d', '127.0.5.6/32', '-m', 'addrtype', '--dst-type', 'LOCAL'], ['-d', '10.1.0.0/16', '-m', 'addrtype', '--dst-type', 'LOCAL']]],
  ];
  for (const [addrs, want] of cases) it(JSON.stringify(addrs), () => expect(nodePortMatches(addrs, '127.0.5.6')).toEqual(want));
  it('probability', () => expect([1, 2, 3, 7].map(probability)).toEqual(['1.0000000000', '0.5000000000', '0.3333333333', '0.1428571429']));
});

describe('renderRestore', () => {
  it('declares wanted and stale chains, quotes comments, deletes the stale ones after the rules', () => {
    const rs = buildRules(mapOf(entry('web', { clusterTargets: t3.slice(0, 1) })), opts);
    const text = renderRestore(rs, { nat: ['KL-SV-01234567-abcd-0000000', ch.services], filter: [] });
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe('*filter');
    expect(lines).toContain(`:${ch.services} - [0:0]`);
    expect(lines).toContain(':KL-SV-01234567-abcd-0000000 - [0:0]');
    expect(lines.filter((l) => l.startsWith(`:${ch.services} `))).toHaveLength(1);
    expect(lines).toContain(`-A ${ch.services} -m comment --comment "default/web cluster IP" -d 10.43.0.7/32 -p tcp -m tcp --dport 80 -j ${jumpTarget(rulesIn(rs.rules.nat, ch.services)[0]!)}`);
    expect(lines.at(-2)).toBe('-X KL-SV-01234567-abcd-0000000');
    expect(lines.at(-1)).toBe('COMMIT');
    expect(chainsInSave(':PREROUTING ACCEPT [0:0]\n:KL-X - [0:0]\n-A KL-X -j RETURN\n')).toEqual(['PREROUTING', 'KL-X']);
  });
});

describe('staleUdpFlows', () => {
  it('flushes UDP flows to removed endpoints (ClusterIP and node port), never TCP', () => {
    const udp = entry('dns', { key: 'default/dns:/UDP', protocol: 'UDP', port: 53, nodePort: 30053, clusterTargets: t3.slice(0, 2), externalTargets: t3.slice(0, 2) });
    const tcp = entry('web', { clusterTargets: t3 });
    const next = mapOf({ ...udp, clusterTargets: [t3[1]!], externalTargets: [t3[1]!] });
    expect(staleUdpFlows(mapOf(udp, tcp), next)).toEqual([
      ['-D', '-p', 'udp', '--orig-dst', '10.43.0.7', '--orig-port-dst', '53', '--dst-nat', '10.42.0.5'],
      ['-D', '-p', 'udp', '--orig-port-dst', '30053', '--dst-nat', '10.42.0.5'],
    ]);
    expect(staleUdpFlows(mapOf(udp), new Map())).toHaveLength(4);
  });
});
