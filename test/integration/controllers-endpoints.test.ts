// controllers-endpoints: the Endpoints and EndpointSlice controllers against two real agents and the real kubectl —
// named target ports resolved per pod, not-ready pods apart, publishNotReadyAddresses, removal, slices, cleanup.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointSubset } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject } from '../../pkg/api/types.ts';
import { isReady, startTwoNodeCluster, type NodeName, type TwoNodeCluster } from '../helpers/cluster.ts';
import { TEST_IMAGES } from '../helpers/images.ts';

const EP = lookupKind('v1', 'Endpoints')!;
const SLICE = lookupKind('discovery.k8s.io/v1', 'EndpointSlice');

/** webPod serves httpd on :80; its container port named `web` says `port` (pods may disagree on the number). */
function webPod(name: string, node: NodeName, o: { port?: number; ready?: boolean } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'web' } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'httpd',
          image: TEST_IMAGES.httpd,
          imagePullPolicy: 'Never',
          ports: [{ name: 'web', containerPort: o.port ?? 80 }],
          ...(o.ready === false ? { readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 } } : {}),
        },
      ],
    },
  };
}

function service(name: string, extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, labels: { tier: 'front' } }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'web' }], ...extra } };
}

const ipsOf = (subsets: EndpointSubset[] | undefined, field: 'addresses' | 'notReadyAddresses') =>
  (subsets ?? []).flatMap((s) => (s[field] ?? []).map((a) => `${a.ip}:${(s.ports ?? []).map((p) => p.port).join('/')}`)).sort();

