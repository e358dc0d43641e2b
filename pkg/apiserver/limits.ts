// limits: what no client can exhaust — connection caps (per client IP and in total, unauthenticated ones evicted oldest first), in-flight request limits (upstream's --max-requests-inflight / --max-mutating-requests-inflight, 429 + Retry-After), a byte budget over all watchers' queues, and the plain-HTTP-on-HTTPS answer.
import type { Socket } from 'node:net';

/** ApiLimits are the server's bounds; every one can be set by ApiServerOptions.limits or KUBELING_API_LIMITS (JSON). */
export interface ApiLimits {
  /** the whole request (headers and body) must arrive within this (Node's requestTimeout; upstream --request-timeout 60 s) */
  requestTimeoutMs: number;
  /** the headers must arrive within this (upstream's http.Server ReadHeaderTimeout: 32 s) */
  headersTimeoutMs: number;
  /** from accepting the TCP connection to the end of the TLS handshake */
  handshakeTimeoutMs: number;
  /** an idle keep-alive connection is closed after this */
  keepAliveTimeoutMs: number;
  /** connections in total; a new one beyond it is refused (after evicting an unauthenticated one, if any) */
  maxConnections: number;
  /** connections from one client IP */
  maxConnectionsPerIp: number;
  /**
   * connections that have not yet authenticated a request (TLS handshakes, idle or trickling ones), in total and per
   * IP: beyond these the OLDEST such connection is closed to make room, so a flood of them never locks a client out
   */
  maxUnauthenticated: number;
  maxUnauthenticatedPerIp: number;
  /** upstream --max-requests-inflight (get, list; watches and other long-running requests are not counted); 0 = none */
  maxRequestsInflight: number;
  /** upstream --max-mutating-requests-inflight (create, update, patch, delete); 0 = none */
  maxMutatingRequestsInflight: number;
  /** one watcher's unsent bytes beyond which it is closed (the watch cache's bound) */
  watcherQueueBytes: number;
  /** unsent bytes of all watch streams together; beyond it the watchers holding most are closed first */
  watchBudgetBytes: number;
  /** unsent bytes of one user's watch streams */
  watchBudgetPerUserBytes: number;
}

export const DEFAULT_LIMITS: ApiLimits = {
  requestTimeoutMs: 60_000,
  headersTimeoutMs: 32_000,
  handshakeTimeoutMs: 10_000,
  keepAliveTimeoutMs: 60_000,
  maxConnections: 8192,
  maxConnectionsPerIp: 4096,
  maxUnauthenticated: 1024,
  maxUnauthenticatedPerIp: 512,
  maxRequestsInflight: 400,
  maxMutatingRequestsInflight: 200,
  watcherQueueBytes: 16 * 1024 * 1024,
  // a watcher that keeps up holds ~nothing; these bound what stalled ones hold (each queued byte is held about twice:
  // the queued text, then its encrypted copy once the socket's writev takes the backlog)
  watchBudgetBytes: 32 * 1024 * 1024,
  watchBudgetPerUserBytes: 16 * 1024 * 1024,
};

/**
 * resolveLimits merges the defaults, KUBELING_API_LIMITS (a JSON object of ApiLimits keys, for tests and benches) and
 * the caller's options, in that order. Unknown keys and values that are not non-negative numbers are an error.
 */
export function resolveLimits(given: Partial<ApiLimits> | undefined, env: string | undefined): ApiLimits {
  const out: ApiLimits = { ...DEFAULT_LIMITS };
  const layers: unknown[] = [];
  if (env) {
    try {
      layers.push(JSON.parse(env));
    } catch (e) {
      throw new Error(`KUBELING_API_LIMITS is not JSON: ${(e as Error).message}`);
    }
  }
  if (given) layers.push(given);
  for (const layer of layers) {
    if (!layer || typeof layer !== 'object' || Array.isArray(layer)) throw new Error('API limits must be an object');
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      if (!Object.hasOwn(DEFAULT_LIMITS, k)) throw new Error(`unknown API limit ${JSON.stringify(k)}`);
      if (typeof v !== 'number' || !(v >= 0)) throw new Error(`API limit ${k} must be a non-negative number, got ${JSON.stringify(v)}`);
      out[k as keyof ApiLimits] = v;
    }
  }
  // Node requires headersTimeout <= requestTimeout when both are set
  if (out.requestTimeoutMs > 0 && out.headersTimeoutMs > out.requestTimeoutMs) out.headersTimeoutMs = out.requestTimeoutMs;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// Connections

