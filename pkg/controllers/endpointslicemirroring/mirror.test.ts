// mirror.test: table tests of EndpointSlice mirroring — which Endpoints are mirrored, groups, metadata, minimal writes.
import { describe, expect, it } from 'vitest';
import type { Endpoints, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { mirrorGroups, mirrorMeta, newMirrorSlice, planMirror, shouldMirror } from './mirror.ts';

const svc = (selector?: Record<string, string>, type = 'ClusterIP'): Service => ({ metadata: { name: 'ext', namespace: 'default' }, spec: { type, selector, ports: [{ port: 80 }] } });
function endpoints(subsets: Endpoints['subsets'], meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): Endpoints {
  return { metadata: { name: 'ext', namespace: 'default', uid: 'ep-uid', ...meta }, subsets };
}
const web = [{ name: 'http', port: 8080, protocol: 'TCP' }];

describe('shouldMirror', () => {
  const ep = endpoints([]);
  const cases: [string, Endpoints | undefined, Service | undefined, boolean][] = [
    ['selector-less service', ep, svc(), true],
    ['empty selector counts as none', ep, svc({}), true],
    ['service with a selector', ep, svc({ app: 'x' }), false],
    ['no service', ep, undefined, false],
    ['no endpoints', undefined, svc(), false],
    ['skip-mirror', endpoints([], { labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } }), svc(), false],
    ['leader-election record', endpoints([], { annotations: { 'control-plane.alpha.kubernetes.io/leader': '{}' } }), svc(), false],
  ];
  it.each(cases)('%s', (_n, e, s, want) => expect(shouldMirror(e, s)).toBe(want));
});

describe('mirrorGroups', () => {
  it('merges subsets of equal ports, splits families, keeps readiness, drops bad and duplicate addresses', () => {
    const g = mirrorGroups(
      endpoints([
        { addresses: [{ ip: '10.1.0.1', nodeName: 'n1' }, { ip: 'bogus' }], notReadyAddresses: [{ ip: '10.1.0.2' }], ports: web },
        { addresses: [{ ip: '10.1.0.3' }, { ip: 'fd00::1' }, { ip: '10.1.0.2' }], ports: web },
        { addresses: [{ ip: '10.1.0.9' }], ports: [{ port: 53, protocol: 'UDP' }] },
      ]),
    );
    expect(g).toEqual([
      { addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready: true }, nodeName: 'n1' }, { addresses: ['10.1.0.2'], conditions: { ready: true } }, { addresses: ['10.1.0.3'], conditions: { ready: true } }] },
      { addressType: 'IPv6', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: ['fd00::1'], conditions: { ready: true } }] },
      { addressType: 'IPv4', ports: [{ name: '', port: 53, protocol: 'UDP' }], endpoints: [{ addresses: ['10.1.0.9'], conditions: { ready: true } }] },
    ]);
  });
  it('mirrors at most maxPerSubset addresses of a subset, ready ones first', () => {
    const g = mirrorGroups(endpoints([{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], notReadyAddresses: [{ ip: '10.0.0.3' }], ports: web }]), 2);
    expect(g[0].endpoints.map((e) => e.addresses[0])).toEqual(['10.0.0.1', '10.0.0.2']);
  });
});

describe('mirrorMeta', () => {
  it('copies labels and annotations, sets service-name and managed-by, drops the trigger time and last-applied', () => {
    const m = mirrorMeta(endpoints([], { labels: { team: 'a' }, annotations: { keep: '1', 'endpoints.kubernetes.io/last-change-trigger-time': 't', 'kubectl.kubernetes.io/last-applied-configuration': '{}' } }));
    expect(m).toEqual({
      labels: { team: 'a', 'kubernetes.io/service-name': 'ext', 'endpointslice.kubernetes.io/managed-by': 'endpointslicemirroring-controller.k8s.io' },
      annotations: { keep: '1' },
    });
  });
});

describe('planMirror', () => {
  const ep = endpoints([{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }], ports: web }]);
  const [group] = mirrorGroups(ep);
  const stored = (name: string, s: EndpointSlice, uid = 'ep-uid'): EndpointSlice => ({
    ...s,
    metadata: { ...s.metadata, name, generateName: undefined, uid: `uid-${name}`, ownerReferences: [{ ...s.metadata!.ownerReferences![0], uid }] },
  });
  const names = (xs: EndpointSlice[]) => xs.map((s) => s.metadata?.name ?? `new:${s.endpoints.map((e) => e.addresses[0]).join(',')}`);
  const cases: [string, Endpoints | undefined, EndpointSlice[], number, { create: string[]; update: string[]; delete: string[] }][] = [
    ['nothing yet: one slice', ep, [], 100, { create: ['new:10.0.0.1,10.0.0.2,10.0.0.3'], update: [], delete: [] }],
    ['in step: no writes', ep, [stored('ext-a', newMirrorSlice(ep, group, group.endpoints))], 100, { create: [], update: [], delete: [] }],
    ['an address gone: update', ep, [stored('ext-a', newMirrorSlice(ep, group, [...group.endpoints, { addresses: ['10.0.0.4'], conditions: { ready: true } }]))], 100, { create: [], update: ['ext-a'], delete: [] }],
    ['split by max', ep, [stored('ext-a', newMirrorSlice(ep, group, group.endpoints.slice(0, 2)))], 2, { create: ['new:10.0.0.3'], update: [], delete: [] }],
    ['not mirrored any more: delete all', undefined, [stored('ext-a', newMirrorSlice(ep, group, group.endpoints))], 100, { create: [], update: [], delete: ['ext-a'] }],
    ['a slice of an earlier Endpoints object', ep, [stored('ext-old', newMirrorSlice(ep, group, group.endpoints), 'old-uid')], 100, { create: ['new:10.0.0.1,10.0.0.2,10.0.0.3'], update: [], delete: ['ext-old'] }],
    ['ports changed: old group deleted', endpoints([{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }], ports: [{ port: 9 }] }]), [stored('ext-a', newMirrorSlice(ep, group, group.endpoints))], 100, { create: ['new:10.0.0.1,10.0.0.2,10.0.0.3'], update: [], delete: ['ext-a'] }],
  ];
  it.each(cases)('%s', (_n, e, existing, max, want) => {
    const p = planMirror(e, existing, max);
    expect({ create: names(p.create), update: names(p.update), delete: names(p.delete) }).toEqual(want);
  });
  it('new slices are owned by the Endpoints and labelled', () => {
    const s = planMirror(ep, []).create[0];
    expect(s.metadata?.generateName).toBe('ext-');
    expect(s.metadata?.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Endpoints', name: 'ext', uid: 'ep-uid', controller: true, blockOwnerDeletion: true }]);
    expect(s.metadata?.labels?.['endpointslice.kubernetes.io/managed-by']).toBe('endpointslicemirroring-controller.k8s.io');
  });
});
