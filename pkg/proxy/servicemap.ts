// servicemap: the proxy's pure model — Services + EndpointSlices → one entry per service port with the addresses it is reached on and its usable targets.
import type { Service, ServicePort } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointPort, EndpointSlice } from 'kubernetes-types/discovery/v1.js';

/** Protocol is what the proxy forwards; SCTP service ports are ignored (no userland SCTP in Node). */
export type Protocol = 'TCP' | 'UDP';

/** Target is one backend address of a service port. */
export interface Target {
  ip: string;
  port: number;
  /** nodeName of the endpoint, for traffic policy Local */
  nodeName?: string;
}

/** DEFAULT_AFFINITY_TIMEOUT_SECONDS is upstream's default sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

/** ServicePortEntry is everything the proxy needs to forward one port of one Service. */
export interface ServicePortEntry {
  /** key is `ns/name:portName/PROTOCOL` (upstream's ServicePortName), the picker's identity */
  key: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: Protocol;
  /** clusterIPs (IPv4 only); empty for headless services */
  clusterIPs: string[];
  port: number;
  /** nodePort for type NodePort and LoadBalancer, when allocated */
  nodePort?: number;
  /** loadBalancer: the service port is also opened at the node addresses (ServiceLB style) */
  loadBalancer: boolean;
  /** affinityTimeoutSeconds > 0 when sessionAffinity is ClientIP, else 0 */
  affinityTimeoutSeconds: number;
  /** clusterTargets serve traffic to the ClusterIP (internalTrafficPolicy applied) */
  clusterTargets: Target[];
  /** externalTargets serve NodePort and LoadBalancer traffic (externalTrafficPolicy applied) */
  externalTargets: Target[];
  /** externalPolicyLocal: externalTrafficPolicy Local (the kernel data path then keeps the client's source address) */
  externalPolicyLocal: boolean;
}

export interface ServiceMapOptions {
  /** nodeName of this node, for traffic policy Local */
  nodeName: string;
  /** clusterDNS: the DNS responder owns the service with this ClusterIP; it is skipped */
  clusterDNS?: string;
}

/** SERVICE_NAME_LABEL links an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * buildServiceMap joins Services with their EndpointSlices (label kubernetes.io/service-name). A service port's
 * endpoints are the slice ports with the same name and protocol — the endpointslice controller already resolved named
 * targetPorts per pod, so the slice's port number is the target. ExternalName services, SCTP ports and the cluster DNS
 * service get no entry; headless services get entries without clusterIPs (no listener, but NodePorts never exist on
 * them anyway).
 *
 * Example: Service web (port 80 name "http", clusterIP 10.43.0.7) + slice {ports [{name http, port 8080}], endpoints
 * [{10.42.1.5 ready}, {10.42.1.6 ready:false}]} → entry `default/web:http/TCP` with clusterTargets [10.42.1.5:8080].
 */
/** ServiceMap is the proxy's view of the cluster: one entry per service port, keyed `ns/name:port/proto`. */
export type ServiceMap = Map<string, ServicePortEntry>;

