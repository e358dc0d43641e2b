// convert: pure mappings between Kubernetes container settings and Docker Engine API shapes.
import { LABELS, RuntimeError, SANDBOX_CONTAINER_NAME } from './types.ts';
import type { ContainerInfo, ContainerState, PodDns, RuntimeErrorCode } from './types.ts';

/** DEFAULT_SOCKET is where dockerd listens unless told otherwise. */
export const DEFAULT_SOCKET = '/var/run/docker.sock';

/**
 * parseDockerHost turns a --docker-host value into Engine connection options.
 * Example: `unix:///run/docker.sock` → { socketPath: '/run/docker.sock' }; `tcp://127.0.0.1:2375` → host and port.
 */
export function parseDockerHost(host: string): { socketPath: string } | { host: string; port: number; protocol: 'http' } {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) || DEFAULT_SOCKET };
  const m = /^(?:tcp|http):\/\/([^:/]+)(?::(\d+))?\/?$/.exec(host);
  if (!m) throw new RuntimeError('Unknown', `unsupported docker host ${JSON.stringify(host)}: use unix:///path or tcp://host:port`);
  return { host: m[1]!, port: Number(m[2] ?? 2375), protocol: 'http' };
}

/** CPU_PERIOD_US is the CFS period the kubelet uses (100ms). */
export const CPU_PERIOD_US = 100_000;
const MIN_SHARES = 2;
const MIN_QUOTA_US = 1000;

/**
 * cpuShares converts a CPU request to cgroup shares as the kubelet does: 1 CPU = 1024 shares, at least 2.
 * Example: 250m → 256; absent (best effort) → 2.
 */
export function cpuShares(millicores: number | undefined): number {
  if (!millicores || millicores <= 0) return MIN_SHARES;
  return Math.max(MIN_SHARES, Math.floor((millicores * 1024) / 1000));
}

/**
 * cpuQuota converts a CPU limit to a CFS quota in µs per CPU_PERIOD_US, at least 1ms.
 * Example: 500m → 50000 (half of every 100ms period).
 */
export function cpuQuota(millicores: number): number {
  return Math.max(MIN_QUOTA_US, Math.floor((millicores * CPU_PERIOD_US) / 1000));
}

/**
 * normalizeImageRef adds `:latest` to a reference with neither tag nor digest; Docker would otherwise pull every
 * tag. Example: `127.0.0.1:5000/app` → `127.0.0.1:5000/app:latest`; `app@sha256:…` stays.
 */
export function normalizeImageRef(ref: string): string {
  if (ref.includes('@')) return ref;
  const lastPart = ref.slice(ref.lastIndexOf('/') + 1);
  return lastPart.includes(':') ? ref : `${ref}:latest`;
}

/** classifyPullError maps a Docker pull error message to a runtime error code. */
export function classifyPullError(message: string): RuntimeErrorCode {
  const m = message.toLowerCase();
  if (/unauthorized|authentication required|incorrect username or password|no basic auth credentials/.test(m)) {
    return 'Unauthorized';
  }
  if (/manifest unknown|not found|does not exist|repository name not known|name unknown|pull access denied/.test(m)) {
    return 'ImageNotFound';
  }
  if (/connection refused|no such host|i\/o timeout|timeout|network is unreachable|dial tcp|connection reset|server misbehaving|no route to host|tls handshake/.test(m)) {
    return 'Unreachable';
  }
  return 'PullFailed';
}

/**
 * dockerName builds the Docker container name the way dockershim did, so `docker ps` reads well:
 * `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>` (container `POD` for a sandbox).
 */
export function dockerName(containerName: string, podName: string, namespace: string, podUid: string, attempt: number): string {
  return `k8s_${containerName}_${podName}_${namespace}_${podUid}_${attempt}`;
}

/**
 * entrypointAndCmd applies Kubernetes command/args semantics: command replaces ENTRYPOINT (and drops the image
 * CMD), args replace CMD; undefined fields let Docker use the image's values.
 */
export function entrypointAndCmd(command?: string[], args?: string[]): { Entrypoint?: string[]; Cmd?: string[] } {
  const out: { Entrypoint?: string[]; Cmd?: string[] } = {};
  if (command && command.length > 0) {
    out.Entrypoint = command;
    out.Cmd = args ?? [];
  } else if (args && args.length > 0) {
    out.Cmd = args;
  }
  return out;
}

