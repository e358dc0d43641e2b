// servicemap.test: table tests of the service map builder (ports by name, readiness, terminating fallback, traffic policy, skips).
import { describe, expect, it } from 'vitest';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { buildServiceMap, DEFAULT_AFFINITY_TIMEOUT_SECONDS } from './servicemap.ts';

const svc = (name: string, spec: Service['spec'], ns = 'default'): Service => ({ metadata: { name, namespace: ns }, spec });
const slice = (name: string, svcName: string, ports: EndpointSlice['ports'], endpoints: EndpointSlice['endpoints'], addressType = 'IPv4', ns = 'default'): EndpointSlice => ({
  metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': svcName } },
  addressType,
  ports,
  endpoints,
});
const ep = (ip: string, conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean }, nodeName?: string) => ({ addresses: [ip], ...(conditions ? { conditions } : {}), ...(nodeName ? { nodeName } : {}) });
const opts = { nodeName: 'n1', clusterDNS: '10.43.0.10' };

describe('buildServiceMap', () => {
  const cases: { name: string; services: Service[]; slices: EndpointSlice[]; want: Record<string, Partial<ReturnType<typeof buildServiceMap> extends Map<string, infer E> ? E : never>> }[] = [
    {
      name: 'named port resolves through the slice port name; ready absent = ready; not ready skipped',
      services: [svc('web', { clusterIP: '10.43.0.7', ports: [{ name: 'http', port: 80, targetPort: 'web' }] })],
      slices: [slice('web-1', 'web', [{ name: 'http', port: 8080, protocol: 'TCP' }], [ep('10.42.1.6', { ready: false }), ep('10.42.1.5'), ep('10.42.1.4', { ready: true })])],
      want: { 'default/web:http/TCP': { clusterIPs: ['10.43.0.7'], port: 80, clusterTargets: [{ ip: '10.42.1.4', port: 8080 }, { ip: '10.42.1.5', port: 8080 }], affinityTimeoutSeconds: 0, loadBalancer: false, nodePort: undefined } },
    },
    {
      name: 'unnamed port, several slices, duplicates merged, other protocol ignored, IPv6 and FQDN slices ignored',
      services: [svc('a', { clusterIP: '10.43.0.8', ports: [{ port: 53, protocol: 'UDP' }] })],
      slices: [
        slice('a-1', 'a', [{ port: 5353, protocol: 'UDP' }], [ep('10.42.0.2')]),
        slice('a-2', 'a', [{ port: 5353, protocol: 'UDP' }], [ep('10.42.0.2'), ep('10.42.0.3')]),
        slice('a-3', 'a', [{ port: 9999, protocol: 'TCP' }], [ep('10.42.0.9')]),
        slice('a-4', 'a', [{ port: 5353, protocol: 'UDP' }], [ep('fd00::1')], 'IPv6'),
      ],
      want: { 'default/a:/UDP': { protocol: 'UDP', clusterTargets: [{ ip: '10.42.0.2', port: 5353 }, { ip: '10.42.0.3', port: 5353 }] } },
    },
    {
      name: 'terminating serving endpoints are the fallback only when none is ready',
      services: [svc('t', { clusterIP: '10.43.0.9', ports: [{ port: 80 }] }), svc('u', { clusterIP: '10.43.0.11', ports: [{ port: 80 }] })],
      slices: [
        slice('t-1', 't', [{ port: 80 }], [ep('10.42.0.2', { ready: false, serving: true, terminating: true }), ep('10.42.0.3', { ready: false, serving: false, terminating: true })]),
        slice('u-1', 'u', [{ port: 80 }], [ep('10.42.0.4', { ready: false, serving: true, terminating: true }), ep('10.42.0.5', { ready: true })]),
      ],
      want: { 'default/t:/TCP': { clusterTargets: [{ ip: '10.42.0.2', port: 80 }] }, 'default/u:/TCP': { clusterTargets: [{ ip: '10.42.0.5', port: 80 }] } },
    },
    {
      name: 'NodePort with externalTrafficPolicy Local keeps only this node for external traffic; ClientIP affinity default timeout',
      services: [svc('np', { type: 'NodePort', clusterIP: '10.43.0.12', externalTrafficPolicy: 'Local', sessionAffinity: 'ClientIP', ports: [{ port: 80, nodePort: 31515 }] })],
      slices: [slice('np-1', 'np', [{ port: 8080 }], [ep('10.42.0.2', {}, 'n1'), ep('10.42.0.3', {}, 'n2')])],
      want: {
        'default/np:/TCP': {
          nodePort: 31515,
          affinityTimeoutSeconds: DEFAULT_AFFINITY_TIMEOUT_SECONDS,
          clusterTargets: [{ ip: '10.42.0.2', port: 8080, nodeName: 'n1' }, { ip: '10.42.0.3', port: 8080, nodeName: 'n2' }],
          externalTargets: [{ ip: '10.42.0.2', port: 8080, nodeName: 'n1' }],
        },
      },
    },
    {
      name: 'LoadBalancer: nodePort plus the LB flag; affinity timeout from the config',
      services: [svc('lb', { type: 'LoadBalancer', clusterIP: '10.43.0.13', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } }, ports: [{ name: 'x', port: 8080, nodePort: 30001 }] })],
      slices: [],
      want: { 'default/lb:x/TCP': { nodePort: 30001, loadBalancer: true, affinityTimeoutSeconds: 60, clusterTargets: [], externalTargets: [] } },
    },
    {
      name: 'headless keeps no clusterIP; ExternalName, SCTP and the cluster DNS service are skipped; a ClusterIP service ignores a stray nodePort',
      services: [
        svc('h', { clusterIP: 'None', ports: [{ port: 80 }] }),
        svc('ext', { type: 'ExternalName', externalName: 'example.com', ports: [{ port: 80 }] }),
        svc('sctp', { clusterIP: '10.43.0.14', ports: [{ port: 80, protocol: 'SCTP' }] }),
        svc('kube-dns', { clusterIP: '10.43.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }, 'kube-system'),
        svc('c', { type: 'ClusterIP', clusterIP: '10.43.0.15', ports: [{ port: 80, nodePort: 30002 }] }),
      ],
      slices: [slice('other-ns', 'h', [{ port: 80 }], [ep('10.42.0.2')], 'IPv4', 'elsewhere')],
      want: { 'default/h:/TCP': { clusterIPs: [], clusterTargets: [] }, 'default/c:/TCP': { nodePort: undefined, clusterIPs: ['10.43.0.15'] } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = buildServiceMap(c.services, c.slices, opts);
      expect([...m.keys()].sort()).toEqual(Object.keys(c.want).sort());
      for (const [k, want] of Object.entries(c.want)) expect(m.get(k)).toMatchObject(want);
    });
  }
});
