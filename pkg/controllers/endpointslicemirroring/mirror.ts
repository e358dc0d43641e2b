// mirror: the EndpointSliceMirroring controller's planning as pure functions (upstream
// pkg/controller/endpointslicemirroring) — user-written Endpoints of a selector-less Service become EndpointSlices.
import type { EndpointAddress, EndpointPort as CoreEndpointPort, Endpoints, Service } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointPort, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { deepEqual } from '../../api/kinds/meta.ts';
import { LABEL_MANAGED_BY, LABEL_SERVICE_NAME, portsKey } from '../endpointslice/slices.ts';

/** MIRRORING_CONTROLLER_NAME is the value of LABEL_MANAGED_BY on mirrored slices. */
export const MIRRORING_CONTROLLER_NAME = 'endpointslicemirroring-controller.k8s.io';
/** LABEL_SKIP_MIRROR on an Endpoints opts it out of mirroring (the API server's `kubernetes` Endpoints carry it). */
export const LABEL_SKIP_MIRROR = 'endpointslice.kubernetes.io/skip-mirror';
/** ANNOTATION_LEADER marks leader-election Endpoints of old components: never mirrored. */
export const ANNOTATION_LEADER = 'control-plane.alpha.kubernetes.io/leader';
/** MAX_ENDPOINTS_PER_SUBSET is upstream's --mirroring-max-endpoints-per-subset default (addresses past it are dropped). */
export const MAX_ENDPOINTS_PER_SUBSET = 1000;
/** MAX_ENDPOINTS_PER_SLICE: mirrored slices hold up to 100 endpoints, like the EndpointSlice controller's. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** annotations never copied from the Endpoints to its slices */
const DROPPED_ANNOTATIONS = new Set(['endpoints.kubernetes.io/last-change-trigger-time', 'kubectl.kubernetes.io/last-applied-configuration']);

/**
 * shouldMirror is upstream's rule: the Endpoints' Service exists and has no selector, and the Endpoints are neither
 * opted out (skip-mirror label "true") nor a leader-election record.
 */
export function shouldMirror(ep: Endpoints | undefined, svc: Service | undefined): boolean {
  if (!ep || !svc) return false;
  if (svc.spec?.selector && Object.keys(svc.spec.selector).length) return false;
  if (svc.spec?.type === 'ExternalName') return false;
  if (ep.metadata?.labels?.[LABEL_SKIP_MIRROR] === 'true') return false;
  if (ep.metadata?.annotations?.[ANNOTATION_LEADER] !== undefined) return false;
  return true;
}

/** MirrorGroup is one port set and address family with the endpoints that serve it. */
export interface MirrorGroup {
  addressType: 'IPv4' | 'IPv6';
  ports: EndpointPort[];
  endpoints: Endpoint[];
}

function addressType(ip: string): 'IPv4' | 'IPv6' | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return 'IPv4';
  if (ip.includes(':') && /^[0-9a-fA-F:.]+$/.test(ip)) return 'IPv6';
  return undefined;
}

function toEndpoint(a: EndpointAddress, ready: boolean): Endpoint {
  const e: Endpoint = { addresses: [a.ip], conditions: { ready } };
  if (a.hostname) e.hostname = a.hostname;
  if (a.nodeName) e.nodeName = a.nodeName;
  if (a.targetRef) e.targetRef = a.targetRef;
  return e;
}

