// bridge.test: the docker network spec and the keep / create / recreate / conflict decision.
import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { bridgeSpec, createOptions, planBridge } from './bridge.ts';

const spec = bridgeSpec({ clusterId: '0123456789abcdef', nodeName: 'node-a', podCidr: '10.42.1.0/24', clusterCidr: '10.42.0.0/16' });

const net = (subnet: string, containers = 0, gateway?: string): Dockerode.NetworkInspectInfo => ({
  Name: spec.name,
  Id: 'abc',
  Created: '',
  Scope: 'local',
  Driver: 'bridge',
  EnableIPv6: false,
  Internal: false,
  Attachable: false,
  Ingress: false,
  ConfigOnly: false,
  IPAM: { Driver: 'default', Config: [{ Subnet: subnet, ...(gateway ? { Gateway: gateway } : {}) }] },
  Containers: Object.fromEntries(Array.from({ length: containers }, (_, i) => [`c${i}`, { Name: `c${i}`, EndpointID: '', MacAddress: '', IPv4Address: '', IPv6Address: '' }])),
});

describe('bridgeSpec', () => {
  it('is the podCIDR with the first address as gateway, masquerade off, labelled for teardown', () => {
    expect(spec).toMatchObject({ name: 'kl-0123456789ab-node-a', subnet: '10.42.1.0/24', gateway: '10.42.1.1' });
    expect(spec.labels).toEqual({ 'kubeling.cluster': '0123456789abcdef', 'kubeling.node': 'node-a', 'kubeling.cluster-cidr': '10.42.0.0/16', 'kubeling.pod-cidr': '10.42.1.0/24' });
    const o = createOptions(spec);
    expect(o.Options).toEqual({ 'com.docker.network.bridge.name': spec.bridge, 'com.docker.network.bridge.enable_ip_masquerade': 'false' });
    expect(o.IPAM?.Config).toEqual([{ Subnet: '10.42.1.0/24', Gateway: '10.42.1.1' }]);
  });
});

describe('planBridge', () => {
  it.each([
    ['absent → create', undefined, 'create'],
    ['same subnet → keep', net('10.42.1.0/24', 3, '10.42.1.1'), 'keep'],
    ['same subnet, gateway unreported → keep', net('10.42.1.0/24'), 'keep'],
    ['other subnet, unused → recreate', net('10.42.9.0/24'), 'recreate'],
    ['other subnet, in use → conflict', net('10.42.9.0/24', 2), 'conflict'],
    ['same subnet, other gateway, unused → recreate', net('10.42.1.0/24', 0, '10.42.1.254'), 'recreate'],
  ] as const)('%s', (_name, existing, action) => {
    expect(planBridge(spec, existing).action).toBe(action);
  });
  it('says why it conflicts', () => {
    const p = planBridge(spec, net('10.42.9.0/24', 2));
    expect(p.action === 'conflict' && p.reason).toBe('docker network kl-0123456789ab-node-a has subnet 10.42.9.0/24 (driver bridge), want 10.42.1.0/24, and 2 container(s) still use it');
  });
});
