// subsets: the Endpoints controller's arithmetic as pure functions — which pods serve a Service, on which port
// numbers, and the repacked subsets upstream writes (pkg/controller/endpoint, pkg/api/v1/endpoints RepackSubsets).
import type { EndpointAddress, EndpointPort, Endpoints, EndpointSubset, Pod, Service, ServicePort } from 'kubernetes-types/core/v1.js';
import { deepEqual } from '../../api/kinds/meta.ts';

/** LABEL_HEADLESS marks Endpoints (and EndpointSlices) of a headless Service (clusterIP None). */
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';
/** TOLERATE_UNREADY_ANNOTATION is the deprecated per-Service form of publishNotReadyAddresses, still honoured upstream. */
export const TOLERATE_UNREADY_ANNOTATION = 'service.alpha.kubernetes.io/tolerate-unready-endpoints';

/** isPodReady: the pod's Ready condition is True. */
export function isPodReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** isPodTerminal: the pod has finished (Succeeded or Failed). */
export function isPodTerminal(pod: Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** shouldPodBeInEndpoints is upstream's ShouldPodBeInEndpoints: not finished, has an IP, and not terminating unless terminating pods are included. */
export function shouldPodBeInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  if (isPodTerminal(pod)) return false;
  if (!pod.status?.podIP && !(pod.status?.podIPs ?? []).length) return false;
  if (!includeTerminating && pod.metadata?.deletionTimestamp) return false;
  return true;
}

/** shouldSetHostname: a pod with spec.hostname whose spec.subdomain names the Service (in its namespace) is addressed by that hostname. */
export function shouldSetHostname(pod: Pod, svc: Service): boolean {
  return !!pod.spec?.hostname && pod.spec.subdomain === svc.metadata?.name && pod.metadata?.namespace === svc.metadata?.namespace;
}

/** tolerateUnready: the Service publishes not-ready addresses (spec.publishNotReadyAddresses or the old annotation). */
export function tolerateUnready(svc: Service): boolean {
  const a = svc.metadata?.annotations?.[TOLERATE_UNREADY_ANNOTATION];
  if (a !== undefined) return a === 'true';
  return svc.spec?.publishNotReadyAddresses === true;
}

/** serviceSelector is the Service's selector, or undefined when it has none (an empty map counts as none, as after an API round trip). */
export function serviceSelector(svc: Service): Record<string, string> | undefined {
  const s = svc.spec?.selector;
  return s && Object.keys(s).length > 0 ? s : undefined;
}

/**
 * findPort is upstream's podutil.FindPort: a numeric targetPort is used as is; a named one is looked up among the
 * pod's container ports (and restartable init containers') with the same protocol. Undefined when the pod has no such port.
 * The targetPort defaults to the service port.
 */
export function findPort(pod: Pod, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = sp.protocol ?? 'TCP';
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
  for (const c of containers) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

/** podIPv4 is the pod's IPv4 address, if any (the only family kubeling's networks give). */
export function podIPv4(pod: Pod): string | undefined {
  const ips = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((x) => x.ip)];
  return ips.find((ip): ip is string => !!ip && !ip.includes(':'));
}

/** podToEndpointAddress is the address of `pod` for `svc`: IP, nodeName, targetRef, and hostname when it applies. */
export function podToEndpointAddress(pod: Pod, svc: Service): EndpointAddress | undefined {
  const ip = podIPv4(pod);
  if (!ip) return undefined;
  const a: EndpointAddress = { ip };
  if (shouldSetHostname(pod, svc)) a.hostname = pod.spec!.hostname;
  if (pod.spec?.nodeName) a.nodeName = pod.spec.nodeName;
  a.targetRef = { kind: 'Pod', namespace: pod.metadata?.namespace, name: pod.metadata?.name, uid: pod.metadata?.uid };
  return a;
}

/** endpointPort is the EndpointPort of a service port resolved to `port` on one pod. */
function endpointPort(sp: ServicePort, port: number): EndpointPort {
  const p: EndpointPort = { port, protocol: sp.protocol ?? 'TCP' };
  if (sp.name) p.name = sp.name;
  if (sp.appProtocol) p.appProtocol = sp.appProtocol;
  return p;
}

/**
 * computeSubsets is the heart of upstream's syncService: every pod that should be in the endpoints contributes its
 * address once per service port it can serve (ready → addresses, else notReadyAddresses, unless the service
 * tolerates unready ones); a headless service without ports gets the bare addresses. The result is repacked.
 *
 * Example: port "http" → targetPort "web"; pod a (ready, web=8080), pod b (not ready, web=8080), pod c (web=9090)
 * → [{addresses:[a], notReadyAddresses:[b], ports:[http 8080]}, {addresses:[c], ports:[http 9090]}].
 */
export function computeSubsets(svc: Service, pods: Pod[]): EndpointSubset[] {
  const tolerate = tolerateUnready(svc);
  const ports = svc.spec?.ports ?? [];
  const raw: EndpointSubset[] = [];
  const add = (pod: Pod, addr: EndpointAddress, p: EndpointPort[] | undefined) => {
    const s: EndpointSubset = tolerate || isPodReady(pod) ? { addresses: [addr] } : { notReadyAddresses: [addr] };
    if (p) s.ports = p;
    raw.push(s);
  };
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, tolerate)) continue;
    const addr = podToEndpointAddress(pod, svc);
    if (!addr) continue;
    if (ports.length === 0) {
      if (svc.spec?.clusterIP === 'None') add(pod, addr, undefined);
      continue;
    }
    for (const sp of ports) {
      const n = findPort(pod, sp);
      if (n === undefined) continue;
      add(pod, addr, [endpointPort(sp, n)]);
    }
  }
  return repackSubsets(raw);
}

