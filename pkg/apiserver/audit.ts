// audit: the API server's audit log — upstream's audit.k8s.io/v1 Events at the Metadata level as JSON lines, queued in a bounded buffer (full = dropped and counted, never waited for) and written to a size-rotated file or stdout.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { basename, dirname, extname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { UserInfo as AuthnUserInfo } from 'kubernetes-types/authentication/v1.js';
import type { Status } from 'kubernetes-types/meta/v1.js';
import type { Logger } from 'pino';
import { requestAttributes } from './auth/attributes.ts';
import type { Decision, UserInfo } from './auth/types.ts';
import { nextTurn } from '../util/turns.ts';

/** Stage is where in a request's life an event was written (upstream's audit stages; RequestReceived is omitted, as most policies do). */
export type Stage = 'ResponseStarted' | 'ResponseComplete' | 'Panic';

/** ObjectReference is the event's objectRef: what the request addressed. */
export interface ObjectReference {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

/** AuditEvent is upstream's audit.k8s.io/v1 Event, the fields the Metadata level carries, in upstream's field order. */
export interface AuditEvent {
  kind: 'Event';
  apiVersion: 'audit.k8s.io/v1';
  level: 'Metadata';
  auditID: string;
  stage: Stage;
  requestURI: string;
  verb: string;
  user: AuthnUserInfo;
  impersonatedUser?: AuthnUserInfo;
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: ObjectReference;
  responseStatus?: Status;
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

export const DECISION_ANNOTATION = 'authorization.k8s.io/decision';
export const REASON_ANNOTATION = 'authorization.k8s.io/reason';
export const AUDIT_ID_HEADER = 'Audit-Id';

const MAX_USER_AGENT = 1024;
/** upstream's BasicLongRunningRequestCheck: these verbs and subresources get a ResponseStarted event too. */
const LONG_RUNNING_VERBS = new Set(['watch', 'proxy']);
const LONG_RUNNING_SUBRESOURCES = new Set(['attach', 'exec', 'proxy', 'log', 'portforward']);

/** microTime is upstream's MicroTime in UTC: `2024-05-01T10:00:00.123456Z`. `ms` may carry a fraction (microseconds). */
export function microTime(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.min(999, Math.floor((ms - whole) * 1000));
  return `${new Date(whole).toISOString().slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}

const nowMs = (): number => performance.timeOrigin + performance.now();

/** sourceIPs is upstream's utilnet.SourceIPs: X-Forwarded-For, then X-Real-Ip, then the peer, each valid address once. */
export function sourceIPs(headers: IncomingMessage['headers'], remoteAddress: string | undefined): string[] {
  const out: string[] = [];
  const add = (raw: string | undefined) => {
    const ip = (raw ?? '').trim().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    if (ip && isIP(ip) && !out.includes(ip)) out.push(ip);
  };
  const xff = headers['x-forwarded-for'];
  for (const part of (Array.isArray(xff) ? xff.join(',') : xff ?? '').split(',')) add(part);
  const real = headers['x-real-ip'];
  add(Array.isArray(real) ? real[0] : real);
  add(remoteAddress);
  return out;
}

/** authMethods is upstream's getAuthMethods: the message a failed authentication's event carries. */
export function authMethods(req: Pick<IncomingMessage, 'headers' | 'url' | 'socket'>): string {
  const methods: string[] = [];
  const auth = String(req.headers.authorization ?? '').trim();
  const scheme = auth.split(' ')[0]?.toLowerCase();
  if (scheme === 'basic' && auth.split(' ').length > 1) methods.push('basic');
  if (scheme === 'bearer' && auth.split(' ').length > 1) methods.push('bearer');
  if (new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('access_token')?.trim()) methods.push('access_token');
  const sock = req.socket as { getPeerCertificate?: () => { raw?: Buffer } } | undefined;
  if (sock?.getPeerCertificate?.()?.raw) methods.push('x509');
  return methods.length ? `Authentication failed, attempted: ${methods.join(', ')}` : 'Authentication failed, no credentials provided';
}

function userInfo(u: UserInfo): AuthnUserInfo {
  const out: AuthnUserInfo = { username: u.name };
  if (u.uid) out.uid = u.uid;
  out.groups = [...u.groups];
  if (u.extra && Object.keys(u.extra).length) out.extra = u.extra;
  return out;
}

/**
 * newEvent builds the event of a request as it arrives: its id, URI, verb and objectRef (upstream's RequestInfo),
 * source addresses and user agent. The user is filled in once authenticated.
 */
export function newEvent(req: Pick<IncomingMessage, 'method' | 'url' | 'headers' | 'socket'>, receivedMs: number, auditID: string): { event: AuditEvent; longRunning: boolean } {
  const url = req.url ?? '/';
  const [path, query = ''] = url.split('?', 2);
  const a = requestAttributes({ name: '', groups: [] }, req.method ?? 'GET', path!, new URLSearchParams(query));
  const ua = String(req.headers['user-agent'] ?? '');
  const event: AuditEvent = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage: 'ResponseComplete',
    requestURI: url,
    verb: a.verb,
    user: {},
    sourceIPs: sourceIPs(req.headers, req.socket?.remoteAddress),
    requestReceivedTimestamp: microTime(receivedMs),
    stageTimestamp: '',
  };
  if (ua) event.userAgent = ua.length > MAX_USER_AGENT ? `${ua.slice(0, MAX_USER_AGENT)}...TRUNCATED` : ua;
  if (a.resourceRequest) {
    const ref: ObjectReference = {};
    if (a.resource) ref.resource = a.resource;
    if (a.namespace) ref.namespace = a.namespace;
    if (a.name) ref.name = a.name;
    if (a.apiGroup) ref.apiGroup = a.apiGroup;
    if (a.apiVersion) ref.apiVersion = a.apiVersion;
    if (a.subresource) ref.subresource = a.subresource;
    event.objectRef = ref;
  }
  const longRunning = LONG_RUNNING_VERBS.has(a.verb) || (a.resourceRequest && LONG_RUNNING_SUBRESOURCES.has(a.subresource));
  return { event, longRunning };
}

/** serialize orders an event's keys as upstream's Go struct does (the interface's order) and ends the line. */
export function serialize(ev: AuditEvent): string {
  const { kind, apiVersion, level, auditID, stage, requestURI, verb, user, impersonatedUser, sourceIPs: ips, userAgent, objectRef, responseStatus, requestReceivedTimestamp, stageTimestamp, annotations } = ev;
  const ref = objectRef && { resource: objectRef.resource, namespace: objectRef.namespace, name: objectRef.name, uid: objectRef.uid, apiGroup: objectRef.apiGroup, apiVersion: objectRef.apiVersion, resourceVersion: objectRef.resourceVersion, subresource: objectRef.subresource };
  return `${JSON.stringify({ kind, apiVersion, level, auditID, stage, requestURI, verb, user, impersonatedUser, sourceIPs: ips, userAgent, objectRef: ref, responseStatus, requestReceivedTimestamp, stageTimestamp, annotations })}\n`;
}

// ---- sinks ----

/** AuditSink takes serialized lines; write resolves once they are handed to the OS. */
export interface AuditSink {
  write(chunk: string): Promise<void>;
  close(): Promise<void>;
}

/** stdoutSink writes to the process's stdout (`--audit-log-path -`). */
export function stdoutSink(): AuditSink {
  return {
    write: (chunk) => new Promise<void>((resolve, reject) => process.stdout.write(chunk, (err) => (err ? reject(err) : resolve()))),
    close: async () => undefined,
  };
}

export interface RotationOptions {
  /** --audit-log-maxsize: megabytes before the file is rotated (0 = lumberjack's default, 100) */
  maxSizeMB?: number;
  /** --audit-log-maxbackup: rotated files kept (0 = all) */
  maxBackups?: number;
  /** --audit-log-maxage: days a rotated file is kept (0 = forever) */
  maxAgeDays?: number;
}

/** backupName is lumberjack's: `audit.log` rotated at t → `audit-2024-05-01T10-00-00.000.log` (UTC). */
export function backupName(path: string, t: Date): string {
  const ext = extname(path);
  const stamp = t.toISOString().slice(0, 23).replace(/:/g, '-');
  return join(dirname(path), `${basename(path, ext)}-${stamp}${ext}`);
}

/** backupTime reads the time back from a backup's file name, or undefined when the name is not one of path's backups. */
export function backupTime(path: string, file: string): number | undefined {
  const ext = extname(path);
  const prefix = `${basename(path, ext)}-`;
  if (!file.startsWith(prefix) || !file.endsWith(ext)) return undefined;
  const stamp = file.slice(prefix.length, file.length - ext.length);
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})\.(\d{3})$/.exec(stamp);
  if (!m) return undefined;
  const t = Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5]}Z`);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * backupsToRemove picks, among a log's backups (name → rotation time), those beyond the newest `maxBackups` and
 * those older than `maxAgeDays` (0 = no limit), as lumberjack's millRunOnce does.
 */
export function backupsToRemove(backups: [string, number][], maxBackups: number, maxAgeDays: number, now: number): string[] {
  const sorted = [...backups].sort((a, b) => b[1] - a[1]);
  const out = new Set<string>();
  if (maxBackups > 0) for (const [f] of sorted.slice(maxBackups)) out.add(f);
  if (maxAgeDays > 0) for (const [f, t] of sorted) if (t < now - maxAgeDays * 86_400_000) out.add(f);
  return [...out];
}

/**
 * RotatingFile is a lumberjack-like log file: appended to (mode 0600, its directory created 0700), renamed to a
 * timestamped backup when a write would take it past maxSize, old backups removed by count and age.
 */
export class RotatingFile implements AuditSink {
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #maxBackups: number;
  readonly #maxAgeDays: number;
  readonly #now: () => Date;
  #fh: FileHandle | undefined;
  #size = 0;

