// iptables: the kernel data path's pure half (`--proxy-mode iptables`) — service map → the nat/filter chains kube-proxy's iptables mode writes, as iptables-restore text, plus the stale UDP conntrack flows to flush.
import { createHash } from 'node:crypto';
import { parseCidr, sameTargets } from './listeners.ts';
import type { ServicePortEntry, Target } from './servicemap.ts';

export type Table = 'nat' | 'filter';

/** MASQ_MARK is the packet mark bit that asks our postrouting chain to masquerade (kube-proxy uses 0x4000; ours differs so both can coexist). */
export const MASQ_MARK = '0x40000';

/**
 * ProxyChains names one node's chains. Every name is `KL-<KIND>-<id8>-<n4>[-<h7>]`: 8 hex of the cluster id, 4 hex of
 * the node name (several agents of one cluster may share a host in tests; each owns its own chains), 7 hex of the
 * service or endpoint — at most 27 characters (iptables allows 28). pkg/network's chains are `KL-FWD-`/`KL-POST-`.
 */
export interface ProxyChains {
  /** nat, jumped from PREROUTING and OUTPUT: ClusterIP matches, then the node-port jump */
  services: string;
  /** nat, jumped from the services chain for node addresses: NodePorts and LoadBalancer ports */
  nodePorts: string;
  /** nat: sets MASQ_MARK */
  mark: string;
  /** nat, jumped from POSTROUTING: masquerades marked packets */
  postrouting: string;
  /** filter, jumped from INPUT, FORWARD and OUTPUT for new connections: REJECT for service ports without endpoints */
  reject: string;
  /** filter, jumped from INPUT: drops outside packets to 127/8 (route_localnet=1 would let them in; kube-proxy's KUBE-FIREWALL rule) */
  firewall: string;
  /** tag is `<id8>-<n4>`, in every chain name of this node */
  tag: string;
}

/** CHAIN_KINDS are the KIND parts of our chain names; SV per-service (cluster), XT per-service (external), EP per endpoint. */
const ROOT_KINDS = ['SVC', 'NP', 'MARK', 'SNAT', 'REJ', 'FW'] as const;
const CHAIN_RE_KINDS = [...ROOT_KINDS, 'SV', 'XT', 'EP'].join('|');

const hex = (s: string, n: number): string => createHash('sha256').update(s).digest('hex').slice(0, n);

/** proxyChains: e.g. ('0123456789abcdef', 'node-a') → services `KL-SVC-01234567-<4 hex>`. */
export function proxyChains(clusterId: string, nodeName: string): ProxyChains {
  const tag = `${clusterId.slice(0, 8)}-${hex(nodeName, 4)}`;
  return {
    services: `KL-SVC-${tag}`,
    nodePorts: `KL-NP-${tag}`,
    mark: `KL-MARK-${tag}`,
    postrouting: `KL-SNAT-${tag}`,
    reject: `KL-REJ-${tag}`,
    firewall: `KL-FW-${tag}`,
    tag,
  };
}

/** isClusterChain tells the proxy chains of a cluster (every node's) from anything else, for teardown. */
export function isClusterChain(name: string, clusterId: string): boolean {
  return new RegExp(`^KL-(${CHAIN_RE_KINDS})-${clusterId.slice(0, 8)}-[0-9a-f]{4}(-[0-9a-f]{7})?$`).test(name);
}

/** isNodeChain tells this node's proxy chains (those a sync may delete when no longer wanted). */
export function isNodeChain(name: string, chains: ProxyChains): boolean {
  return new RegExp(`^KL-(${CHAIN_RE_KINDS})-${chains.tag}(-[0-9a-f]{7})?$`).test(name);
}

/** Jump is a rule in a built-in chain that enters one of ours; the applier inserts it first when missing. */
export interface Jump {
  table: Table;
  from: string;
  args: string[];
}

/** RuleSet is the desired content of this node's chains; every chain listed is flushed and rewritten per sync. */
export interface RuleSet {
  chains: Record<Table, string[]>;
  rules: Record<Table, string[][]>;
  jumps: Jump[];
  /** routeLocalnet: node ports are reachable on 127/8, which needs net.ipv4.conf.all.route_localnet=1 (as kube-proxy) */
  routeLocalnet: boolean;
}