const addrKey = (a: EndpointAddress) => `${a.ip}|${a.targetRef?.uid ?? ''}`;
const portKey = (p: EndpointPort | null) => (p ? JSON.stringify([p.name ?? '', p.port, p.protocol ?? 'TCP', p.appProtocol ?? '']) : '');

/** lessAddress orders addresses by IP (as bytes), then by targetRef uid (upstream LessEndpointAddress). */
function compareAddress(a: EndpointAddress, b: EndpointAddress): number {
  if (a.ip !== b.ip) return a.ip < b.ip ? -1 : 1;
  const ua = a.targetRef?.uid ?? '';
  const ub = b.targetRef?.uid ?? '';
  return ua < ub ? -1 : ua > ub ? 1 : 0;
}

function comparePort(a: EndpointPort, b: EndpointPort): number {
  const ka = portKey(a);
  const kb = portKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * repackSubsets is upstream's RepackSubsets: map each port to the addresses offering it (an address both ready and
 * not ready counts as ready), then group the ports whose address sets are identical into one subset. Addresses and
 * ports are sorted; subsets are ordered by their first address (upstream orders by a hash, which is only meant to be stable).
 */
export function repackSubsets(subsets: EndpointSubset[]): EndpointSubset[] {
  const allAddrs = new Map<string, EndpointAddress>();
  // port key → the port (null = the no-port sentinel) and its addresses with their readiness
  const byPort = new Map<string, { port: EndpointPort | null; addrs: Map<string, boolean> }>();
  const record = (addr: EndpointAddress, port: EndpointPort | null, ready: boolean) => {
    const k = addrKey(addr);
    if (!allAddrs.has(k)) allAddrs.set(k, structuredClone(addr));
    const pk = portKey(port);
    let e = byPort.get(pk);
    if (!e) byPort.set(pk, (e = { port, addrs: new Map() }));
    if (!e.addrs.get(k)) e.addrs.set(k, ready);
  };
  for (const s of subsets) {
    const ports: (EndpointPort | null)[] = s.ports?.length ? s.ports : [null];
    for (const p of ports) {
      for (const a of s.addresses ?? []) record(a, p, true);
      for (const a of s.notReadyAddresses ?? []) record(a, p, false);
    }
  }
  // address set (with readiness) → ports offering exactly that set
  const groups = new Map<string, { addrs: Map<string, boolean>; ports: EndpointPort[] }>();
  for (const { port, addrs } of byPort.values()) {
    const key = [...addrs].map(([k, r]) => `${k}=${r}`).sort().join(',');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { addrs, ports: [] }));
    if (port && port.port > 0) g.ports.push(port);
  }
  const out: EndpointSubset[] = [];
  for (const g of groups.values()) {
    const ready: EndpointAddress[] = [];
    const notReady: EndpointAddress[] = [];
    for (const [k, r] of g.addrs) (r ? ready : notReady).push(allAddrs.get(k)!);
    if (!ready.length && !notReady.length) continue;
    const s: EndpointSubset = {};
    if (ready.length) s.addresses = ready.sort(compareAddress);
    if (notReady.length) s.notReadyAddresses = notReady.sort(compareAddress);
    if (g.ports.length) s.ports = g.ports.sort(comparePort);
    out.push(s);
  }
  const first = (s: EndpointSubset) => (s.addresses ?? s.notReadyAddresses ?? [])[0];
  return out.sort((a, b) => compareAddress(first(a), first(b)) || comparePort((a.ports ?? [])[0] ?? { port: 0 }, (b.ports ?? [])[0] ?? { port: 0 }));
}

/** endpointsLabels are the Service's labels, plus the headless label for a headless Service. */
export function endpointsLabels(svc: Service): Record<string, string> | undefined {
  const labels: Record<string, string> = { ...(svc.metadata?.labels ?? {}) };
  delete labels[LABEL_HEADLESS];
  if (svc.spec?.clusterIP === 'None') labels[LABEL_HEADLESS] = '';
  return Object.keys(labels).length ? labels : undefined;
}

/** subsetsEqual compares subsets ignoring targetRef.resourceVersion (upstream endpointSubsetsEqualIgnoreResourceVersion). */
export function subsetsEqual(a: EndpointSubset[] | undefined, b: EndpointSubset[] | undefined): boolean {
  const strip = (ss: EndpointSubset[] | undefined) =>
    (ss ?? []).map((s) => {
      const c = structuredClone(s);
      for (const addr of [...(c.addresses ?? []), ...(c.notReadyAddresses ?? [])]) if (addr.targetRef) delete addr.targetRef.resourceVersion;
      return c;
    });
  return deepEqual(strip(a), strip(b));
}

export type EndpointsPlan = { action: 'none' } | { action: 'create' | 'update'; endpoints: Endpoints };

/**
 * planEndpoints returns the write that brings `current` (undefined = none yet) to what `svc` and `pods` ask for:
 * create, update (a copy of current with new subsets and labels), or none when nothing changed.
 */
export function planEndpoints(svc: Service, pods: Pod[], current: Endpoints | undefined): EndpointsPlan {
  const subsets = computeSubsets(svc, pods);
  const labels = endpointsLabels(svc);
  if (current && subsetsEqual(current.subsets, subsets) && deepEqual(current.metadata?.labels ?? {}, labels ?? {})) return { action: 'none' };
  const next: Endpoints = current
    ? structuredClone(current)
    : { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: svc.metadata!.name, namespace: svc.metadata!.namespace } };
  next.metadata ??= {};
  if (labels) next.metadata.labels = labels;
  else delete next.metadata.labels;
  if (subsets.length) next.subsets = subsets;
  else delete next.subsets;
  return { action: current ? 'update' : 'create', endpoints: next };
}
