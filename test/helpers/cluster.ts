// cluster: a two-node cluster for controller and scheduler tests — a real `kubeling server` (API, scheduler,
// controllers) and two real `kubeling agent` processes (node-a, node-b on loopback aliases of the cluster's address slot) on the one dockerd.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject } from '../../pkg/api/types.ts';
import { Client } from '../../pkg/client/index.ts';
import { clusterId } from '../../pkg/kubelet/index.ts';
import { DockerRuntime } from '../../pkg/kubelet/runtime/index.ts';
import { ensureTestImages, TEST_IMAGES } from './images.ts';
import { kubectl, ROOT, startServer, type KubectlResult, type RunningServer } from './server.ts';
import { waitFor } from './wait.ts';

/** NODE_SLOT_INDEX numbers the nodes within a cluster's slot: node-a is 127.1.<slot>.2, node-b 127.1.<slot>.3 */
export const NODE_SLOT_INDEX = { 'node-a': 2, 'node-b': 3 } as const;
export type NodeName = keyof typeof NODE_SLOT_INDEX;

export const podInfo = lookupKind('v1', 'Pod')!;
export const nodeInfo = lookupKind('v1', 'Node')!;
export const eventInfo = lookupKind('v1', 'Event')!;

export interface TwoNodeCluster {
  server: RunningServer;
  admin: Client;
  /** nodeIps are the agents' addresses (loopback aliases of this cluster's slot; NodePorts listen there) */
  nodeIps: Record<NodeName, string>;
  /** this cluster's containers only */
  docker: DockerRuntime;
  images: typeof TEST_IMAGES;
  kubeconfig: string;
  /** kubectl runs the real kubectl against this cluster; never throws on exit codes */
  kubectl(...args: string[]): KubectlResult;
  /** kubectlInput is kubectl with `-f -` style standard input */
  kubectlInput(input: string, ...args: string[]): KubectlResult;
  /** startAgent (re)starts the agent process of a node and waits until its Node is Ready */
  startAgent(node: NodeName): Promise<void>;
  /** killAgent SIGKILLs the agent process; with `containers`, also removes that node's containers (a dead host) */
  killAgent(node: NodeName, opts?: { containers?: boolean }): Promise<void>;
  /** pods lists the pods of a namespace (default 'default') */
  pods(namespace?: string, labelSelector?: string): Promise<KubeObject[]>;
  /** waitFor polls `probe` until it returns a value that is not undefined/false, or throws with `what` */
  waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs?: number): Promise<T>;
  /** events of the objects named `name` in the namespace */
  eventsFor(name: string, namespace?: string): Promise<KubeObject[]>;
  logs(): string;
  cleanup(): Promise<void>;
}

export interface ClusterOptions {
  /** extra server flags, e.g. ['--node-monitor-grace-period', '6s'] */
  serverArgs?: string[];
  /** nodes to start (default both) */
  nodes?: NodeName[];
}

