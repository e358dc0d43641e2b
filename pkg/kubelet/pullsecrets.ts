// pullsecrets: pure matching of an image's registry against imagePullSecrets (dockerconfigjson / dockercfg).
import type { KubeObject } from '../api/types.ts';
import type { RegistryAuth } from './runtime/index.ts';

/** registryOf names the registry an image lives in: `docker.io` unless the first path part looks like a host. */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : 'docker.io';
}

/** normalizeRegistry strips scheme and path from a docker config key: `https://index.docker.io/v1/` → `docker.io`. */
export function normalizeRegistry(key: string): string {
  let k = key.replace(/^[a-z]+:\/\//, '');
  k = k.split('/')[0]!;
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') return 'docker.io';
  return k;
}

/** DockerAuths is the `auths` map of a Docker config.json (registry key → credentials). */
export type DockerAuths = Record<string, { username?: string; password?: string; auth?: string }>;

/** parseDockerConfig reads a config.json (`{"auths": {…}}`) or a legacy .dockercfg (the map itself); {} when unreadable. */
export function parseDockerConfig(text: string): DockerAuths {
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== 'object') return {};
    return (v.auths && typeof v.auths === 'object' ? v.auths : v) as DockerAuths;
  } catch {
    return {};
  }
}

/** dockerConfigAuths reads the registry credentials of one pull secret (kubernetes.io/dockerconfigjson or dockercfg). */
export function dockerConfigAuths(secret: KubeObject): DockerAuths {
  const d = secret.data ?? {};
  if (d['.dockerconfigjson']) return parseDockerConfig(Buffer.from(d['.dockerconfigjson'], 'base64').toString('utf8'));
  if (d['.dockercfg']) return parseDockerConfig(Buffer.from(d['.dockercfg'], 'base64').toString('utf8'));
  return {};
}

/** authIn picks the credential of an auths map whose registry matches the image's. */
function authIn(image: string, auths: DockerAuths): RegistryAuth | undefined {
  const want = registryOf(image);
  for (const [key, a] of Object.entries(auths)) {
    if (normalizeRegistry(key) !== want) continue;
    let { username, password } = a;
    if ((!username || !password) && a.auth) {
      const dec = Buffer.from(a.auth, 'base64').toString('utf8');
      const i = dec.indexOf(':');
      username = dec.slice(0, i);
      password = dec.slice(i + 1);
    }
    if (username !== undefined && password !== undefined) return { username, password, serveraddress: key };
  }
  return undefined;
}

/**
 * authFor picks the first credential in the pod's pull secrets whose registry matches the image's, else one from the
 * node-wide keyring (upstream kubelet's fallback to a config.json on the node).
 */
export function authFor(image: string, secrets: KubeObject[], nodeAuths: DockerAuths = {}): RegistryAuth | undefined {
  for (const s of secrets) {
    const a = authIn(image, dockerConfigAuths(s));
    if (a) return a;
  }
  return authIn(image, nodeAuths);
}

/** pullPolicy is the container's imagePullPolicy or upstream's default (Always for `:latest` or untagged, else IfNotPresent). */
export function pullPolicy(container: any): 'Always' | 'IfNotPresent' | 'Never' {
  if (container.imagePullPolicy) return container.imagePullPolicy;
  const image: string = container.image ?? '';
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.slice(image.lastIndexOf('/') + 1);
  const tag = last.includes(':') ? last.slice(last.indexOf(':') + 1) : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}