function toPorts(ports: CoreEndpointPort[] | undefined): EndpointPort[] {
  return (ports ?? []).map((p) => {
    const o: EndpointPort = { name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' };
    if (p.appProtocol) o.appProtocol = p.appProtocol;
    return o;
  });
}

/**
 * mirrorGroups turns the Endpoints' subsets into groups by port set and address family (subsets with the same ports
 * merge; an address listed twice counts once, ready winning). At most MAX_ENDPOINTS_PER_SUBSET addresses of each
 * subset are mirrored, ready ones first, as upstream. Invalid addresses are skipped.
 */
export function mirrorGroups(ep: Endpoints, maxPerSubset = MAX_ENDPOINTS_PER_SUBSET): MirrorGroup[] {
  const groups = new Map<string, MirrorGroup & { seen: Map<string, Endpoint> }>();
  for (const subset of ep.subsets ?? []) {
    const ports = toPorts(subset.ports);
    const pk = portsKey(ports);
    const addrs = [...(subset.addresses ?? []).map((a) => [a, true] as const), ...(subset.notReadyAddresses ?? []).map((a) => [a, false] as const)].slice(0, maxPerSubset);
    for (const [a, ready] of addrs) {
      const type = addressType(a.ip ?? '');
      if (!type) continue;
      const k = `${type}|${pk}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { addressType: type, ports, endpoints: [], seen: new Map() }));
      const prior = g.seen.get(a.ip);
      if (prior) {
        if (ready) prior.conditions = { ready: true };
        continue;
      }
      const e = toEndpoint(a, ready);
      g.seen.set(a.ip, e);
      g.endpoints.push(e);
    }
  }
  return [...groups.values()].map(({ addressType, ports, endpoints }) => ({ addressType, ports, endpoints }));
}

/** mirrorMeta is the labels and annotations of the Endpoints' slices: copied, plus service-name and managed-by. */
export function mirrorMeta(ep: Endpoints): { labels: Record<string, string>; annotations: Record<string, string> } {
  const labels: Record<string, string> = { ...(ep.metadata?.labels ?? {}) };
  labels[LABEL_SERVICE_NAME] = ep.metadata!.name!;
  labels[LABEL_MANAGED_BY] = MIRRORING_CONTROLLER_NAME;
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(ep.metadata?.annotations ?? {})) if (!DROPPED_ANNOTATIONS.has(k)) annotations[k] = v;
  return { labels, annotations };
}

/** newMirrorSlice is a slice to create for the Endpoints (generateName `<name>-`, owned by the Endpoints). */
export function newMirrorSlice(ep: Endpoints, g: MirrorGroup, endpoints: Endpoint[]): EndpointSlice {
  const { labels, annotations } = mirrorMeta(ep);
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      generateName: `${ep.metadata!.name}-`,
      namespace: ep.metadata!.namespace,
      labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ownerReferences: [{ apiVersion: 'v1', kind: 'Endpoints', name: ep.metadata!.name!, uid: ep.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
    },
    addressType: g.addressType,
    endpoints,
    ports: g.ports,
  };
}

export interface MirrorPlan {
  create: EndpointSlice[];
  update: EndpointSlice[];
  delete: EndpointSlice[];
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/**
 * planMirror brings the slices mirrored from `ep` (`existing`, managed by this controller) to what `ep` says; `ep`
 * undefined (or not to be mirrored) deletes them all. Per group (port set + family), endpoints are cut into slices
 * of at most `max`, paired with the group's existing slices in name order; a pair that differs (endpoints, ports,
 * labels, annotations, owner) is updated, extra chunks are created, extra slices deleted.
 */
export function planMirror(ep: Endpoints | undefined, existing: EndpointSlice[], max = MAX_ENDPOINTS_PER_SLICE): MirrorPlan {
  const plan: MirrorPlan = { create: [], update: [], delete: [] };
  if (!ep) return { ...plan, delete: [...existing] };
  const own = (s: EndpointSlice) => (s.metadata?.ownerReferences ?? []).some((r) => r.controller && r.uid === ep.metadata?.uid);
  const byGroup = new Map<string, EndpointSlice[]>();
  for (const s of [...existing].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))) {
    // a slice of an earlier Endpoints of the same name is not ours to reuse
    if (!own(s)) {
      plan.delete.push(s);
      continue;
    }
    const k = `${s.addressType}|${portsKey(s.ports ?? undefined)}`;
    byGroup.set(k, [...(byGroup.get(k) ?? []), s]);
  }
  const { labels, annotations } = mirrorMeta(ep);
  for (const g of mirrorGroups(ep)) {
    const k = `${g.addressType}|${portsKey(g.ports)}`;
    const slices = byGroup.get(k) ?? [];
    byGroup.delete(k);
    const parts = chunks(g.endpoints, max);
    for (let i = 0; i < parts.length; i++) {
      const s = slices[i];
      if (!s) {
        plan.create.push(newMirrorSlice(ep, g, parts[i]));
        continue;
      }
      const same =
        deepEqual(s.endpoints ?? [], parts[i]) &&
        deepEqual(s.ports ?? [], g.ports) &&
        deepEqual(s.metadata?.labels ?? {}, labels) &&
        deepEqual(s.metadata?.annotations ?? {}, annotations);
      if (same) continue;
      const next = structuredClone(s);
      next.endpoints = parts[i];
      next.ports = g.ports;
      next.metadata = { ...next.metadata, labels };
      if (Object.keys(annotations).length) next.metadata.annotations = annotations;
      else delete next.metadata.annotations;
      plan.update.push(next);
    }
    plan.delete.push(...slices.slice(parts.length));
  }
  for (const rest of byGroup.values()) plan.delete.push(...rest);
  return plan;
}
