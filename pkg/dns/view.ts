// view: the cluster facts the DNS resolver reads (Services and EndpointSlices), from informers or from plain lists.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { INDEX_NAMESPACE, type SharedInformer, type SharedInformerFactory } from '../client/informer.ts';

/** LABEL_SERVICE_NAME ties an EndpointSlice to its Service (discovery.k8s.io/v1 well-known label). */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';

/** ClusterView answers the resolver's questions; lookups are by lower-case names, as DNS compares without case. */
export interface ClusterView {
  service(namespace: string, name: string): Service | undefined;
  /** slices of one service (label kubernetes.io/service-name) */
  slices(namespace: string, name: string): EndpointSlice[];
  /** namespaceExists: the namespace holds at least one Service (the agent does not watch namespaces) */
  namespaceExists(namespace: string): boolean;
  /** servicesByClusterIP: services whose clusterIPs include `ip` */
  servicesByClusterIP(ip: string): Service[];
  /** slicesByAddress: slices with an endpoint address `ip` */
  slicesByAddress(ip: string): EndpointSlice[];
}

/** serviceIPs lists a service's cluster IPs (clusterIPs, else clusterIP), without None. */
export function serviceIPs(svc: Service): string[] {
  const ips = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : svc.spec?.clusterIP ? [svc.spec.clusterIP] : [];
  return ips.filter((ip) => ip && ip !== 'None');
}

function sliceServiceKey(s: EndpointSlice): string | undefined {
  const name = s.metadata?.labels?.[LABEL_SERVICE_NAME];
  return name ? `${s.metadata?.namespace}/${name}`.toLowerCase() : undefined;
}

function sliceAddresses(s: EndpointSlice): string[] {
  return (s.endpoints ?? []).flatMap((e) => e.addresses ?? []);
}

/** listView is a ClusterView over fixed lists (tests, and one-off answers). */
export function listView(services: Service[], slices: EndpointSlice[]): ClusterView {
  const key = (ns: string, name: string) => `${ns}/${name}`.toLowerCase();
  return {
    service: (ns, name) => services.find((s) => key(s.metadata?.namespace ?? '', s.metadata?.name ?? '') === key(ns, name)),
    slices: (ns, name) => slices.filter((s) => sliceServiceKey(s) === key(ns, name)),
    namespaceExists: (ns) => services.some((s) => s.metadata?.namespace?.toLowerCase() === ns.toLowerCase()),
    servicesByClusterIP: (ip) => services.filter((s) => serviceIPs(s).includes(ip)),
    slicesByAddress: (ip) => slices.filter((s) => sliceAddresses(s).includes(ip)),
  };
}

const INDEX_SERVICE_KEY = 'dns/service';
const INDEX_CLUSTER_IP = 'dns/clusterIP';
const INDEX_ADDRESS = 'dns/address';

/** informerView is the live ClusterView over the agent's shared Service and EndpointSlice informers (with indexes for the reverse lookups). */
export function informerView(informers: SharedInformerFactory): { view: ClusterView; services: SharedInformer; slices: SharedInformer } {
  const services = informers.informerFor(lookupKind('v1', 'Service')!);
  const slices = informers.informerFor(lookupKind('discovery.k8s.io/v1', 'EndpointSlice')!);
  services.addIndexer(INDEX_CLUSTER_IP, (o) => serviceIPs(o as unknown as Service));
  slices.addIndexer(INDEX_SERVICE_KEY, (o) => {
    const k = sliceServiceKey(o as unknown as EndpointSlice);
    return k ? [k] : [];
  });
  slices.addIndexer(INDEX_ADDRESS, (o) => [...new Set(sliceAddresses(o as unknown as EndpointSlice))]);
  const asServices = (l: KubeObject[]) => l as unknown as Service[];
  const asSlices = (l: KubeObject[]) => l as unknown as EndpointSlice[];
  const view: ClusterView = {
    service: (ns, name) => {
      const hit = services.get(ns, name) as Service | undefined;
      if (hit) return hit;
      // names in the store are lower case (DNS-1035), so a mixed-case query only needs lower-casing
      return services.get(ns.toLowerCase(), name.toLowerCase()) as Service | undefined;
    },
    slices: (ns, name) => asSlices(slices.byIndex(INDEX_SERVICE_KEY, `${ns}/${name}`.toLowerCase())),
    namespaceExists: (ns) => services.byIndex(INDEX_NAMESPACE, ns.toLowerCase()).length > 0,
    servicesByClusterIP: (ip) => asServices(services.byIndex(INDEX_CLUSTER_IP, ip)),
    slicesByAddress: (ip) => asSlices(slices.byIndex(INDEX_ADDRESS, ip)),
  };
  return { view, services, slices };
}
