// slices: the EndpointSlice controller's planning as pure functions — endpoints from pods, grouped by resolved port
// set, packed into slices of at most 100 with as few writes as possible (upstream staging/src/k8s.io/endpointslice).
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointPort, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { deepEqual } from '../../api/kinds/meta.ts';
import { findPort, isPodReady, LABEL_HEADLESS, podIPv4, shouldPodBeInEndpoints, shouldSetHostname } from '../endpoints/index.ts';

/** LABEL_SERVICE_NAME and LABEL_MANAGED_BY are the labels every managed slice carries (discovery.k8s.io/v1 well-known labels). */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
/** CONTROLLER_NAME is the value of LABEL_MANAGED_BY on the slices this controller owns. */
export const CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
/** MAX_ENDPOINTS_PER_SLICE is upstream's --max-endpoints-per-slice default. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** DesiredGroup is one resolved port set and the endpoints that serve exactly it. */
export interface DesiredGroup {
  ports: EndpointPort[];
  endpoints: Endpoint[];
}

/** portsKey identifies a port set regardless of order; '' and a missing name are the same. */
export function portsKey(ports: EndpointPort[] | undefined): string {
  return (ports ?? [])
    .map((p) => JSON.stringify([p.name ?? '', p.port ?? 0, p.protocol ?? 'TCP', p.appProtocol ?? '']))
    .sort()
    .join(',');
}

/** endpointKey identifies an endpoint across syncs: the pod's uid, else its first address. */
export function endpointKey(e: Endpoint): string {
  return e.targetRef?.uid ?? e.addresses[0] ?? '';
}

/**
 * podToEndpoint is upstream's podToEndpoint: ready only when serving and not terminating (unless the service
 * publishes not-ready addresses), serving = the pod's Ready condition, terminating = deletionTimestamp set.
 */
export function podToEndpoint(pod: Pod, svc: Service, ip: string): Endpoint {
  const serving = isPodReady(pod);
  const terminating = !!pod.metadata?.deletionTimestamp;
  const ready = svc.spec?.publishNotReadyAddresses === true || (serving && !terminating);
  const e: Endpoint = {
    addresses: [ip],
    conditions: { ready, serving, terminating },
    targetRef: { kind: 'Pod', namespace: pod.metadata?.namespace, name: pod.metadata?.name, uid: pod.metadata?.uid },
  };
  if (pod.spec?.nodeName) e.nodeName = pod.spec.nodeName;
  if (shouldSetHostname(pod, svc)) e.hostname = pod.spec!.hostname;
  return e;
}

/** endpointPorts resolves the service's ports on one pod (ports the pod cannot serve are left out, as upstream). */
export function endpointPorts(svc: Service, pod: Pod): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of svc.spec?.ports ?? []) {
    const n = findPort(pod, sp);
    if (n === undefined) continue;
    const p: EndpointPort = { name: sp.name ?? '', port: n, protocol: sp.protocol ?? 'TCP' };
    if (sp.appProtocol) p.appProtocol = sp.appProtocol;
    out.push(p);
  }
  return out;
}

/**
 * desiredGroups groups the service's endpoints by resolved port set. Terminating pods are included (with their
 * conditions), finished and IP-less ones are not. Endpoints are ordered by address for stable slices.
 */
export function desiredGroups(svc: Service, pods: Pod[]): DesiredGroup[] {
  const groups = new Map<string, DesiredGroup>();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    const ip = podIPv4(pod);
    if (!ip) continue;
    const ports = endpointPorts(svc, pod);
    const k = portsKey(ports);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { ports, endpoints: [] }));
    g.endpoints.push(podToEndpoint(pod, svc, ip));
  }
  for (const g of groups.values()) g.endpoints.sort((a, b) => (a.addresses[0] < b.addresses[0] ? -1 : a.addresses[0] > b.addresses[0] ? 1 : 0));
  return [...groups.values()];
}

/** sliceLabels are the service's labels (minus the reserved ones) plus service-name, managed-by and, if headless, the headless label. */
export function sliceLabels(svc: Service): Record<string, string> {
  const labels: Record<string, string> = { ...(svc.metadata?.labels ?? {}) };
  delete labels[LABEL_SERVICE_NAME];
  delete labels[LABEL_MANAGED_BY];
  delete labels[LABEL_HEADLESS];
  labels[LABEL_SERVICE_NAME] = svc.metadata!.name!;
  labels[LABEL_MANAGED_BY] = CONTROLLER_NAME;
  if (svc.spec?.clusterIP === 'None') labels[LABEL_HEADLESS] = '';
  return labels;
}

/** newSlice is a slice to create for `svc` (the server completes generateName `<svc>-` with 5 characters). */
export function newSlice(svc: Service, ports: EndpointPort[], endpoints: Endpoint[]): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      generateName: `${svc.metadata!.name}-`,
      namespace: svc.metadata!.namespace,
      labels: sliceLabels(svc),
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata!.name!, uid: svc.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
    },
    addressType: 'IPv4',
    endpoints,
    ports,
  };
}

