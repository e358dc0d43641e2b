// names: the names the pod network gives its host objects (docker network, bridge, iptables chains, route protocol, labels).
import { createHash } from 'node:crypto';

/** ROUTE_PROTO marks the routes kubeling installs (`ip route … proto 75`, 'K'), so it only ever removes its own. */
export const ROUTE_PROTO = 75;

/** Labels on the docker networks: who owns them, and what teardown must know (the cluster CIDR of the routes). */
export const LABEL_CLUSTER = 'kubeling.cluster';
export const LABEL_NODE = 'kubeling.node';
export const LABEL_CLUSTER_CIDR = 'kubeling.cluster-cidr';
export const LABEL_POD_CIDR = 'kubeling.pod-cidr';

/** MAX_NETWORK_NAME bounds the docker network name; longer node names are cut and suffixed with a digest. */
const MAX_NETWORK_NAME = 63;

const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * networkName is the node's docker bridge network: `kl-<clusterId[0..12]>-<nodeName>`. A name over 63 characters
 * keeps the node name's start and ends in 8 hex of its digest, so distinct nodes keep distinct networks.
 * Example: ('0123456789abcdef', 'node-a') → `kl-0123456789ab-node-a`.
 */
export function networkName(clusterId: string, nodeName: string): string {
  const prefix = `kl-${clusterId.slice(0, 12)}-`;
  const full = prefix + nodeName;
  if (full.length <= MAX_NETWORK_NAME) return full;
  const digest = sha256hex(nodeName).slice(0, 8);
  return `${prefix}${nodeName.slice(0, MAX_NETWORK_NAME - prefix.length - 9)}-${digest}`;
}

/** bridgeName is the Linux bridge of that network: `klb` + 11 hex of sha256(clusterId + nodeName), 14 characters (IFNAMSIZ allows 15). */
export function bridgeName(clusterId: string, nodeName: string): string {
  return `klb${sha256hex(clusterId + nodeName).slice(0, 11)}`;
}

/**
 * serviceInterfaceName is the dummy interface holding the cluster's ClusterIPs: `kl` + 12 hex of the cluster id.
 * The proxy owns it at runtime (pkg/proxy/addresses.ts computes the same name); teardown deletes it.
 */
export function serviceInterfaceName(clusterId: string): string {
  return `kl${clusterId.slice(0, 12)}`;
}

/** Chains names the cluster's iptables chains (8 hex of the cluster id: unique enough per host, short for iptables' 28). */
export interface Chains {
  /** filter chain jumped from DOCKER-USER: accepts pod traffic Docker's isolation chains would drop */
  forward: string;
  /** nat chain jumped from POSTROUTING: masquerades pod egress that leaves the cluster CIDR */
  postrouting: string;
}

export function chainNames(clusterId: string): Chains {
  const id8 = clusterId.slice(0, 8);
  return { forward: `KL-FWD-${id8}`, postrouting: `KL-POST-${id8}` };
}
