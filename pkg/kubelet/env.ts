// env: pure resolution of a container's environment (env, envFrom, valueFrom) and upstream's $(VAR) expansion.
import { parseQuantity } from '../api/quantity.ts';
import type { KubeObject } from '../api/types.ts';
import type { EnvVar } from './runtime/index.ts';

/**
 * expand replaces `$(VAR)` with mapping(VAR) as upstream's third_party expansion does: `$$` escapes a `$`, an
 * undefined or unterminated reference stays as written. Example: expand('$(A)-$$(A)-$(B)', {A:'x'}) → 'x-$(A)-$(B)'.
 */
export function expand(input: string, mapping: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      i++;
      continue;
    }
    const n = input[i + 1]!;
    if (n === '$') {
      out += '$';
      i += 2;
    } else if (n === '(') {
      const end = input.indexOf(')', i + 2);
      if (end < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, end);
      const v = name ? mapping(name) : undefined;
      out += v === undefined ? `$(${name})` : v;
      i = end + 1;
    } else {
      out += c + n;
      i += 2;
    }
  }
  return out;
}

/** EnvContext is what resolving a container's environment may read: fetched objects (undefined = missing) and pod facts. */
export interface EnvContext {
  configMaps: Map<string, KubeObject | undefined>;
  secrets: Map<string, KubeObject | undefined>;
  podIP: string;
  hostIP: string;
  /** nodeAllocatable is used for resourceFieldRef when the container sets no limit (as upstream). */
  nodeAllocatable: { cpu: number; memory: number };
  /** serviceEnv holds the service links (`<SVC>_SERVICE_HOST`…); the container's envFrom and env override them. */
  serviceEnv?: Record<string, string>;
}

/** envSources lists the ConfigMaps and Secrets a container's env and envFrom name. */
export function envSources(container: any): { configMaps: string[]; secrets: string[] } {
  const cms = new Set<string>();
  const secs = new Set<string>();
  for (const e of container.envFrom ?? []) {
    if (e.configMapRef?.name) cms.add(e.configMapRef.name);
    if (e.secretRef?.name) secs.add(e.secretRef.name);
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom?.configMapKeyRef?.name) cms.add(e.valueFrom.configMapKeyRef.name);
    if (e.valueFrom?.secretKeyRef?.name) secs.add(e.valueFrom.secretKeyRef.name);
  }
  return { configMaps: [...cms], secrets: [...secs] };
}

/** needsPodIP tells whether a container's environment reads the pod IP (fieldRef status.podIP/podIPs). */
export function needsPodIP(container: any): boolean {
  return (container.env ?? []).some((e: any) => ['status.podIP', 'status.podIPs'].includes(e.valueFrom?.fieldRef?.fieldPath));
}