/** containerState maps a Docker state to a CRI state. */
export function containerState(dockerState: string | undefined): ContainerState {
  switch (dockerState) {
    case 'created':
      return 'created';
    case 'running':
    case 'paused':
    case 'restarting':
      return 'running';
    case 'exited':
    case 'dead':
    case 'removing':
      return 'exited';
    default:
      return 'unknown';
  }
}

/** dockerTime turns Docker's zero time (`0001-01-01T00:00:00Z`) and empty strings into undefined. */
export function dockerTime(t: string | undefined): string | undefined {
  if (!t || t.startsWith('0001-01-01')) return undefined;
  return t;
}

/** InspectShape is the part of Docker's container inspect answer toContainerInfo reads. */
export interface InspectShape {
  Id: string;
  Name?: string;
  Created?: string;
  Image?: string;
  State?: {
    Status?: string;
    ExitCode?: number;
    StartedAt?: string;
    FinishedAt?: string;
    OOMKilled?: boolean;
    Error?: string;
    Pid?: number;
  };
  Config?: { Image?: string; Labels?: Record<string, string> | null; Tty?: boolean };
  NetworkSettings?: {
    IPAddress?: string;
    Networks?: Record<string, { IPAddress?: string } | undefined> | null;
  };
}

/** toContainerInfo converts a Docker inspect answer to a ContainerInfo. */
export function toContainerInfo(c: InspectShape): ContainerInfo {
  const labels = c.Config?.Labels ?? {};
  const state = containerState(c.State?.Status);
  const info: ContainerInfo = {
    id: c.Id,
    name: (c.Name ?? '').replace(/^\//, ''),
    labels,
    podUid: labels[LABELS.podUid] ?? '',
    namespace: labels[LABELS.podNamespace] ?? '',
    podName: labels[LABELS.podName] ?? '',
    containerName: labels[LABELS.containerName] ?? '',
    attempt: Number(labels[LABELS.restartCount] ?? 0) || 0,
    isSandbox: labels[LABELS.containerName] === SANDBOX_CONTAINER_NAME,
    state,
    createdAt: c.Created ?? '',
    image: c.Config?.Image ?? '',
    imageID: c.Image ?? '',
    oomKilled: c.State?.OOMKilled ?? false,
    tty: c.Config?.Tty ?? false,
  };
  if (state === 'exited') info.exitCode = c.State?.ExitCode ?? 0;
  const startedAt = dockerTime(c.State?.StartedAt);
  if (startedAt) info.startedAt = startedAt;
  const finishedAt = state === 'exited' ? dockerTime(c.State?.FinishedAt) : undefined;
  if (finishedAt) info.finishedAt = finishedAt;
  if (c.State?.Error) info.error = c.State.Error;
  if (c.State?.Pid) info.pid = c.State.Pid;
  const ip = firstIp(c.NetworkSettings);
  if (ip) info.ip = ip;
  return info;
}

function firstIp(ns: InspectShape['NetworkSettings']): string | undefined {
  if (!ns) return undefined;
  if (ns.IPAddress) return ns.IPAddress;
  for (const net of Object.values(ns.Networks ?? {})) {
    if (net?.IPAddress) return net.IPAddress;
  }
  return undefined;
}

/** portBindingsFor builds Docker's ExposedPorts and PortBindings for hostPort mappings. */
export function portBindingsFor(
  ports: { containerPort: number; hostPort: number; protocol?: string; hostIP?: string }[],
): { ExposedPorts: Record<string, object>; PortBindings: Record<string, { HostIp: string; HostPort: string }[]> } {
  const ExposedPorts: Record<string, object> = {};
  const PortBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports) {
    const key = `${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`;
    ExposedPorts[key] = {};
    (PortBindings[key] ??= []).push({ HostIp: p.hostIP ?? '', HostPort: String(p.hostPort) });
  }
  return { ExposedPorts, PortBindings };
}

/**
 * resolvConf renders a pod's resolv.conf as the kubelet writes it: `nameserver` lines, then one `search` line and
 * one `options` line when they have entries. Example: {nameservers: ['10.43.0.10'], searches: ['default.svc.cluster.local'],
 * options: ['ndots:5']} → "nameserver 10.43.0.10\nsearch default.svc.cluster.local\noptions ndots:5\n".
 */
export function resolvConf(dns: PodDns): string {
  const lines = dns.nameservers.map((n) => `nameserver ${n}`);
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.length ? `${lines.join('\n')}\n` : '';
}