/** ConnectionCounts are what admission looks at when a connection arrives. */
export interface ConnectionCounts {
  total: number;
  perIp: number;
  unauthenticated: number;
  unauthenticatedPerIp: number;
}

/**
 * Admission is the verdict on a new connection (which starts unauthenticated): accept it, close the oldest
 * unauthenticated connection of the same IP or of anyone first (then accept), or refuse it.
 */
export type Admission = 'accept' | 'evict-same-ip' | 'evict-oldest' | 'refuse';

/**
 * admit decides on a new connection. Worked example with maxUnauthenticatedPerIp 512: a client holding 512 idle
 * handshakes opens a 513th → 'evict-same-ip' (its oldest idle one goes); an authenticated client at
 * maxConnectionsPerIp with no idle connection → 'refuse'.
 */
export function admit(c: ConnectionCounts, l: Pick<ApiLimits, 'maxConnections' | 'maxConnectionsPerIp' | 'maxUnauthenticated' | 'maxUnauthenticatedPerIp'>): Admission {
  const ipFull = c.perIp >= l.maxConnectionsPerIp || c.unauthenticatedPerIp >= l.maxUnauthenticatedPerIp;
  if (ipFull) return c.unauthenticatedPerIp > 0 ? 'evict-same-ip' : 'refuse';
  const allFull = c.total >= l.maxConnections || c.unauthenticated >= l.maxUnauthenticated;
  if (allFull) return c.unauthenticated > 0 ? 'evict-oldest' : 'refuse';
  return 'accept';
}

/** Conn is one tracked TCP connection. */
interface Conn {
  key: string;
  ip: string;
  socket: Socket;
  authenticated: boolean;
}

/** ConnectionStats are counters for tests and the bench. */
export interface ConnectionStats {
  open: number;
  unauthenticated: number;
  refused: number;
  evicted: number;
}

/**
 * ConnectionTable tracks the server's TCP connections by remote address and port (the TLS socket carries the same
 * pair, so a request finds its connection without reaching into the TLS internals). Unauthenticated connections are
 * kept in arrival order, so the oldest is the first one of its set.
 */
export class ConnectionTable {
  readonly #limits: ApiLimits;
  readonly #byKey = new Map<string, Conn>();
  readonly #perIp = new Map<string, { total: number; unauth: Set<Conn> }>();
  readonly #unauth = new Set<Conn>();
  #refused = 0;
  #evicted = 0;

  constructor(limits: ApiLimits) {
    this.#limits = limits;
  }

