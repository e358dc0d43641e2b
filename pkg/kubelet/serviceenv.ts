// serviceenv: the Docker-links style service environment variables a container gets — upstream kubelet's getServiceEnvVarMap + envvars.FromServices, pure.
import type { Service } from 'kubernetes-types/core/v1.js';

/** MASTER_SERVICES are the services of the master namespace every pod gets variables for, service links or not. */
const MASTER_SERVICES = new Set(['kubernetes']);

export interface ServiceEnvOptions {
  /** upstream's --master-service-namespace (default `default`) */
  masterServiceNamespace?: string;
  /** pod.spec.enableServiceLinks (default true) */
  enableServiceLinks?: boolean;
}

/**
 * serviceEnv is the environment a pod in `namespace` gets from `services` (any namespaces; list them all or those of
 * the pod's namespace plus the master namespace): the `kubernetes` service of the master namespace always, and, when
 * service links are enabled, every service of the pod's own namespace (which wins over a master service of the same
 * name). Services without a ClusterIP (headless, ExternalName) give nothing. Container env overrides these.
 */
export function serviceEnv(services: Service[], namespace: string, opts: ServiceEnvOptions = {}): Record<string, string> {
  const masterNs = opts.masterServiceNamespace ?? 'default';
  const links = opts.enableServiceLinks ?? true;
  const chosen = new Map<string, Service>();
  for (const s of services) {
    if (!isServiceIPSet(s)) continue;
    const name = s.metadata?.name ?? '';
    if (s.metadata?.namespace === masterNs && MASTER_SERVICES.has(name)) {
      if (!chosen.has(name)) chosen.set(name, s);
    } else if (s.metadata?.namespace === namespace && links) {
      chosen.set(name, s);
    }
  }
  return Object.fromEntries(fromServices([...chosen.values()]));
}

/** isServiceIPSet is upstream's v1helper.IsServiceIPSet: a ClusterIP that is neither empty nor None. */
export function isServiceIPSet(s: Service): boolean {
  const ip = s.spec?.clusterIP;
  return !!ip && ip !== 'None';
}

/**
 * fromServices is upstream's envvars.FromServices, in its order. For service `redis-master` at 10.0.0.11, port 6379/TCP:
 * REDIS_MASTER_SERVICE_HOST=10.0.0.11, REDIS_MASTER_SERVICE_PORT=6379, REDIS_MASTER_PORT=tcp://10.0.0.11:6379,
 * REDIS_MASTER_PORT_6379_TCP=tcp://10.0.0.11:6379, …_PROTO=tcp, …_PORT=6379, …_ADDR=10.0.0.11; a named port adds
 * REDIS_MASTER_SERVICE_PORT_<NAME>.
 */
export function fromServices(services: Service[]): [string, string][] {
  const out: [string, string][] = [];
  for (const s of services) {
    const ports = s.spec?.ports ?? [];
    if (!isServiceIPSet(s) || ports.length === 0) continue;
    const prefix = envName(s.metadata?.name ?? '');
    out.push([`${prefix}_SERVICE_HOST`, s.spec!.clusterIP!]);
    out.push([`${prefix}_SERVICE_PORT`, String(ports[0]!.port)]);
    for (const p of ports) if (p.name) out.push([`${prefix}_SERVICE_PORT_${envName(p.name)}`, String(p.port)]);
    out.push(...linkVariables(prefix, s.spec!.clusterIP!, ports));
  }
  return out;
}

/** linkVariables are the Docker-link variables: `<P>_PORT` for the first port, then `<P>_PORT_<port>_<PROTO>` and its _PROTO/_PORT/_ADDR per port. */
function linkVariables(prefix: string, ip: string, ports: { port: number; protocol?: string }[]): [string, string][] {
  const out: [string, string][] = [];
  const hostPort = (port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
  ports.forEach((p, i) => {
    const protocol = p.protocol || 'TCP';
    const url = `${protocol.toLowerCase()}://${hostPort(p.port)}`;
    if (i === 0) out.push([`${prefix}_PORT`, url]);
    const pp = `${prefix}_PORT_${p.port}_${protocol.toUpperCase()}`;
    out.push([pp, url], [`${pp}_PROTO`, protocol.toLowerCase()], [`${pp}_PORT`, String(p.port)], [`${pp}_ADDR`, ip]);
  });
  return out;
}

/** envName is upstream's makeEnvVariableName: upper case, `-` → `_`. */
export function envName(s: string): string {
  return s.replaceAll('-', '_').toUpperCase();
}
