// authenticate: who sent a request — client certificates signed by the cluster CA (upstream's x509 authenticator), static bearer tokens and bound service-account tokens.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket, PeerCertificate } from 'node:tls';
import type { ServiceAccountTokens } from './serviceaccount.ts';
import { GROUPS, type UserInfo } from './types.ts';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/**
 * tokenUser maps what a static token stands for to a user. A UserInfo is taken as is; the legacy names kubeling's
 * server passes stay as they were: `node` is the shared node join identity (`kubeling-node` in system:nodes),
 * anything else a full administrator (system:masters).
 */
export function tokenUser(v: string | UserInfo): UserInfo {
  if (typeof v !== 'string') return v;
  if (v === 'node') return { name: 'kubeling-node', groups: [GROUPS.nodes] };
  return { name: v, groups: [GROUPS.masters] };
}

/** withAuthenticated adds system:authenticated, as upstream's authenticated-group adder does for every authenticated user. */
export function withAuthenticated(u: UserInfo): UserInfo {
  return u.groups.includes(GROUPS.authenticated) ? u : { ...u, groups: [...u.groups, GROUPS.authenticated] };
}

/**
 * certUser is upstream's CommonNameUserConversion: CN = user name, each O = a group. It needs a chain verified by the
 * TLS layer against the cluster CA and the clientAuth usage when the certificate names usages.
 */
export function certUser(peer: Pick<PeerCertificate, 'subject'> & { ext_key_usage?: string[] }): UserInfo | undefined {
  const cn = peer.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (!name) return undefined;
  if (peer.ext_key_usage && !peer.ext_key_usage.includes(CLIENT_AUTH)) return undefined;
  const o = peer.subject.O as string | string[] | undefined;
  return { name, groups: o === undefined ? [] : Array.isArray(o) ? [...o] : [o] };
}

/** AuthResult: a user, `none` when the request carries no credential, `invalid` when it carries a bad one. */
export type AuthResult = UserInfo | 'none' | 'invalid';

/**
 * Authenticator answers who a request is from: its client certificate first, then its bearer token — a static token
 * (answered at once), else a service-account token (answered after the objects it is bound to were looked up).
 */
export class Authenticator {
  readonly #tokens = new Map<string, UserInfo>();
  readonly #bySocket = new WeakMap<object, UserInfo | null>();
  readonly #serviceAccounts: ServiceAccountTokens | undefined;

  constructor(tokens: Map<string, string | UserInfo>, serviceAccounts?: ServiceAccountTokens) {
    // a map lookup, as upstream's token-file authenticator does
    for (const [t, u] of tokens) this.#tokens.set(t, withAuthenticated(tokenUser(u)));
    this.#serviceAccounts = serviceAccounts;
  }

  /** authenticate is synchronous for certificates and static tokens; a service-account token answers through a promise. */
  authenticate(req: IncomingMessage): AuthResult | Promise<AuthResult> {
    const fromCert = this.#certUser(req.socket as TLSSocket);
    if (fromCert) return fromCert;
    const h = req.headers.authorization;
    if (!h) return 'none';
    if (!/^bearer /i.test(h)) return 'invalid';
    const u = this.authenticateToken(h.slice(7).trim());
    return u instanceof Promise ? u.then((x) => x ?? 'invalid') : u ?? 'invalid';
  }

  /** authenticateToken is what a TokenReview asks: the user a bearer token stands for (for the API's audiences). */
  authenticateToken(token: string): UserInfo | undefined | Promise<UserInfo | undefined> {
    if (!token) return undefined;
    const u = this.#tokens.get(token);
    if (u || !this.#serviceAccounts?.mayBeOurs(token)) return u;
    return this.#serviceAccounts.authenticate(token).then((r) => (r ? withAuthenticated(r.user) : undefined));
  }

  /**
   * reviewToken answers a TokenReview: the user and the audiences it was accepted for — `audiences` when the review
   * names some (a service-account token must share one), else the API's own.
   */
  async reviewToken(token: string, audiences: string[] = []): Promise<{ user: UserInfo; audiences: string[] } | undefined> {
    if (!token) return undefined;
    const sa = this.#serviceAccounts;
    if (sa?.mayBeOurs(token) && !this.#tokens.has(token)) {
      const r = await sa.authenticate(token, audiences.length ? audiences : sa.audiences);
      return r && { user: withAuthenticated(r.user), audiences: r.audiences };
    }
    const u = this.#tokens.get(token);
    // a static token is good for any audience: upstream's audience-agnostic authenticators echo the requested ones
    return u && { user: u, audiences: audiences.length ? audiences : (sa?.audiences ?? []) };
  }

  #certUser(socket: TLSSocket): UserInfo | undefined {
    if (!socket || typeof socket.getPeerCertificate !== 'function') return undefined;
    const cached = this.#bySocket.get(socket);
    if (cached !== undefined) return cached ?? undefined;
    let user: UserInfo | undefined;
    if (socket.authorized) {
      const peer = socket.getPeerCertificate();
      const u = peer && Object.keys(peer).length ? certUser(peer) : undefined;
      if (u) user = withAuthenticated(u);
    }
    this.#bySocket.set(socket, user ?? null);
    return user;
  }
}
