// index.test: the pod network loop over fakes — waits for podCIDR, creates the bridge, programs rules and routes, follows Node changes, stops cleanly.
import type Dockerode from 'dockerode';
import type { Node } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/types.ts';
import type { ResourceEventHandler, SharedInformer, SharedInformerFactory } from '../client/informer.ts';
import { silentLogger } from '../util/log.ts';
import type { CommandRunner } from './exec.ts';
import { startPodNetwork } from './index.ts';

/** fakeNodes is a node informer the test drives by hand. */
function fakeNodes(synced = true) {
  const items = new Map<string, KubeObject>();
  const handlers: ResourceEventHandler[] = [];
  let markSynced!: () => void;
  const inf = {
    synced: synced ? Promise.resolve() : new Promise<void>((r) => (markSynced = r)),
    addEventHandler: (h: ResourceEventHandler) => handlers.push(h),
    removeEventHandler: (h: ResourceEventHandler) => handlers.splice(handlers.indexOf(h), 1),
    list: () => [...items.values()],
    get: (_ns: string | undefined, name: string) => items.get(name),
  } as unknown as SharedInformer;
  const set = (n: Node) => {
    const old = items.get(n.metadata!.name!);
    items.set(n.metadata!.name!, n as KubeObject);
    for (const h of handlers) old ? h.update?.(old, n as KubeObject) : h.add?.(n as KubeObject);
  };
  const del = (name: string) => {
    const old = items.get(name)!;
    items.delete(name);
    for (const h of handlers) h.delete?.(old);
  };
  const factory = { informerFor: () => inf } as unknown as SharedInformerFactory;
  return { factory, set, del, handlers, markSynced: () => markSynced() };
}

/** fakeHost answers `ip` from an in-memory route table and accepts any iptables command. */
function fakeHost() {
  const routes = new Map<string, string>();
  const calls: string[] = [];
  const run: CommandRunner = async (cmd, args) => {
    calls.push(`${cmd} ${args.join(' ')}`);
    if (cmd === 'iptables') return '';
    if (args[2] === 'addr') return JSON.stringify([{ addr_info: [{ family: 'inet', local: '192.168.1.10' }] }]);
    if (args[2] === 'route') return JSON.stringify([...routes].map(([dst, gateway]) => ({ dst, gateway })));
    if (args[1] === 'replace') routes.set(args[2]!, args[4]!);
    if (args[1] === 'del') routes.delete(args[2]!);
    return '';
  };
  return { run, routes, calls };
}

function fakeDocker() {
  const created: Dockerode.NetworkCreateOptions[] = [];
  const docker = {
    getNetwork: () => ({ inspect: async () => Promise.reject(Object.assign(new Error('no such network'), { statusCode: 404 })) }),
    createNetwork: async (o: Dockerode.NetworkCreateOptions) => created.push(o),
  } as unknown as Dockerode;
  return { docker, created };
}

const node = (name: string, ip: string, podCIDR?: string): Node => ({
  metadata: { name },
  spec: podCIDR ? { podCIDR } : {},
  status: { addresses: [{ type: 'InternalIP', address: ip }] },
});

const until = async (what: string, ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!ok()) throw new Error(`timed out: ${what}`);
};

describe('startPodNetwork', () => {
  it('waits for the podCIDR, then creates the bridge and rules, and keeps routes in step with the Nodes', async () => {
    const nodes = fakeNodes();
    const host = fakeHost();
    const d = fakeDocker();
    nodes.set(node('me', '192.168.1.10'));
    const pn = startPodNetwork({ informers: nodes.factory, docker: d.docker, clusterId: '0123456789abcdef', nodeName: 'me', nodeIp: '192.168.1.10', clusterCidr: '10.42.0.0/16', log: silentLogger(), run: host.run });
    let ready: unknown;
    void pn.ready().then((r) => (ready = r));
    await new Promise((r) => setTimeout(r, 20));
    expect(ready).toBeUndefined();
    expect(d.created).toEqual([]);

    nodes.set(node('me', '192.168.1.10', '10.42.0.0/24'));
    expect(await pn.ready()).toEqual({ networkName: 'kl-0123456789ab-me', podCIDR: '10.42.0.0/24', gateway: '10.42.0.1' });
    expect(d.created.map((o) => o.Name)).toEqual(['kl-0123456789ab-me']);
    expect(host.calls.some((c) => c.includes('MASQUERADE') && c.includes('-s 10.42.0.0/24'))).toBe(true);

    nodes.set(node('other', '192.168.1.11', '10.42.1.0/24'));
    await until('route to other', () => host.routes.get('10.42.1.0/24') === '192.168.1.11');
    nodes.set(node('other', '192.168.1.12', '10.42.1.0/24'));
    await until('route moved', () => host.routes.get('10.42.1.0/24') === '192.168.1.12');
    nodes.del('other');
    await until('route removed', () => host.routes.size === 0);

    // a heartbeat that changes nothing routing cares about does not sync
    const before = host.calls.length;
    nodes.set({ ...node('me', '192.168.1.10', '10.42.0.0/24'), metadata: { name: 'me', labels: { beat: '1' } } });
    await new Promise((r) => setTimeout(r, 20));
    expect(host.calls.length).toBe(before);

    await pn.stop();
    expect(nodes.handlers).toHaveLength(0);
  });

  it('stops without hanging before the cache synced, and ready() then rejects', async () => {
    const nodes = fakeNodes(false);
    const pn = startPodNetwork({ informers: nodes.factory, docker: fakeDocker().docker, clusterId: '0123456789abcdef', nodeName: 'me', nodeIp: '192.168.1.10', clusterCidr: '10.42.0.0/16', log: silentLogger(), run: fakeHost().run });
    await pn.stop();
    await expect(pn.ready()).rejects.toThrow('pod network stopped before it was ready');
  });

  it('rejects a bad cluster CIDR at once', () => {
    expect(() => startPodNetwork({ informers: fakeNodes().factory, docker: fakeDocker().docker, clusterId: 'x', nodeName: 'me', nodeIp: '1.1.1.1', clusterCidr: 'nope', log: silentLogger() })).toThrow('invalid cluster CIDR "nope"');
  });
});
