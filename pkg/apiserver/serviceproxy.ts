// serviceproxy: the `proxy` subresources of services and pods (upstream's ResourceLocation + UpgradeAwareHandler) —
// `/api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy/PATH` and `…/pods/NAME[:PORT]/proxy/PATH` relayed to
// a ready endpoint or the pod IP, dialled straight from the server process. Parsing and choosing are pure functions.
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Logger } from 'pino';
import { ApiError, errors } from '../api/errors.ts';
import { lookupKind } from '../api/resources.ts';
import type { Registry } from './registry.ts';

const serviceInfo = lookupKind('v1', 'Service')!;
const podInfo = lookupKind('v1', 'Pod')!;

/** ProxyRequest is a parsed proxy path: which object, the `[scheme:]name[:port]` parts, and the path to forward. */
export interface ProxyRequest {
  namespace: string;
  resource: 'services' | 'pods';
  /** the id segment as given (`https:web:8443`) */
  id: string;
  scheme: '' | 'http' | 'https';
  name: string;
  port: string;
  /** the path after `/proxy` ('' when the URL ends at `/proxy`) */
  path: string;
}

const PROXY_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/(services|pods)\/([^/]+)\/proxy(\/.*)?$/;

/**
 * splitSchemeNamePort is upstream's utilnet.SplitSchemeNamePort: `name`, `name:port` or `scheme:name:port`; the
 * scheme must be '', http or https and the name non-empty.
 */
export function splitSchemeNamePort(id: string): { scheme: '' | 'http' | 'https'; name: string; port: string } | undefined {
  const parts = id.split(':');
  let scheme = '';
  let name: string;
  let port = '';
  if (parts.length === 1) name = parts[0];
  else if (parts.length === 2) [name, port] = parts;
  else if (parts.length === 3) [scheme, name, port] = parts;
  else return undefined;
  if (!name || (scheme !== '' && scheme !== 'http' && scheme !== 'https')) return undefined;
  return { scheme: scheme as '' | 'http' | 'https', name, port };
}

/** parseProxyPath reads a request path (no query); undefined when it is no proxy path. Throws BadRequest for a bad id. */
export function parseProxyPath(pathname: string): ProxyRequest | undefined {
  const m = PROXY_PATH.exec(pathname);
  if (!m) return undefined;
  const resource = m[2] as 'services' | 'pods';
  const id = decodeURIComponent(m[3]);
  const parts = splitSchemeNamePort(id);
  if (!parts) throw errors.badRequest(`invalid ${resource === 'services' ? 'service' : 'pod'} request ${JSON.stringify(id)}`);
  return { namespace: decodeURIComponent(m[1]), resource, id, ...parts, path: m[4] ?? '' };
}

/** Location is where a proxied request goes. */
export interface Location {
  scheme: 'http' | 'https';
  host: string;
  port: number;
}

/**
 * servicePortName is the first step of upstream's service ResourceLocation: a port number is turned into the name
 * of the service port that has it (503 when none does); a name (or '') is kept.
 */
export function servicePortName(svc: Service, port: string): string {
  if (!/^\d+$/.test(port)) return port;
  const n = Number(port);
  const p = (svc.spec?.ports ?? []).find((sp) => sp.port === n);
  if (!p) throw errors.serviceUnavailable(`no service port ${n} found for service ${JSON.stringify(svc.metadata?.name ?? '')}`);
  return p.name ?? '';
}

/**
 * pickEndpoint is the rest of it over EndpointSlices: a ready endpoint of a slice that has a port of that name
 * ('' matches an unnamed port). `random` picks among candidates (tests pass a fixed one). 503 when there is none.
 */
export function pickEndpoint(name: string, slices: EndpointSlice[], portName: string, random: (n: number) => number = (n) => Math.floor(Math.random() * n)): { ip: string; port: number } {
  const candidates: { ip: string; port: number }[] = [];
  for (const s of slices) {
    if (s.addressType !== 'IPv4' && s.addressType !== 'IPv6') continue;
    const port = (s.ports ?? []).find((p) => (p.name ?? '') === portName)?.port;
    if (port === undefined || port === null) continue;
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      if (e.addresses?.[0]) candidates.push({ ip: e.addresses[0], port });
    }
  }
  if (!candidates.length) throw errors.serviceUnavailable(`no endpoints available for service ${JSON.stringify(name)}`);
  return candidates[random(candidates.length)];
}