  constructor(path: string, opts: RotationOptions = {}, now: () => Date = () => new Date()) {
    this.#path = path;
    this.#maxBytes = (opts.maxSizeMB && opts.maxSizeMB > 0 ? opts.maxSizeMB : 100) * 1024 * 1024;
    this.#maxBackups = opts.maxBackups ?? 0;
    this.#maxAgeDays = opts.maxAgeDays ?? 0;
    this.#now = now;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  }

  async #open(): Promise<FileHandle> {
    if (this.#fh) return this.#fh;
    this.#fh = await open(this.#path, 'a', 0o600);
    this.#size = (await this.#fh.stat()).size;
    return this.#fh;
  }

  async write(chunk: string): Promise<void> {
    const bytes = Buffer.byteLength(chunk);
    let fh = await this.#open();
    if (this.#size > 0 && this.#size + bytes > this.#maxBytes) {
      await this.#rotate();
      fh = await this.#open();
    }
    await fh.write(chunk);
    this.#size += bytes;
  }

  async #rotate(): Promise<void> {
    await this.#fh?.close();
    this.#fh = undefined;
    let target = backupName(this.#path, this.#now());
    // two rotations within one millisecond: never overwrite a backup
    for (let i = 1; await stat(target).then(() => true, () => false); i++) target = backupName(this.#path, new Date(this.#now().getTime() + i));
    await rename(this.#path, target);
    await this.#removeOld();
  }

  async #removeOld(): Promise<void> {
    if (!this.#maxBackups && !this.#maxAgeDays) return;
    const dir = dirname(this.#path);
    const backups: [string, number][] = [];
    for (const f of await readdir(dir)) {
      const t = backupTime(this.#path, f);
      if (t !== undefined) backups.push([f, t]);
    }
    for (const f of backupsToRemove(backups, this.#maxBackups, this.#maxAgeDays, this.#now().getTime())) await unlink(join(dir, f)).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#fh?.close();
    this.#fh = undefined;
  }
}

// ---- the buffer ----

/** BATCH_MAX_EVENTS bounds one write (upstream's --audit-log-batch-max-size default is 400). */
const BATCH_MAX_EVENTS = 400;

/**
 * BufferedWriter queues lines for a sink and writes them in batches from the event loop, never making a caller wait:
 * when `capacity` lines are queued, a new one is dropped and counted (upstream's buffered backend answers "audit
 * buffer queue blocked" the same way). A failed write drops its batch, counted too.
 */
export class BufferedWriter {
  readonly #sink: AuditSink;
  readonly #capacity: number;
  readonly #onDrop: (dropped: number, err?: unknown) => void;
  #queue: string[] = [];
  #flushing: Promise<void> | undefined;
  #dropped = 0;

  constructor(sink: AuditSink, capacity: number, onDrop: (dropped: number, err?: unknown) => void = () => undefined) {
    this.#sink = sink;
    this.#capacity = capacity;
    this.#onDrop = onDrop;
  }

  /** dropped is how many lines were lost (buffer full or write failed). */
  get dropped(): number {
    return this.#dropped;
  }

  /** queued is how many lines wait for the sink. */
  get queued(): number {
    return this.#queue.length;
  }

  /** push queues a line; false = the buffer was full and the line was dropped. */
  push(line: string): boolean {
    if (this.#queue.length >= this.#capacity) {
      this.#dropped++;
      this.#onDrop(this.#dropped);
      return false;
    }
    this.#queue.push(line);
    this.#flushing ??= nextTurn().then(() => this.#drain());
    return true;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length) {
        const batch = this.#queue.length <= BATCH_MAX_EVENTS ? this.#queue : this.#queue.slice(0, BATCH_MAX_EVENTS);
        this.#queue = batch === this.#queue ? [] : this.#queue.slice(BATCH_MAX_EVENTS);
        try {
          await this.#sink.write(batch.join(''));
        } catch (err) {
          this.#dropped += batch.length;
          this.#onDrop(this.#dropped, err);
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /** flush resolves once every line queued so far was handed to the sink. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#sink.close();
  }
}

// ---- the log ----

export interface AuditLogOptions extends RotationOptions {
  /** --audit-log-path: the file, or `-` for stdout */
  path: string;
  /** --audit-log-batch-buffer-size: events queued before new ones are dropped (default 10000, upstream's) */
  bufferSize?: number;
  log?: Logger;
  /** the sink to use instead of path's (tests) */
  sink?: AuditSink;
}

interface Pending {
  event: AuditEvent;
  longRunning: boolean;
  authenticated: boolean;
  started: boolean;
  done: boolean;
  code?: number;
  status?: Status;
}

/**
 * AuditLog records every request as upstream's audit filter does at the Metadata level. Hooks, in request order:
 *   begin(req, res)        on arrival, before authentication (sets the Audit-Id response header)
 *   user(req, user, actor) once authenticated (actor = who authenticated, when impersonating someone else)
 *   decision(req, d)       once authorized (allow/forbid annotations)
 *   status(req, status)    when the answer is an error Status (its status, reason and code are kept)
 *   object(req, meta)      when a create's object is known (its name is not in the URL)
 * The response's end writes ResponseComplete with the status code; watches and other long-running requests also
 * get ResponseStarted when their headers go out. A 401 before any user is upstream's failed-authentication event:
 * one ResponseStarted event with user {} and the credentials tried. Upgrades (no response object) call
 * upgraded(req, socket) or end(req, code, status) themselves. Bodies, headers and credentials are never recorded.
 */
export class AuditLog {
  readonly #writer: BufferedWriter;
  readonly #pending = new WeakMap<IncomingMessage, Pending>();
  readonly #log: Logger | undefined;
  #lastWarn = 0;

  constructor(opts: AuditLogOptions) {
    this.#log = opts.log;
    const sink = opts.sink ?? (opts.path === '-' ? stdoutSink() : new RotatingFile(opts.path, opts));
    this.#writer = new BufferedWriter(sink, opts.bufferSize ?? 10_000, (dropped, err) => this.#warnDropped(dropped, err));
  }

  /** dropped counts events lost because the buffer was full or a write failed. */
  get dropped(): number {
    return this.#writer.dropped;
  }

  #warnDropped(dropped: number, err?: unknown): void {
    const now = Date.now();
    if (now - this.#lastWarn < 10_000) return;
    this.#lastWarn = now;
    this.#log?.warn({ dropped, err }, err ? 'audit log write failed; events dropped' : 'audit buffer full; events dropped');
  }

  /** begin starts the event of a request; with `res`, the response's end completes it. */
  begin(req: IncomingMessage, res?: ServerResponse): void {
    if (this.#pending.has(req)) return;
    const given = req.headers['audit-id'];
    const id = typeof given === 'string' && /^[\x21-\x7e]{1,128}$/.test(given) ? given : randomUUID();
    const { event, longRunning } = newEvent(req, nowMs(), id);
    const p: Pending = { event, longRunning, authenticated: false, started: false, done: false };
    this.#pending.set(req, p);
    if (!res) return;
    if (!res.headersSent) res.setHeader(AUDIT_ID_HEADER, id);
    if (longRunning) {
      const writeHead = res.writeHead;
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        onHead(args[0] as number);
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as ServerResponse['writeHead'];
    }
    const onHead = (code: number) => this.#started(p, code);
    res.once('close', () => this.end(req, res.headersSent ? res.statusCode : undefined));
  }

  /** user records who sent the request; actor is the authenticated user when `user` is impersonated. */
  user(req: IncomingMessage, user: UserInfo, actor?: UserInfo): void {
    const p = this.#pending.get(req);
    if (!p) return;
    p.authenticated = true;
    if (actor && actor !== user) {
      p.event.user = userInfo(actor);
      p.event.impersonatedUser = userInfo(user);
    } else p.event.user = userInfo(user);
  }

  /** decision records the authorizer's answer as upstream's annotations. */
  decision(req: IncomingMessage, d: Decision): void {
    const p = this.#pending.get(req);
    if (!p) return;
    p.event.annotations = { ...p.event.annotations, [DECISION_ANNOTATION]: d.allowed ? 'allow' : 'forbid', [REASON_ANNOTATION]: d.reason };
  }

  /** status keeps an error answer's bounded fields (status, reason, code — never its message), as LogResponseObject does. */
  status(req: IncomingMessage, s: Status): void {
    const p = this.#pending.get(req);
    if (!p) return;
    p.status = { metadata: {}, ...(s.status ? { status: s.status } : {}), ...(s.reason ? { reason: s.reason } : {}), code: s.code };
  }

  /**
   * object completes the objectRef from the request's object, as LogRequestObject does at the Metadata level: a
   * create's name (and namespace) are in its body, not its URL. Only fields the URL left empty are filled.
   */
  object(req: IncomingMessage, meta: { name?: string; namespace?: string } | undefined): void {
    const ref = this.#pending.get(req)?.event.objectRef;
    if (!ref || !meta) return;
    if (!ref.namespace && meta.namespace) ref.namespace = meta.namespace;
    if (!ref.name && meta.name) ref.name = meta.name;
  }

  /** upgraded: a protocol switch (exec, attach, port-forward) started; the event completes when the socket closes. */
  upgraded(req: IncomingMessage, socket: Duplex): void {
    const p = this.#pending.get(req);
    if (!p) return;
    this.#started(p, 101);
    if (socket.closed || socket.destroyed) this.end(req, 101);
    else socket.once('close', () => this.end(req, 101));
  }

  #started(p: Pending, code: number): void {
    if (p.started || p.done) return;
    p.started = true;
    p.code = code;
    if (!p.longRunning) return;
    this.#emit(p, 'ResponseStarted', { metadata: {}, code });
  }

  /** end completes a request's event with its status code (undefined: nothing was sent). */
  end(req: IncomingMessage, code?: number, status?: Status): void {
    const p = this.#pending.get(req);
    if (!p || p.done) return;
    if (status) this.status(req, status);
    if (code !== undefined && !p.started) this.#started(p, code);
    p.done = true;
    this.#pending.delete(req);
    const sent = code ?? p.code;
    if (sent === 401 && !p.authenticated) {
      this.#emit(p, 'ResponseStarted', { metadata: {}, message: authMethods(req), code: 401 });
      return;
    }
    const faked: Status = { metadata: {}, status: 'Success', message: 'Connection closed early', code: 200 };
    if (sent === undefined && p.longRunning) this.#emit(p, 'ResponseStarted', faked);
    const rs = sent === undefined ? faked : p.status && p.status.code === sent ? p.status : { metadata: {}, code: sent };
    this.#emit(p, 'ResponseComplete', rs);
  }

  #emit(p: Pending, stage: Stage, responseStatus: Status): void {
    const ev: AuditEvent = { ...p.event, stage, responseStatus, stageTimestamp: microTime(nowMs()) };
    this.#writer.push(serialize(ev));
  }

  /** flush resolves once every event so far was written. */
  flush(): Promise<void> {
    return this.#writer.flush();
  }

  close(): Promise<void> {
    return this.#writer.close();
  }
}
