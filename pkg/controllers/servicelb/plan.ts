// plan: the ServiceLB controller's decisions as pure functions — which node addresses a LoadBalancer Service's
// status.loadBalancer.ingress lists (k3s's ServiceLB / klipper-lb role, with the agents' proxies as the balancer).
import type { LoadBalancerIngress, Node, Service } from 'kubernetes-types/core/v1.js';
import { deepEqual } from '../../api/kinds/meta.ts';

/** nodeIsReady: the Ready condition is True. */
export function nodeIsReady(node: Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** nodeAddress is the node's InternalIP (ExternalIP when it has no InternalIP, as k3s prefers what it can reach). */
export function nodeAddress(node: Node): string | undefined {
  const addrs = node.status?.addresses ?? [];
  return addrs.find((a) => a.type === 'InternalIP')?.address ?? addrs.find((a) => a.type === 'ExternalIP')?.address;
}

/** lbNodeIngress is the ingress list for every LoadBalancer service: Ready, schedulable nodes' addresses, sorted, unique. */
export function lbNodeIngress(nodes: Node[]): LoadBalancerIngress[] {
  const ips = new Set<string>();
  for (const n of nodes) {
    if (n.metadata?.deletionTimestamp || n.spec?.unschedulable || !nodeIsReady(n)) continue;
    const ip = nodeAddress(n);
    if (ip) ips.add(ip);
  }
  return [...ips].sort(compareIps).map((ip) => ({ ip }));
}

function compareIps(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  if (pa.length === 4 && pb.length === 4) for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return a < b ? -1 : a > b ? 1 : 0;
}

/** handles: type LoadBalancer without a spec.loadBalancerClass (a class names another implementation). */
export function handles(svc: Service): boolean {
  return svc.spec?.type === 'LoadBalancer' && !svc.spec.loadBalancerClass;
}

/**
 * planIngress is the status.loadBalancer.ingress the service should have, or undefined to leave it alone: ours get
 * the node list; a service that is no longer of type LoadBalancer has its stale ingress cleared ([]); services of
 * another loadBalancerClass are not touched.
 */
export function planIngress(svc: Service, ingress: LoadBalancerIngress[]): LoadBalancerIngress[] | undefined {
  const cur = svc.status?.loadBalancer?.ingress ?? [];
  if (handles(svc)) return deepEqual(cur, ingress) ? undefined : ingress;
  if (svc.spec?.type !== 'LoadBalancer' && cur.length) return [];
  return undefined;
}