export interface SlicesPlan {
  create: EndpointSlice[];
  update: EndpointSlice[];
  delete: EndpointSlice[];
}

/** normalEndpoints is the comparable form of a slice's endpoints (missing booleans and empty names do not count as changes). */
function normalEndpoints(es: Endpoint[] | undefined): unknown {
  return (es ?? []).map((e) => ({ ...e, conditions: { ready: e.conditions?.ready, serving: e.conditions?.serving, terminating: e.conditions?.terminating } }));
}

/**
 * planSlices brings the service's managed slices (`existing`) to the desired groups with few writes, as upstream's
 * reconcileByPortMapping: for each port set, existing slices keep the endpoints still wanted (refreshed), lose the
 * others, then take new endpoints while they have room; what is left goes to new slices of at most `max`. Slices
 * left empty, and slices of port sets no longer wanted, are deleted — except that a service with no endpoints at
 * all keeps one empty placeholder slice (upstream does the same, so `kubectl get endpointslices` shows it).
 * Slices whose labels drifted are updated too.
 */
export function planSlices(svc: Service, groups: DesiredGroup[], existing: EndpointSlice[], max = MAX_ENDPOINTS_PER_SLICE): SlicesPlan {
  const plan: SlicesPlan = { create: [], update: [], delete: [] };
  const labels = sliceLabels(svc);
  const byPorts = new Map<string, EndpointSlice[]>();
  for (const s of existing) {
    const k = portsKey(s.ports);
    byPorts.set(k, [...(byPorts.get(k) ?? []), s]);
  }
  const kept: EndpointSlice[] = [];
  for (const g of groups) {
    const k = portsKey(g.ports);
    const slices = byPorts.get(k) ?? [];
    byPorts.delete(k);
    const want = new Map(g.endpoints.map((e) => [endpointKey(e), e]));
    const placed = new Set<string>();
    const work: { slice: EndpointSlice; endpoints: Endpoint[]; changed: boolean }[] = [];
    for (const s of slices) {
      const eps: Endpoint[] = [];
      let changed = false;
      for (const e of s.endpoints ?? []) {
        const key = endpointKey(e);
        const w = want.get(key);
        if (!w || placed.has(key) || eps.length >= max) {
          changed = true;
          continue;
        }
        placed.add(key);
        if (!deepEqual(normalEndpoints([e]), normalEndpoints([w]))) changed = true;
        eps.push(w);
      }
      work.push({ slice: s, endpoints: eps, changed });
    }
    const rest = g.endpoints.filter((e) => !placed.has(endpointKey(e)));
    // fill the fullest slices that have room first, as upstream, so slices stay packed
    for (const w of [...work].sort((a, b) => b.endpoints.length - a.endpoints.length)) {
      if (!rest.length) break;
      if (w.endpoints.length === 0 || w.endpoints.length >= max) continue;
      const n = Math.min(max - w.endpoints.length, rest.length);
      w.endpoints.push(...rest.splice(0, n));
      w.changed = true;
    }
    // an emptied slice takes new endpoints before a new one is created
    for (const w of work) {
      if (!rest.length) break;
      if (w.endpoints.length !== 0) continue;
      w.endpoints.push(...rest.splice(0, max));
      w.changed = true;
    }
    for (const w of work) {
      if (w.endpoints.length === 0) {
        plan.delete.push(w.slice);
        continue;
      }
      const labelsDrift = !deepEqual(w.slice.metadata?.labels ?? {}, labels);
      if (w.changed || labelsDrift) {
        const next = structuredClone(w.slice);
        next.endpoints = w.endpoints;
        next.ports = g.ports;
        next.metadata = { ...next.metadata, labels };
        plan.update.push(next);
      }
      kept.push(w.slice);
    }
    while (rest.length) plan.create.push(newSlice(svc, g.ports, rest.splice(0, max)));
  }
  // slices of port sets no longer served
  for (const slices of byPorts.values()) plan.delete.push(...slices);
  const total = groups.reduce((n, g) => n + g.endpoints.length, 0);
  if (total === 0) {
    // keep (or make) one placeholder: an empty slice without ports
    const placeholder = plan.delete.find((s) => !(s.endpoints ?? []).length && !(s.ports ?? []).length) ?? plan.delete.find(() => true);
    if (placeholder) {
      plan.delete = plan.delete.filter((s) => s !== placeholder);
      const isPlaceholder = !(placeholder.endpoints ?? []).length && !(placeholder.ports ?? []).length;
      if (!isPlaceholder || !deepEqual(placeholder.metadata?.labels ?? {}, labels)) {
        const next = structuredClone(placeholder);
        next.endpoints = [];
        delete next.ports;
        next.metadata = { ...next.metadata, labels };
        plan.update.push(next);
      }
    } else {
      const p = newSlice(svc, [], []);
      delete p.ports;
      plan.create.push(p);
    }
  }
  return plan;
}
