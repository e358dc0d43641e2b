// server: the agent's HTTPS endpoint — container logs, exec, attach, port-forward and /healthz — serving a CA-signed certificate and accepting only the API server's kubelet-client certificate.
import { https } from '../util/nodehttp.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { KubeObject } from '../api/types.ts';
import type { TLSSocket, PeerCertificate } from 'node:tls';
import type { ContainerInfo, ContainerRuntime } from './runtime/index.ts';
import type { ServingCert } from './servingcert.ts';
import type { ExecStreams, RemoteCommandOptions } from './streaming/index.ts';

/** PodLookup is what the server needs of the kubelet: pods by name and their runtime containers. */
export interface PodLookup {
  podByName(namespace: string, name: string): KubeObject | undefined;
  containerFor(pod: KubeObject, container: string, previous: boolean): Promise<ContainerInfo | undefined>;
  podIP(pod: KubeObject): string;
}

export interface KubeletServerOptions {
  host: string;
  port: number;
  /** caPem is the cluster CA: client certificates must chain to it */
  caPem: string;
  /** allowedUsers may call the endpoint (client certificate CN); default: the API server's kube-apiserver-kubelet-client */
  allowedUsers?: string[];
  /** cert serves from the start; without it the endpoint completes no handshake until setCertificate */
  cert?: ServingCert;
  pods: PodLookup;
  runtime: ContainerRuntime;
  log: Logger;
}

/** KUBELET_CLIENT_USER is the API server's identity towards agents (upstream's apiserver-kubelet-client certificate CN). */
export const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

/** LogQuery is a parsed `/containerLogs` query. */
export interface LogQuery {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tail?: number;
  since?: number;
  limitBytes?: number;
}

/** parseLogQuery reads kubectl's log options: follow, previous, timestamps, tailLines, sinceSeconds/sinceTime, limitBytes. */
export function parseLogQuery(q: URLSearchParams, now = Date.now()): LogQuery {
  const flag = (n: string): boolean => ['true', '1'].includes((q.get(n) ?? '').toLowerCase());
  const out: LogQuery = { follow: flag('follow'), previous: flag('previous'), timestamps: flag('timestamps') };
  const num = (n: string): number | undefined => {
    const v = q.get(n);
    return v !== null && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined;
  };
  const tail = num('tailLines');
  if (tail !== undefined && tail >= 0) out.tail = tail;
  const sinceSeconds = num('sinceSeconds');
  if (sinceSeconds !== undefined && sinceSeconds > 0) out.since = (now - sinceSeconds * 1000) / 1000;
  const sinceTime = q.get('sinceTime');
  if (sinceTime && !Number.isNaN(Date.parse(sinceTime))) out.since = Date.parse(sinceTime) / 1000;
  const limit = num('limitBytes');
  if (limit !== undefined && limit > 0) out.limitBytes = limit;
  return out;
}

/**
 * peerAllowed is the endpoint's authentication: a client certificate verified against the cluster CA (socket
 * authorized), with the clientAuth usage when usages are named, whose CN is an allowed user.
 */
export function peerAllowed(authorized: boolean, peer: Pick<PeerCertificate, 'subject'> & { ext_key_usage?: string[] } | undefined, allowed: string[]): boolean {
  if (!authorized || !peer?.subject) return false;
  if (peer.ext_key_usage && !peer.ext_key_usage.includes('1.3.6.1.5.5.7.3.2')) return false;
  const cn = Array.isArray(peer.subject.CN) ? peer.subject.CN[0] : peer.subject.CN;
  return !!cn && allowed.includes(cn);
}

function authenticated(o: KubeletServerOptions, req: IncomingMessage): boolean {
  const s = req.socket as TLSSocket;
  if (typeof s.getPeerCertificate !== 'function') return false;
  return peerAllowed(s.authorized, s.getPeerCertificate(), o.allowedUsers ?? [KUBELET_CLIENT_USER]);
}

/** KubeletServer is the listening endpoint; setCertificate swaps the serving certificate (new handshakes use it). */
export interface KubeletServer {
  port: number;
  setCertificate(cert: ServingCert): void;
  close(): Promise<void>;
}

/**
 * startKubeletServer listens on host:port (0 = any free port). Clients must present a certificate from the cluster CA
 * for an allowed user (the API server); the serving certificate comes from the CSR API (see servingcert.ts).
 */
export async function startKubeletServer(o: KubeletServerOptions): Promise<KubeletServer> {
  const server = https.createServer({ ca: o.caPem, requestCert: true, rejectUnauthorized: false, ...(o.cert ? { key: o.cert.keyPem, cert: o.cert.certPem } : {}) });
  server.on('request', (req, res) => void handle(o, req, res));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => handleUpgrade(o, req, socket, head));
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  o.log.info({ address: `${o.host}:${port}` }, 'kubelet endpoint listening');
  return {
    port,
    setCertificate: (cert) => server.setSecureContext({ key: cert.keyPem, cert: cert.certPem, ca: o.caPem }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function sendError(res: ServerResponse, code: number, message: string): void {
  if (res.headersSent) return void res.end();
  const reasons: Record<number, string> = { 400: 'BadRequest', 401: 'Unauthorized', 404: 'NotFound', 405: 'MethodNotAllowed', 500: 'InternalError' };
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: reasons[code] ?? 'BadRequest', code }));
}

