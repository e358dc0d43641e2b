// network.test: two worker hosts and a server — pods on both hosts reach each other by pod IP, a NodePort answers on
// every host's address (also one that runs none of its pods), and deleting a Node removes its route on the others.
import type { Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import { HTTPD_BODY } from '../helpers/images.ts';
import { httpGet, startHosts, type E2eCluster } from './hosts.ts';

const podInfo = lookupKind('v1', 'Pod')!;
const nodeInfo = lookupKind('v1', 'Node')!;

/** WEB_ON marks the one web pod the NodePort service selects (it runs on host-1 only). */
const SELECTED = { app: 'web', exposed: 'yes' };

function pod(name: string, node: string, image: string, labels: Record<string, string>, command?: string[]): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image, imagePullPolicy: 'Never', ...(command ? { command } : {}) }],
    },
  };
}

/** ipInCidr tells whether an IPv4 address lies in a CIDR. */
function ipInCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const n = (a: string) => a.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (n(ip) & mask) === (n(base!) & mask);
}

describe('e2e: the pod network and NodePort across two hosts', () => {
  let c: E2eCluster;
  const started = Date.now();

  beforeAll(async () => {
    c = await startHosts({ hosts: 2 });
    console.log(`e2e network: cluster up in ${Date.now() - started} ms (run ${c.runId}, bridge ${c.bridge} ${c.bridgeIp})`);
    const pods = [
      pod('web-1', 'host-1', c.images.httpd, SELECTED),
      pod('web-2', 'host-2', c.images.httpd, { app: 'web' }),
      pod('client-1', 'host-1', c.images.busybox, { app: 'client' }, ['sleep', '3600']),
      pod('client-2', 'host-2', c.images.busybox, { app: 'client' }, ['sleep', '3600']),
    ];
    const r = c.kubectlInput(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }), 'apply', '-f', '-');
    expect(r.stderr).toBe('');
  });

  afterAll(async () => {
    await c?.teardown();
  });

  const running = async (name: string): Promise<Pod | undefined> => {
    const p = (await c.admin.getOrUndefined(podInfo, 'default', name)) as Pod | undefined;
    return p?.status?.phase === 'Running' && p.status.podIP ? p : undefined;
  };
  const node = async (name: string) => (await c.admin.get(nodeInfo, undefined, name)) as Node;

  it('brings up both hosts as Ready nodes at their own addresses, each running its pods in its own dockerd', async () => {
    for (const h of c.hosts) {
      const n = await node(h.name);
      expect(n.status?.addresses).toContainEqual({ type: 'InternalIP', address: h.ip });
      expect(n.spec?.podCIDR, `${h.name} has a pod subnet`).toBeTruthy();
    }
    for (const [name, host] of [['web-1', 'host-1'], ['web-2', 'host-2'], ['client-1', 'host-1'], ['client-2', 'host-2']] as const) {
      await c.waitFor(`pod ${name} Running`, () => running(name), 60_000);
      const mine = await c.host(host).docker.listContainers({});
      expect(mine.some((x) => x.podName === name), `${name}'s containers are in ${host}'s dockerd`).toBe(true);
    }
  });

  it('gives pods addresses from their node\'s pod subnet, and they reach each other across hosts by pod IP', async () => {
    const ips: Record<string, string> = {};
    for (const name of ['web-1', 'web-2', 'client-1', 'client-2']) {
      const p = (await c.waitFor(`pod ${name} Running`, () => running(name), 60_000))!;
      const cidr = (await node(p.spec!.nodeName!)).spec!.podCIDR!;
      expect(ipInCidr(p.status!.podIP!, cidr), `${name} ${p.status!.podIP} in ${cidr}`).toBe(true);
      expect(ipInCidr(p.status!.podIP!, c.clusterCidr)).toBe(true);
      ips[name] = p.status!.podIP!;
    }
    for (const [from, to] of [['client-1', 'web-2'], ['client-2', 'web-1'], ['client-1', 'web-1']] as const) {
      const out = await c.waitFor(`${from} reaches ${to} at ${ips[to]}`, () => {
        // busybox wget's -T crashes the static busybox: bound it with timeout instead
        const r = c.kubectl('exec', from, '--', 'timeout', '5', 'wget', '-q', '-O', '-', `http://${ips[to]}/`);
        return r.code === 0 ? r.stdout : undefined;
      }, 20_000);
      expect(out).toBe(HTTPD_BODY);
    }
  });

  it('answers a NodePort service on every host\'s address from the root namespace, also on the host without its pod', async () => {
    const svc: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { type: 'NodePort', selector: SELECTED, ports: [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }] },
    };
    const r = c.kubectlInput(JSON.stringify(svc), 'apply', '-f', '-');
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(c.kubectl('get', 'service', 'web', '-o', 'json').stdout) as Service;
    const nodePort = got.spec!.ports![0]!.nodePort!;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    await c.waitFor('web-1 Running', () => running('web-1'), 60_000);
    for (const h of c.hosts) {
      const res = await c.waitFor(`NodePort ${h.ip}:${nodePort}`, async () => {
        const x = await httpGet(`http://${h.ip}:${nodePort}/`, 3000);
        return x.status === 200 ? x : undefined;
      }, 20_000);
      expect(res.body, `${h.name} (${h.ip})`).toBe(HTTPD_BODY);
    }
  });

  it('removes a deleted Node\'s pod-subnet route from the other host', async () => {
    const gone = c.host('host-2');
    const cidr = (await node(gone.name)).spec!.podCIDR!;
    const routeTo = () => c.routes('host-1').split('\n').find((l) => l.startsWith(`${cidr} `));
    const before = await c.waitFor(`host-1's route to ${cidr}`, () => routeTo(), 20_000);
    expect(before).toContain(`via ${gone.ip}`);
    // a dead host cannot register its Node again
    await c.killHost(gone.name);
    const r = c.kubectl('delete', 'node', gone.name);
    expect(r.code, r.stderr).toBe(0);
    await c.waitFor(`host-1's route to ${cidr} removed`, () => !routeTo(), 20_000);
    expect(c.routes('host-1')).not.toContain(`via ${gone.ip}`);
  });
});