  /** open admits a new TCP connection (closing an older unauthenticated one if needed); false = it was refused. */
  open(socket: Socket): boolean {
    const ip = socket.remoteAddress;
    if (ip === undefined) {
      socket.destroy(); // gone before it was seen
      return false;
    }
    const key = `${ip}:${socket.remotePort}`;
    for (let i = 0; i < 2; i++) {
      const perIp = this.#perIp.get(ip);
      const verdict = admit({ total: this.#byKey.size, perIp: perIp?.total ?? 0, unauthenticated: this.#unauth.size, unauthenticatedPerIp: perIp?.unauth.size ?? 0 }, this.#limits);
      if (verdict === 'accept') break;
      if (verdict === 'refuse' || i === 1) {
        this.#refused++;
        socket.destroy();
        return false;
      }
      const victim = (verdict === 'evict-same-ip' ? perIp!.unauth : this.#unauth).values().next().value!;
      this.#evicted++;
      this.#drop(victim);
      victim.socket.destroy();
    }
    const conn: Conn = { key, ip, socket, authenticated: false };
    this.#byKey.set(key, conn);
    const p = this.#perIp.get(ip) ?? this.#perIp.set(ip, { total: 0, unauth: new Set() }).get(ip)!;
    p.total++;
    p.unauth.add(conn);
    this.#unauth.add(conn);
    socket.once('close', () => this.#drop(conn));
    return true;
  }

  /** authenticated marks the connection a request authenticated on: it no longer counts as unauthenticated. */
  authenticated(remoteAddress: string | undefined, remotePort: number | undefined): void {
    const conn = this.#byKey.get(`${remoteAddress}:${remotePort}`);
    if (!conn || conn.authenticated) return;
    conn.authenticated = true;
    this.#unauth.delete(conn);
    this.#perIp.get(conn.ip)?.unauth.delete(conn);
  }

  #drop(conn: Conn): void {
    if (this.#byKey.get(conn.key) !== conn) return;
    this.#byKey.delete(conn.key);
    this.#unauth.delete(conn);
    const p = this.#perIp.get(conn.ip);
    if (!p) return;
    p.total--;
    p.unauth.delete(conn);
    if (p.total <= 0) this.#perIp.delete(conn.ip);
  }

  get stats(): ConnectionStats {
    return { open: this.#byKey.size, unauthenticated: this.#unauth.size, refused: this.#refused, evicted: this.#evicted };
  }
}

/** TLS_HANDSHAKE is the first byte of a TLS record carrying a handshake (a ClientHello). */
export const TLS_HANDSHAKE = 0x16;

/** HTTP_ON_HTTPS is Go's answer to plain HTTP on a TLS port (net/http's server, which upstream's serves with). */
export const HTTP_ON_HTTPS = 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';

/** looksLikeHttp is Go's tlsRecordHeaderLooksLikeHTTP: the first five bytes begin an HTTP/1 request line. */
export function looksLikeHttp(first: Buffer): boolean {
  const s = first.subarray(0, 5).toString('latin1');
  return s === 'GET /' || s === 'HEAD ' || s === 'POST ' || s === 'PUT /' || s === 'OPTIO';
}

// ---------------------------------------------------------------------------------------------------------------------
// In-flight requests

/** upstream's non-mutating verbs; the rest (create, update, patch, delete, deletecollection) are mutating */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** LONG_RUNNING_SUBRESOURCES are upstream's BasicLongRunningRequestCheck subresources (with the watch and proxy verbs). */
const LONG_RUNNING_SUBRESOURCES = /\/(attach|exec|proxy|log|portforward)$/;

/** RequestClass is how the in-flight limits count a request. */
export type RequestClass = 'long-running' | 'readonly' | 'mutating';

/** classify a request as upstream's max-in-flight filter does: watches, proxies and streams are not counted. */
export function classify(method: string, path: string, query: URLSearchParams): RequestClass {
  if (LONG_RUNNING_SUBRESOURCES.test(path) || path.includes('/proxy/') || /^\/apis?\/(?:[^/]+\/)*watch\//.test(path)) return 'long-running';
  const w = query.get('watch');
  if (method === 'GET' && (w === 'true' || w === '1')) return 'long-running';
  return READ_METHODS.has(method) ? 'readonly' : 'mutating';
}

/**
 * Inflight counts requests being served in two pools, as upstream's WithMaxInFlightLimit does; a request beyond its
 * pool's limit is refused unless its user is in system:masters ("so powerful that they should always get an answer").
 */
export class Inflight {
  readonly #limits: ApiLimits;
  readonly count = { readonly: 0, mutating: 0 };
  rejected = 0;

  constructor(limits: ApiLimits) {
    this.#limits = limits;
  }

  /** enter takes a slot; it returns the release function, or undefined when the request is to be refused (429). */
  enter(cls: RequestClass, privileged: boolean): (() => void) | undefined {
    if (cls === 'long-running') return noop;
    const limit = cls === 'mutating' ? this.#limits.maxMutatingRequestsInflight : this.#limits.maxRequestsInflight;
    if (limit > 0 && this.count[cls] >= limit && !privileged) {
      this.rejected++;
      return undefined;
    }
    this.count[cls]++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.count[cls]--;
    };
  }
}

const noop = () => {};

/** TOO_MANY_REQUESTS is upstream's tooManyRequests: Retry-After 1 and Go's http.Error text body. */
export const TOO_MANY_REQUESTS = { retryAfter: '1', body: 'Too many requests, please try again later.\n' };

// ---------------------------------------------------------------------------------------------------------------------
// Watch queues

/** QueuedWatch is one watch stream as the budget sees it. */
export interface QueuedWatch {
  id: number;
  user: string;
  queued: number;
}

/**
 * overBudget picks the watchers to close so the queued bytes fit: first within each user's budget, then within the
 * total, each time the watcher holding the most bytes first (the slowest reader; upstream's cacher likewise drops the
 * watcher that cannot keep up, which then re-lists or resumes). Example: budget 10, per user 8, queues a:6 a:3 b:4 →
 * user a holds 9 > 8, close a:6; total is now 7 ≤ 10 → [a:6].
 */
export function overBudget(watches: QueuedWatch[], total: number, perUser: number): number[] {
  const closed: number[] = [];
  const byUser = new Map<string, QueuedWatch[]>();
  for (const w of watches) (byUser.get(w.user) ?? byUser.set(w.user, []).get(w.user)!).push(w);
  const kept: QueuedWatch[] = [];
  for (const list of byUser.values()) {
    list.sort((a, b) => b.queued - a.queued);
    let sum = list.reduce((n, w) => n + w.queued, 0);
    for (const w of list) {
      if (sum > perUser && w.queued > 0) {
        closed.push(w.id);
        sum -= w.queued;
      } else kept.push(w);
    }
  }
  kept.sort((a, b) => b.queued - a.queued);
  let sum = kept.reduce((n, w) => n + w.queued, 0);
  for (const w of kept) {
    if (sum <= total || w.queued === 0) break;
    closed.push(w.id);
    sum -= w.queued;
  }
  return closed;
}

/** BudgetEntry is a watch stream registered with the budget. */
interface BudgetEntry extends QueuedWatch {
  /** the bytes queued now (the response's unsent bytes) */
  read(): number;
  close(): void;
}

/**
 * WatchBudget keeps the sum of every watch stream's unsent bytes (as each last reported it). When a report pushes a
 * user or the total over its budget, every stream's count is read afresh (reports go stale as sockets drain) and the
 * streams overBudget picks are closed.
 */
export class WatchBudget {
  readonly #total: number;
  readonly #perUser: number;
  readonly #entries = new Map<number, BudgetEntry>();
  readonly #userBytes = new Map<string, number>();
  #bytes = 0;
  #next = 1;
  closed = 0;

  constructor(total: number, perUser: number) {
    this.#total = total;
    this.#perUser = perUser;
  }

  /** add registers a stream; report(bytes) after each write, release() when it ends. */
  add(user: string, read: () => number, close: () => void): { report(bytes: number): void; release(): void } {
    const e: BudgetEntry = { id: this.#next++, user, queued: 0, read, close };
    this.#entries.set(e.id, e);
    return { report: (bytes) => this.#report(e, bytes), release: () => this.#release(e) };
  }

  /** bytes is the sum of the last reports. */
  get bytes(): number {
    return this.#bytes;
  }

  get streams(): number {
    return this.#entries.size;
  }

  #set(e: BudgetEntry, bytes: number): void {
    const d = bytes - e.queued;
    if (d === 0) return;
    e.queued = bytes;
    this.#bytes += d;
    this.#userBytes.set(e.user, (this.#userBytes.get(e.user) ?? 0) + d);
  }

  #report(e: BudgetEntry, bytes: number): void {
    if (!this.#entries.has(e.id)) return;
    this.#set(e, bytes);
    if (this.#bytes <= this.#total && (this.#userBytes.get(e.user) ?? 0) <= this.#perUser) return;
    for (const x of this.#entries.values()) this.#set(x, x.read());
    const victims = overBudget([...this.#entries.values()], this.#total, this.#perUser);
    for (const id of victims) {
      const v = this.#entries.get(id)!;
      this.#release(v);
      this.closed++;
      v.close();
    }
  }

  #release(e: BudgetEntry): void {
    if (!this.#entries.delete(e.id)) return;
    this.#set(e, 0);
    if (this.#userBytes.get(e.user) === 0) this.#userBytes.delete(e.user);
  }
}
