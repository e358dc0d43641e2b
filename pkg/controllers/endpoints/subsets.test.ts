// subsets.test: table tests of the Endpoints arithmetic — pod selection, port resolution, repacking, write planning.
import { describe, expect, it } from 'vitest';
import type { Endpoints, EndpointSubset, Pod, Service } from 'kubernetes-types/core/v1.js';
import { computeSubsets, findPort, planEndpoints, repackSubsets, shouldPodBeInEndpoints } from './subsets.ts';

interface PodOpts {
  ip?: string;
  ready?: boolean;
  web?: number;
  node?: string;
  deleting?: boolean;
  phase?: string;
  hostname?: string;
  subdomain?: string;
}
function pod(name: string, o: PodOpts = {}): Pod {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
    spec: {
      nodeName: o.node ?? 'node-a',
      hostname: o.hostname,
      subdomain: o.subdomain,
      containers: [{ name: 'c', image: 'x', ports: o.web ? [{ name: 'web', containerPort: o.web, protocol: 'TCP' }] : [] }],
    },
    status: {
      phase: o.phase ?? 'Running',
      podIP: o.ip,
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}
function svc(spec: Partial<Service['spec']> = {}, meta: Partial<Service['metadata']> = {}): Service {
  return { metadata: { name: 'web', namespace: 'default', uid: 'svc-uid', ...meta }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'web', protocol: 'TCP' }], ...spec } };
}
const addr = (name: string, ip: string, node = 'node-a') => ({ ip, nodeName: node, targetRef: { kind: 'Pod', namespace: 'default', name, uid: `uid-${name}` } });

describe('shouldPodBeInEndpoints', () => {
  const cases: [string, Pod, boolean, boolean][] = [
    ['running with an IP', pod('a', { ip: '10.0.0.1' }), false, true],
    ['no IP yet', pod('a'), false, false],
    ['terminating', pod('a', { ip: '10.0.0.1', deleting: true }), false, false],
    ['terminating, terminating included', pod('a', { ip: '10.0.0.1', deleting: true }), true, true],
    ['succeeded', pod('a', { ip: '10.0.0.1', phase: 'Succeeded' }), true, false],
    ['failed', pod('a', { ip: '10.0.0.1', phase: 'Failed' }), true, false],
  ];
  it.each(cases)('%s', (_n, p, incl, want) => expect(shouldPodBeInEndpoints(p, incl)).toBe(want));
});

describe('findPort', () => {
  const cases: [string, Pod, NonNullable<Service['spec']>['ports'], number | undefined][] = [
    ['number', pod('a'), [{ port: 80, targetPort: 8080 }], 8080],
    ['defaults to the service port', pod('a'), [{ port: 80 }], 80],
    ['named', pod('a', { web: 9000 }), [{ port: 80, targetPort: 'web' }], 9000],
    ['named, absent', pod('a'), [{ port: 80, targetPort: 'web' }], undefined],
    ['named, other protocol', pod('a', { web: 9000 }), [{ port: 80, targetPort: 'web', protocol: 'UDP' }], undefined],
  ];
  it.each(cases)('%s', (_n, p, ports, want) => expect(findPort(p, ports![0])).toBe(want));
});

