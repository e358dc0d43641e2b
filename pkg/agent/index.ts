// agent: the node agent's composition root — joins the cluster, then runs the kubelet, the pod network, the service
// proxy and the DNS responder of this host from one shared informer factory.
import { ApiError } from '../api/errors.ts';
import { readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { Client, SharedInformerFactory } from '../client/index.ts';
import { startDnsServer, type DnsServer } from '../dns/index.ts';
import { clusterId, Kubelet } from '../kubelet/index.ts';
import { parseResolvConf, type ResolvConf } from '../kubelet/dnsconfig.ts';
import { EventRecorder } from '../kubelet/events.ts';
import { asStartupError, NodeRegistrar } from '../kubelet/node.ts';
import { DockerRuntime, parseDockerHost } from '../kubelet/runtime/index.ts';
import type { ContainerRuntime } from '../kubelet/runtime/index.ts';
import { startKubeletServer } from '../kubelet/server.ts';
import { certFiles, clientRequest, ensureCertificate, loadPair, requestCertificate, servingRequest, stillValid, storePair, usable, type ServingCert } from '../kubelet/servingcert.ts';
import { hostRunner, startPodNetwork, teardownNetwork, type PodNetwork } from '../network/index.ts';
import { startProxy, teardownProxyRules, type ProxyMode, type ServiceProxy } from '../proxy/index.ts';

export interface AgentConfig {
  server: string;
  token: string;
  caPem: string;
  nodeName: string;
  nodeIp: string;
  dataDir: string;
  dockerHost?: string;
  kubeletPort: number;
  labels: Record<string, string>;
  /** nodePortAddresses limits where NodePorts listen (CIDRs, kube-proxy's --nodeport-addresses); empty = everywhere */
  nodePortAddresses?: string[];
  /** clusterDNS and clusterDomain override what the server publishes in kube-system/kubeling-config */
  clusterDNS?: string;
  clusterDomain?: string;
  /** disableProxy runs no service proxy and no DNS responder on this node (k3s's --disable-kube-proxy) */
  disableProxy?: boolean;
  /** proxyMode is kube-proxy's --proxy-mode: userspace (default) or iptables */
  proxyMode?: ProxyMode;
  /** registryAuthFile: node-wide registry credentials (a Docker config.json), used when pull secrets have none */
  registryAuthFile?: string;
  /** runtime replaces the Docker runtime (hollow nodes in benchmarks). */
  runtime?: ContainerRuntime;
}

/** Agent is a running agent; close() stops watches, workers and listeners but leaves pods running, as kubelet. */
export interface Agent {
  close(): Promise<void>;
  kubelet: Kubelet;
  kubeletPort: number;
}

/** ClusterConfig is what the server publishes in ConfigMap kube-system/kubeling-config. */
export interface ClusterConfig {
  clusterCIDR: string;
  serviceCIDR: string;
  clusterDNS: string;
  clusterDomain: string;
}

/** SERVING_WAIT_MS bounds how long pod sync waits for the serving certificate at start. */
const SERVING_WAIT_MS = 30_000;

const DEFAULT_CONFIG: ClusterConfig = { clusterCIDR: '10.42.0.0/16', serviceCIDR: '10.43.0.0/16', clusterDNS: '10.43.0.10', clusterDomain: 'cluster.local' };

/** clusterConfig reads kube-system/kubeling-config; a server that publishes none gets the defaults. */
async function clusterConfig(client: Client): Promise<ClusterConfig> {
  const cm = await client.getOrUndefined(lookupKind('v1', 'ConfigMap')!, 'kube-system', 'kubeling-config');
  const data = (cm?.data ?? {}) as Partial<ClusterConfig>;
  return { ...DEFAULT_CONFIG, ...Object.fromEntries(Object.entries(data).filter(([, v]) => typeof v === 'string' && v)) };
}

async function hostResolvConf(log: Logger): Promise<ResolvConf> {
  try {
    return parseResolvConf(await readFile('/etc/resolv.conf', 'utf8'));
  } catch (err) {
    log.warn({ err }, 'cannot read /etc/resolv.conf; pods with dnsPolicy Default get no nameserver');
    return { nameservers: [], searches: [], options: [] };
  }
}

/**
 * nodeClientCertificate is kubelet TLS bootstrapping: the stored client certificate (system:node:<name> from the
 * cluster CA) while it is fresh; else a new one through a CertificateSigningRequest — sent with the node's own
 * certificate while it is still valid (renewal), otherwise with the join token (group system:bootstrappers).
 */
async function nodeClientCertificate(cfg: AgentConfig, pkiDir: string, log: Logger): Promise<ServingCert> {
  const files = certFiles(pkiDir, 'client');
  const cn = `system:node:${cfg.nodeName}`;
  const stored = await loadPair(files);
  if (stored && usable(stored, { caPem: cfg.caPem, cn })) return stored;
  const renewing = !!stored && stillValid(stored, cfg.caPem, cn);
  log.info({ node: cfg.nodeName, with: renewing ? 'node certificate' : 'join token' }, 'requesting a client certificate');
  const c = new Client({ server: cfg.server, token: renewing ? '' : cfg.token, ...(renewing ? { cert: stored } : {}), caPem: cfg.caPem, userAgent: `kubeling-agent/${cfg.nodeName}` });
  try {
    const deadline = Date.now() + BOOTSTRAP_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        const fresh = await requestCertificate(c, clientRequest(cfg.nodeName), log);
        await storePair(files, fresh);
        return fresh;
      } catch (err) {
        // a refused token or a denied request is final; a busy or unreachable server, or a key helper that timed out
        // on a loaded host, is tried again (the server's own agent failing here would take the whole server down)
        if (!retryableBootstrapError(err) || Date.now() > deadline) throw err;
        const delayMs = Math.min(1000 * 2 ** attempt, 30_000);
        log.warn({ err, attempt, retryInMs: delayMs }, 'client certificate request failed; trying again');
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  } finally {
    await c.close();
  }
}

/** BOOTSTRAP_RETRY_MS bounds how long transient failures of the client-certificate request are retried. */
const BOOTSTRAP_RETRY_MS = 15 * 60_000;

/**
 * retryableBootstrapError says whether a failed certificate request may succeed if tried again: not when the API
 * refused the credential (401/403) or the request (400/422), nor when the CSR was denied or failed.
 */
export function retryableBootstrapError(err: unknown): boolean {
  if (err instanceof ApiError) return err.code === 429 || err.code >= 500 || err.code === 0;
  return !/certificate signing request \S+ was (denied|failed)/.test((err as Error)?.message ?? '');
}

/**
 * runAgent joins the cluster: gets its client certificate with the join token (TLS bootstrapping), then as
 * system:node:<name> starts the HTTPS endpoint, registers the Node (with the endpoint's port), asks for the endpoint's
 * serving certificate, brings up the pod network, the service proxy and DNS, and syncs pods. Rejects with
 * `Unauthorized: the server rejected the node token` when the API refuses the token.
 */
export async function runAgent(cfg: AgentConfig, log: Logger): Promise<Agent> {
  const dataDir = resolve(cfg.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const pkiDir = join(dataDir, 'pki');
  let identity: ServingCert;
  try {
    identity = await nodeClientCertificate(cfg, pkiDir, log.child({ component: 'certificate' }));
  } catch (err) {
    throw asStartupError(err);
  }
  const client = new Client({ server: cfg.server, token: '', cert: identity, caPem: cfg.caPem, userAgent: `kubeling-agent/${cfg.nodeName}` });
  let config: ClusterConfig;
  try {
    config = await clusterConfig(client);
  } catch (err) {
    await client.close();
    throw asStartupError(err);
  }
  if (cfg.clusterDNS) config.clusterDNS = cfg.clusterDNS;
  if (cfg.clusterDomain) config.clusterDomain = cfg.clusterDomain;
  const cluster = clusterId(cfg.caPem);
  const runtime = cfg.runtime ?? new DockerRuntime({ ...(cfg.dockerHost ? { host: cfg.dockerHost } : {}), cluster, logger: log.child({ component: 'runtime' }) });
  const events = new EventRecorder(client, { component: 'kubelet', host: cfg.nodeName }, log.child({ component: 'events' }));
  let kubelet: Kubelet | undefined;
  const servingFiles = certFiles(pkiDir, 'serving');
  const servingWant = { caPem: cfg.caPem, cn: `system:node:${cfg.nodeName}`, ips: [cfg.nodeIp], dns: [cfg.nodeName] };
  const storedServing = await loadPair(servingFiles);
  const servingReady = !!storedServing && usable(storedServing, servingWant);
  const server = await startKubeletServer({
    host: cfg.nodeIp,
    port: cfg.kubeletPort,
    caPem: cfg.caPem,
    ...(servingReady ? { cert: storedServing } : {}),
    runtime,
    log: log.child({ component: 'kubelet-server' }),
    pods: {
      podByName: (ns, name) => kubelet?.podByName(ns, name),
      containerFor: (pod, c, prev) => kubelet!.containerFor(pod, c, prev),
      podIP: (pod) => kubelet?.podIP(pod) ?? '',
    },
  });
  const registrar = new NodeRegistrar(client, runtime, { nodeName: cfg.nodeName, nodeIp: cfg.nodeIp, hostname: cfg.nodeName, kubeletPort: server.port, labels: cfg.labels }, log.child({ component: 'node' }));
  try {
    await registrar.register();
  } catch (err) {
    await server.close();
    await client.close();
    throw asStartupError(err);
  }
  events.event({ kind: 'Node', name: cfg.nodeName, uid: cfg.nodeName }, 'Normal', 'Starting', 'Starting kubelet.');
  let servingIssued: Promise<unknown> = Promise.resolve();
  if (!servingReady) {
    // the serving certificate is asked for once the Node (whose addresses the approver checks) exists, as kubelet's
    // server TLS bootstrap; until it is issued the endpoint completes no handshake
    servingIssued = ensureCertificate(servingFiles, servingWant, () => requestCertificate(client, servingRequest(cfg.nodeName, cfg.nodeName, cfg.nodeIp), log.child({ component: 'certificate' })))
      .then((c) => server.setCertificate(c))
      .catch((err) => log.error({ err }, 'cannot get a serving certificate; logs, exec and port-forward to this node fail until the agent restarts'));
  }

  const informers = new SharedInformerFactory(client, log.child({ component: 'informers' }));
  const services = informers.informerFor(lookupKind('v1', 'Service')!);
  let network: PodNetwork | undefined;
  let proxy: ServiceProxy | undefined;
  let dns: DnsServer | undefined;
  if (!cfg.runtime) {
    // one Engine API client per agent: the runtime's (a second dockerode with its own agent would double the sockets)
    const docker = runtime instanceof DockerRuntime ? runtime.docker : new Dockerode(cfg.dockerHost ? parseDockerHost(cfg.dockerHost) : {});
    network = startPodNetwork({ informers, docker, clusterId: cluster, nodeName: cfg.nodeName, nodeIp: cfg.nodeIp, clusterCidr: config.clusterCIDR, log: log.child({ component: 'network' }) });
  }
  if (!cfg.disableProxy) {
    proxy = startProxy({ informers, clusterId: cluster, nodeName: cfg.nodeName, nodeIp: cfg.nodeIp, nodePortAddresses: cfg.nodePortAddresses ?? [], clusterDNS: config.clusterDNS, mode: cfg.proxyMode, clusterCidr: config.clusterCIDR, log: log.child({ component: 'proxy' }) });
  }
  informers.start();
  if (proxy) {
    try {
      await proxy.addresses.ensure(config.clusterDNS);
      dns = startDnsServer({ informers, address: config.clusterDNS, clusterDomain: config.clusterDomain, log: log.child({ component: 'dns' }) });
    } catch (err) {
      log.error({ err, clusterDNS: config.clusterDNS }, 'cannot start the DNS responder; pods on this node cannot resolve cluster names');
    }
  }
  const resolvConf = await hostResolvConf(log);
  // pods start once the endpoint can serve their logs and exec (bounded: an approver that never answers only costs
  // those until the certificate arrives)
  const waited = await Promise.race([servingIssued.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), SERVING_WAIT_MS).unref())]);
  if (!waited) log.warn({ waitedMs: SERVING_WAIT_MS }, 'no serving certificate yet; starting pods anyway (logs, exec and port-forward answer once it is issued)');
  kubelet = new Kubelet({
    client,
    runtime,
    events,
    nodeName: cfg.nodeName,
    nodeIp: cfg.nodeIp,
    dataDir,
    log: log.child({ component: 'kubelet' }),
    allocatable: () => registrar.allocatable(),
    ...(cfg.registryAuthFile ? { registryAuthFile: cfg.registryAuthFile } : {}),
    ...(network ? { podNetwork: network } : {}),
    dns: { clusterDNS: config.clusterDNS, clusterDomain: config.clusterDomain, hostResolvConf: resolvConf },
    services: (namespace: string): KubeObject[] => [...services.list(namespace), ...(namespace === 'default' ? [] : services.list('default').filter((s) => s.metadata.name === 'kubernetes'))],
  });
  await kubelet.start();
  registrar.start();
  log.info({ node: cfg.nodeName, kubeletPort: server.port, clusterDNS: config.clusterDNS }, 'node agent running');
  let closing: Promise<void> | undefined;
  const k = kubelet;
  return {
    kubelet: k,
    kubeletPort: server.port,
    close: () =>
      (closing ??= (async () => {
        registrar.stop();
        await k.stop();
        await dns?.stop();
        await proxy?.stop();
        await network?.stop();
        informers.stop();
        await server.close();
        await events.flush().catch(() => undefined);
        await client.close();
      })()),
  };
}

/**
 * teardownNode removes what the agents of a cluster made on this host besides containers: the pod network (docker
 * networks, iptables chains, routes, the service address interface) and the service proxy's kernel rules. Remove the
 * cluster's containers first.
 */
export async function teardownNode(opts: { docker: Dockerode; clusterId: string; log?: Logger }): Promise<void> {
  await teardownProxyRules(opts.clusterId, hostRunner);
  await teardownNetwork(opts);
}