/** configMapData merges a ConfigMap's data and binaryData into strings. */
export function configMapData(cm: KubeObject): Record<string, string> {
  const out: Record<string, string> = { ...(cm.data ?? {}) };
  for (const [k, v] of Object.entries<string>(cm.binaryData ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

/** secretData decodes a Secret's base64 data (and plain stringData, should a server keep it). */
export function secretData(s: KubeObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries<string>(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries<string>(s.stringData ?? {})) out[k] = v;
  return out;
}

const envNameRe = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** fieldRefValue reads a downward-API field path from the pod; throws on an unsupported path. */
export function fieldRefValue(pod: KubeObject, path: string, ctx: Pick<EnvContext, 'podIP' | 'hostIP'>): string {
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  if (m) return (pod.metadata[m[1] as 'labels' | 'annotations'] ?? {})[m[2]!] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'metadata.labels':
      return formatMap(pod.metadata.labels ?? {});
    case 'metadata.annotations':
      return formatMap(pod.metadata.annotations ?? {});
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.podIPs':
      return ctx.podIP;
    case 'status.hostIP':
    case 'status.hostIPs':
      return ctx.hostIP;
    default:
      throw new Error(`unsupported fieldRef path ${JSON.stringify(path)}`);
  }
}

/** formatMap renders labels/annotations as the downward API does: sorted `key="value"` lines. */
export function formatMap(m: Record<string, string>): string {
  return Object.keys(m)
    .sort()
    .map((k) => `${k}=${JSON.stringify(m[k])}`)
    .join('\n');
}

/**
 * resourceFieldValue reads limits/requests of a container for the downward API, divided by `divisor` and rounded up
 * as upstream does (cpu limit 500m, divisor 1 → "1"; divisor 1m → "500"). Missing limits fall back to the node's
 * allocatable.
 */
export function resourceFieldValue(pod: KubeObject, ref: { containerName?: string; resource: string; divisor?: string | number }, containerName: string, alloc: EnvContext['nodeAllocatable']): string {
  const c = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((x: any) => x.name === (ref.containerName || containerName));
  const [kind, res] = ref.resource.split('.', 2) as [string, string];
  const raw = c?.resources?.[kind]?.[res];
  let value: number;
  if (raw !== undefined) value = parseQuantity(raw);
  else if (kind === 'limits' && res === 'cpu') value = alloc.cpu;
  else if (kind === 'limits' && res === 'memory') value = alloc.memory;
  else value = 0;
  const divisor = ref.divisor === undefined || ref.divisor === '0' ? 1 : parseQuantity(ref.divisor);
  return String(Math.ceil(value / divisor - 1e-9));
}

/**
 * resolveEnv computes a container's environment as upstream's makeEnvironmentVariables: envFrom first (invalid
 * names skipped), then env in order, where plain values expand `$(VAR)` over what is defined so far. Returns the
 * reason text for CreateContainerConfigError when a required source or key is missing.
 */
export function resolveEnv(pod: KubeObject, container: any, ctx: EnvContext): { env: EnvVar[] } | { error: string } {
  const ns = pod.metadata.namespace ?? 'default';
  const vars = new Map<string, string>(Object.entries(ctx.serviceEnv ?? {}));
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    let data: Record<string, string> | undefined;
    if (from.configMapRef) {
      const cm = ctx.configMaps.get(from.configMapRef.name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        return { error: `configmap "${from.configMapRef.name}" not found` };
      }
      data = configMapData(cm);
    } else if (from.secretRef) {
      const s = ctx.secrets.get(from.secretRef.name);
      if (!s) {
        if (from.secretRef.optional) continue;
        return { error: `secret "${from.secretRef.name}" not found` };
      }
      data = secretData(s);
    }
    for (const [k, v] of Object.entries(data ?? {})) {
      const name = prefix + k;
      if (envNameRe.test(name)) vars.set(name, v);
    }
  }
  for (const e of container.env ?? []) {
    let value = e.value ?? '';
    const vf = e.valueFrom;
    if (e.value) {
      value = expand(e.value, (n) => vars.get(n));
    } else if (vf?.configMapKeyRef) {
      const ref = vf.configMapKeyRef;
      const cm = ctx.configMaps.get(ref.name);
      if (!cm) {
        if (ref.optional) continue;
        return { error: `configmap "${ref.name}" not found` };
      }
      const d = configMapData(cm);
      if (!(ref.key in d)) {
        if (ref.optional) continue;
        return { error: `couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}` };
      }
      value = d[ref.key]!;
    } else if (vf?.secretKeyRef) {
      const ref = vf.secretKeyRef;
      const s = ctx.secrets.get(ref.name);
      if (!s) {
        if (ref.optional) continue;
        return { error: `secret "${ref.name}" not found` };
      }
      const d = secretData(s);
      if (!(ref.key in d)) {
        if (ref.optional) continue;
        return { error: `couldn't find key ${ref.key} in Secret ${ns}/${ref.name}` };
      }
      value = d[ref.key]!;
    } else if (vf?.fieldRef) {
      try {
        value = fieldRefValue(pod, vf.fieldRef.fieldPath, ctx);
      } catch (err) {
        return { error: (err as Error).message };
      }
    } else if (vf?.resourceFieldRef) {
      try {
        value = resourceFieldValue(pod, vf.resourceFieldRef, container.name, ctx.nodeAllocatable);
      } catch (err) {
        return { error: (err as Error).message };
      }
    }
    vars.set(e.name, value);
  }
  return { env: [...vars].map(([name, value]) => ({ name, value })) };
}

/** expandCommand applies `$(VAR)` expansion over the resolved env to command and args, as upstream. */
export function expandCommand(container: any, env: EnvVar[]): { command?: string[]; args?: string[] } {
  const m = new Map(env.map((e) => [e.name, e.value]));
  const map = (n: string): string | undefined => m.get(n);
  const out: { command?: string[]; args?: string[] } = {};
  if (container.command) out.command = container.command.map((s: string) => expand(s, map));
  if (container.args) out.args = container.args.map((s: string) => expand(s, map));
  return out;
}
