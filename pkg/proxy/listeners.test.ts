// listeners.test: table tests of the listener plan, the diff and --nodeport-addresses resolution.
import { describe, expect, it } from 'vitest';
import { diffListeners, planListeners, resolveNodeAddresses, type ListenerSpec } from './listeners.ts';
import type { ServicePortEntry } from './servicemap.ts';

const entry = (key: string, e: Partial<ServicePortEntry>): ServicePortEntry => ({
  key,
  namespace: 'default',
  name: key,
  portName: '',
  protocol: 'TCP',
  clusterIPs: [],
  port: 80,
  loadBalancer: false,
  affinityTimeoutSeconds: 0,
  clusterTargets: [],
  externalTargets: [],
  externalPolicyLocal: false,
  ...e,
});
const t1 = [{ ip: '10.42.0.2', port: 8080 }];
const t2 = [{ ip: '10.42.0.2', port: 8080 }, { ip: '10.42.0.3', port: 8080 }];

describe('planListeners', () => {
  it('opens ClusterIP, NodePort and LoadBalancer sockets only while there are targets; keeps every ClusterIP local', () => {
    const map = new Map([
      ['a', entry('a', { clusterIPs: ['10.43.0.7'], clusterTargets: t1, externalTargets: t1, nodePort: 31515, loadBalancer: true })],
      ['b', entry('b', { clusterIPs: ['10.43.0.8'], protocol: 'UDP', port: 53, clusterTargets: t2, externalTargets: [], nodePort: 30053 })],
      ['c', entry('c', { clusterIPs: ['10.43.0.9'] })],
    ]);
    const p = planListeners(map, { tcp: ['0.0.0.0'], udp: ['127.0.0.1', '10.0.0.5'] });
    expect([...p.listeners.keys()].sort()).toEqual(['TCP/0.0.0.0:31515', 'TCP/0.0.0.0:80', 'TCP/10.43.0.7:80', 'UDP/10.43.0.8:53']);
    expect(p.listeners.get('TCP/0.0.0.0:80')).toMatchObject({ kind: 'loadBalancer', service: 'a' });
    expect(p.listeners.get('UDP/10.43.0.8:53')).toMatchObject({ kind: 'clusterIP', targets: t2 });
    expect([...p.clusterIPs].sort()).toEqual(['10.43.0.7', '10.43.0.8', '10.43.0.9']);
    expect(p.conflicts).toEqual([]);
  });

  it('gives a contested socket to the first service by key and reports the clash', () => {
    const map = new Map([
      ['z', entry('z', { loadBalancer: true, port: 8080, externalTargets: t1 })],
      ['y', entry('y', { loadBalancer: true, port: 8080, externalTargets: t2 })],
    ]);
    const p = planListeners(map, { tcp: ['127.0.0.5'], udp: ['127.0.0.5'] });
    expect([...p.listeners.values()].map((l) => [l.key, l.service])).toEqual([['TCP/127.0.0.5:8080', 'y']]);
    expect(p.conflicts).toEqual([{ key: 'TCP/127.0.0.5:8080', kept: 'y', dropped: 'z' }]);
  });
});

describe('diffListeners', () => {
  const spec = (key: string, targets = t1, service = 's'): ListenerSpec => ({ key, protocol: 'TCP', ip: '1.2.3.4', port: 1, kind: 'clusterIP', service, targets, affinityTimeoutSeconds: 0 });
  const cases = [
    { name: 'nothing open: all open', cur: [], want: [spec('a'), spec('b')], d: { open: ['a', 'b'], close: [], update: [] } },
    { name: 'unchanged: nothing', cur: [spec('a')], want: [spec('a')], d: { open: [], close: [], update: [] } },
    { name: 'targets changed: update, not reopen', cur: [spec('a')], want: [spec('a', t2)], d: { open: [], close: [], update: ['a'] } },
    { name: 'service changed: update', cur: [spec('a')], want: [spec('a', t1, 'other')], d: { open: [], close: [], update: ['a'] } },
    { name: 'gone: close', cur: [spec('a'), spec('b')], want: [spec('b')], d: { open: [], close: ['a'], update: [] } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = diffListeners(new Map(c.cur.map((s) => [s.key, s])), new Map(c.want.map((s) => [s.key, s])));
      expect({ open: d.open.map((s) => s.key), close: d.close, update: d.update.map((s) => s.key) }).toEqual(c.d);
    });
  }
});

describe('resolveNodeAddresses', () => {
  const hosts = ['127.0.0.1', '10.0.2.15', '172.17.0.1'];
  const cases: { cidrs: string[]; want: { tcp: string[]; udp: string[] } }[] = [
    { cidrs: [], want: { tcp: ['0.0.0.0'], udp: hosts } },
    { cidrs: ['0.0.0.0/0'], want: { tcp: ['0.0.0.0'], udp: hosts } },
    { cidrs: ['127.0.0.5/32', '10.0.0.0/8'], want: { tcp: ['127.0.0.5', '10.0.2.15'], udp: ['127.0.0.5', '10.0.2.15'] } },
    { cidrs: ['primary'], want: { tcp: ['192.168.1.9'], udp: ['192.168.1.9'] } },
    { cidrs: ['172.16.0.0/12', 'bogus', '10.0.2.15/32'], want: { tcp: ['172.17.0.1', '10.0.2.15'], udp: ['172.17.0.1', '10.0.2.15'] } },
    { cidrs: ['192.168.0.0/16'], want: { tcp: [], udp: [] } },
  ];
  for (const c of cases) it(JSON.stringify(c.cidrs), () => expect(resolveNodeAddresses(c.cidrs, hosts, '192.168.1.9')).toEqual(c.want));
});
