// harness.test: the e2e harness's fault switches on one host — restart an agent or dockerd, cut the link, kill and
// bring back a whole host, SIGKILL and restart the server — each leaving the cluster working afterwards.
import { connect } from 'node:net';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import { startHosts, type E2eCluster } from './hosts.ts';
import { netnsInode, pidsInNetns } from './sys.ts';

const podInfo = lookupKind('v1', 'Pod')!;
const KUBELET_PORT = 10250;

/** tcpOpen tells whether a TCP connection to host:port is accepted within `timeoutMs`. */
function tcpOpen(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean) => {
      s.destroy();
      res(ok);
    };
    s.once('connect', () => done(true));
    s.once('timeout', () => done(false));
    s.once('error', () => done(false));
  });
}

describe('e2e harness: faults on demand', () => {
  let c: E2eCluster;

  beforeAll(async () => {
    c = await startHosts({ hosts: 1 });
    const p: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'sleeper' },
      spec: { nodeName: 'host-1', terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: c.images.busybox, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] },
    };
    const r = c.kubectlInput(JSON.stringify(p), 'apply', '-f', '-');
    expect(r.code, r.stderr).toBe(0);
  });

  afterAll(async () => {
    await c?.teardown();
  });

  /** runningMain returns the id of the sleeper's running main container in host-1's dockerd. */
  const runningMain = async () => {
    const all = await c.host('host-1').docker.listContainers({});
    return all.find((x) => x.podName === 'sleeper' && !x.isSandbox && x.state === 'running')?.id;
  };
  const podRunning = async () => ((await c.admin.getOrUndefined(podInfo, 'default', 'sleeper')) as Pod | undefined)?.status?.phase === 'Running';

  it('restarts an agent, which adopts the running container', async () => {
    const id = await c.waitFor('sleeper running', runningMain, 60_000);
    await c.restartAgent('host-1');
    expect(await c.nodeReady('host-1')).toBeTruthy();
    expect(await runningMain()).toBe(id);
  });

  it('cuts a host off the network and reconnects it', async () => {
    const ip = c.host('host-1').ip;
    expect(await tcpOpen(ip, KUBELET_PORT)).toBe(true);
    c.linkDown('host-1');
    expect(await tcpOpen(ip, KUBELET_PORT)).toBe(false);
    c.linkUp('host-1');
    await c.waitFor('host-1 reachable again', () => tcpOpen(ip, KUBELET_PORT), 10_000);
  });

  it('restarts a host\'s dockerd; the agent brings the pod back', async () => {
    await c.restartDockerd('host-1');
    await c.waitFor('sleeper running after the dockerd restart', runningMain, 60_000);
    await c.waitFor('node host-1 Ready', () => c.nodeReady('host-1'), 30_000);
  });

  it('kills a whole host (agent, dockerd, containers) and brings it back', async () => {
    const h = c.host('host-1');
    await c.killHost('host-1');
    expect(pidsInNetns(netnsInode(h.netns)!)).toEqual([]);
    expect(await tcpOpen(h.ip, KUBELET_PORT)).toBe(false);
    await c.startHost('host-1');
    await c.waitFor('sleeper running on the returned host', runningMain, 60_000);
  });

  it('SIGKILLs the server and starts it again with every object kept', async () => {
    await c.killServer();
    expect(c.kubectl('get', 'nodes').code).not.toBe(0);
    await c.startServer();
    await c.waitFor('sleeper Running after the server restart', podRunning, 30_000);
    const r = c.kubectl('get', 'pods', '-o', 'name');
    expect(r.stdout.trim()).toBe('pod/sleeper');
  });
});
