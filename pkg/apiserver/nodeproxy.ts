// nodeproxy: forwards pods/log, exec, attach and portforward to the agent (kubelet endpoint) of the pod's node, over TLS verified against the cluster CA and the node's name, as the API server's kubelet client.
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls, { type PeerCertificate } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { errors, ApiError } from '../api/errors.ts';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { Registry } from './registry.ts';

const podInfo = lookupKind('v1', 'Pod')!;
const nodeInfo = lookupKind('v1', 'Node')!;

/** kubelet URL paths, as upstream's kubelet serves them */
const KUBELET_PATH: Record<string, string> = { log: 'containerLogs', exec: 'exec', attach: 'attach', portforward: 'portForward' };

/**
 * checkKubeletIdentity verifies an agent's serving certificate beyond the CA chain: it must name the address dialled
 * (IP SAN, tls.checkServerIdentity) and belong to the node (CN system:node:<node>, as kubelet-serving CSRs ask).
 * Returns the error to fail the handshake with, or undefined.
 */
export function checkKubeletIdentity(node: string, host: string, cert: PeerCertificate): Error | undefined {
  const e = tls.checkServerIdentity(host, cert);
  if (e) return new Error(`x509: the node agent's certificate does not name ${host}: ${e.message}`);
  const cn = Array.isArray(cert.subject?.CN) ? cert.subject.CN[0] : cert.subject?.CN;
  if (cn !== `system:node:${node}`) return new Error(`x509: the node agent's certificate is for "${cn ?? ''}", not for node "${node}" (system:node:${node})`);
  return undefined;
}

/** NodeProxy finds the pod's node and relays the request to its kubelet endpoint over TLS. */
export class NodeProxy {
  private readonly registry: Registry;
  private readonly log: Logger;
  private readonly caPem: string;
  /** the client certificate the API server presents to agents (CN kube-apiserver-kubelet-client) */
  clientCert: { certPem: string; keyPem: string } | undefined;

  constructor(registry: Registry, caPem: string, log: Logger) {
    this.registry = registry;
    this.caPem = caPem;
    this.log = log;
  }

  /** target resolves pod → container → node address and the kubelet path for a subresource request. */
  async target(ns: string, name: string, sub: string, query: string): Promise<{ host: string; port: number; path: string; node: string }> {
    const pod = await this.registry.get(podInfo, ns, name);
    const q = new URLSearchParams(query);
    let path: string;
    if (sub === 'portforward') {
      path = `/portForward/${ns}/${name}`;
    } else {
      const container = q.get('container') || defaultContainer(pod, sub);
      const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])].map((c: any) => c.name);
      if (!all.includes(container)) {
        throw errors.badRequest(`container ${container} is not valid for pod ${name}`);
      }
      q.delete('container');
      path = `/${KUBELET_PATH[sub]}/${ns}/${name}/${encodeURIComponent(container)}`;
    }
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) throw errors.badRequest(`pod ${name} does not have a host assigned`);
    if (sub === 'log' && !pod.status?.containerStatuses?.length && pod.status?.phase === 'Pending') {
      const c = q.get('container') ?? pod.spec.containers[0].name;
      throw errors.badRequest(`container "${c}" in pod "${name}" is waiting to start: ContainerCreating`);
    }
    let node: KubeObject;
    try {
      node = await this.registry.get(nodeInfo, undefined, nodeName);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) throw errors.badRequest(`node "${nodeName}" of pod ${name} is not registered`);
      throw e;
    }
    const addr = (node.status?.addresses ?? []).find((a: any) => a.type === 'InternalIP')?.address;
    const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 10250;
    if (!addr) throw errors.badRequest(`node "${nodeName}" has no InternalIP address`);
    const qs = q.toString();
    return { host: addr, port, path: qs ? `${path}?${qs}` : path, node: nodeName };
  }

  /** tlsOptions verify the agent (cluster CA, its address, its node name) and present the API server's client certificate. */
  private tlsOptions(t: { host: string; node: string }): tls.ConnectionOptions {
    return {
      ca: this.caPem,
      ...(this.clientCert ? { cert: this.clientCert.certPem, key: this.clientCert.keyPem } : {}),
      rejectUnauthorized: true,
      ...(net.isIP(t.host) ? {} : { servername: t.host }),
      checkServerIdentity: (host, cert) => checkKubeletIdentity(t.node, host, cert),
    };
  }

  /** proxyHttp relays a plain (non-upgrade) request, e.g. pods/log with follow. */
  async proxyHttp(req: IncomingMessage, res: ServerResponse, ns: string, name: string, sub: string, query: string): Promise<void> {
    try {
      if (sub !== 'log') throw errors.badRequest('Upgrade request required');
      const t = await this.target(ns, name, sub, query);
      await new Promise<void>((resolve) => {
        const up = https.request(
          { host: t.host, port: t.port, path: t.path, method: 'GET', agent: false, ...this.tlsOptions(t) },
          (ur) => {
            res.writeHead(ur.statusCode ?? 502, { 'content-type': ur.headers['content-type'] ?? 'text/plain', 'cache-control': 'no-cache' });
            res.flushHeaders();
            ur.pipe(res);
            ur.on('end', resolve);
            ur.on('error', () => resolve());
          },
        );
        up.on('error', (err) => {
          this.log.warn({ err, pod: `${ns}/${name}` }, 'kubelet unreachable');
          send(res, errors.serviceUnavailable(`error trying to reach the node agent for pod ${name}: ${err.message}`));
          resolve();
        });
        res.on('close', () => up.destroy());
        up.end();
      });
    } catch (e) {
      send(res, e instanceof ApiError ? e : errors.internal(String(e)));
    }
  }

  /** proxyUpgrade re-sends the upgrade request to the kubelet and then pipes bytes both ways. */
  async proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ns: string, name: string, sub: string, query: string): Promise<void> {
    const t = await this.target(ns, name, sub, query);
    const up = tls.connect({ host: t.host, port: t.port, ...this.tlsOptions(t) });
    await new Promise<void>((resolve, reject) => {
      up.once('secureConnect', resolve);
      up.once('error', (e) => reject(errors.serviceUnavailable(`error dialing the node agent for pod ${name}: ${e.message}`)));
    });
    const lines = [`${req.method} ${t.path} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i].toLowerCase();
      if (k === 'authorization' || k === 'host') continue;
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    }
    lines.push(`Host: ${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`);
    up.write(lines.join('\r\n') + '\r\n\r\n');
    if (head.length) up.write(head);
    socket.pipe(up);
    up.pipe(socket);
    const done = () => {
      socket.destroy();
      up.destroy();
    };
    socket.on('error', done);
    up.on('error', done);
    socket.on('close', done);
    up.on('close', done);
  }
}

function defaultContainer(pod: KubeObject, sub: string): string {
  const annotated = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'];
  if (annotated) return annotated;
  const names = (pod.spec?.containers ?? []).map((c: any) => c.name);
  if (names.length === 1) return names[0];
  throw errors.badRequest(`a container name must be specified for pod ${pod.metadata.name}, choose one of: [${names.join(' ')}]${sub === 'log' && pod.spec?.initContainers?.length ? ` or one of the init containers: [${pod.spec.initContainers.map((c: any) => c.name).join(' ')}]` : ''}`);
}

function send(res: ServerResponse, e: ApiError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(e.code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(e.status));
}
