// serviceaccount: bound service-account tokens — the JWT issuer behind serviceaccounts/token (TokenRequest) and the authenticator that accepts them, as upstream's pkg/serviceaccount.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import type { KubeObject } from '../../api/types.ts';
import type { UserInfo } from './types.ts';

/** DEFAULT_ISSUER is upstream's --service-account-issuer as k3s and kubeadm set it; it is also the API's audience. */
export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** SA_PREFIX is upstream's ServiceAccountUsernamePrefix. */
export const SA_PREFIX = 'system:serviceaccount:';
/** SA_GROUP is upstream's AllServiceAccountsGroup; each namespace adds `system:serviceaccounts:<ns>`. */
export const SA_GROUP = 'system:serviceaccounts';

/** The user extras upstream attaches to a pod-bound token's user (authentication.kubernetes.io/…). */
export const EXTRA = {
  podName: 'authentication.kubernetes.io/pod-name',
  podUid: 'authentication.kubernetes.io/pod-uid',
  credentialId: 'authentication.kubernetes.io/credential-id',
} as const;

/** INVALID_AFTER_DELETE_S: a token bound to an object deleted longer ago than this is refused (upstream: 60 s). */
const INVALID_AFTER_DELETE_S = 60;
/** NBF_LEEWAY_S tolerates a little clock skew on nbf/iat (go-jose's default leeway: 1 minute). */
const NBF_LEEWAY_S = 60;

/** Ref names an object a token is bound to. */
export interface Ref {
  name: string;
  uid: string;
}

/** Claims are the JWT claims of a bound token: upstream's jwt.Claims plus the private `kubernetes.io` claims. */
export interface Claims {
  aud: string[];
  exp: number;
  iat: number;
  iss: string;
  jti?: string;
  nbf: number;
  sub: string;
  'kubernetes.io': {
    namespace: string;
    serviceaccount: Ref;
    pod?: Ref;
    secret?: Ref;
    warnafter?: number;
  };
}

/** serviceAccountUsername is `system:serviceaccount:<ns>:<name>`. */
export function serviceAccountUsername(namespace: string, name: string): string {
  return `${SA_PREFIX}${namespace}:${name}`;
}

/** parseServiceAccountUsername splits `system:serviceaccount:<ns>:<name>`; undefined for any other user name. */
export function parseServiceAccountUsername(user: string): { namespace: string; name: string } | undefined {
  if (!user.startsWith(SA_PREFIX)) return undefined;
  const parts = user.slice(SA_PREFIX.length).split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { namespace: parts[0], name: parts[1] };
}

/** serviceAccountGroups are the groups of a service account's user (system:authenticated is added later). */
export function serviceAccountGroups(namespace: string): string[] {
  return [SA_GROUP, `${SA_GROUP}:${namespace}`];
}

/**
 * tokenClaims builds the claims of a TokenRequest (upstream's serviceaccount.Claims): `sub` the service account's user
 * name, `aud` the audiences, valid from now for `expirationSeconds`, bound to the pod or secret when given.
 * Example: expirationSeconds 3600 at nowS 1000 → iat = nbf = 1000, exp = 4600.
 */
export function tokenClaims(o: { issuer: string; namespace: string; sa: Ref; audiences: string[]; expirationSeconds: number; nowS: number; pod?: Ref; secret?: Ref; jti?: string }): Claims {
  return {
    aud: o.audiences,
    exp: o.nowS + o.expirationSeconds,
    iat: o.nowS,
    iss: o.issuer,
    ...(o.jti ? { jti: o.jti } : {}),
    nbf: o.nowS,
    sub: serviceAccountUsername(o.namespace, o.sa.name),
    'kubernetes.io': {
      namespace: o.namespace,
      serviceaccount: { name: o.sa.name, uid: o.sa.uid },
      ...(o.pod ? { pod: o.pod } : {}),
      ...(o.secret ? { secret: o.secret } : {}),
    },
  };
}

/** ClaimsCheck is the outcome of checking claims without the store: the audiences that matched, or why not. */
export type ClaimsCheck = { ok: true; audiences: string[] } | { ok: false; reason: string };

/**
 * checkClaims validates a token's claims (signature already verified) as upstream's validator does before it looks
 * objects up: the issuer, nbf/exp (exp with no leeway), the shape of the private claims, and at least one audience
 * shared with `audiences`. The matched audiences are what a TokenReview reports.
 */
