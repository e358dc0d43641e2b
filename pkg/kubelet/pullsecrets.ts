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

/** dockerConfigAuths reads the registry credentials of one pull secret (kubernetes.io/dockerconfigjson or dockercfg). */
export function dockerConfigAuths(secret: KubeObject): Record<string, { username?: string; password?: string; auth?: string }> {
  const d = secret.data ?? {};
  try {
    if (d['.dockerconfigjson']) return JSON.parse(Buffer.from(d['.dockerconfigjson'], 'base64').toString('utf8')).auths ?? {};
    if (d['.dockercfg']) return JSON.parse(Buffer.from(d['.dockercfg'], 'base64').toString('utf8')) ?? {};
  } catch {
    return {};
  }
  return {};
}

/** authFor picks the first credential in the pull secrets whose registry matches the image's. */
export function authFor(image: string, secrets: KubeObject[]): RegistryAuth | undefined {
  const want = registryOf(image);
  for (const s of secrets) {
    for (const [key, a] of Object.entries(dockerConfigAuths(s))) {
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
  }
  return undefined;
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
