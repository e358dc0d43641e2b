// client: a small Kubernetes REST client over node:https (kept-alive connections) with CA pinning, bearer auth and
// streaming watches. node:https rather than undici: undici's WebAssembly parser costs ~18 MB resident per agent.
import type { Agent as HttpsAgent } from 'node:https';
import { https } from '../util/nodehttp.ts';
import type { IncomingMessage } from 'node:http';
import { ApiError, errors } from '../api/errors.ts';
import type { ResourceInfo } from '../api/resources.ts';
import type { KubeObject, Status, WatchEvent } from '../api/types.ts';
import type { ApiClient, DeleteOptions, ListQuery, ListResult, PatchKind, WatchHandle, WatchQuery, WriteQuery } from './interface.ts';

export interface ClientOptions {
  server: string; // https://host:port
  /** bearer token; empty when the client authenticates with `cert` */
  token: string;
  caPem?: string;
  /** a client certificate and its key (PEM), e.g. a node's system:node:<name> certificate */
  cert?: { certPem: string; keyPem: string };
  /** skip TLS verification (tests only) */
  insecure?: boolean;
  userAgent?: string;
  /** maxSockets bounds open connections (default 16); a client holding many watches (hollow nodes) needs one per watch */
  maxSockets?: number;
}

export type { WatchHandle } from './interface.ts';

/** resourcePath builds `/apis/apps/v1/namespaces/ns/deployments/name/status`. */
export function resourcePath(info: Pick<ResourceInfo, 'group' | 'version' | 'resource' | 'namespaced'>, namespace?: string, name?: string, sub?: string): string {
  let p = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
  if (info.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${info.resource}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (sub) p += `/${sub}`;
  return p;
}

/** Client speaks JSON to the API server; errors come back as ApiError carrying the server's Status. */
export class Client implements ApiClient {
  readonly server: string;
  private readonly token: string;
  private readonly agent: HttpsAgent;
  private readonly userAgent: string;

  constructor(opts: ClientOptions) {
    this.server = opts.server.replace(/\/$/, '');
    this.token = opts.token;
    this.userAgent = opts.userAgent ?? 'kubeling';
    this.agent = new https.Agent({ ca: opts.caPem, ...(opts.cert ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {}), rejectUnauthorized: !opts.insecure, keepAlive: true, keepAliveMsecs: 30_000, maxSockets: opts.maxSockets ?? 16, maxFreeSockets: 4 });
  }

  /** request sends one call and parses the JSON answer; non-2xx answers throw ApiError. */
  async request<T = any>(method: string, path: string, body?: unknown, contentType = 'application/json', query?: Record<string, string | number | boolean | undefined>): Promise<T> {
    const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const res = await this.send(method, path + queryString(query), { accept: 'application/json', ...(payload !== undefined ? { 'content-type': contentType } : {}) }, payload);
    const text = await readAll(res);
    const code = res.statusCode ?? 0;
    if (code >= 300) throw toApiError(code, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** send issues one request and resolves with the response once its headers arrived. */
  private send(method: string, pathAndQuery: string, headers: Record<string, string>, payload?: string | Buffer, signal?: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = https.request(this.server + pathAndQuery, {
        method,
        agent: this.agent,
        signal,
        headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), 'user-agent': this.userAgent, ...headers, ...(payload !== undefined ? { 'content-length': String(Buffer.byteLength(payload)) } : {}) },
      });
      req.once('response', resolve);
      req.once('error', reject);
      req.end(payload);
    });
  }

  get(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject> {
    return this.request('GET', resourcePath(info, namespace, name));
  }

  /** getOrUndefined is get with NotFound as undefined. */
  async getOrUndefined(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    try {
      return await this.get(info, namespace, name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  list(info: ResourceInfo, namespace?: string, query?: ListQuery): Promise<ListResult> {
    return this.request('GET', resourcePath(info, namespace), undefined, undefined, query as Record<string, string | number | undefined>);
  }

  create(info: ResourceInfo, namespace: string | undefined, obj: KubeObject, query?: WriteQuery): Promise<KubeObject> {
    return this.request('POST', resourcePath(info, namespace), obj, 'application/json', query);
  }

  update(info: ResourceInfo, obj: KubeObject, sub?: string): Promise<KubeObject> {
    return this.request('PUT', resourcePath(info, obj.metadata.namespace, obj.metadata.name, sub), obj);
  }

  updateStatus(info: ResourceInfo, obj: KubeObject): Promise<KubeObject> {
    return this.update(info, obj, 'status');
  }

  patch(info: ResourceInfo, namespace: string | undefined, name: string, patch: unknown, type: PatchKind = 'merge', sub?: string): Promise<KubeObject> {
    const ct = type === 'merge' ? 'application/merge-patch+json' : type === 'strategic' ? 'application/strategic-merge-patch+json' : 'application/json-patch+json';
    return this.request('PATCH', resourcePath(info, namespace, name, sub), patch, ct);
  }

  delete(info: ResourceInfo, namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<KubeObject | Status> {
    const { dryRun, ...rest } = opts;
    return this.request('DELETE', resourcePath(info, namespace, name), { kind: 'DeleteOptions', apiVersion: 'v1', ...rest, ...(dryRun ? { dryRun: ['All'] } : {}) });
  }

  async bind(namespace: string, name: string, nodeName: string, uid?: string): Promise<void> {
    const body = { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace, ...(uid ? { uid } : {}) }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } };
    await this.request('POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/binding`, body);
  }

  async evict(namespace: string, name: string, opts: DeleteOptions = {}): Promise<void> {
    const body = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace }, deleteOptions: { kind: 'DeleteOptions', apiVersion: 'v1', ...opts, dryRun: opts.dryRun ? ['All'] : undefined } };
    await this.request('POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/eviction`, body);
  }

  /**
   * watch streams events to `onEvent` until the server closes the stream or stop() is called. Events are
   * delivered in order; an ERROR event (e.g. 410 Expired) is delivered like the others.
   */
  watch(info: ResourceInfo, namespace: string | undefined, query: WatchQuery, onEvent: (ev: WatchEvent) => void): WatchHandle {
    const controller = new AbortController();
    const path = resourcePath(info, namespace) + queryString({ ...query, watch: true });
    const done = (async () => {
      try {
        const res = await this.send('GET', path, { accept: 'application/json' }, undefined, controller.signal);
        if ((res.statusCode ?? 0) >= 300) throw toApiError(res.statusCode ?? 0, await readAll(res));
        res.setEncoding('utf8');
        let buf = '';
        for await (const chunk of res) {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.trim()) onEvent(JSON.parse(line));
          }
        }
      } catch (e) {
        if (controller.signal.aborted) return;
        throw e;
      }
    })();
    return { stop: () => controller.abort(), done };
  }

  /** stream opens a GET whose body is streamed back raw (pod logs). */
  async stream(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<NodeJS.ReadableStream> {
    const res = await this.send('GET', path + queryString(query), {});
    if ((res.statusCode ?? 0) >= 300) throw toApiError(res.statusCode ?? 0, await readAll(res));
    return res;
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

async function readAll(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk;
  return text;
}

function queryString(q?: Record<string, string | number | boolean | undefined>): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

function toApiError(code: number, text: string): ApiError {
  try {
    const s = JSON.parse(text);
    if (s && s.kind === 'Status') return new ApiError(s);
  } catch {
    /* not JSON */
  }
  const e = errors.internal(text || `HTTP ${code}`);
  e.status.code = code;
  return e;
}
