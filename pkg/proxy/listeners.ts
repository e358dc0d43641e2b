// listeners: the pure plan of which sockets the proxy holds — desired listeners from the service map and node addresses, and the diff against those open.
import type { Protocol, ServicePortEntry, Target } from './servicemap.ts';

/** ListenerKind says how a listener is reached; it only decides which targets (cluster or external policy) it uses. */
export type ListenerKind = 'clusterIP' | 'nodePort' | 'loadBalancer';

/** ListenerSpec is one socket the proxy listens on and where it forwards. */
export interface ListenerSpec {
  /** key is `PROTO/ip:port`, unique per socket */
  key: string;
  protocol: Protocol;
  ip: string;
  port: number;
  kind: ListenerKind;
  /** service is the ServicePortEntry key whose picker (round robin, affinity) this listener shares */
  service: string;
  targets: Target[];
  affinityTimeoutSeconds: number;
}

/** NodeAddresses are the addresses NodePorts and LoadBalancer ports listen on, per protocol. */
export interface NodeAddresses {
  tcp: string[];
  udp: string[];
}

export interface ListenerPlan {
  listeners: Map<string, ListenerSpec>;
  /** clusterIPs that must be local (every non-headless service's, with or without endpoints, so that the kernel refuses) */
  clusterIPs: Set<string>;
  /** conflicts: listeners two service ports want; the first service (by key) keeps the socket */
  conflicts: { key: string; kept: string; dropped: string }[];
}

/**
 * planListeners lists the sockets the map calls for: ClusterIP:port for every service port, nodePort and (for
 * LoadBalancer) the service port at every node address. A listener exists only while it has targets — with none the
 * port is closed, so the kernel refuses at once instead of the proxy accepting and dropping.
 */
export function planListeners(map: ReadonlyMap<string, ServicePortEntry>, nodeAddrs: NodeAddresses): ListenerPlan {
  const listeners = new Map<string, ListenerSpec>();
  const clusterIPs = new Set<string>();
  const conflicts: ListenerPlan['conflicts'] = [];
  const add = (e: ServicePortEntry, kind: ListenerKind, ip: string, port: number, targets: Target[]) => {
    if (targets.length === 0) return;
    const key = `${e.protocol}/${ip}:${port}`;
    const prev = listeners.get(key);
    if (prev) {
      conflicts.push({ key, kept: prev.service, dropped: e.key });
      return;
    }
    listeners.set(key, { key, protocol: e.protocol, ip, port, kind, service: e.key, targets, affinityTimeoutSeconds: e.affinityTimeoutSeconds });
  };
  const entries = [...map.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const e of entries) {
    for (const ip of e.clusterIPs) {
      clusterIPs.add(ip);
      add(e, 'clusterIP', ip, e.port, e.clusterTargets);
    }
  }
  // node ports after cluster IPs, so a clash never takes a ClusterIP's socket
  for (const e of entries) {
    const addrs = e.protocol === 'UDP' ? nodeAddrs.udp : nodeAddrs.tcp;
    if (e.nodePort) for (const ip of addrs) add(e, 'nodePort', ip, e.nodePort, e.externalTargets);
  }
  for (const e of entries) {
    const addrs = e.protocol === 'UDP' ? nodeAddrs.udp : nodeAddrs.tcp;
    if (e.loadBalancer) for (const ip of addrs) add(e, 'loadBalancer', ip, e.port, e.externalTargets);
  }
  return { listeners, clusterIPs, conflicts };
}

export interface ListenerDiff {
  open: ListenerSpec[];
  close: string[];
  /** update: open listeners whose targets, service or affinity changed — the socket stays, only forwarding changes */
  update: ListenerSpec[];
}

/** diffListeners compares the open listeners with the desired ones. */
export function diffListeners(current: ReadonlyMap<string, ListenerSpec>, desired: ReadonlyMap<string, ListenerSpec>): ListenerDiff {
  const d: ListenerDiff = { open: [], close: [], update: [] };
  for (const [k, want] of desired) {
    const have = current.get(k);
    if (!have) d.open.push(want);
    else if (!sameListener(have, want)) d.update.push(want);
  }
  for (const k of current.keys()) if (!desired.has(k)) d.close.push(k);
  return d;
}

function sameListener(a: ListenerSpec, b: ListenerSpec): boolean {
  return a.service === b.service && a.kind === b.kind && a.affinityTimeoutSeconds === b.affinityTimeoutSeconds && sameTargets(a.targets, b.targets);
}

/** sameTargets compares target lists in order (the service map sorts them). */
export function sameTargets(a: readonly Target[], b: readonly Target[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].ip !== b[i].ip || a[i].port !== b[i].port) return false;
  return true;
}

/**
 * resolveNodeAddresses is kube-proxy's --nodeport-addresses: `[]` (or 0.0.0.0/0) = every address, which TCP serves
 * with one 0.0.0.0 socket and UDP with one socket per host address (so replies leave from the address the client
 * sent to); `primary` = the node IP; a /32 = that address even when no interface carries it (a 127.x alias on lo);
 * any other CIDR = the host's addresses inside it.
 *
 * Example: (['127.0.0.5/32', '10.0.0.0/8'], hosts ['127.0.0.1', '10.0.2.15', '172.17.0.1']) → tcp and udp
 * ['127.0.0.5', '10.0.2.15'].
 */
export function resolveNodeAddresses(cidrs: readonly string[], hostAddrs: readonly string[], nodeIp: string): NodeAddresses {
  if (cidrs.length === 0 || cidrs.some((c) => c === '0.0.0.0/0')) return { tcp: ['0.0.0.0'], udp: [...new Set(hostAddrs)] };
  const out = new Set<string>();
  for (const c of cidrs) {
    if (c === 'primary') {
      out.add(nodeIp);
      continue;
    }
    const parsed = parseCidr(c);
    if (!parsed) continue;
    if (parsed.bits === 32) {
      out.add(c.split('/')[0]);
      continue;
    }
    for (const a of hostAddrs) if (inCidr(a, parsed)) out.add(a);
  }
  const l = [...out];
  return { tcp: l, udp: l };
}

/** parseCidr reads an IPv4 CIDR (a bare address is a /32); undefined when it is not one. */
export function parseCidr(c: string): { net: number; bits: number } | undefined {
  const [addr, b] = c.split('/');
  const bits = b === undefined ? 32 : Number(b);
  const n = ipToInt(addr);
  if (n === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
  return { net: bits === 0 ? 0 : (n & maskOf(bits)) >>> 0, bits };
}

function inCidr(ip: string, c: { net: number; bits: number }): boolean {
  const n = ipToInt(ip);
  return n !== undefined && (c.bits === 0 || ((n & maskOf(c.bits)) >>> 0) === c.net);
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function ipToInt(ip: string): number | undefined {
  const p = ip.split('.');
  if (p.length !== 4) return undefined;
  let n = 0;
  for (const s of p) {
    const v = Number(s);
    if (!/^\d{1,3}$/.test(s) || v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}