/** startTwoNodeCluster boots the server (no embedded agent) and the agents, and waits for Ready nodes. */
export async function startTwoNodeCluster(opts: ClusterOptions = {}): Promise<TwoNodeCluster> {
  const images = await ensureTestImages(new DockerRuntime());
  const server = await startServer({ args: ['--disable-agent', ...(opts.serverArgs ?? [])], network: true });
  // node names repeat across clusters (every test cluster has node-a and node-b): see only this cluster's containers
  const docker = clusterDocker(server.caPem);
  const admin = new Client({ server: server.url, token: server.token, caPem: server.caPem });
  const nodeIps = { 'node-a': server.slot.nodeIp(NODE_SLOT_INDEX['node-a']), 'node-b': server.slot.nodeIp(NODE_SLOT_INDEX['node-b']) };
  const agents = new Map<NodeName, { proc: ChildProcess; exited: Promise<void>; dir: string; out: string[] }>();
  const dirs: string[] = [];

  const nodeReady = async (node: NodeName) => {
    const n = await admin.getOrUndefined(nodeInfo, undefined, node);
    return n?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') ? n : undefined;
  };

  const c: TwoNodeCluster = {
    server,
    admin,
    nodeIps,
    docker,
    images,
    kubeconfig: server.kubeconfig,
    kubectl: (...args) => kubectl(server.kubeconfig, args),
    kubectlInput: (input, ...args) => kubectl(server.kubeconfig, args, { input }),
    async startAgent(node) {
      if (agents.has(node)) throw new Error(`agent ${node} already runs`);
      const dir = mkdtempSync(join(tmpdir(), `kubeling-${node}-`));
      dirs.push(dir);
      const args = ['agent', '--server', server.url, '--token', readFileSync(join(server.dataDir, 'token'), 'utf8').trim(),
        '--ca-file', join(server.dataDir, 'tls', 'ca.crt'), '--node-name', node, '--node-ip', nodeIps[node], '--nodeport-addresses', `${nodeIps[node]}/32`, '--data-dir', dir, '--kubelet-port', '0'];
      const proc = spawn(join(ROOT, 'bin/kubeling'), args, { env: { ...process.env, KUBELING_LOG_LEVEL: process.env.AGENT_LOG ?? 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: string[] = [];
      proc.stdout!.on('data', (d) => out.push(String(d)));
      proc.stderr!.on('data', (d) => out.push(String(d)));
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      agents.set(node, { proc, exited, dir, out });
      await waitFor(`node ${node} Ready`, async () => {
        if (proc.exitCode !== null) throw new Error(`agent ${node} exited (${proc.exitCode}): ${out.join('')}`);
        return nodeReady(node);
      }, 60_000);
    },
    async killAgent(node, o = {}) {
      const a = agents.get(node);
      agents.delete(node);
      if (a && a.proc.exitCode === null && a.proc.signalCode === null) {
        a.proc.kill('SIGKILL');
        await a.exited;
      }
      if (o.containers) await removeNodeContainers(docker, node);
    },
    async pods(namespace = 'default', labelSelector) {
      return (await admin.list(podInfo, namespace, { labelSelector })).items;
    },
    waitFor,
    async eventsFor(name, namespace = 'default') {
      const list = await admin.list(eventInfo, namespace);
      return list.items.filter((e) => e.involvedObject?.name === name);
    },
    logs: () => [server.logs(), ...[...agents].map(([n, a]) => `--- ${n}\n${a.out.join('')}`)].join('\n'),
    async cleanup() {
      for (const node of [...agents.keys()]) {
        const a = agents.get(node)!;
        agents.delete(node);
        if (a.proc.exitCode === null && a.proc.signalCode === null) {
          a.proc.kill('SIGTERM');
          const t = setTimeout(() => a.proc.kill('SIGKILL'), 5000);
          await a.exited;
          clearTimeout(t);
        }
      }
      for (const node of Object.keys(NODE_SLOT_INDEX) as NodeName[]) await removeNodeContainers(docker, node).catch(() => undefined);
      await admin.close();
      await server.cleanup(); // also removes the cluster's pod network
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all((opts.nodes ?? (Object.keys(NODE_SLOT_INDEX) as NodeName[])).map((n) => c.startAgent(n)));
  } catch (e) {
    const logs = c.logs();
    await c.cleanup();
    throw new Error(`${(e as Error).message}\n${logs}`);
  }
  return c;
}

/** removeNodeContainers removes every container the agent of `node` made (what a dead host loses). */
async function removeNodeContainers(docker: DockerRuntime, node: string): Promise<void> {
  for (const x of await docker.listContainers({ node })) await docker.removeContainer(x.id).catch(() => undefined);
}

/** clusterDocker is a Docker client that sees only the containers of the cluster whose CA is `caPem`. */
function clusterDocker(caPem: string): DockerRuntime {
  return new DockerRuntime({ cluster: clusterId(caPem) });
}

/** podsByNode counts Running pods per node. */
export function podsByNode(pods: KubeObject[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of pods) {
    if (p.status?.phase !== 'Running' || p.metadata.deletionTimestamp) continue;
    const n = p.spec?.nodeName ?? '';
    out[n] = (out[n] ?? 0) + 1;
  }
  return out;
}

/** isReady tells whether a pod's Ready condition is True. */
export function isReady(p: KubeObject): boolean {
  return !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
}