export interface RuleOptions {
  clusterId: string;
  nodeName: string;
  nodeIp: string;
  /** kube-proxy's --nodeport-addresses: [] or 0.0.0.0/0 = every local address; `primary` = the node IP */
  nodePortAddresses: readonly string[];
  /** clusterCidr: ClusterIP traffic from outside it (the host, other networks) is masqueraded, as kube-proxy's --cluster-cidr */
  clusterCidr?: string;
}

/** nodePortMatches are the destination matches of node-port traffic: every local address, or those inside the CIDRs. */
export function nodePortMatches(addrs: readonly string[], nodeIp: string): string[][] {
  const local = ['-m', 'addrtype', '--dst-type', 'LOCAL'];
  if (addrs.length === 0 || addrs.includes('0.0.0.0/0')) return [local];
  const out: string[][] = [];
  for (const a of addrs) {
    const cidr = a === 'primary' ? `${nodeIp}/32` : a.includes('/') ? a : `${a}/32`;
    if (!out.some((o) => o[1] === cidr)) out.push(['-d', cidr, ...local]);
  }
  return out;
}

/** loopbackNodePorts: does any node-port destination overlap 127/8 (then route_localnet and the firewall rule are needed)? */
function loopbackNodePorts(addrs: readonly string[]): boolean {
  if (addrs.length === 0) return true;
  const lo = parseCidr('127.0.0.0/8')!;
  return addrs.some((a) => {
    const c = parseCidr(a);
    if (!c) return false;
    const bits = Math.min(c.bits, 8);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return ((c.net & mask) >>> 0) === ((lo.net & mask) >>> 0);
  });
}

const comment = (c: string) => ['-m', 'comment', '--comment', c];
const proto = (e: ServicePortEntry) => ['-p', e.protocol.toLowerCase(), '-m', e.protocol.toLowerCase()];
const svcName = (e: ServicePortEntry) => `${e.namespace}/${e.name}${e.portName ? `:${e.portName}` : ''}`;

/** probability is upstream's: the i-th of n endpoints is taken with 1/(n-i), so each gets 1/n overall; 10 decimals. */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

/**
 * buildRules is the whole desired state of one node's chains (pure), upstream's iptables proxier in small:
 *
 *   nat PREROUTING, OUTPUT → KL-SVC:  -d CIP/32 -p tcp --dport 80 → KL-SV-…(service); last: node addresses → KL-NP
 *   KL-NP:    -p tcp --dport NODEPORT (and the LB service port) → KL-XT-…(external), or KL-SV-… when the same targets
 *   KL-SV-…:  ! -s clusterCIDR → KL-MARK; ClientIP affinity `-m recent --rcheck` per endpoint; then
 *             `-m statistic --mode random --probability 1/(n-i)` → KL-EP-… (the last without statistic)
 *   KL-XT-…:  → KL-MARK (policy Cluster; Local: only locally originated), then → KL-SV-… or its own pick
 *   KL-EP-…:  -s EP/32 → KL-MARK (hairpin); -p tcp [-m recent --set] -j DNAT --to-destination EP:PORT
 *   KL-SNAT (POSTROUTING): unmarked → RETURN; clear the mark; MASQUERADE
 *   filter KL-REJ (INPUT, FORWARD, OUTPUT, new connections): a port without endpoints → REJECT icmp-port-unreachable
 *
 * Example: web 10.43.0.7:80/TCP with 10.42.0.5:8080 and 10.42.0.6:8080 → KL-SV chain with probability 0.5000000000
 * to the first endpoint chain and the rest to the second.
 */
