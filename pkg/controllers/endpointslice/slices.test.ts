// slices.test: table tests of EndpointSlice planning — endpoint conditions, port grouping, packing and minimal writes.
import { describe, expect, it } from 'vitest';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { desiredGroups, newSlice, planSlices, podToEndpoint, sliceLabels } from './slices.ts';

function pod(name: string, ip: string | undefined, o: { ready?: boolean; web?: number; deleting?: boolean } = {}): Pod {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
    spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'x', ports: o.web ? [{ name: 'web', containerPort: o.web }] : [] }] },
    status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}
function svc(spec: Partial<Service['spec']> = {}): Service {
  return { metadata: { name: 'web', namespace: 'default', uid: 'svc-uid', labels: { team: 'x' } }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'web', protocol: 'TCP' }], ...spec } };
}
const ep = (name: string, ip: string, conditions = { ready: true, serving: true, terminating: false }): Endpoint => ({
  addresses: [ip],
  conditions,
  nodeName: 'node-a',
  targetRef: { kind: 'Pod', namespace: 'default', name, uid: `uid-${name}` },
});
const http = (port: number) => [{ name: 'http', port, protocol: 'TCP' }];
const existing = (name: string, ports: ReturnType<typeof http>, endpoints: Endpoint[], s: Service = svc()): EndpointSlice => ({
  ...newSlice(s, ports, endpoints),
  metadata: { ...newSlice(s, ports, endpoints).metadata, name, generateName: undefined, resourceVersion: '5', uid: `uid-${name}` },
});

describe('podToEndpoint', () => {
  const cases: [string, Pod, Service, Endpoint['conditions']][] = [
    ['ready', pod('a', '10.0.0.1'), svc(), { ready: true, serving: true, terminating: false }],
    ['not ready', pod('a', '10.0.0.1', { ready: false }), svc(), { ready: false, serving: false, terminating: false }],
    ['terminating but still serving', pod('a', '10.0.0.1', { deleting: true }), svc(), { ready: false, serving: true, terminating: true }],
    ['not ready, publishNotReadyAddresses', pod('a', '10.0.0.1', { ready: false }), svc({ publishNotReadyAddresses: true }), { ready: true, serving: false, terminating: false }],
  ];
  it.each(cases)('%s', (_n, p, s, want) => expect(podToEndpoint(p, s, '10.0.0.1').conditions).toEqual(want));
});

describe('desiredGroups', () => {
  it('groups by resolved ports, includes terminating pods, skips IP-less ones', () => {
    const groups = desiredGroups(svc(), [pod('b', '10.0.0.2', { web: 8080 }), pod('a', '10.0.0.1', { web: 8080, deleting: true }), pod('c', '10.0.0.3', { web: 9090 }), pod('d', undefined, { web: 8080 })]);
    expect(groups).toEqual([
      { ports: http(8080), endpoints: [ep('a', '10.0.0.1', { ready: false, serving: true, terminating: true }), ep('b', '10.0.0.2')] },
      { ports: http(9090), endpoints: [ep('c', '10.0.0.3')] },
    ]);
  });
});

describe('sliceLabels', () => {
  it('copies the service labels and adds the well-known ones', () => {
    expect(sliceLabels(svc({ clusterIP: 'None' }))).toEqual({
      team: 'x',
      'kubernetes.io/service-name': 'web',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      'service.kubernetes.io/headless': '',
    });
  });
});

