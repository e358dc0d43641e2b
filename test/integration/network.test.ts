// network.test: the pod network against real dockerd, iptables and ip — two nodes' bridges reach each other by pod IP
// without NAT, a pod reaches its host through the gateway, routes follow Nodes (inside a network namespace the test
// makes), and teardownNetwork leaves nothing behind.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import Dockerode from 'dockerode';
import type { Node } from 'kubernetes-types/core/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject } from '../../pkg/api/types.ts';
import { Client, SharedInformerFactory } from '../../pkg/client/index.ts';
import { chainNames, netnsRunner, ROUTE_PROTO, serviceInterfaceName, startPodNetwork, teardownNetwork, type PodNetwork } from '../../pkg/network/index.ts';
import { createLogger } from '../../pkg/util/log.ts';
import { ensureTestImages, HTTPD_BODY, TEST_IMAGES } from '../helpers/images.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { claimSlot, type Slot } from '../helpers/slots.ts';
import { waitFor } from '../helpers/wait.ts';

const nodeInfo = lookupKind('v1', 'Node')!;
const docker = new Dockerode();
const log = createLogger({ level: 'warn', name: 'network-test' });
const suffix = randomBytes(3).toString('hex');
/** clusterId is this file's own cluster: every network, chain and container it makes carries it. */
const clusterId = randomBytes(8).toString('hex');
const TEST_LABEL = 'kubeling.network-test';
const NETNS = `klnet-${suffix}`;
const nodeA = `net-a-${suffix}`;
const nodeB = `net-b-${suffix}`;
const nodeC = `net-c-${suffix}`;

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });
const shOk = (cmd: string, args: string[]): boolean => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** execIn runs a command in a container and returns its exit code and output. */
async function execIn(c: Dockerode.Container, cmd: string[]): Promise<{ code: number; out: string }> {
  const ex = await c.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await ex.start({ hijack: true, stdin: false });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const sink = { write: (b: Buffer) => ((out += b.toString()), true) } as unknown as NodeJS.WritableStream;
    docker.modem.demuxStream(stream, sink, sink);
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  const info = await ex.inspect();
  return { code: info.ExitCode ?? -1, out };
}

async function runContainer(network: string, name: string): Promise<{ c: Dockerode.Container; ip: string }> {
  const c = await docker.createContainer({
    name,
    Image: TEST_IMAGES.httpd,
    Labels: { [TEST_LABEL]: clusterId },
    HostConfig: { NetworkMode: network },
  });
  await c.start();
  const info = await c.inspect();
  const ip = info.NetworkSettings.Networks[network]?.IPAddress ?? '';
  return { c, ip };
}

function nodeObject(name: string): KubeObject {
  const node: Node = { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { [TEST_LABEL]: suffix } } };
  return node as KubeObject;
}

async function setAddress(client: Client, name: string, ip: string): Promise<void> {
  await client.patch(nodeInfo, undefined, name, { status: { addresses: [{ type: 'InternalIP', address: ip }] } }, 'merge', 'status');
}

const routesIn = (ns: string | undefined) => {
  const args = ['-j', '-4', 'route', 'show', 'proto', String(ROUTE_PROTO)];
  const out = ns ? sh('ip', ['-n', ns, ...args]) : sh('ip', args);
  return (out.trim() ? JSON.parse(out) : []) as { dst: string; gateway?: string }[];
};

