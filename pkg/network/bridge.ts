// bridge: the node's Docker bridge network for its pod subnet — a pure spec and plan, and the dockerode calls that apply them.
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { firstHost, mustParseCidr, normalizeCidr } from './cidr.ts';
import { bridgeName, LABEL_CLUSTER, LABEL_CLUSTER_CIDR, LABEL_NODE, LABEL_POD_CIDR, networkName } from './names.ts';

/** BridgeSpec is the network the node wants. */
export interface BridgeSpec {
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  labels: Record<string, string>;
}

/** bridgeSpec (pure): name, Linux bridge name, subnet = podCIDR, gateway = its first address, ownership labels. */
export function bridgeSpec(p: { clusterId: string; nodeName: string; podCidr: string; clusterCidr: string }): BridgeSpec {
  const subnet = mustParseCidr(p.podCidr, 'pod CIDR');
  return {
    name: networkName(p.clusterId, p.nodeName),
    bridge: bridgeName(p.clusterId, p.nodeName),
    subnet: normalizeCidr(p.podCidr)!,
    gateway: firstHost(subnet),
    labels: {
      [LABEL_CLUSTER]: p.clusterId,
      [LABEL_NODE]: p.nodeName,
      [LABEL_CLUSTER_CIDR]: normalizeCidr(p.clusterCidr)!,
      [LABEL_POD_CIDR]: normalizeCidr(p.podCidr)!,
    },
  };
}

/** createOptions is the Docker request: masquerading off (ours only masquerades traffic that leaves the cluster CIDR). */
export function createOptions(s: BridgeSpec): Dockerode.NetworkCreateOptions {
  return {
    Name: s.name,
    CheckDuplicate: true,
    Driver: 'bridge',
    IPAM: { Driver: 'default', Config: [{ Subnet: s.subnet, Gateway: s.gateway }] },
    Options: {
      'com.docker.network.bridge.name': s.bridge,
      'com.docker.network.bridge.enable_ip_masquerade': 'false',
    },
    Labels: s.labels,
  };
}

/** BridgeAction is what planBridge decides: keep it, create it, remove and recreate it, or stop on a conflict. */
export type BridgeAction = { action: 'keep' } | { action: 'create' } | { action: 'recreate'; reason: string } | { action: 'conflict'; reason: string };

/**
 * planBridge (pure) compares the existing network of that name (if any) with the spec: the same subnet and gateway
 * is kept; another subnet is recreated when no container uses it, else it is a conflict the node cannot fix alone.
 */
export function planBridge(spec: BridgeSpec, existing: Dockerode.NetworkInspectInfo | undefined): BridgeAction {
  if (!existing) return { action: 'create' };
  const cfg = existing.IPAM?.Config?.[0];
  const subnet = normalizeCidr(cfg?.Subnet ?? '');
  if (existing.Driver === 'bridge' && subnet === spec.subnet && (cfg?.Gateway ?? spec.gateway) === spec.gateway) return { action: 'keep' };
  const reason = `docker network ${spec.name} has subnet ${cfg?.Subnet ?? 'none'} (driver ${existing.Driver}), want ${spec.subnet}`;
  const users = Object.keys(existing.Containers ?? {}).length;
  if (users > 0) return { action: 'conflict', reason: `${reason}, and ${users} container(s) still use it` };
  return { action: 'recreate', reason };
}

interface DockerError {
  statusCode?: number;
}
const status = (err: unknown): number | undefined => (err as DockerError)?.statusCode;

/** inspectNetwork answers the network of exactly this name, or undefined. */
export async function inspectNetwork(docker: Dockerode, name: string): Promise<Dockerode.NetworkInspectInfo | undefined> {
  try {
    const info = (await docker.getNetwork(name).inspect()) as Dockerode.NetworkInspectInfo;
    return info.Name === name ? info : undefined;
  } catch (err) {
    if (status(err) === 404) return undefined;
    throw err;
  }
}

/**
 * ensureBridge makes the network match the spec (one step per call is enough: it is called again on every sync).
 * Resolves false with the reason logged when the node cannot proceed (a conflicting network still in use).
 */
export async function ensureBridge(docker: Dockerode, spec: BridgeSpec, log: Logger): Promise<{ ok: true } | { ok: false; reason: string }> {
  const existing = await inspectNetwork(docker, spec.name);
  const plan = planBridge(spec, existing);
  switch (plan.action) {
    case 'keep':
      return { ok: true };
    case 'conflict':
      return { ok: false, reason: plan.reason };
    case 'recreate':
      log.warn({ network: spec.name }, `${plan.reason}: recreating it`);
      await docker.getNetwork(existing!.Id).remove();
      break;
    case 'create':
      break;
  }
  try {
    await docker.createNetwork(createOptions(spec));
    log.info({ network: spec.name, subnet: spec.subnet, bridge: spec.bridge }, 'created pod network');
  } catch (err) {
    // another agent of this node (a restart racing the old process) created it first: the next sync checks it
    if (status(err) !== 409) throw err;
  }
  return { ok: true };
}

/**
 * removeClusterNetworks deletes every docker network labelled with the cluster (after the caller removed the
 * containers; any left attached are disconnected first) and returns the cluster CIDRs their labels recorded.
 */
export async function removeClusterNetworks(docker: Dockerode, clusterId: string, log?: Logger): Promise<string[]> {
  const nets = await docker.listNetworks({ filters: { label: [`${LABEL_CLUSTER}=${clusterId}`] } });
  const cidrs = new Set<string>();
  for (const n of nets) {
    const cidr = n.Labels?.[LABEL_CLUSTER_CIDR];
    if (cidr) cidrs.add(cidr);
    const net = docker.getNetwork(n.Id);
    try {
      const info = (await net.inspect()) as Dockerode.NetworkInspectInfo;
      for (const id of Object.keys(info.Containers ?? {})) {
        log?.warn({ network: n.Name, container: id }, 'disconnecting a container still attached to the pod network');
        await net.disconnect({ Container: id, Force: true }).catch(() => undefined);
      }
      await net.remove();
    } catch (err) {
      if (status(err) !== 404) throw err;
    }
  }
  return [...cidrs];
}