export function buildServiceMap(services: readonly Service[], slices: readonly EndpointSlice[], opts: ServiceMapOptions): ServiceMap {
  const slicesBySvc = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svc || s.addressType !== 'IPv4') continue;
    const k = `${s.metadata?.namespace ?? ''}/${svc}`;
    let l = slicesBySvc.get(k);
    if (!l) slicesBySvc.set(k, (l = []));
    l.push(s);
  }
  const out = new Map<string, ServicePortEntry>();
  for (const svc of services) {
    const spec = svc.spec;
    if (!spec || spec.type === 'ExternalName') continue;
    const namespace = svc.metadata?.namespace ?? '';
    const name = svc.metadata?.name ?? '';
    const clusterIPs = serviceClusterIPs(svc);
    if (opts.clusterDNS && clusterIPs.includes(opts.clusterDNS)) continue;
    const hasNodePorts = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
    const affinityTimeoutSeconds = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS) : 0;
    const svcSlices = slicesBySvc.get(`${namespace}/${name}`) ?? [];
    for (const sp of spec.ports ?? []) {
      const protocol = (sp.protocol ?? 'TCP') as string;
      if (protocol !== 'TCP' && protocol !== 'UDP') continue;
      const endpoints = endpointsFor(sp, protocol, svcSlices);
      const portName = sp.name ?? '';
      out.set(`${namespace}/${name}:${portName}/${protocol}`, {
        key: `${namespace}/${name}:${portName}/${protocol}`,
        namespace,
        name,
        portName,
        protocol,
        clusterIPs,
        port: sp.port,
        nodePort: hasNodePorts && sp.nodePort ? sp.nodePort : undefined,
        loadBalancer: spec.type === 'LoadBalancer',
        affinityTimeoutSeconds,
        clusterTargets: categorize(endpoints, spec.internalTrafficPolicy === 'Local', opts.nodeName),
        externalTargets: categorize(endpoints, spec.externalTrafficPolicy === 'Local', opts.nodeName),
        externalPolicyLocal: spec.externalTrafficPolicy === 'Local',
      });
    }
  }
  return out;
}

/** serviceClusterIPs is spec.clusterIPs (else clusterIP) without None, '' and IPv6. */
export function serviceClusterIPs(svc: Service): string[] {
  const ips = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : svc.spec?.clusterIP ? [svc.spec.clusterIP] : [];
  return ips.filter((ip) => ip && ip !== 'None' && !ip.includes(':'));
}

interface SliceEndpoint extends Target {
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

/** endpointsFor collects the endpoints of one service port over all slices, one per ip:port (a ready copy wins). */
function endpointsFor(sp: ServicePort, protocol: string, slices: EndpointSlice[]): SliceEndpoint[] {
  const byAddr = new Map<string, SliceEndpoint>();
  const want = sp.name ?? '';
  for (const s of slices) {
    const port = (s.ports ?? []).find((p: EndpointPort) => (p.name ?? '') === want && (p.protocol ?? 'TCP') === protocol);
    if (!port?.port) continue;
    for (const ep of s.endpoints ?? []) {
      const c = conditions(ep);
      for (const ip of ep.addresses ?? []) {
        const k = `${ip}:${port.port}`;
        const prev = byAddr.get(k);
        if (prev && (prev.ready || !c.ready)) continue;
        byAddr.set(k, { ip, port: port.port, nodeName: ep.nodeName, ...c });
        break; // upstream uses an endpoint's first address only
      }
    }
  }
  return [...byAddr.values()].sort((a, b) => compareIp(a.ip, b.ip) || a.port - b.port);
}

/** conditions reads an endpoint's conditions with upstream's defaults: ready absent = ready; serving absent = ready. */
function conditions(ep: Endpoint): { ready: boolean; serving: boolean; terminating: boolean } {
  const ready = ep.conditions?.ready ?? true;
  return { ready, serving: ep.conditions?.serving ?? ready, terminating: ep.conditions?.terminating ?? false };
}

/**
 * categorize is upstream's CategorizeEndpoints for one policy: the ready endpoints (only this node's when `local`);
 * when there are none, the serving-and-terminating ones, so a rolling update never leaves a gap.
 */
function categorize(endpoints: SliceEndpoint[], local: boolean, nodeName: string): Target[] {
  const eligible = local ? endpoints.filter((e) => e.nodeName === nodeName) : endpoints;
  let chosen = eligible.filter((e) => e.ready);
  if (chosen.length === 0) chosen = eligible.filter((e) => e.serving && e.terminating);
  return chosen.map((e) => (e.nodeName ? { ip: e.ip, port: e.port, nodeName: e.nodeName } : { ip: e.ip, port: e.port }));
}

function compareIp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
