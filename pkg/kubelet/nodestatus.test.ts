// nodestatus.test: the Node object, conditions and Lease the agent posts.
import { describe, expect, it } from 'vitest';
import { goArch, leaseObject, microTime, nodeConditions, nodeObject, resources } from './nodestatus.ts';
import type { NodeFacts } from './nodestatus.ts';

const facts: NodeFacts = {
  nodeName: 'n1',
  nodeIp: '10.0.0.1',
  hostname: 'n1',
  kubeletPort: 10250,
  labels: { 'node-role.kubernetes.io/control-plane': 'true' },
  info: { cpus: 4, memoryBytes: 8 * 1024 * 1024 * 1024 + 100, kernelVersion: '6.1', osImage: 'Debian', operatingSystem: 'linux', architecture: 'x86_64', cgroupDriver: 'systemd', cgroupVersion: '2', hostname: 'h' },
  version: { name: 'docker', version: '24.0.7', apiVersion: '1.43' },
  runtimeReady: true,
};

describe('nodeObject', () => {
  it('reports capacity, addresses, nodeInfo, labels and conditions', () => {
    const n = nodeObject(facts, 'T');
    expect(n.metadata.labels).toMatchObject({ 'kubernetes.io/hostname': 'n1', 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'node-role.kubernetes.io/control-plane': 'true' });
    expect(n.status.capacity).toEqual({ cpu: '4', memory: '8388608Ki', pods: '110' });
    expect(n.status.addresses).toEqual([{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname', address: 'n1' }]);
    expect(n.status.nodeInfo).toMatchObject({ containerRuntimeVersion: 'docker://24.0.7', kubeletVersion: 'v1.32.0+kubeling', architecture: 'amd64', operatingSystem: 'linux' });
    expect(n.status.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10250 } });
    expect(n.status.conditions.map((c: any) => `${c.type}=${c.status}`)).toEqual(['MemoryPressure=False', 'DiskPressure=False', 'PIDPressure=False', 'Ready=True']);
  });
  it('keeps transition times while a condition holds and flips Ready when the runtime is down', () => {
    const c1 = nodeConditions([], { runtimeReady: true }, 'T1');
    const c2 = nodeConditions(c1, { runtimeReady: true }, 'T2');
    expect(c2.find((c) => c.type === 'Ready')).toMatchObject({ lastTransitionTime: 'T1', lastHeartbeatTime: 'T2' });
    const c3 = nodeConditions(c2, { runtimeReady: false, runtimeMessage: 'container runtime is down: x' }, 'T3');
    expect(c3.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'KubeletNotReady', message: 'container runtime is down: x', lastTransitionTime: 'T3' });
  });
  it('maps architectures and memory', () => {
    expect(goArch('aarch64')).toBe('arm64');
    expect(resources({ ...facts.info, memoryBytes: 2048 }).memory).toBe('2Ki');
  });
});

describe('lease', () => {
  it('renews with a MicroTime', () => {
    expect(microTime(new Date('2026-11-22T13:00:00.123Z'))).toBe('2026-11-22T13:00:00.123000Z');
    const l = leaseObject('n1', 'uid-1', new Date('2026-11-22T13:00:00Z'));
    expect(l).toMatchObject({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2026-11-22T13:00:00.000000Z' } });
    expect(l.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'uid-1' }]);
  });
});
