// kubelet: the node agent's entry — registers the Node, syncs this node's pods through Docker and serves logs/exec.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { lookupKind } from '../api/resources.ts';
import { Client } from '../client/index.ts';
import { EventRecorder } from './events.ts';
import { asStartupError, NodeRegistrar } from './node.ts';
import { DockerRuntime } from './runtime/index.ts';
import type { ContainerRuntime } from './runtime/index.ts';
import { startKubeletServer } from './server.ts';
import { Kubelet } from './sync.ts';

export { Kubelet } from './sync.ts';
export { UNAUTHORIZED_MESSAGE } from './node.ts';
export { KUBELET_VERSION } from './nodestatus.ts';

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
  /** runtime replaces the Docker runtime (hollow nodes in benchmarks). */
  runtime?: ContainerRuntime;
}

/** Agent is a running agent; close() stops watches, workers and the endpoint but leaves pods running, as kubelet. */
export interface Agent {
  close(): Promise<void>;
  kubelet: Kubelet;
  kubeletPort: number;
}

/**
 * runAgent joins the cluster with the node token: checks the token, starts the HTTPS endpoint, registers the Node
 * (with the endpoint's port), then syncs pods and renews the lease. Rejects with
 * `Unauthorized: the server rejected the node token` when the API refuses the token.
 */
export async function runAgent(cfg: AgentConfig, log: Logger): Promise<Agent> {
  const client = new Client({ server: cfg.server, token: cfg.token, caPem: cfg.caPem, userAgent: `kubeling-agent/${cfg.nodeName}` });
  const nodeInfo = lookupKind('v1', 'Node')!;
  try {
    await client.getOrUndefined(nodeInfo, undefined, cfg.nodeName);
  } catch (err) {
    await client.close();
    throw asStartupError(err);
  }
  const dataDir = resolve(cfg.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const runtime = cfg.runtime ?? new DockerRuntime({ ...(cfg.dockerHost ? { host: cfg.dockerHost } : {}), cluster: clusterId(cfg.caPem), logger: log.child({ component: 'runtime' }) });
  const events = new EventRecorder(client, { component: 'kubelet', host: cfg.nodeName }, log.child({ component: 'events' }));
  let kubelet: Kubelet | undefined;
  const server = await startKubeletServer({
    host: cfg.nodeIp,
    port: cfg.kubeletPort,
    token: cfg.token,
    certDir: join(dataDir, 'pki'),
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
  kubelet = new Kubelet({ client, runtime, events, nodeName: cfg.nodeName, nodeIp: cfg.nodeIp, dataDir, log: log.child({ component: 'kubelet' }), allocatable: () => registrar.allocatable() });
  await kubelet.start();
  registrar.start();
  log.info({ node: cfg.nodeName, kubeletPort: server.port }, 'node agent running');
  let closing: Promise<void> | undefined;
  const k = kubelet;
  return {
    kubelet: k,
    kubeletPort: server.port,
    close: () =>
      (closing ??= (async () => {
        registrar.stop();
        await k.stop();
        await server.close();
        await events.flush().catch(() => undefined);
        await client.close();
      })()),
  };
}

/**
 * clusterId names the cluster an agent's containers belong to: a digest of the cluster CA. Two clusters whose agents
 * share one Docker engine (tests, or two kubeling clusters on one laptop) then never adopt or remove each other's.
 */
export function clusterId(caPem: string): string {
  return createHash('sha256').update(caPem).digest('hex').slice(0, 16);
}
