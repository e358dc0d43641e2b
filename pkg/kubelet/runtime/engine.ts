// engine: a small Docker Engine API client over node:http (unix socket or TCP) with kept-alive connections — what
// DockerRuntime needs of dockerode, without its gRPC, protobuf and SSH modules (~30 MB resident in the agent).
import type { ClientRequest as HttpClientRequest } from 'node:http';
import { http } from '../../util/nodehttp.ts';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** EngineConn is where dockerd listens: a unix socket, or a plain-HTTP TCP address. */
export type EngineConn = { socketPath: string } | { host: string; port: number };

/** QueryValue: arrays repeat the key, objects are sent as JSON (Docker's `filters`), undefined is left out. */
export type QueryValue = string | number | boolean | string[] | Record<string, unknown> | undefined;

export interface EngineRequest {
  query?: Record<string, QueryValue>;
  /** body is sent as JSON, or as is when a Buffer (with `contentType`). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

/** EngineError is a call dockerd answered with a non-2xx status; `json` is its parsed body when it was JSON. */
export class EngineError extends Error {
  readonly statusCode: number;
  readonly json: { message?: string } | null;

  constructor(statusCode: number, text: string) {
    let json: { message?: string } | null = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON
    }
    super(json?.message ?? (text.trim() || `HTTP ${statusCode}`));
    this.name = 'EngineError';
    this.statusCode = statusCode;
    this.json = json;
  }
}

/** queryString encodes Engine API query parameters. Example: {all: true, filters: {label: ['a=b']}} → `?all=true&filters=%7B…`. */
export function queryString(q: Record<string, QueryValue> | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else if (typeof v === 'object') p.append(k, JSON.stringify(v));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Engine sends Engine API calls (unversioned paths: the daemon's own API version) over a keep-alive agent. */
export class Engine {
  readonly #conn: EngineConn;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 8 });

  constructor(conn: EngineConn) {
    this.#conn = conn;
  }

  /** json sends a call and parses the answer (undefined when empty); non-2xx answers reject with EngineError. */
  async json<T>(method: string, path: string, req: EngineRequest = {}): Promise<T> {
    const buf = await this.buffer(method, path, req);
    return (buf.length ? JSON.parse(buf.toString('utf8')) : undefined) as T;
  }

  /** buffer sends a call and returns the whole answer body. */
  async buffer(method: string, path: string, req: EngineRequest = {}): Promise<Buffer> {
    const res = await this.stream(method, path, req);
    return readAll(res);
  }

  /** stream sends a call and returns the answer as a stream once its status is known to be 2xx. */
  stream(method: string, path: string, req: EngineRequest = {}): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const r = this.#request(method, path, req);
      r.on('error', reject);
      r.on('response', (res) => {
        if ((res.statusCode ?? 0) < 300) return resolve(res);
        readAll(res).then((b) => reject(new EngineError(res.statusCode ?? 0, b.toString('utf8'))), reject);
      });
      this.#send(r, req);
    });
  }

  /** hijack sends a call that upgrades the connection (exec start, attach) and returns the raw duplex stream. */
  hijack(method: string, path: string, req: EngineRequest = {}): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const r = this.#request(method, path, { ...req, headers: { ...req.headers, Connection: 'Upgrade', Upgrade: 'tcp' } });
      r.on('error', reject);
      r.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      r.on('response', (res) => {
        // an old daemon may answer 200 without upgrading; then the response body is the stream
        if ((res.statusCode ?? 0) < 300) return resolve(res.socket);
        readAll(res).then((b) => reject(new EngineError(res.statusCode ?? 0, b.toString('utf8'))), reject);
      });
      this.#send(r, req);
    });
  }

  /** close drops the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  #request(method: string, path: string, req: EngineRequest): HttpClientRequest {
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined) headers['Content-Type'] = req.contentType ?? 'application/json';
    const where = 'socketPath' in this.#conn ? { socketPath: this.#conn.socketPath } : { host: this.#conn.host, port: this.#conn.port };
    return http.request({ ...where, method, path: path + queryString(req.query), headers, agent: this.#agent });
  }

  #send(r: HttpClientRequest, req: EngineRequest): void {
    if (req.body === undefined) return void r.end();
    const data = Buffer.isBuffer(req.body) ? req.body : Buffer.from(JSON.stringify(req.body));
    r.setHeader('Content-Length', data.length);
    r.end(data);
  }
}

/** readAll collects a response body. */
function readAll(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(Object.assign(new Error('connection to dockerd lost'), { code: 'ECONNRESET' }));
    });
  });
}
