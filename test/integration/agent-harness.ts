// agent-harness: starts a real API server (no embedded agent) plus our agent on a temp dir for the agent-* integration tests.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { runServer } from '../../cmd/server.ts';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject } from '../../pkg/api/types.ts';
import { Client } from '../../pkg/client/index.ts';
import { runAgent } from '../../pkg/agent/index.ts';
import { clusterId } from '../../pkg/kubelet/index.ts';
import type { Agent } from '../../pkg/agent/index.ts';
import { DockerRuntime, LABELS } from '../../pkg/kubelet/runtime/index.ts';
import { silentLogger } from '../../pkg/util/log.ts';
import { ensureTestImages } from '../helpers/images.ts';
import { claimSlot } from '../helpers/slots.ts';
import { teardownTestCluster } from '../helpers/teardown.ts';
import { createLogger } from '../../pkg/util/log.ts';

export const pods = lookupKind('v1', 'Pod')!;
export const nodes = lookupKind('v1', 'Node')!;
export const events = lookupKind('v1', 'Event')!;
export const configmaps = lookupKind('v1', 'ConfigMap')!;
export const secrets = lookupKind('v1', 'Secret')!;
export const leases = lookupKind('coordination.k8s.io/v1', 'Lease')!;

const run = promisify(execFile);

export interface Cluster {
  dir: string;
  url: string;
  kubeconfig: string;
  nodeToken: string;
  caPem: string;
  nodeName: string;
  /** nodeIp is the agent's address: a loopback alias of this cluster's slot */
  nodeIp: string;
  admin: Client;
  docker: DockerRuntime;
  agent: Agent | undefined;
  startAgent(): Promise<Agent>;
  stopAgent(): Promise<void>;
  kubectl(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }>;
  /** waitPod polls the pod until `pred` holds. */
  waitPod(name: string, pred: (p: KubeObject) => boolean, timeoutMs?: number, ns?: string): Promise<KubeObject>;
  podEvents(name: string, ns?: string): Promise<KubeObject[]>;
  cleanup(): Promise<void>;
}

/** startCluster boots the API server on 127.0.0.1:0 with --disable-agent and runs the agent as node `nodeName`. */
export async function startCluster(nodeName: string, opts: { dockerHost?: string } = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), `kubeling-${nodeName}-`));
  await ensureTestImages(new DockerRuntime());
  const slot = claimSlot();
  const nodeIp = slot.nodeIp(1);
  const server = await runServer({ dataDir: dir, bindAddress: '127.0.0.1', httpsListenPort: 0, tlsSan: [], disableAgent: true, logLevel: 'warn', kubeletPort: 0, clusterCidr: slot.clusterCidr, serviceCidr: slot.serviceCidr } as never);
  const kubeconfig = join(dir, 'kubeconfig.yaml');
  // runServer does not await its kubeconfig write; wait for the file.
  for (let i = 0; i < 100 && !existsSync(kubeconfig); i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 20));
  const kc = parse(readFileSync(kubeconfig, 'utf8'));
  const url: string = kc.clusters[0].cluster.server;
  const caPem = readFileSync(join(dir, 'tls', 'ca.crt'), 'utf8');
  const nodeToken = readFileSync(join(dir, 'token'), 'utf8').trim();
  // the agent works on its cluster's containers only; the test's Docker client sees what the agent sees
  const docker = new DockerRuntime({ cluster: clusterId(caPem) });
  const admin = new Client({ server: url, token: kc.users[0].user.token, caPem });
  const log = process.env.AGENT_LOG ? createLogger({ level: process.env.AGENT_LOG, name: nodeName }) : silentLogger();
  const c: Cluster = {
    dir,
    url,
    kubeconfig,
    nodeToken,
    caPem,
    nodeName,
    nodeIp,
    admin,
    docker,
    agent: undefined,
    async startAgent() {
      c.agent = await runAgent({ server: url, token: nodeToken, caPem, nodeName, nodeIp, nodePortAddresses: [`${nodeIp}/32`], dataDir: join(dir, 'agent'), kubeletPort: 0, labels: {}, ...(opts.dockerHost ? { dockerHost: opts.dockerHost } : {}) }, log);
      return c.agent;
    },
    async stopAgent() {
      await c.agent?.close();
      c.agent = undefined;
    },
    async kubectl(...args) {
      try {
        const r = await run('/usr/bin/kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: 60_000 });
        return { stdout: r.stdout, stderr: r.stderr, code: 0 };
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string; code?: number };
        return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : 1 };
      }
    },
    async waitPod(name, pred, timeoutMs = 30_000, ns = 'default') {
      const until = Date.now() + timeoutMs;
      let last: KubeObject | undefined;
      while (Date.now() < until) {
        last = await admin.getOrUndefined(pods, ns, name);
        if (last && pred(last)) return last;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`pod ${ns}/${name} did not reach the expected state in ${timeoutMs} ms; last status: ${JSON.stringify(last?.status ?? null)}`);
    },
    async podEvents(name, ns = 'default') {
      const list = await admin.list(events, ns);
      return list.items.filter((e) => e.involvedObject?.name === name);
    },
    async cleanup() {
      await c.stopAgent().catch(() => undefined);
      for (const x of await docker.listContainers({ node: nodeName })) await docker.removeContainer(x.id);
      await admin.close();
      await server.close();
      await teardownTestCluster(caPem, opts.dockerHost);
      slot.release();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await c.startAgent();
  return c;
}

/** podSpec builds a pod bound to the node with busybox defaults. */
export function pod(name: string, nodeName: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...meta }, spec: { nodeName, terminationGracePeriodSeconds: 2, ...spec } };
}

export function cstatus(p: KubeObject, name: string): any {
  return [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].find((s: any) => s.name === name);
}

export { LABELS };

/** idOf is the Docker id of a pod container, from its status's `docker://…` containerID. */
export const idOf = (p: any, name: string): string => cstatus(p, name).containerID.slice('docker://'.length);