describe('planSlices', () => {
  const names = (ss: EndpointSlice[]) => ss.map((s) => s.metadata?.name ?? s.metadata?.generateName);
  it('creates one slice owned by the service', () => {
    const plan = planSlices(svc(), [{ ports: http(8080), endpoints: [ep('a', '10.0.0.1')] }], []);
    expect(plan.update).toEqual([]);
    expect(plan.delete).toEqual([]);
    expect(plan.create).toHaveLength(1);
    expect(plan.create[0]).toMatchObject({
      addressType: 'IPv4',
      metadata: { generateName: 'web-', namespace: 'default', ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'svc-uid', controller: true, blockOwnerDeletion: true }] },
      ports: http(8080),
      endpoints: [ep('a', '10.0.0.1')],
    });
  });
  it('writes nothing when the slice is current', () => {
    const cur = existing('web-abcde', http(8080), [ep('a', '10.0.0.1')]);
    expect(planSlices(svc(), [{ ports: http(8080), endpoints: [ep('a', '10.0.0.1')] }], [cur])).toEqual({ create: [], update: [], delete: [] });
  });
  it('updates in place: a changed endpoint is refreshed, a gone one removed, a new one added', () => {
    const cur = existing('web-abcde', http(8080), [ep('a', '10.0.0.1'), ep('b', '10.0.0.2')]);
    const notReady = ep('a', '10.0.0.1', { ready: false, serving: false, terminating: false });
    const plan = planSlices(svc(), [{ ports: http(8080), endpoints: [notReady, ep('c', '10.0.0.3')] }], [cur]);
    expect(plan.create).toEqual([]);
    expect(plan.delete).toEqual([]);
    expect(names(plan.update)).toEqual(['web-abcde']);
    expect(plan.update[0].endpoints).toEqual([notReady, ep('c', '10.0.0.3')]);
  });
  it('packs at most max endpoints per slice', () => {
    const eps = Array.from({ length: 5 }, (_, i) => ep(`p${i}`, `10.0.0.${i + 1}`));
    const plan = planSlices(svc(), [{ ports: http(8080), endpoints: eps }], [], 2);
    expect(plan.create.map((s) => s.endpoints!.length)).toEqual([2, 2, 1]);
  });
  it('fills existing slices with room before creating', () => {
    const cur = existing('web-abcde', http(8080), [ep('p0', '10.0.0.1')]);
    const eps = Array.from({ length: 3 }, (_, i) => ep(`p${i}`, `10.0.0.${i + 1}`));
    const plan = planSlices(svc(), [{ ports: http(8080), endpoints: eps }], [cur], 2);
    expect(plan.update.map((s) => s.endpoints!.length)).toEqual([2]);
    expect(plan.create.map((s) => s.endpoints!.length)).toEqual([1]);
  });
  it('deletes slices of port sets no longer served, and emptied slices', () => {
    const old = existing('web-old', http(7070), [ep('z', '10.0.0.9')]);
    const cur = existing('web-abcde', http(8080), [ep('a', '10.0.0.1')]);
    const cur2 = existing('web-fghij', http(8080), [ep('b', '10.0.0.2')]);
    const plan = planSlices(svc(), [{ ports: http(8080), endpoints: [ep('a', '10.0.0.1')] }], [old, cur, cur2]);
    expect(names(plan.delete).sort()).toEqual(['web-fghij', 'web-old']);
    expect(plan.update).toEqual([]);
  });
  it('a service without endpoints keeps one empty placeholder slice', () => {
    const plan = planSlices(svc(), [], []);
    expect(plan.create).toHaveLength(1);
    expect(plan.create[0].endpoints).toEqual([]);
    expect(plan.create[0].ports).toBeUndefined();
    const cur = existing('web-abcde', http(8080), [ep('a', '10.0.0.1')]);
    const cur2 = existing('web-fghij', http(8080), [ep('b', '10.0.0.2')]);
    const emptied = planSlices(svc(), [], [cur, cur2]);
    expect(emptied.create).toEqual([]);
    expect(names(emptied.update)).toEqual(['web-abcde']);
    expect(emptied.update[0].endpoints).toEqual([]);
    expect(names(emptied.delete)).toEqual(['web-fghij']);
    const placeholder: EndpointSlice = { ...existing('web-abcde', http(8080), []), ports: undefined };
    expect(planSlices(svc(), [], [placeholder])).toEqual({ create: [], update: [], delete: [] });
  });
  it('updates labels that drifted', () => {
    const cur = existing('web-abcde', http(8080), [ep('a', '10.0.0.1')]);
    const s = svc();
    s.metadata!.labels = { team: 'y' };
    const plan = planSlices(s, [{ ports: http(8080), endpoints: [ep('a', '10.0.0.1')] }], [cur]);
    expect(plan.update[0].metadata?.labels?.team).toBe('y');
  });
});