export function checkClaims(c: Partial<Claims>, o: { issuer: string; audiences: string[]; nowS: number }): ClaimsCheck {
  if (c.iss !== o.issuer) return { ok: false, reason: 'token issuer is not recognized' };
  if (typeof c.exp !== 'number' || o.nowS >= c.exp) return { ok: false, reason: 'service account token has expired' };
  if (typeof c.nbf === 'number' && o.nowS + NBF_LEEWAY_S < c.nbf) return { ok: false, reason: 'service account token is not valid yet' };
  if (typeof c.iat === 'number' && o.nowS + NBF_LEEWAY_S < c.iat) return { ok: false, reason: 'service account token is issued in the future' };
  const k = c['kubernetes.io'];
  const sa = parseServiceAccountUsername(typeof c.sub === 'string' ? c.sub : '');
  if (!k || !sa || k.namespace !== sa.namespace || k.serviceaccount?.name !== sa.name || !k.serviceaccount.uid) {
    return { ok: false, reason: 'service account token claims are malformed' };
  }
  const aud = Array.isArray(c.aud) ? c.aud : typeof c.aud === 'string' ? [c.aud] : [];
  const matched = o.audiences.filter((a) => aud.includes(a));
  if (!matched.length) return { ok: false, reason: 'token audiences are invalid' };
  return { ok: true, audiences: matched };
}

/** userOf is the user a valid token stands for: upstream's ServiceAccountInfo.UserInfo (pod and credential extras). */
export function userOf(c: Claims): UserInfo {
  const k = c['kubernetes.io'];
  const extra: Record<string, string[]> = {};
  if (k.pod) {
    extra[EXTRA.podName] = [k.pod.name];
    extra[EXTRA.podUid] = [k.pod.uid];
  }
  if (c.jti) extra[EXTRA.credentialId] = [`JTI=${c.jti}`];
  return {
    name: serviceAccountUsername(k.namespace, k.serviceaccount.name),
    uid: k.serviceaccount.uid,
    groups: serviceAccountGroups(k.namespace),
    ...(Object.keys(extra).length ? { extra } : {}),
  };
}

/** boundObjectProblem says why an object a token names no longer backs it (gone, another uid, deleted too long ago). */
export function boundObjectProblem(what: string, ref: Ref, obj: KubeObject | undefined, nowS: number): string | undefined {
  if (!obj) return `${what} "${ref.name}" not found`;
  if (obj.metadata.uid !== ref.uid) return `${what} uid (${obj.metadata.uid}) does not match claim (${ref.uid})`;
  const del = obj.metadata.deletionTimestamp ? Date.parse(obj.metadata.deletionTimestamp) / 1000 : NaN;
  if (!Number.isNaN(del) && del < nowS - INVALID_AFTER_DELETE_S) return `${what} "${ref.name}" is being deleted`;
  return undefined;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/** keyId is upstream's kid: the URL-safe base64 SHA-256 of the public key's PKIX DER. */
export function keyId(pub: KeyObject): string {
  return b64url(createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest());
}

/** algorithmOf picks the JWS algorithm for a signing key: ES256 for P-256, RS256 for RSA. */
function algorithmOf(key: KeyObject): 'ES256' | 'RS256' {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`service-account signing key: unsupported key type ${key.asymmetricKeyType} (want EC P-256 or RSA)`);
}

/** signJwt produces a compact JWS of `claims` (ES256 signatures in the JOSE r||s form). */
export function signJwt(claims: object, key: KeyObject, kid: string): string {
  const alg = algorithmOf(key);
  const input = `${b64url(JSON.stringify({ alg, kid }))}.${b64url(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(input), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${b64url(sig)}`;
}

/** verifyJwt checks a compact JWS against `pub` and returns its claims, or undefined when it is not one of ours. */
export function verifyJwt(token: string, pub: KeyObject): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: string };
    const alg = algorithmOf(pub);
    if (header.alg !== alg) return undefined;
    const sig = Buffer.from(parts[2]!, 'base64url');
    const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), alg === 'ES256' ? { key: pub, dsaEncoding: 'ieee-p1363' } : pub, sig);
    if (!ok) return undefined;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** looksLikeJwt: three base64url segments, the first a JSON header — what is worth a signature check. */
