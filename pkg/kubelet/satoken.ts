// satoken: the kubelet's service-account token manager — TokenRequests bound to the pod, cached and renewed at 80 % of their lifetime, as upstream's token manager.
import type { TokenRequest } from 'kubernetes-types/authentication/v1.js';
import type { ServiceAccountTokenProjection } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../api/types.ts';

/** RequestToken POSTs a TokenRequest for a service account (serviceaccounts/{name}/token) and returns the answer. */
export type RequestToken = (namespace: string, serviceAccount: string, body: TokenRequest) => Promise<TokenRequest>;

/** MAX_TTL_MS: a token is renewed after a day even when it lives longer (upstream's maxTTL). */
const MAX_TTL_MS = 24 * 3600 * 1000;

interface Entry {
  token: string;
  issuedMs: number;
  expiresMs: number;
}

/**
 * needsRefresh is upstream's requiresRefresh: past 80 % of the token's lifetime (or a day), renew.
 * Example: issued at 0, expiring at 3607 s → renew from 2885.6 s on.
 */
export function needsRefresh(e: Entry, nowMs: number): boolean {
  const ttl = e.expiresMs - e.issuedMs;
  return nowMs >= e.issuedMs + Math.min(ttl * 0.8, MAX_TTL_MS);
}

/** tokenRequestFor is the TokenRequest the kubelet sends for a projected token: bound to the pod, audience as asked. */
export function tokenRequestFor(pod: KubeObject, src: ServiceAccountTokenProjection): TokenRequest {
  return {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: {
      audiences: src.audience ? [src.audience] : [],
      expirationSeconds: src.expirationSeconds ?? 3600,
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
    },
  };
}

/** TokenManager caches one token per (pod uid, account, audience, lifetime) and renews it when due. */
export class TokenManager {
  readonly #request: RequestToken;
  readonly #cache = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(request: RequestToken, now: () => number = Date.now) {
    this.#request = request;
    this.#now = now;
  }

  /** token returns the pod's current token for the projection, requesting a new one when none is cached or it is due. */
  async token(pod: KubeObject, src: ServiceAccountTokenProjection): Promise<string> {
    const sa = (pod.spec?.serviceAccountName as string | undefined) || 'default';
    const key = [pod.metadata.uid, sa, src.audience ?? '', src.expirationSeconds ?? 3600].join('\n');
    const now = this.#now();
    const hit = this.#cache.get(key);
    if (hit && !needsRefresh(hit, now)) return hit.token;
    try {
      const tr = await this.#request(pod.metadata.namespace ?? 'default', sa, tokenRequestFor(pod, src));
      const token = tr.status?.token ?? '';
      const exp = tr.status?.expirationTimestamp ? Date.parse(tr.status.expirationTimestamp) : now + (src.expirationSeconds ?? 3600) * 1000;
      this.#cache.set(key, { token, issuedMs: now, expiresMs: exp });
      this.#gc(now);
      return token;
    } catch (e) {
      // a token still valid is used while a renewal fails (upstream keeps the old one until it expires)
      if (hit && hit.expiresMs > now) return hit.token;
      throw e;
    }
  }

  /** forget drops a pod's tokens (it was removed). */
  forget(uid: string): void {
    for (const k of this.#cache.keys()) if (k.startsWith(`${uid}\n`)) this.#cache.delete(k);
  }

  #gc(now: number): void {
    for (const [k, e] of this.#cache) if (e.expiresMs <= now) this.#cache.delete(k);
  }
}

/** tokenRequester POSTs TokenRequests through a client that can send raw requests (the HTTP client). */
export function tokenRequester(client: object): RequestToken {
  const c = client as { request?: (method: string, path: string, body?: unknown) => Promise<TokenRequest> };
  return (ns, sa, body) => {
    if (typeof c.request !== 'function') return Promise.reject(new Error('this client cannot request service account tokens'));
    return c.request('POST', `/api/v1/namespaces/${encodeURIComponent(ns)}/serviceaccounts/${encodeURIComponent(sa)}/token`, body);
  };
}