/** resolve finds the pod and its container for a `/{kind}/{ns}/{pod}/{container}` path, or an HTTP error. */
async function resolveTarget(o: KubeletServerOptions, ns: string, name: string, container: string | undefined, previous: boolean): Promise<{ pod: KubeObject; info?: ContainerInfo } | { code: number; message: string }> {
  const pod = o.pods.podByName(ns, name);
  if (!pod) return { code: 404, message: `pod "${name}" not found in namespace "${ns}"` };
  if (container === undefined) return { pod };
  const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c: any) => c.name);
  if (!all.includes(container)) return { code: 400, message: `container ${container} is not valid for pod ${name}` };
  const info = await o.pods.containerFor(pod, container, previous);
  if (!info) {
    if (previous) return { code: 400, message: `previous terminated container "${container}" in pod "${name}" not found` };
    const st = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].find((s: any) => s.name === container);
    const reason = st?.state?.waiting?.reason ?? 'ContainerCreating';
    return { code: 400, message: `container "${container}" in pod "${name}" is waiting to start: ${reason}` };
  }
  return { pod, info };
}

async function handle(o: KubeletServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('ok');
    }
    if (!authenticated(o, req)) return sendError(res, 401, 'Unauthorized');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'containerLogs' && parts.length === 4 && req.method === 'GET') return await serveLogs(o, parts[1]!, parts[2]!, parts[3]!, url.searchParams, req, res);
    if (['exec', 'attach', 'portForward'].includes(parts[0] ?? '')) return sendError(res, 400, 'Upgrade request required');
    sendError(res, 404, `the server could not find the requested resource: ${url.pathname}`);
  } catch (err) {
    o.log.warn({ err }, 'kubelet endpoint request failed');
    sendError(res, 500, (err as Error).message);
  }
}

async function serveLogs(o: KubeletServerOptions, ns: string, name: string, container: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const lq = parseLogQuery(q);
  const t = await resolveTarget(o, ns, name, container, lq.previous);
  if ('code' in t) return sendError(res, t.code, t.message);
  const stream = await o.runtime.logs(t.info!.id, { follow: lq.follow, timestamps: lq.timestamps, ...(lq.tail !== undefined ? { tail: lq.tail } : {}), ...(lq.since !== undefined ? { since: lq.since } : {}) });
  res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-cache', 'transfer-encoding': 'chunked' });
  res.flushHeaders();
  let left = lq.limitBytes ?? Infinity;
  const stop = (): void => {
    stream.destroy();
    res.end();
  };
  req.on('close', () => stream.destroy());
  res.on('close', () => stream.destroy());
  stream.on('data', (chunk: Buffer) => {
    if (left <= 0 || res.writableEnded || res.destroyed) return;
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    if (b.length >= left) {
      res.write(b.subarray(0, left));
      left = 0;
      return stop();
    }
    left -= b.length;
    if (!res.write(b)) {
      stream.pause();
      res.once('drain', () => stream.resume());
    }
  });
  stream.on('end', () => {
    if (!res.writableEnded) res.end();
  });
  stream.on('error', () => {
    if (!res.writableEnded) res.end();
  });
}

function handleUpgrade(o: KubeletServerOptions, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  if (!authenticated(o, req)) {
    const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    return void socket.end(`HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  }
  const url = new URL(req.url ?? '/', 'https://kubelet');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const kind = parts[0];
  void (async () => {
    // loaded on first use: the streaming protocols (and ws) stay out of an agent nobody execs into
    const { handlePortForwardUpgrade, handleRemoteCommandUpgrade, rejectUpgrade } = await import('./streaming/index.ts');
    try {
      await serveUpgrade();
    } catch (err) {
      o.log.warn({ err }, 'streaming upgrade failed');
      rejectUpgrade(socket, 500, (err as Error).message);
    }

    async function serveUpgrade(): Promise<void> {
      if ((kind === 'exec' || kind === 'attach') && parts.length === 4) {
        const t = await resolveTarget(o, parts[1]!, parts[2]!, parts[3]!, false);
        if ('code' in t) return rejectUpgrade(socket, t.code === 404 ? 400 : t.code, t.message);
        if (t.info!.state !== 'running') return rejectUpgrade(socket, 400, `container ${parts[3]} is not running (state: ${t.info!.state})`);
        const id = t.info!.id;
        handleRemoteCommandUpgrade(req, socket, head, async (opts: RemoteCommandOptions): Promise<ExecStreams> => {
          const s =
            kind === 'exec'
              ? await o.runtime.exec(id, opts.command, { stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr, tty: opts.tty })
              : await o.runtime.attach(id, { stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr, tty: opts.tty });
          const out: ExecStreams = { stdout: s.stdout, wait: () => s.wait(), cancel: () => s.close() };
          if (s.stdin) out.stdin = s.stdin;
          if (s.stderr) out.stderr = s.stderr;
          if (s.resize) out.resize = (w, h) => void s.resize!(w, h).catch(() => undefined);
          return out;
        });
        return;
      }
      if (kind === 'portForward' && parts.length === 3) {
        const t = await resolveTarget(o, parts[1]!, parts[2]!, undefined, false);
        if ('code' in t) return rejectUpgrade(socket, t.code === 404 ? 400 : t.code, t.message);
        const ip = o.pods.podIP(t.pod);
        if (!ip) return rejectUpgrade(socket, 400, `pod ${parts[2]} has no IP address yet`);
        handlePortForwardUpgrade(req, socket, head, (port) => dial(ip, port), { pod: `${parts[2]}_${parts[1]}`, uid: t.pod.metadata.uid });
        return;
      }
      rejectUpgrade(socket, 400, `unknown streaming path ${url.pathname}`);
    }
  })().catch((err) => {
    o.log.warn({ err }, 'streaming upgrade failed');
    socket.destroy();
  });
}

/** dial connects to a pod port from the node (the pod network is reachable from the host). */
function dial(host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}
