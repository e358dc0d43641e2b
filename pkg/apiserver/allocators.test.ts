// allocators.test: ClusterIP/NodePort claims live in the store, so two registries sharing one store never hand out a
// value twice; deletes free claims; start() claims what older services hold and frees claims no service holds.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { openTempStore, type TempStore } from '../store/testing.ts';
import type { Store } from '../store/types.ts';
import { silentLogger } from '../util/log.ts';
import { IP_CLAIMS, PORT_CLAIMS, dropTypeDependentFields, nthAddress, parseCidr, parsePortRange } from './allocators.ts';
import { Registry } from './registry.ts';

const SVC = lookupKind('v1', 'Service')!;
let tmp: TempStore;
let store: Store;
const registries: Registry[] = [];

async function registry(): Promise<Registry> {
  const r = new Registry(store, silentLogger());
  await r.start();
  registries.push(r);
  return r;
}

const svc = (name: string, spec: Record<string, unknown> = {}): KubeObject => ({ metadata: { name }, spec: { type: 'NodePort', ports: [{ port: 80 }], ...spec } });

async function claims(key: string): Promise<string[]> {
  return (await store.list(key)).items.map((s) => JSON.parse(s).metadata.name as string).sort();
}

beforeEach(() => {
  tmp = openTempStore('alloc', { compactEveryWrites: 0 });
  store = tmp.store;
});

afterEach(async () => {
  for (const r of registries.splice(0)) r.stop();
  await tmp.close();
});

describe('ServiceAllocator in the store', () => {
  it('two registries on one store allocate concurrently without duplicates', async () => {
    const [a, b] = [await registry(), await registry()];
    const made = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).create(SVC, 'default', svc(`s${i}`), {})));
    const ips = made.map((s) => s.spec.clusterIP);
    const ports = made.map((s) => s.spec.ports[0].nodePort);
    expect(new Set(ips).size).toBe(60);
    expect(new Set(ports).size).toBe(60);
    expect(await claims(IP_CLAIMS)).toEqual([...ips].sort());
    expect(await claims(PORT_CLAIMS)).toEqual(ports.map(String).sort());
  });

  it('one of two racing requests for the same explicit port and IP wins; the other is Invalid', async () => {
    const [a, b] = [await registry(), await registry()];
    const spec = { clusterIP: '10.43.7.7', ports: [{ port: 80, nodePort: 31000 }] };
    const results = await Promise.allSettled([a.create(SVC, 'default', svc('x', spec), {}), b.create(SVC, 'default', svc('y', spec), {})]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toBeInstanceOf(ApiError);
    expect((lost[0].reason as ApiError).code).toBe(422);
    expect((lost[0].reason as ApiError).message).toMatch(/already allocated/);
    // the loser left no claim behind
    expect(await claims(IP_CLAIMS)).toEqual(['10.43.7.7']);
    expect(await claims(PORT_CLAIMS)).toEqual(['31000']);
  });

  it('a delete or a change frees claims; the other registry can reuse them', async () => {
    const [a, b] = [await registry(), await registry()];
    const s = await a.create(SVC, 'default', svc('web', { ports: [{ port: 80, name: 'a', nodePort: 31001 }, { port: 81, name: 'b', nodePort: 31002 }] }), {});
    await a.patch(SVC, 'default', 'web', 'merge', { spec: { type: 'ClusterIP', externalTrafficPolicy: null, ports: [{ port: 80, name: 'a' }, { port: 81, name: 'b' }] } }, {});
    expect(await claims(PORT_CLAIMS)).toEqual([]);
    await b.create(SVC, 'default', svc('other', { ports: [{ port: 80, nodePort: 31001 }] }), {});
    await a.delete(SVC, 'default', 'web', {});
    expect(await claims(IP_CLAIMS)).not.toContain(s.spec.clusterIP);
    const again = await b.create(SVC, 'default', svc('again', { clusterIP: s.spec.clusterIP }), {});
    expect(again.spec.clusterIP).toBe(s.spec.clusterIP);
  });

  it('dry runs claim nothing; headless and ExternalName services hold no IP', async () => {
    const a = await registry();
    const dry = await a.create(SVC, 'default', svc('dry', { ports: [{ port: 80, nodePort: 31005 }] }), { dryRun: true });
    expect(dry.spec.clusterIP).toMatch(/^10\.43\./);
    expect(await claims(PORT_CLAIMS)).toEqual([]);
    expect(await claims(IP_CLAIMS)).toEqual([]);
    await a.create(SVC, 'default', svc('headless', { type: 'ClusterIP', clusterIP: 'None' }), {});
    await a.create(SVC, 'default', { metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.com' } }, {});
    expect(await claims(IP_CLAIMS)).toEqual([]);
  });

  it('start claims what stored services hold and frees old claims that no service holds', async () => {
    await store.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'legacy', namespace: 'default', uid: 'u1' }, spec: { type: 'NodePort', clusterIP: '10.43.0.50', ports: [{ port: 80, nodePort: 30050 }] } });
    await store.create(IP_CLAIMS, { metadata: { name: '10.43.0.99', creationTimestamp: new Date(Date.now() - 3_600_000).toISOString() }, service: { namespace: 'default', name: 'gone', uid: 'u0' } });
    await store.create(IP_CLAIMS, { metadata: { name: '10.43.0.98', creationTimestamp: new Date().toISOString() }, service: { namespace: 'default', name: 'coming', uid: 'u2' } });
    const a = await registry();
    expect(await claims(IP_CLAIMS)).toEqual(['10.43.0.50', '10.43.0.98']);
    expect(await claims(PORT_CLAIMS)).toEqual(['30050']);
    await expect(a.create(SVC, 'default', svc('dup', { clusterIP: '10.43.0.50' }), {})).rejects.toThrow(/provided IP is already allocated/);
  });
});

