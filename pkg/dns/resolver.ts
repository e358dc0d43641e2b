// resolver: the pure name → answer rules of the cluster DNS (upstream's DNS spec 1.1.0, as CoreDNS's kubernetes plugin serves it).
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer, Question, RecordType, SrvAnswer } from 'dns-packet';
import type { Service, ServicePort } from 'kubernetes-types/core/v1.js';
import type { EndpointPort, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { serviceIPs, type ClusterView } from './view.ts';

/** DEFAULT_TTL is CoreDNS's kubernetes plugin default TTL (seconds). */
export const DEFAULT_TTL = 5;
/** SCHEMA_VERSION is the version of the Kubernetes DNS spec served at dns-version.<zone> TXT. */
export const SCHEMA_VERSION = '1.1.0';
const MAX_CNAME_DEPTH = 8;

export interface ResolverOptions {
  /** clusterDomain, e.g. cluster.local */
  domain: string;
  ttl?: number;
  /** the responder's own address, served as ns.dns.<zone> */
  dnsAddress?: string;
  /** SOA serial (any number that moves when data changes) */
  serial?: number;
}

/**
 * Resolution is the resolver's verdict for one question: an authoritative answer (rcode NOERROR or NXDOMAIN; NOERROR
 * with no answers is NODATA), or `forward` (the name is not ours). `chase` asks the caller to resolve a CNAME target
 * outside the cluster domain and append what it finds (ExternalName services).
 */
export type Resolution =
  | { kind: 'answer'; rcode: 'NOERROR' | 'NXDOMAIN'; answers: Answer[]; authorities: Answer[]; additionals: Answer[]; chase?: { name: string; type: RecordType } }
  | { kind: 'forward' };

/** At is what exists at one name: its records of every type, extra records for SRV targets, and a CNAME if it is an alias. */
interface At {
  records: Answer[];
  additionals: Answer[];
  cname?: string;
}

/** normalize lower-cases a name and trims the trailing dot. */
export function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * resolve answers one question from the cluster's Services and EndpointSlices. Names under the cluster domain are
 * authoritative (unknown → NXDOMAIN with the zone's SOA; a known name without records of the asked type → NODATA);
 * reverse names of ClusterIPs and headless endpoints get PTRs; everything else is `forward`.
 */
export function resolve(q: Question, view: ClusterView, opts: ResolverOptions, depth = 0): Resolution {
  const name = normalize(q.name);
  const zone = normalize(opts.domain);
  const ttl = opts.ttl ?? DEFAULT_TTL;
  const negative = (rcode: 'NOERROR' | 'NXDOMAIN'): Resolution => ({ kind: 'answer', rcode, answers: [], authorities: [soa(zone, opts)], additionals: [] });
  if (name.endsWith('.in-addr.arpa')) {
    const targets = reverseTargets(name, view, zone);
    if (!targets.length) return { kind: 'forward' };
    if (q.type !== 'PTR' && (q.type as string) !== 'ANY') return negative('NOERROR');
    return { kind: 'answer', rcode: 'NOERROR', answers: targets.map((t) => ({ type: 'PTR', name: q.name, ttl, data: t })), authorities: [], additionals: [] };
  }
  if (name !== zone && !name.endsWith('.' + zone)) return { kind: 'forward' };
  const rel = name === zone ? [] : name.slice(0, name.length - zone.length - 1).split('.');
  const at = recordsAt(rel, q.name, view, zone, opts);
  if (!at) return negative('NXDOMAIN');
  if (at.cname) {
    const alias: Answer = { type: 'CNAME', name: q.name, ttl, data: at.cname };
    if (q.type === 'CNAME') return { kind: 'answer', rcode: 'NOERROR', answers: [alias], authorities: [], additionals: [] };
    const target = normalize(at.cname);
    if (depth < MAX_CNAME_DEPTH && (target === zone || target.endsWith('.' + zone))) {
      const next = resolve({ ...q, name: target }, view, opts, depth + 1);
      if (next.kind === 'answer') return { ...next, answers: [alias, ...next.answers] };
    }
    return { kind: 'answer', rcode: 'NOERROR', answers: [alias], authorities: [], additionals: [], chase: depth < MAX_CNAME_DEPTH ? { name: target, type: q.type } : undefined };
  }
  const anyType = (q.type as string) === 'ANY';
  const answers = at.records.filter((r) => anyType || r.type === q.type);
  if (!answers.length) return negative('NOERROR');
  return { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals: q.type === 'SRV' || anyType ? at.additionals : [] };
}

/** soa is the zone's SOA record (CoreDNS's shape: ns.dns.<zone>, hostmaster.<zone>, 7200/1800/86400, minimum = TTL). */
export function soa(zone: string, opts: ResolverOptions): Answer {
  const ttl = opts.ttl ?? DEFAULT_TTL;
  return { type: 'SOA', name: zone, ttl, data: { mname: `ns.dns.${zone}`, rname: `hostmaster.${zone}`, serial: opts.serial ?? 1, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl } };
}

/** recordsAt lists what exists at `<rel>.<zone>` (rel = the labels left of the zone), or undefined for a name that does not exist. */
function recordsAt(rel: string[], qname: string, view: ClusterView, zone: string, opts: ResolverOptions): At | undefined {
  const ttl = opts.ttl ?? DEFAULT_TTL;
  const none: At = { records: [], additionals: [] };
  const n = rel.length;
  if (n === 0) return { records: [soa(zone, opts), { type: 'NS', name: qname, ttl, data: `ns.dns.${zone}` }], additionals: [] };
  const last = rel[n - 1];
  if (n === 1 && rel[0] === 'dns-version') return { records: [{ type: 'TXT', name: qname, ttl, data: SCHEMA_VERSION }], additionals: [] };
  if (last === 'dns') {
    if (n === 1) return none;
    if (n === 2 && rel[0] === 'ns') return { records: opts.dnsAddress ? [addressRecord(qname, opts.dnsAddress, ttl)] : [], additionals: [] };
    return undefined;
  }
  if (last === 'pod') {
    if (n === 1) return none;
    if (n === 2) return view.namespaceExists(rel[0]!) ? none : undefined;
    // pods insecure: a-b-c-d.<ns>.pod.<zone> answers a.b.c.d without checking a pod has it
    const ip = n === 3 ? undashIP(rel[0]!) : undefined;
    return ip ? { records: [addressRecord(qname, ip, ttl)], additionals: [] } : undefined;
  }
  if (last !== 'svc') return undefined;
  if (n === 1) return none;
  const ns = rel[n - 2]!;
  if (n === 2) return view.namespaceExists(ns) ? none : undefined;
  const svc = view.service(ns, rel[n - 3]!);
  if (!svc) return undefined;
  const svcName = `${rel[n - 3]}.${ns}.svc.${zone}`;
  if (svc.spec?.type === 'ExternalName') return n === 3 && svc.spec.externalName ? { records: [], additionals: [], cname: svc.spec.externalName } : undefined;
  const headless = serviceIPs(svc).length === 0;
  const eps = headless ? readyEndpoints(view.slices(ns, rel[n - 3]!)) : [];
  if (n === 3) {
    const addrs = headless ? [...new Set(eps.map((e) => e.ip))] : serviceIPs(svc);
    const srv = srvRecords(svc, eps, headless, svcName, qname, undefined, undefined, ttl);
    return { records: [...addrs.map((ip) => addressRecord(qname, ip, ttl)), ...srv.records], additionals: srv.additionals };
  }
  if (n === 4) {
    if (!headless) return undefined;
    const hits = eps.filter((e) => e.label === rel[0]);
    return hits.length ? { records: [...new Set(hits.map((e) => e.ip))].map((ip) => addressRecord(qname, ip, ttl)), additionals: [] } : undefined;
  }
  if (n === 5 && rel[0]!.startsWith('_') && rel[1]!.startsWith('_')) {
    const srv = srvRecords(svc, eps, headless, svcName, qname, rel[0]!.slice(1), rel[1]!.slice(1), ttl);
    return srv.records.length ? srv : undefined;
  }
  return undefined;
}

/** ReadyEndpoint is one ready address of a headless service with its DNS label (hostname, else the dashed IP) and its slice's ports. */
interface ReadyEndpoint {
  ip: string;
  label: string;
  ports: EndpointPort[];
}

/** readyEndpoints lists ready endpoint addresses (conditions.ready unset counts as ready, as upstream), first address of each endpoint. */
export function readyEndpoints(slices: EndpointSlice[]): ReadyEndpoint[] {
  const out: ReadyEndpoint[] = [];
  const seen = new Set<string>();
  for (const s of slices) {
    if (s.addressType !== 'IPv4' && s.addressType !== 'IPv6') continue;
    for (const e of s.endpoints ?? []) {
      const ip = e.addresses?.[0];
      if (!ip || e.conditions?.ready === false) continue;
      const label = e.hostname ? e.hostname.toLowerCase() : dashIP(ip);
      if (seen.has(`${label}/${ip}`)) continue;
      seen.add(`${label}/${ip}`);
      out.push({ ip, label, ports: s.ports ?? [] });
    }
  }
  return out;
}

/**
 * srvRecords builds the SRV records of a service for named ports (optionally only `_port._proto`): a ClusterIP service
 * points at `<svc>.<ns>.svc.<zone>`; a headless one has one record per ready endpoint pointing at
 * `<hostname>.<svc>.<ns>.svc.<zone>`. Priority 0; weights share 100 evenly. The additional section carries the targets' addresses.
 */
function srvRecords(svc: Service, eps: ReadyEndpoint[], headless: boolean, svcName: string, qname: string, port: string | undefined, proto: string | undefined, ttl: number): At {
  const matches = (p: { name?: string; protocol?: string }) => !!p.name && (port === undefined || p.name.toLowerCase() === port) && (proto === undefined || (p.protocol ?? 'TCP').toLowerCase() === proto);
  const owner = (p: { name?: string; protocol?: string }) => (port === undefined ? `_${p.name!.toLowerCase()}._${(p.protocol ?? 'TCP').toLowerCase()}.${svcName}` : qname);
  const records: SrvAnswer[] = [];
  const additionals: Answer[] = [];
  if (!headless) {
    const ports = (svc.spec?.ports ?? []).filter(matches);
    for (const p of ports) records.push({ type: 'SRV', name: owner(p), ttl, data: { priority: 0, weight: weight(ports.length), port: p.port, target: svcName } });
    if (ports.length) for (const ip of serviceIPs(svc)) additionals.push(addressRecord(svcName, ip, ttl));
    return { records, additionals };
  }
  const pairs: { p: EndpointPort; e: ReadyEndpoint }[] = [];
  for (const e of eps) for (const p of e.ports) if (matches(p as ServicePort) && p.port !== undefined) pairs.push({ p, e });
  const targets = new Map<string, string>();
  for (const { p, e } of pairs) {
    const target = `${e.label}.${svcName}`;
    records.push({ type: 'SRV', name: owner(p as ServicePort), ttl, data: { priority: 0, weight: weight(pairs.length), port: p.port!, target } });
    targets.set(`${target}/${e.ip}`, target);
  }
  for (const [k, target] of targets) additionals.push(addressRecord(target, k.slice(target.length + 1), ttl));
  return { records, additionals };
}

function weight(n: number): number {
  return Math.max(1, Math.floor(100 / Math.max(1, n)));
}

function addressRecord(name: string, ip: string, ttl: number): Answer {
  return { type: isIPv6(ip) ? 'AAAA' : 'A', name, ttl, data: ip };
}

/** dashIP writes an address as one DNS label: 10.42.0.5 → 10-42-0-5, fd00::1 → fd00--1. */
export function dashIP(ip: string): string {
  return ip.replaceAll(isIPv6(ip) ? ':' : '.', '-');
}

/** undashIP reads a label written by dashIP back, or undefined when it is not an address. */
export function undashIP(label: string): string | undefined {
  const v4 = label.replaceAll('-', '.');
  if (isIPv4(v4)) return v4;
  const v6 = label.replaceAll('-', ':');
  return isIPv6(v6) ? v6 : undefined;
}

/** reverseIP reads `d.c.b.a.in-addr.arpa` back to a.b.c.d, or undefined (IPv6 reverse names are forwarded, the cluster is IPv4). */
export function reverseIP(name: string): string | undefined {
  if (!name.endsWith('.in-addr.arpa')) return undefined;
  const parts = name.slice(0, -'.in-addr.arpa'.length).split('.');
  const ip = parts.reverse().join('.');
  return parts.length === 4 && isIPv4(ip) ? ip : undefined;
}

/** reverseTargets lists the PTR targets of an address: ClusterIPs name their service, headless endpoints their own name. */
function reverseTargets(name: string, view: ClusterView, zone: string): string[] {
  const ip = reverseIP(name);
  if (!ip) return [];
  const out = new Set<string>();
  for (const s of view.servicesByClusterIP(ip)) out.add(`${s.metadata!.name}.${s.metadata!.namespace}.svc.${zone}`);
  for (const slice of view.slicesByAddress(ip)) {
    const svcName = slice.metadata?.labels?.['kubernetes.io/service-name'];
    const svc = svcName ? view.service(slice.metadata!.namespace!, svcName) : undefined;
    if (!svc || serviceIPs(svc).length || svc.spec?.type === 'ExternalName') continue;
    for (const e of readyEndpoints([slice])) if (e.ip === ip) out.add(`${e.label}.${svcName}.${slice.metadata!.namespace}.svc.${zone}`);
  }
  return [...out];
}
