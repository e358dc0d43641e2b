// plan.test: table tests of ServiceLB's planning — which nodes make the ingress list and when a service's is written.
import { describe, expect, it } from 'vitest';
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import { lbNodeIngress, planIngress } from './plan.ts';

function node(name: string, ip: string, o: { ready?: boolean; unschedulable?: boolean; external?: boolean } = {}): Node {
  return {
    metadata: { name },
    spec: { unschedulable: o.unschedulable },
    status: { conditions: [{ type: 'Ready', status: o.ready === false ? 'Unknown' : 'True' }], addresses: [{ type: o.external ? 'ExternalIP' : 'InternalIP', address: ip }, { type: 'Hostname', address: name }] },
  };
}
function svc(type: string, ingress: string[] = [], loadBalancerClass?: string): Service {
  return { metadata: { name: 's', namespace: 'default' }, spec: { type, loadBalancerClass, ports: [{ port: 80 }] }, status: { loadBalancer: ingress.length ? { ingress: ingress.map((ip) => ({ ip })) } : {} } };
}

describe('lbNodeIngress', () => {
  const cases: [string, Node[], string[]][] = [
    ['none', [], []],
    ['sorted numerically, unique', [node('c', '10.0.0.10'), node('a', '10.0.0.9'), node('b', '10.0.0.9')], ['10.0.0.9', '10.0.0.10']],
    ['not ready and cordoned nodes left out', [node('a', '10.0.0.1'), node('b', '10.0.0.2', { ready: false }), node('c', '10.0.0.3', { unschedulable: true })], ['10.0.0.1']],
    ['ExternalIP when there is no InternalIP', [node('a', '192.0.2.1', { external: true })], ['192.0.2.1']],
  ];
  it.each(cases)('%s', (_n, nodes, want) => expect(lbNodeIngress(nodes)).toEqual(want.map((ip) => ({ ip }))));
});

describe('planIngress', () => {
  const ing = [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }];
  const cases: [string, Service, ReturnType<typeof planIngress>][] = [
    ['LoadBalancer without status gets the nodes', svc('LoadBalancer'), ing],
    ['LoadBalancer already right: no write', svc('LoadBalancer', ['10.0.0.1', '10.0.0.2']), undefined],
    ['LoadBalancer with a node gone', svc('LoadBalancer', ['10.0.0.1', '10.0.0.2', '10.0.0.3']), ing],
    ['another loadBalancerClass is not ours', svc('LoadBalancer', [], 'example.com/lb'), undefined],
    ['type changed away: cleared', svc('ClusterIP', ['10.0.0.1']), []],
    ['plain ClusterIP: untouched', svc('ClusterIP'), undefined],
  ];
  it.each(cases)('%s', (_n, s, want) => expect(planIngress(s, ing)).toEqual(want));
});