/** isProxyableIP is upstream's rule: only global unicast addresses (no loopback, link-local, multicast, unspecified). */
export function isProxyableIP(ip: string | undefined): boolean {
  if (!ip || !net.isIP(ip)) return false;
  if (net.isIPv4(ip)) {
    const [a, b] = ip.split('.').map(Number);
    return !(a === 0 || a === 127 || (a === 169 && b === 254) || a >= 224);
  }
  const l = ip.toLowerCase();
  return !(l === '::' || l === '::1' || l.startsWith('fe80') || l.startsWith('ff'));
}

/**
 * podLocation is upstream's pod ResourceLocation: the pod IP and the given port, else the first declared container
 * port, else none (the scheme's default). 400 `address not allowed` for a pod without a proxyable IP.
 */
export function podLocation(pod: Pod, scheme: string, port: string): Location {
  let p = port;
  if (!p) {
    for (const c of pod.spec?.containers ?? []) {
      if (c.ports?.length) {
        p = String(c.ports[0].containerPort);
        break;
      }
    }
  }
  const ip = pod.status?.podIP;
  if (!isProxyableIP(ip)) throw errors.badRequest('address not allowed');
  const s = scheme === 'https' ? 'https' : 'http';
  if (p && !/^\d+$/.test(p)) {
    const named = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []).find((cp) => cp.name === p);
    if (!named) throw errors.badRequest(`invalid port ${JSON.stringify(p)} for pod ${JSON.stringify(pod.metadata?.name ?? '')}`);
    p = String(named.containerPort);
  }
  return { scheme: s, host: ip!, port: p ? Number(p) : s === 'https' ? 443 : 80 };
}