describe('pod network', () => {
  let slot: Slot;
  let server: RunningServer;
  let client: Client;
  let factory: SharedInformerFactory;
  const networks: PodNetwork[] = [];
  let gatewayServer: Server | undefined;
  const serviceIf = serviceInterfaceName(clusterId);
  const chains = chainNames(clusterId);

  beforeAll(async () => {
    slot = claimSlot();
    await ensureTestImages();
    server = await startServer({ args: ['--disable-agent', '--cluster-cidr', slot.clusterCidr] });
    client = new Client({ server: server.url, token: server.token, caPem: server.caPem });
    for (const [name, ip] of [
      [nodeA, slot.nodeIp(2)],
      [nodeB, slot.nodeIp(3)],
    ] as const) {
      await client.create(nodeInfo, undefined, nodeObject(name));
      await setAddress(client, name, ip);
    }
    factory = new SharedInformerFactory(client, log);
  }, 120_000);

  afterAll(async () => {
    for (const n of networks) await n.stop().catch(() => undefined);
    factory?.stop();
    gatewayServer?.close();
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${clusterId}`] } })) {
      await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    if (shOk('ip', ['netns', 'pids', NETNS])) {
      await teardownNetwork({ docker, clusterId, run: netnsRunner(NETNS) }).catch(() => undefined);
      shOk('ip', ['netns', 'del', NETNS]);
    }
    await teardownNetwork({ docker, clusterId, log }).catch((err) => log.error({ err }, 'teardown failed'));
    shOk('ip', ['link', 'del', serviceIf]);
    await client?.close();
    await server?.cleanup();
    slot?.release();
  }, 60_000);

  let a: { network: string; podCIDR: string; gateway: string };
  let b: { network: string; podCIDR: string; gateway: string };

  it('creates each node a bridge network for the podCIDR nodeipam gave it', async () => {
    for (const [name, ip] of [
      [nodeA, slot.nodeIp(2)],
      [nodeB, slot.nodeIp(3)],
    ] as const) {
      networks.push(startPodNetwork({ informers: factory, docker, clusterId, nodeName: name, nodeIp: ip, clusterCidr: slot.clusterCidr, log, resyncMs: 1000 }));
    }
    factory.start();
    const [ra, rb] = await Promise.all(networks.map((n) => n.ready()));
    a = { network: ra!.networkName, podCIDR: ra!.podCIDR, gateway: ra!.gateway };
    b = { network: rb!.networkName, podCIDR: rb!.podCIDR, gateway: rb!.gateway };
    const nodes = await Promise.all([nodeA, nodeB].map((n) => client.get(nodeInfo, undefined, n)));
    expect(a.podCIDR).toBe((nodes[0] as Node).spec?.podCIDR);
    expect(b.podCIDR).toBe((nodes[1] as Node).spec?.podCIDR);
    expect(a.podCIDR).not.toBe(b.podCIDR);
    expect(a.podCIDR.startsWith(slot.clusterCidr.split('.').slice(0, 2).join('.') + '.')).toBe(true);
    const info = await docker.getNetwork(a.network).inspect();
    expect(info.IPAM?.Config?.[0]).toMatchObject({ Subnet: a.podCIDR, Gateway: a.gateway });
    expect(info.Labels).toMatchObject({ 'kubeling.cluster': clusterId, 'kubeling.node': nodeA, 'kubeling.cluster-cidr': slot.clusterCidr });
    expect(info.Options?.['com.docker.network.bridge.enable_ip_masquerade']).toBe('false');
    expect(sh('ip', ['-j', 'link', 'show', info.Options?.['com.docker.network.bridge.name'] ?? 'missing'])).toContain('"ifname"');
    // the rules: accept the cluster CIDR before Docker's isolation, masquerade each node's egress
    expect(sh('iptables', ['-w', '-S', 'DOCKER-USER'])).toContain(`-j ${chains.forward}`);
    const post = sh('iptables', ['-w', '-t', 'nat', '-S', chains.postrouting]);
    expect(post).toContain(`-s ${a.podCIDR} ! -d ${slot.clusterCidr}`);
    expect(post).toContain(`-s ${b.podCIDR} ! -d ${slot.clusterCidr}`);
    // both nodes' addresses are local: no routes between them
    expect(routesIn(undefined).filter((r) => r.dst.startsWith(slot.clusterCidr.split('.').slice(0, 2).join('.') + '.'))).toEqual([]);
  }, 60_000);

  it('lets pods on the two bridges reach each other by pod IP, keeping the source IP', async () => {
    const pa = await runContainer(a.network, `kl-net-test-a-${suffix}`);
    const pb = await runContainer(b.network, `kl-net-test-b-${suffix}`);
    expect(pa.ip).not.toBe('');
    const ab = await execIn(pa.c, ['timeout', '10', 'wget', '-qO-', `http://${pb.ip}/`]);
    expect(ab).toEqual({ code: 0, out: HTTPD_BODY });
    const ba = await execIn(pb.c, ['timeout', '10', 'wget', '-qO-', `http://${pa.ip}/`]);
    expect(ba).toEqual({ code: 0, out: HTTPD_BODY });
    // httpd -v logs the peer's address: pod A's own IP, not a gateway's (no NAT between pods)
    const logs = await waitFor('httpd access log', async () => {
      const buf = await pb.c.logs({ stdout: true, stderr: true, follow: false });
      const text = buf.toString();
      return text.includes(pa.ip) ? text : undefined;
    });
    expect(logs).toContain(pa.ip);
  }, 60_000);

  it('lets a pod reach its host through the gateway', async () => {
    const pa = docker.getContainer(`kl-net-test-a-${suffix}`);
    gatewayServer = createServer((sock) => sock.end('host here\n'));
    await new Promise<void>((r) => gatewayServer!.listen(0, a.gateway, () => r()));
    const port = (gatewayServer.address() as { port: number }).port;
    expect(await execIn(pa, ['nc', '-w', '5', a.gateway, String(port)])).toEqual({ code: 0, out: 'host here\n' });
  }, 30_000);

  it('puts back its iptables jump when something (a dockerd restart) removed it', async () => {
    sh('iptables', ['-w', '-D', 'DOCKER-USER', '-j', chains.forward]);
    await waitFor('the DOCKER-USER jump back', () => (sh('iptables', ['-w', '-S', 'DOCKER-USER']).includes(`-j ${chains.forward}`) ? true : undefined), 10_000);
    const rules = sh('iptables', ['-w', '-S', 'DOCKER-USER']).split('\n').filter((l) => l.includes(chains.forward));
    expect(rules).toHaveLength(1);
  }, 20_000);

  it('keeps routes to other nodes in step with the Nodes (inside a network namespace)', async () => {
    // the host's agents stop here: node C's address exists only inside the namespace
    for (const n of networks.splice(0)) await n.stop();
    sh('ip', ['netns', 'add', NETNS]);
    sh('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
    // the namespace's "LAN": a veth pair whose far end would hold the other nodes' addresses
    sh('ip', ['-n', NETNS, 'link', 'add', 'kllan0', 'type', 'veth', 'peer', 'name', 'kllan1']);
    sh('ip', ['-n', NETNS, 'addr', 'add', '192.168.77.1/24', 'dev', 'kllan0']);
    for (const dev of ['kllan0', 'kllan1']) sh('ip', ['-n', NETNS, 'link', 'set', dev, 'up']);
    // a route of our protocol belonging to another cluster: never touched
    sh('ip', ['-n', NETNS, 'route', 'add', '10.251.3.0/24', 'via', '192.168.77.9', 'proto', String(ROUTE_PROTO)]);

    await client.create(nodeInfo, undefined, nodeObject(nodeC));
    await setAddress(client, nodeC, '192.168.77.2');
    const podCidrC = await waitFor('node C podCIDR', async () => ((await client.get(nodeInfo, undefined, nodeC)) as Node).spec?.podCIDR);

    // node A's agent as if this namespace were its host: only routes and rules, Docker untouched
    const inNs = startPodNetwork({ informers: factory, docker, clusterId, nodeName: nodeA, nodeIp: slot.nodeIp(2), clusterCidr: slot.clusterCidr, log, resyncMs: 1000, run: netnsRunner(NETNS), manageBridge: false });
    networks.push(inNs);
    await inNs.ready();
    // B's address is loopback and A is itself: C is the one node to route to
    const route = (gw: string) => routesIn(NETNS).filter((r) => r.dst === podCidrC && r.gateway === gw).length === 1;
    await waitFor('route to C', () => (route('192.168.77.2') ? true : undefined));
    expect(routesIn(NETNS).map((r) => r.dst).sort()).toEqual(['10.251.3.0/24', podCidrC].sort());
    // the namespace had no Docker: DOCKER-USER was made and jumped from FORWARD
    expect(sh('ip', ['netns', 'exec', NETNS, 'iptables', '-w', '-S', 'FORWARD'])).toContain('-j DOCKER-USER');

    await setAddress(client, nodeC, '192.168.77.3');
    await waitFor('route to C moved', () => (route('192.168.77.3') ? true : undefined));
    expect(routesIn(NETNS)).toHaveLength(2);

    await client.delete(nodeInfo, undefined, nodeC);
    await waitFor('route to C removed', () => (routesIn(NETNS).some((r) => r.dst === podCidrC) ? undefined : true));
    expect(routesIn(NETNS).map((r) => r.dst)).toEqual(['10.251.3.0/24']);

    // teardown in the namespace: its chains and routes go (the other cluster's route stays)
    await inNs.stop();
    await client.create(nodeInfo, undefined, nodeObject(nodeC));
    await setAddress(client, nodeC, '192.168.77.2');
    sh('ip', ['-n', NETNS, 'route', 'replace', podCidrC, 'via', '192.168.77.2', 'proto', String(ROUTE_PROTO)]);
    await teardownNetwork({ docker: fakeDockerWithoutNetworks(), clusterId, run: netnsRunner(NETNS) });
    expect(routesIn(NETNS).map((r) => r.dst)).toEqual(['10.251.3.0/24']);
    expect(sh('ip', ['netns', 'exec', NETNS, 'iptables', '-w', '-S'])).not.toContain(chains.forward);
    expect(sh('ip', ['netns', 'exec', NETNS, 'iptables', '-w', '-t', 'nat', '-S'])).not.toContain(chains.postrouting);
    await client.delete(nodeInfo, undefined, nodeC);
  }, 60_000);

  it('teardownNetwork leaves no network, chain, rule, route or interface behind', async () => {
    for (const n of networks.splice(0)) await n.stop();
    // the proxy's ClusterIP interface, as it would exist on an agent's host
    // (a bridge without ports: this kernel may lack the dummy driver, and teardown deletes it whatever its type)
    sh('ip', ['link', 'add', serviceIf, 'type', 'bridge']);
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${clusterId}`] } })) await docker.getContainer(c.Id).remove({ force: true });
    await teardownNetwork({ docker, clusterId, log });

    expect(await docker.listNetworks({ filters: { label: [`kubeling.cluster=${clusterId}`] } })).toEqual([]);
    expect(sh('iptables', ['-w', '-S'])).not.toContain(chains.forward);
    expect(sh('iptables', ['-w', '-t', 'nat', '-S'])).not.toContain(chains.postrouting);
    expect(shOk('ip', ['link', 'show', serviceIf])).toBe(false);
    const prefix = slot.clusterCidr.split('.').slice(0, 2).join('.') + '.';
    expect(routesIn(undefined).filter((r) => r.dst.startsWith(prefix))).toEqual([]);
    // and again: nothing left to remove is no error
    await teardownNetwork({ docker, clusterId });
  }, 60_000);
});

/** fakeDockerWithoutNetworks is a Docker that has no networks: the namespace teardown must not touch the host's. */
function fakeDockerWithoutNetworks(): Dockerode {
  return { listNetworks: async () => [] } as unknown as Dockerode;
}
