// authenticate: who sent a request — client certificates signed by the cluster CA (upstream's x509 authenticator) and static bearer tokens.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket, PeerCertificate } from 'node:tls';
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

/** Authenticator answers who a request is from: its client certificate first, then its bearer token. */
export class Authenticator {
  readonly #tokens = new Map<string, UserInfo>();
  readonly #bySocket = new WeakMap<object, UserInfo | null>();

  constructor(tokens: Map<string, string | UserInfo>) {
    // a map lookup, as upstream's token-file authenticator does
    for (const [t, u] of tokens) this.#tokens.set(t, withAuthenticated(tokenUser(u)));
  }

  authenticate(req: IncomingMessage): AuthResult {
    const fromCert = this.#certUser(req.socket as TLSSocket);
    if (fromCert) return fromCert;
    const h = req.headers.authorization;
    if (!h) return 'none';
    if (!/^bearer /i.test(h)) return 'invalid';
    return this.authenticateToken(h.slice(7).trim()) ?? 'invalid';
  }

  /** authenticateToken is what a TokenReview asks: the user a bearer token stands for. */
  authenticateToken(token: string): UserInfo | undefined {
    if (!token) return undefined;
    return this.#tokens.get(token);
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