describe('ranges', () => {
  it.each([
    ['30000-32767', { min: 30000, max: 32767 }],
    ['30000+10', { min: 30000, max: 30010 }],
    [' 31000 ', { min: 31000, max: 31000 }],
  ])('parsePortRange(%s)', (r, want) => expect(parsePortRange(r)).toEqual(want));
  it.each(['', '3-2', '0-10', '1-70000', 'a-b'])('parsePortRange(%j) throws', (r) => expect(() => parsePortRange(r)).toThrow(/invalid port range/));
  it.each([
    ['10.43.0.0/16', 10, '10.43.0.10'],
    ['10.96.0.0/12', 1, '10.96.0.1'],
    ['10.50.7.0/24', 10, '10.50.7.10'],
  ])('nthAddress(%s, %d)', (c, n, want) => expect(nthAddress(c, n)).toBe(want));
  it('parseCidr rejects garbage', () => expect(() => parseCidr('10.43.0.0')).toThrow(/invalid CIDR/));
  it('a service CIDR and port range from the flags bound what is handed out', async () => {
    const r = new Registry(store, silentLogger(), { serviceCidr: '10.50.7.0/24', serviceNodePortRange: '31000-31001' });
    await r.start();
    registries.push(r);
    const SVC2 = lookupKind('v1', 'Service')!;
    const a = await r.create(SVC2, 'default', svc('a'), {});
    expect((a.spec as { clusterIP: string }).clusterIP).toMatch(/^10\.50\.7\./);
    expect((a.spec as { clusterIP: string }).clusterIP).not.toBe('10.50.7.10');
    expect((a.spec as { ports: { nodePort: number }[] }).ports[0].nodePort).toBe(31000);
    await expect(r.create(SVC2, 'default', svc('b', { ports: [{ port: 80, nodePort: 30000 }] }), {})).rejects.toThrow(/The range of valid ports is 31000-31001/);
  });
});

describe('dropTypeDependentFields', () => {
  const lb = (): KubeObject => ({
    metadata: { name: 's' },
    spec: { type: 'LoadBalancer', clusterIP: '10.43.0.20', clusterIPs: ['10.43.0.20'], externalTrafficPolicy: 'Cluster', allocateLoadBalancerNodePorts: true, ports: [{ port: 80, nodePort: 30001 }] },
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } },
  });
  const cases: [string, (n: KubeObject) => void, (n: KubeObject) => void][] = [
    [
      'to ClusterIP: node ports, policy, allocate flag and LB status go, the ClusterIP stays',
      (n) => (n.spec.type = 'ClusterIP'),
      (n) => {
        expect(n.spec).toEqual({ type: 'ClusterIP', clusterIP: '10.43.0.20', clusterIPs: ['10.43.0.20'], ports: [{ port: 80 }] });
        expect(n.status).toEqual({ loadBalancer: {} });
      },
    ],
    [
      'to ClusterIP with a node port changed by the client: kept (validation refuses it)',
      (n) => ((n.spec.type = 'ClusterIP'), (n.spec.ports[0].nodePort = 30002)),
      (n) => expect(n.spec.ports[0].nodePort).toBe(30002),
    ],
    ['to NodePort: node ports kept, LB status cleared', (n) => (n.spec.type = 'NodePort'), (n) => (expect(n.spec.ports[0].nodePort).toBe(30001), expect(n.status.loadBalancer).toEqual({}))],
    ['to ExternalName: the ClusterIP goes', (n) => ((n.spec.type = 'ExternalName'), (n.spec.externalName = 'example.com')), (n) => expect(n.spec.clusterIP).toBeUndefined()],
    ['staying a LoadBalancer: untouched', () => undefined, (n) => expect(n).toEqual(lb())],
  ];
  it.each(cases)('%s', (_n, change, check) => {
    const next = lb();
    change(next);
    dropTypeDependentFields(next, lb());
    check(next);
  });
});

describe('ensureClusterConfig', () => {
  const config = { clusterCIDR: '10.42.0.0/16', serviceCIDR: '10.43.0.0/16', clusterDNS: '10.43.0.10', clusterDomain: 'cluster.local', serviceNodePortRange: '30000-32767' };
  it('two servers on one store make one kube-dns at the DNS address, claimed; a restart with new values updates both', async () => {
    const [a, b] = [await registry(), await registry()];
    await Promise.all([a.ensureClusterConfig(config), b.ensureClusterConfig(config)]);
    const dns = await store.get('services', 'kube-system', 'kube-dns');
    expect(dns?.spec.clusterIP).toBe('10.43.0.10');
    expect(await claims(IP_CLAIMS)).toEqual(['10.43.0.10']);
    expect((await store.get('configmaps', 'kube-system', 'kubeling-config'))?.data).toEqual(config);
    // nobody else gets the address
    await expect(a.create(SVC, 'default', svc('x', { type: 'ClusterIP', clusterIP: '10.43.0.10' }), {})).rejects.toThrow(/provided IP is already allocated/);
    await a.ensureClusterConfig({ ...config, clusterDNS: '10.43.0.53', clusterDomain: 'example.test' });
    expect((await store.get('services', 'kube-system', 'kube-dns'))?.spec.clusterIP).toBe('10.43.0.53');
    expect((await store.get('configmaps', 'kube-system', 'kubeling-config'))?.data.clusterDomain).toBe('example.test');
    expect(await claims(IP_CLAIMS)).toEqual(['10.43.0.53']);
  });
});