/** HOP_BY_HOP headers are not forwarded (RFC 7230 §6.1); Authorization is the API server's, never the backend's. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'authorization']);

/** forwardHeaders copies request headers for the backend, minus hop-by-hop ones (and those named in Connection). */
export function forwardHeaders(h: IncomingHttpHeaders, keepUpgrade = false): Record<string, string | string[]> {
  const named = new Set(String(h.connection ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    const lk = k.toLowerCase();
    if (keepUpgrade && (lk === 'upgrade' || lk === 'connection')) {
      out[k] = v;
      continue;
    }
    if (HOP_BY_HOP.has(lk) || named.has(lk)) continue;
    out[k] = v;
  }
  return out;
}

/** dialError writes a socket error as Go's net package does (`dial tcp 10.0.0.1:80: connect: connection refused`). */
export function dialError(err: NodeJS.ErrnoException, loc: Location): string {
  const hostPort = loc.host.includes(':') ? `[${loc.host}]:${loc.port}` : `${loc.host}:${loc.port}`;
  const why: Record<string, string> = {
    ECONNREFUSED: 'connect: connection refused',
    EHOSTUNREACH: 'connect: no route to host',
    ENETUNREACH: 'connect: network is unreachable',
    ETIMEDOUT: 'i/o timeout',
    ECONNRESET: 'read: connection reset by peer',
  };
  return `dial tcp ${hostPort}: ${why[err.code ?? ''] ?? err.message}`;
}

const DIAL_TIMEOUT_MS = 30_000;

/** ServiceProxy resolves and relays proxy-subresource requests. */
export class ServiceProxy {
  private readonly registry: Registry;
  private readonly log: Logger;

  constructor(registry: Registry, log: Logger) {
    this.registry = registry;
    this.log = log;
  }

  /** locate is ResourceLocation: where the request should go. */
  async locate(r: ProxyRequest): Promise<Location> {
    if (r.resource === 'pods') {
      const pod = (await this.registry.get(podInfo, r.namespace, r.name)) as unknown as Pod;
      return podLocation(pod, r.scheme, r.port);
    }
    const svc = (await this.registry.get(serviceInfo, r.namespace, r.name)) as unknown as Service;
    const portName = servicePortName(svc, r.port);
    const sliceInfo = lookupKind('discovery.k8s.io/v1', 'EndpointSlice');
    const slices = sliceInfo ? ((await this.registry.list(sliceInfo, r.namespace, { labelSelector: `kubernetes.io/service-name=${r.name}` })).items as unknown as EndpointSlice[]) : [];
    const ep = pickEndpoint(r.name, slices, portName);
    return { scheme: r.scheme === 'https' ? 'https' : 'http', host: ep.ip, port: ep.port };
  }

  /** target is the backend path: the rest after /proxy ('/' when none) and the query. */
  private static backendPath(r: ProxyRequest, query: string): string {
    return (r.path || '/') + (query ? `?${query}` : '');
  }

  /**
   * serveHttp relays one request. `/proxy` without a trailing slash is redirected to `/proxy/` for GET and HEAD,
   * as upstream's proxy does for the root path. Errors are written as Status objects.
   */
  async serveHttp(req: IncomingMessage, res: ServerResponse, r: ProxyRequest, query: string): Promise<void> {
    try {
      if (!r.path && (req.method === 'GET' || req.method === 'HEAD')) {
        const [pathname] = (req.url ?? '').split('?', 1);
        res.writeHead(301, { location: `${pathname}/${query ? `?${query}` : ''}`, 'content-type': 'text/html; charset=utf-8' });
        res.end();
        return;
      }
      const loc = await this.locate(r);
      await this.relay(req, res, loc, ServiceProxy.backendPath(r, query));
    } catch (e) {
      writeStatus(res, e);
    }
  }

  private relay(req: IncomingMessage, res: ServerResponse, loc: Location, path: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const headers = forwardHeaders(req.headers);
      headers['x-forwarded-uri'] = req.url?.split('?')[0] ?? '';
      if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
      headers['x-forwarded-proto'] = 'https';
      headers.host = loc.host.includes(':') ? `[${loc.host}]:${loc.port}` : `${loc.host}:${loc.port}`;
      const mod = loc.scheme === 'https' ? https : http;
      const up = mod.request({ host: loc.host, port: loc.port, method: req.method, path, headers, timeout: DIAL_TIMEOUT_MS, rejectUnauthorized: false, agent: false }, (ur) => {
        up.setTimeout(0); // the dial/header timeout is over: a response may stream for as long as it likes
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(ur.headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'www-authenticate') out[k] = v;
        res.writeHead(ur.statusCode ?? 502, out);
        ur.pipe(res);
        ur.on('end', resolve);
        ur.on('error', () => {
          res.destroy();
          resolve();
        });
      });
      let answered = false;
      up.on('timeout', () => up.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
      up.on('error', (err: NodeJS.ErrnoException) => {
        if (answered) return;
        answered = true;
        if (res.headersSent) res.destroy();
        else writeStatus(res, errors.serviceUnavailable(`error trying to reach service: ${dialError(err, loc)}`));
        resolve();
      });
      res.on('close', () => {
        answered = true;
        up.destroy();
        resolve();
      });
      req.pipe(up);
    });
  }

  /** serveUpgrade passes an upgrade (WebSocket) through: the request is replayed to the backend, then bytes flow both ways. */
  async serveUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, r: ProxyRequest, query: string): Promise<void> {
    let loc: Location;
    try {
      loc = await this.locate(r);
    } catch (e) {
      const s = e instanceof ApiError ? e.status : errors.internal(String(e)).status;
      socket.end(`HTTP/1.1 ${s.code} ${http.STATUS_CODES[s.code] ?? 'Error'}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify(s)}`);
      return;
    }
    const headers = forwardHeaders(req.headers, true);
    headers.host = `${loc.host}:${loc.port}`;
    const lines = [`${req.method ?? 'GET'} ${ServiceProxy.backendPath(r, query)} HTTP/1.1`];
    for (const [k, v] of Object.entries(headers)) for (const x of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${x}`);
    const onConnect = () => {
      up.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    };
    const up: net.Socket = loc.scheme === 'https' ? tls.connect({ host: loc.host, port: loc.port, rejectUnauthorized: false }, onConnect) : net.connect({ host: loc.host, port: loc.port }, onConnect);
    up.setTimeout(DIAL_TIMEOUT_MS, () => up.connecting && up.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
    up.once('connect', () => up.setTimeout(0));
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (up.connecting || !up.bytesRead) {
        const s = errors.serviceUnavailable(`error trying to reach service: ${dialError(err, loc)}`).status;
        socket.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify(s)}`);
      } else socket.destroy();
    });
    socket.on('error', () => up.destroy());
    socket.on('close', () => up.destroy());
    this.log.debug({ target: `${loc.host}:${loc.port}`, path: r.path }, 'proxying an upgrade');
  }
}

function writeStatus(res: ServerResponse, e: unknown): void {
  const s = e instanceof ApiError ? e.status : errors.internal(String((e as Error)?.message ?? e)).status;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(s.code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(s));
}