export function looksLikeJwt(token: string): boolean {
  return /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

/** Lookup reads an object the way the authenticator and the token endpoint need (undefined = not found). */
export type Lookup = (resource: 'serviceaccounts' | 'pods' | 'secrets', namespace: string, name: string) => Promise<KubeObject | undefined>;

/** TokenResult is an authenticated token: the user and the audiences it was accepted for. */
export interface TokenResult {
  user: UserInfo;
  audiences: string[];
}

export interface ServiceAccountTokensOptions {
  /** the PEM private key tokens are signed with (EC P-256 or RSA); a fresh in-memory key when absent */
  keyPem?: string;
  issuer?: string;
  /** the API server's audiences (upstream --api-audiences; default: the issuer) */
  audiences?: string[];
  lookup: Lookup;
}

/** CACHE_TTL_MS / CACHE_MAX: accepted tokens are remembered briefly, as upstream's token-auth cache does (10 s). */
const CACHE_TTL_MS = 10_000;
const CACHE_MAX = 4096;

/**
 * ServiceAccountTokens signs bound tokens and authenticates them: the signature, issuer, expiry and audience first,
 * then the service account (and the pod or secret the token is bound to) must still exist with the uid it names.
 */
export class ServiceAccountTokens {
  readonly issuer: string;
  readonly audiences: string[];
  readonly #key: KeyObject;
  readonly #pub: KeyObject;
  readonly #kid: string;
  readonly #lookup: Lookup;
  readonly #cache = new Map<string, { until: number; result: TokenResult }>();

  constructor(o: ServiceAccountTokensOptions) {
    this.#key = o.keyPem ? createPrivateKey(o.keyPem) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    algorithmOf(this.#key);
    this.#pub = createPublicKey(this.#key);
    this.#kid = keyId(this.#pub);
    this.issuer = o.issuer ?? DEFAULT_ISSUER;
    this.audiences = o.audiences?.length ? o.audiences : [this.issuer];
    this.#lookup = o.lookup;
  }

  /** issue signs the claims of a token request (see tokenClaims) with a fresh jti. */
  issue(o: { namespace: string; sa: Ref; audiences: string[]; expirationSeconds: number; pod?: Ref; secret?: Ref; nowS?: number }): string {
    const nowS = o.nowS ?? Math.floor(Date.now() / 1000);
    return signJwt(tokenClaims({ ...o, issuer: this.issuer, nowS, jti: randomUUID() }), this.#key, this.#kid);
  }

  /** mayBeOurs: a JWT naming our issuer — anything else is left to the other authenticators. */
  mayBeOurs(token: string): boolean {
    if (!looksLikeJwt(token)) return false;
    try {
      const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { iss?: unknown };
      return payload.iss === this.issuer;
    } catch {
      return false;
    }
  }

  /** authenticate answers who a token is, for the API's audiences or the ones a TokenReview names. */
  async authenticate(token: string, audiences: string[] = this.audiences, nowMs = Date.now()): Promise<TokenResult | undefined> {
    const key = `${audiences.join('\n')}\n${token}`;
    const hit = this.#cache.get(key);
    if (hit && hit.until > nowMs) return hit.result;
    if (hit) this.#cache.delete(key);
    const claims = verifyJwt(token, this.#pub) as Partial<Claims> | undefined;
    if (!claims) return undefined;
    const nowS = Math.floor(nowMs / 1000);
    const check = checkClaims(claims, { issuer: this.issuer, audiences, nowS });
    if (!check.ok) return undefined;
    const c = claims as Claims;
    const k = c['kubernetes.io'];
    const ns = k.namespace;
    if (boundObjectProblem('service account', k.serviceaccount, await this.#lookup('serviceaccounts', ns, k.serviceaccount.name), nowS)) return undefined;
    if (k.pod && boundObjectProblem('pod', k.pod, await this.#lookup('pods', ns, k.pod.name), nowS)) return undefined;
    if (k.secret && boundObjectProblem('secret', k.secret, await this.#lookup('secrets', ns, k.secret.name), nowS)) return undefined;
    const result = { user: userOf(c), audiences: check.audiences };
    if (this.#cache.size >= CACHE_MAX) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, { until: Math.min(nowMs + CACHE_TTL_MS, c.exp * 1000), result });
    return result;
  }
}
