// nodestatus: pure construction of this agent's Node object and Lease (capacity, addresses, nodeInfo, conditions).
import type { KubeObject } from '../api/types.ts';
import type { RuntimeInfo, RuntimeVersion } from './runtime/index.ts';

/** KUBELET_VERSION is what the agent reports as kubeletVersion and kubeProxyVersion. */
export const KUBELET_VERSION = 'v1.32.0+kubeling';
export const MAX_PODS = 110;
export const LEASE_DURATION_SECONDS = 40;

export interface NodeFacts {
  nodeName: string;
  nodeIp: string;
  hostname: string;
  kubeletPort: number;
  labels: Record<string, string>;
  info: RuntimeInfo;
  version: RuntimeVersion;
  /** runtimeReady: dockerd answers; otherwise Ready is False. */
  runtimeReady: boolean;
  runtimeMessage?: string;
}

/** goArch maps Docker's architecture names to Go's: x86_64 → amd64, aarch64 → arm64. */
export function goArch(a: string): string {
  const m: Record<string, string> = { x86_64: 'amd64', amd64: 'amd64', aarch64: 'arm64', arm64: 'arm64', armv7l: 'arm', s390x: 's390x', ppc64le: 'ppc64le' };
  return m[a] ?? a;
}

/** nodeLabels are the well-known labels plus those asked for (node-role.kubernetes.io/… only via `labels`). */
export function nodeLabels(f: Pick<NodeFacts, 'nodeName' | 'labels' | 'info'>): Record<string, string> {
  return {
    'beta.kubernetes.io/arch': goArch(f.info.architecture),
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': goArch(f.info.architecture),
    'kubernetes.io/hostname': f.nodeName,
    'kubernetes.io/os': 'linux',
    ...f.labels,
  };
}

/** resources reports capacity = allocatable: CPUs and memory from dockerd, 110 pods. Memory prints in Ki as the kubelet does. */
export function resources(info: RuntimeInfo): Record<string, string> {
  return { cpu: String(info.cpus), memory: `${Math.floor(info.memoryBytes / 1024)}Ki`, pods: String(MAX_PODS) };
}

function cond(old: any[], type: string, status: string, reason: string, message: string, now: string): Record<string, string> {
  const prev = old.find((c) => c.type === type);
  return { type, status, lastHeartbeatTime: now, lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now, reason, message };
}

/** nodeConditions builds the four pressure/readiness conditions, keeping transition times that did not change. */
export function nodeConditions(old: any[], f: Pick<NodeFacts, 'runtimeReady' | 'runtimeMessage'>, now: string): Record<string, string>[] {
  return [
    cond(old, 'MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available', now),
    cond(old, 'DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure', now),
    cond(old, 'PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available', now),
    f.runtimeReady
      ? cond(old, 'Ready', 'True', 'KubeletReady', 'kubelet is posting ready status', now)
      : cond(old, 'Ready', 'False', 'KubeletNotReady', f.runtimeMessage ?? 'container runtime is down', now),
  ];
}

/** nodeStatus is the status the agent owns; `old` supplies the previous conditions. */
export function nodeStatus(f: NodeFacts, old: Record<string, any> | undefined, now: string): Record<string, unknown> {
  const res = resources(f.info);
  return {
    ...(old ?? {}),
    capacity: res,
    allocatable: res,
    conditions: nodeConditions(old?.conditions ?? [], f, now),
    addresses: [
      { type: 'InternalIP', address: f.nodeIp },
      { type: 'Hostname', address: f.hostname },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: f.kubeletPort } },
    nodeInfo: {
      machineID: '',
      systemUUID: '',
      bootID: '',
      kernelVersion: f.info.kernelVersion,
      osImage: f.info.osImage,
      containerRuntimeVersion: `docker://${f.version.version}`,
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: KUBELET_VERSION,
      operatingSystem: 'linux',
      architecture: goArch(f.info.architecture),
    },
  };
}

/** nodeObject is the Node to create on first registration. */
export function nodeObject(f: NodeFacts, now: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: f.nodeName, labels: nodeLabels(f), annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' } },
    spec: {},
    status: nodeStatus(f, undefined, now),
  };
}

/** microTime renders a MicroTime: `2026-11-22T13:00:00.000000Z`. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** leaseObject is the node's Lease in kube-node-lease, renewed now. */
export function leaseObject(nodeName: string, nodeUid: string | undefined, now: Date): KubeObject {
  const meta: Record<string, unknown> = { name: nodeName, namespace: 'kube-node-lease' };
  if (nodeUid) meta.ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }];
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: meta as KubeObject['metadata'],
    spec: { holderIdentity: nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime(now) },
  };
}