describe('computeSubsets', () => {
  const http = (port: number) => [{ name: 'http', port, protocol: 'TCP' }];
  const cases: [string, Service, Pod[], EndpointSubset[]][] = [
    ['no pods', svc(), [], []],
    [
      'two ready pods on a named port',
      svc(),
      [pod('b', { ip: '10.0.0.2', web: 8080, node: 'node-b' }), pod('a', { ip: '10.0.0.1', web: 8080 })],
      [{ addresses: [addr('a', '10.0.0.1'), addr('b', '10.0.0.2', 'node-b')], ports: http(8080) }],
    ],
    [
      'a not-ready pod goes to notReadyAddresses',
      svc(),
      [pod('a', { ip: '10.0.0.1', web: 8080 }), pod('b', { ip: '10.0.0.2', web: 8080, ready: false })],
      [{ addresses: [addr('a', '10.0.0.1')], notReadyAddresses: [addr('b', '10.0.0.2')], ports: http(8080) }],
    ],
    [
      'publishNotReadyAddresses keeps it (and terminating pods) in addresses',
      svc({ publishNotReadyAddresses: true }),
      [pod('a', { ip: '10.0.0.1', web: 8080 }), pod('b', { ip: '10.0.0.2', web: 8080, ready: false }), pod('c', { ip: '10.0.0.3', web: 8080, deleting: true })],
      [{ addresses: [addr('a', '10.0.0.1'), addr('b', '10.0.0.2'), addr('c', '10.0.0.3')], ports: http(8080) }],
    ],
    [
      'terminating and IP-less pods are left out',
      svc(),
      [pod('a', { ip: '10.0.0.1', web: 8080 }), pod('b', { web: 8080 }), pod('c', { ip: '10.0.0.3', web: 8080, deleting: true })],
      [{ addresses: [addr('a', '10.0.0.1')], ports: http(8080) }],
    ],
    [
      'pods with different numbers for the name give separate subsets',
      svc(),
      [pod('a', { ip: '10.0.0.1', web: 8080 }), pod('b', { ip: '10.0.0.2', web: 9090 }), pod('c', { ip: '10.0.0.3' })],
      [
        { addresses: [addr('a', '10.0.0.1')], ports: http(8080) },
        { addresses: [addr('b', '10.0.0.2')], ports: http(9090) },
      ],
    ],
    [
      'two service ports over the same pods share a subset',
      svc({ ports: [{ name: 'metrics', port: 9100, targetPort: 9100, protocol: 'TCP' }, { name: 'http', port: 80, targetPort: 'web', protocol: 'TCP' }] }),
      [pod('a', { ip: '10.0.0.1', web: 8080 })],
      [{ addresses: [addr('a', '10.0.0.1')], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'metrics', port: 9100, protocol: 'TCP' }] }],
    ],
    [
      'headless without ports: bare addresses, hostname when the subdomain names the service',
      svc({ clusterIP: 'None', ports: undefined }),
      [pod('a', { ip: '10.0.0.1', hostname: 'a-host', subdomain: 'web' }), pod('b', { ip: '10.0.0.2', hostname: 'b-host', subdomain: 'other' })],
      [{ addresses: [{ ...addr('a', '10.0.0.1'), hostname: 'a-host' }, addr('b', '10.0.0.2')] }],
    ],
    ['a ClusterIP service without ports has no endpoints', svc({ ports: undefined }), [pod('a', { ip: '10.0.0.1' })], []],
  ];
  it.each(cases)('%s', (_n, s, pods, want) => expect(computeSubsets(s, pods)).toEqual(want));
});

describe('repackSubsets', () => {
  it('an address both ready and not ready for a port counts as ready', () => {
    const a = { ip: '10.0.0.1' };
    expect(repackSubsets([{ notReadyAddresses: [a], ports: [{ port: 1 }] }, { addresses: [a], ports: [{ port: 1 }] }])).toEqual([{ addresses: [a], ports: [{ port: 1 }] }]);
  });
  it('groups ports by identical address sets', () => {
    const a = { ip: '10.0.0.1' };
    const b = { ip: '10.0.0.2' };
    const out = repackSubsets([
      { addresses: [a], ports: [{ port: 1, protocol: 'TCP' }] },
      { addresses: [b], ports: [{ port: 1, protocol: 'TCP' }] },
      { addresses: [a], ports: [{ port: 2, protocol: 'TCP' }] },
    ]);
    expect(out).toEqual([
      { addresses: [a, b], ports: [{ port: 1, protocol: 'TCP' }] },
      { addresses: [a], ports: [{ port: 2, protocol: 'TCP' }] },
    ]);
  });
});

describe('planEndpoints', () => {
  const pods = [pod('a', { ip: '10.0.0.1', web: 8080 })];
  it('creates Endpoints named after the service with its labels', () => {
    const plan = planEndpoints(svc({}, { labels: { team: 'x' } }), pods, undefined);
    expect(plan).toEqual({
      action: 'create',
      endpoints: { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web', namespace: 'default', labels: { team: 'x' } }, subsets: computeSubsets(svc(), pods) },
    });
  });
  it('writes nothing when nothing changed (targetRef resourceVersion ignored)', () => {
    const subsets = computeSubsets(svc(), pods);
    subsets[0].addresses![0].targetRef!.resourceVersion = '42';
    const current: Endpoints = { metadata: { name: 'web', namespace: 'default', resourceVersion: '7' }, subsets };
    expect(planEndpoints(svc(), pods, current)).toEqual({ action: 'none' });
  });
  it('updates a copy of the current object on change, headless label included', () => {
    const current: Endpoints = { metadata: { name: 'web', namespace: 'default', resourceVersion: '7', annotations: { keep: 'me' } } };
    const plan = planEndpoints(svc({ clusterIP: 'None' }), pods, current);
    expect(plan.action).toBe('update');
    if (plan.action !== 'update') return;
    expect(plan.endpoints.metadata).toEqual({ name: 'web', namespace: 'default', resourceVersion: '7', annotations: { keep: 'me' }, labels: { 'service.kubernetes.io/headless': '' } });
    expect(plan.endpoints.subsets).toHaveLength(1);
  });
  it('empties the subsets when the last pod goes', () => {
    const current: Endpoints = { metadata: { name: 'web', namespace: 'default', resourceVersion: '7' }, subsets: computeSubsets(svc(), pods) };
    const plan = planEndpoints(svc(), [], current);
    expect(plan).toMatchObject({ action: 'update' });
    if (plan.action === 'update') expect(plan.endpoints.subsets).toBeUndefined();
  });
});