export function buildRules(map: ReadonlyMap<string, ServicePortEntry>, o: RuleOptions): RuleSet {
  const ch = proxyChains(o.clusterId, o.nodeName);
  const nat: string[][] = [];
  const filter: string[][] = [];
  const natChains = new Set<string>([ch.services, ch.nodePorts, ch.mark, ch.postrouting]);
  const filterChains = new Set<string>([ch.reject]);
  const add = (t: Table, chain: string, args: string[]) => (t === 'nat' ? nat : filter).push(['-A', chain, ...args]);
  const npDest = nodePortMatches(o.nodePortAddresses, o.nodeIp);
  const routeLocalnet = loopbackNodePorts(o.nodePortAddresses);
  const named = (kind: string, s: string) => `KL-${kind}-${ch.tag}-${hex(`${o.clusterId}|${o.nodeName}|${s}`, 7)}`;

  const epChain = (e: ServicePortEntry, t: Target) => named('EP', `${e.key}|${t.ip}:${t.port}`);
  /** pick writes the endpoint choice into `chain` and the endpoint chains it needs */
  const pick = (e: ServicePortEntry, chain: string, targets: readonly Target[]) => {
    if (e.affinityTimeoutSeconds > 0) {
      for (const t of targets) {
        const ep = epChain(e, t);
        add('nat', chain, [...comment(`${svcName(e)} -> ${t.ip}:${t.port}`), '-m', 'recent', '--name', ep, '--mask', '255.255.255.255', '--rsource', '--rcheck', '--seconds', String(e.affinityTimeoutSeconds), '--reap', '-j', ep]);
      }
    }
    targets.forEach((t, i) => {
      const ep = epChain(e, t);
      const stat = i < targets.length - 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', probability(targets.length - i)] : [];
      add('nat', chain, [...comment(`${svcName(e)} -> ${t.ip}:${t.port}`), ...stat, '-j', ep]);
      if (natChains.has(ep)) return;
      natChains.add(ep);
      add('nat', ep, [...comment(svcName(e)), '-s', `${t.ip}/32`, '-j', ch.mark]);
      const recent = e.affinityTimeoutSeconds > 0 ? ['-m', 'recent', '--name', ep, '--mask', '255.255.255.255', '--rsource', '--set'] : [];
      add('nat', ep, [...comment(svcName(e)), '-p', e.protocol.toLowerCase(), ...recent, '-m', e.protocol.toLowerCase(), '-j', 'DNAT', '--to-destination', `${t.ip}:${t.port}`]);
    });
  };

  const entries = [...map.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const svcChains = new Map<string, string>();
  for (const e of entries) {
    if (e.clusterIPs.length === 0) continue;
    if (e.clusterTargets.length === 0) {
      for (const ip of e.clusterIPs) add('filter', ch.reject, [...comment(`${svcName(e)} has no endpoints`), '-d', `${ip}/32`, ...proto(e), '--dport', String(e.port), '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable']);
      continue;
    }
    const sv = named('SV', e.key);
    svcChains.set(e.key, sv);
    natChains.add(sv);
    for (const ip of e.clusterIPs) add('nat', ch.services, [...comment(`${svcName(e)} cluster IP`), '-d', `${ip}/32`, ...proto(e), '--dport', String(e.port), '-j', sv]);
    if (o.clusterCidr) add('nat', sv, [...comment(`${svcName(e)} cluster IP`), '!', '-s', o.clusterCidr, '-j', ch.mark]);
    pick(e, sv, e.clusterTargets);
  }
  for (const d of npDest) add('nat', ch.services, [...comment('kubeling service nodeports'), ...d, '-j', ch.nodePorts]);

  /** external: the chain node-port and LB traffic of a service port enters */
  const external = (e: ServicePortEntry): string => {
    const xt = named('XT', e.key);
    if (natChains.has(xt)) return xt;
    natChains.add(xt);
    if (e.externalPolicyLocal) {
      // the client's address is kept; only traffic from this host (127/8, the node's own addresses) is masqueraded
      add('nat', xt, [...comment(`${svcName(e)} local origin`), '-m', 'addrtype', '--src-type', 'LOCAL', '-j', ch.mark]);
    } else add('nat', xt, [...comment(`${svcName(e)} external`), '-j', ch.mark]);
    const sv = svcChains.get(e.key);
    if (sv && sameTargets(e.externalTargets, e.clusterTargets)) add('nat', xt, [...comment(svcName(e)), '-j', sv]);
    else pick(e, xt, e.externalTargets);
    return xt;
  };
  for (const e of entries) {
    if (e.clusterIPs.length === 0) continue;
    const ports: [number, string][] = [];
    if (e.nodePort) ports.push([e.nodePort, 'nodePort']);
    if (e.loadBalancer) ports.push([e.port, 'loadBalancer']);
    for (const [port, kind] of ports) {
      if (e.externalTargets.length > 0) add('nat', ch.nodePorts, [...comment(`${svcName(e)} ${kind}`), ...proto(e), '--dport', String(port), '-j', external(e)]);
      else if (kind === 'nodePort') {
        // (an LB port without endpoints stays open to whatever else serves it on the host)
        for (const d of npDest) add('filter', ch.reject, [...comment(`${svcName(e)} has no endpoints`), ...d, ...proto(e), '--dport', String(port), '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable']);
      }
    }
  }

  add('nat', ch.mark, ['-j', 'MARK', '--set-xmark', `${MASQ_MARK}/${MASQ_MARK}`]);
  add('nat', ch.postrouting, ['-m', 'mark', '!', '--mark', `${MASQ_MARK}/${MASQ_MARK}`, '-j', 'RETURN']);
  add('nat', ch.postrouting, ['-j', 'MARK', '--set-xmark', `0x0/${MASQ_MARK}`]);
  add('nat', ch.postrouting, [...comment('kubeling service traffic requiring SNAT'), '-j', 'MASQUERADE']);

  const jumps: Jump[] = [
    { table: 'nat', from: 'PREROUTING', args: [...comment('kubeling service portals'), '-j', ch.services] },
    { table: 'nat', from: 'OUTPUT', args: [...comment('kubeling service portals'), '-j', ch.services] },
    { table: 'nat', from: 'POSTROUTING', args: [...comment('kubeling postrouting rules'), '-j', ch.postrouting] },
  ];
  for (const from of ['INPUT', 'FORWARD', 'OUTPUT']) jumps.push({ table: 'filter', from, args: ['-m', 'conntrack', '--ctstate', 'NEW', ...comment('kubeling service portals'), '-j', ch.reject] });
  if (routeLocalnet) {
    filterChains.add(ch.firewall);
    add('filter', ch.firewall, ['!', '-s', '127.0.0.0/8', '-d', '127.0.0.0/8', ...comment('block incoming localnet connections'), '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'DROP']);
    jumps.push({ table: 'filter', from: 'INPUT', args: [...comment('kubeling firewall'), '-j', ch.firewall] });
  }
  return { chains: { nat: [...natChains], filter: [...filterChains] }, rules: { nat, filter }, jumps, routeLocalnet };
}

/** quote renders one argument for iptables-restore (double quotes around anything with spaces or quotes). */
function quote(a: string): string {
  return /^[^\s"'\\]+$/.test(a) ? a : `"${a.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * renderRestore is the input of one `iptables-restore --noflush` transaction: every wanted chain and every stale one
 * declared (which creates or flushes it), the rules, then `-X` of the stale chains (no longer referenced, since all
 * our chains were just flushed). Chains not ours are never named, so they keep their rules.
 */
export function renderRestore(rs: RuleSet, stale: Record<Table, readonly string[]>): string {
  const lines: string[] = [];
  for (const t of ['filter', 'nat'] as const) {
    const drop = stale[t].filter((c) => !rs.chains[t].includes(c));
    lines.push(`*${t}`);
    for (const c of [...rs.chains[t], ...drop]) lines.push(`:${c} - [0:0]`);
    for (const r of rs.rules[t]) lines.push(r.map(quote).join(' '));
    for (const c of drop) lines.push(`-X ${c}`);
    lines.push('COMMIT');
  }
  return lines.join('\n') + '\n';
}

/** chainsInSave lists the chains an `iptables-save -t TABLE` output declares (`:NAME POLICY [p:b]`). */
export function chainsInSave(out: string): string[] {
  const names: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^:(\S+)\s/.exec(line);
    if (m) names.push(m[1]);
  }
  return names;
}

/**
 * staleUdpFlows lists the `conntrack -D` argument lists that end UDP flows to endpoints a sync removed (conntrack
 * would otherwise keep steering a chatty client to the dead endpoint, as upstream's deleteEndpointConnections fixes).
 * Example: UDP dns 10.43.0.10:53 losing 10.42.0.5 → ['-D', '-p', 'udp', '--orig-dst', '10.43.0.10', '--dst-nat', '10.42.0.5'].
 */
export function staleUdpFlows(prev: ReadonlyMap<string, ServicePortEntry>, next: ReadonlyMap<string, ServicePortEntry>): string[][] {
  const out: string[][] = [];
  const gone = (a: readonly Target[], b: readonly Target[] | undefined) => a.filter((t) => !(b ?? []).some((u) => u.ip === t.ip && u.port === t.port));
  for (const [k, p] of prev) {
    if (p.protocol !== 'UDP') continue;
    const n = next.get(k);
    for (const t of gone(p.clusterTargets, n?.clusterTargets)) {
      for (const ip of p.clusterIPs) out.push(['-D', '-p', 'udp', '--orig-dst', ip, '--orig-port-dst', String(p.port), '--dst-nat', t.ip]);
    }
    for (const t of gone(p.externalTargets, n?.externalTargets)) {
      if (p.nodePort) out.push(['-D', '-p', 'udp', '--orig-port-dst', String(p.nodePort), '--dst-nat', t.ip]);
    }
  }
  return out;
}