describe('Endpoints and EndpointSlice controllers', () => {
  let c: TwoNodeCluster;
  const ip: Record<string, string> = {};

  beforeAll(async () => {
    c = await startTwoNodeCluster();
  }, 120_000);

  afterAll(async () => {
    await c?.cleanup();
  }, 60_000);

  const apply = (obj: KubeObject) => {
    const r = c.kubectlInput(JSON.stringify(obj), 'apply', '-f', '-');
    expect(r.stderr).toBe('');
  };
  const endpoints = async (name: string) => (await c.admin.getOrUndefined(EP, 'default', name))?.subsets as EndpointSubset[] | undefined;
  /** ipNow reads a pod's current IP (tests on the same dockerd may disturb containers, and a new sandbox brings a new IP). */
  const ipNow = async (name: string) => ((await c.pods()).find((x) => x.metadata.name === name)?.status?.podIP as string | undefined) ?? '?';
  /** settle waits until the endpoints' `field` lists exactly the pods `want` ([pod name, port]) at their current IPs. */
  const settle = (name: string, field: 'addresses' | 'notReadyAddresses', want: [string, number][]) =>
    c.waitFor(`endpoints ${name} ${field} = ${want.map(([p, n]) => `${p}:${n}`).join(',')}`, async () => {
      const expected = (await Promise.all(want.map(async ([p, n]) => `${await ipNow(p)}:${n}`))).sort();
      const s = await endpoints(name);
      return JSON.stringify(ipsOf(s, field)) === JSON.stringify(expected) ? (s ?? []) : undefined;
    }, 30_000);
  const podIP = (name: string) =>
    c.waitFor(`pod ${name} running with an IP`, async () => {
      const p = (await c.pods()).find((x) => x.metadata.name === name);
      return p?.status?.phase === 'Running' && p.status.podIP ? (p.status.podIP as string) : undefined;
    }, 45_000);

  it('lists two ready pods on both nodes at their named target port', async () => {
    apply(service('web'));
    apply(webPod('web-a', 'node-a'));
    apply(webPod('web-b', 'node-b'));
    ip.a = await podIP('web-a');
    ip.b = await podIP('web-b');
    await c.waitFor('pods ready', async () => (await c.pods('default', 'app=web')).filter(isReady).length === 2);
    const subsets = await settle('web', 'addresses', [['web-a', 80], ['web-b', 80]]);
    expect(subsets).toHaveLength(1);
    ip.a = await ipNow('web-a');
    ip.b = await ipNow('web-b');
    expect(subsets[0].ports).toEqual([{ name: 'http', port: 80, protocol: 'TCP' }]);
    const a = subsets[0].addresses!.find((x) => x.ip === ip.a)!;
    expect(a.nodeName).toBe('node-a');
    expect(a.targetRef).toMatchObject({ kind: 'Pod', namespace: 'default', name: 'web-a' });

    const ep = await c.admin.get(EP, 'default', 'web');
    expect(ep.metadata.labels).toEqual({ tier: 'front' });
    // written only on change: nothing rewrites settled Endpoints
    await new Promise((r) => setTimeout(r, 2000));
    expect((await c.admin.get(EP, 'default', 'web')).metadata.resourceVersion).toBe(ep.metadata.resourceVersion);
    const table = c.kubectl('get', 'endpoints', 'web');
    expect(table.stdout).toMatch(/^NAME\s+ENDPOINTS\s+AGE\n/);
    expect(table.stdout).toContain(`${ip.a}:80`);
    expect(table.stdout).toContain(`${ip.b}:80`);
  }, 120_000);

  it('a pod whose named port has another number gets its own subset', async () => {
    apply(webPod('web-d', 'node-a', { port: 8080 }));
    ip.d = await podIP('web-d');
    const subsets = await settle('web', 'addresses', [['web-a', 80], ['web-b', 80], ['web-d', 8080]]);
    expect(subsets).toHaveLength(2);
    expect(c.kubectl('delete', 'pod', 'web-d', '--wait=false').stderr).toBe('');
    await settle('web', 'addresses', [['web-a', 80], ['web-b', 80]]);
  }, 90_000);

  it('a pod failing readiness is in notReadyAddresses; publishNotReadyAddresses keeps it in addresses', async () => {
    apply(webPod('web-c', 'node-b', { ready: false }));
    ip.c = await podIP('web-c');
    await settle('web', 'notReadyAddresses', [['web-c', 80]]);
    await settle('web', 'addresses', [['web-a', 80], ['web-b', 80]]);

    apply(service('web-all', { publishNotReadyAddresses: true }));
    const all = await settle('web-all', 'addresses', [['web-a', 80], ['web-b', 80], ['web-c', 80]]);
    expect(ipsOf(all, 'notReadyAddresses')).toEqual([]);
  }, 90_000);

  it('a deleted pod leaves the endpoints', async () => {
    expect(c.kubectl('delete', 'pod', 'web-a').stderr).toBe('');
    const subsets = await settle('web', 'addresses', [['web-b', 80]]);
    expect(JSON.stringify(subsets)).not.toContain('"web-a"');
  }, 60_000);

  it.skipIf(!SLICE)('kubectl get endpointslices shows the service slice, owned by the service', async () => {
    const slice = await c.waitFor('slice of web with the ready and not-ready pods', async () => {
      ip.b = await ipNow('web-b');
      ip.c = await ipNow('web-c');
      const items = (await c.admin.list(SLICE!, 'default', { labelSelector: 'kubernetes.io/service-name=web' })).items as unknown as EndpointSlice[];
      const addrs = (items[0]?.endpoints ?? []).map((e) => e.addresses[0]).sort();
      return items.length === 1 && JSON.stringify(addrs) === JSON.stringify([ip.b, ip.c].sort()) ? items[0] : undefined;
    }, 30_000);
    const svc = await c.admin.get(lookupKind('v1', 'Service')!, 'default', 'web');
    expect(slice.metadata?.name).toMatch(/^web-[a-z0-9]{5}$/);
    expect(slice.metadata?.labels).toMatchObject({ 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io', 'kubernetes.io/service-name': 'web', tier: 'front' });
    expect(slice.metadata?.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(slice.addressType).toBe('IPv4');
    expect(slice.ports).toEqual([{ name: 'http', port: 80, protocol: 'TCP' }]);
    const byIp = new Map((slice.endpoints ?? []).map((e) => [e.addresses[0], e]));
    expect(byIp.get(ip.b)).toMatchObject({ conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-b', targetRef: { kind: 'Pod', name: 'web-b' } });
    expect(byIp.get(ip.c)?.conditions).toEqual({ ready: false, serving: false, terminating: false });

    await new Promise((r) => setTimeout(r, 2000));
    const again = await c.admin.get(SLICE!, 'default', slice.metadata!.name!);
    expect(again.metadata.resourceVersion).toBe(slice.metadata?.resourceVersion);

    const table = c.kubectl('get', 'endpointslices');
    expect(table.stderr).toBe('');
    expect(table.stdout).toMatch(/^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE\n/);
    expect(table.stdout).toMatch(new RegExp(`\\n${slice.metadata!.name}\\s+IPv4\\s+80\\s+\\S*${ip.b.replace(/\./g, '\\.')}`));
  }, 60_000);

  it('deleting the service removes its Endpoints and (through the garbage collector) its slices', async () => {
    expect(c.kubectl('delete', 'service', 'web', 'web-all').stderr).toBe('');
    await c.waitFor('endpoints gone', async () => !(await c.admin.getOrUndefined(EP, 'default', 'web')) && !(await c.admin.getOrUndefined(EP, 'default', 'web-all')), 30_000);
    if (SLICE) {
      await c.waitFor('slices gone', async () => (await c.admin.list(SLICE, 'default', { labelSelector: 'kubernetes.io/service-name in (web,web-all)' })).items.length === 0, 30_000);
    }
    // the API server's own Endpoints are never touched
    expect(await c.admin.getOrUndefined(EP, 'default', 'kubernetes')).toBeDefined();
    expect(c.kubectl('delete', 'pod', '-l', 'app=web', '--wait=false').stderr).toBe('');
  }, 60_000);
});
