// controllers-nodelifecycle: a node lost and found on a real two-node cluster — node-b's agent killed, its containers stopped →
// NotReady/Unknown with the unreachable taints, its pods evicted after their toleration and replaced on node-a; node-b's
// agent back → Ready, taints gone, no duplicates, its stale containers removed. Also: each node got its own podCIDR.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject } from '../../pkg/api/types.ts';
import { nodeInfo, startTwoNodeCluster, type TwoNodeCluster } from '../helpers/cluster.ts';
import { TEST_IMAGES } from '../helpers/images.ts';

const deployInfo = lookupKind('apps/v1', 'Deployment')!;
const leaseInfo = lookupKind('coordination.k8s.io/v1', 'Lease')!;

/** Timings: a 20 s grace period (two of the agents' 10 s lease renewals: one late renewal on a loaded machine is no lost node) and 5 s default tolerations. */
const GRACE_S = 20;
const TOLERATION_S = 5;

const condition = (n: KubeObject | undefined, type: string) => (n?.status?.conditions ?? []).find((c: { type: string }) => c.type === type);
const taintKeys = (n: KubeObject | undefined) => (n?.spec?.taints ?? []).map((t: { key: string; effect: string }) => `${t.key}:${t.effect}`).sort();
const live = (pods: KubeObject[]) => pods.filter((p) => !p.metadata.deletionTimestamp);
const running = (pods: KubeObject[]) => live(pods).filter((p) => p.status?.phase === 'Running');

describe('node lifecycle on a two-node cluster', () => {
  let c: TwoNodeCluster;

  beforeAll(async () => {
    c = await startTwoNodeCluster({
      serverArgs: ['--node-monitor-grace-period', `${GRACE_S}s`, '--default-not-ready-toleration-seconds', String(TOLERATION_S), '--default-unreachable-toleration-seconds', String(TOLERATION_S)],
    });
  }, 120_000);

  afterAll(async () => {
    await c?.cleanup();
  }, 60_000);

  it('gives each node a distinct pod CIDR of the cluster CIDR', async () => {
    const cidrs = await c.waitFor('pod CIDRs on both nodes', async () => {
      const list = (await c.admin.list(nodeInfo)).items;
      const got = list.map((n) => n.spec?.podCIDR).filter(Boolean);
      return got.length === 2 ? list : undefined;
    });
    const a = cidrs.find((n) => n.metadata.name === 'node-a')!.spec;
    const b = cidrs.find((n) => n.metadata.name === 'node-b')!.spec;
    // the cluster's --cluster-cidr is its test slot's /16 (10.N.0.0/16); each node gets a /24 of it
    const prefix = c.server.slot.clusterCidr.split('.').slice(0, 2).join('\\.');
    expect(a.podCIDR).toMatch(new RegExp(`^${prefix}\\.\\d+\\.0/24$`));
    expect(b.podCIDR).toMatch(new RegExp(`^${prefix}\\.\\d+\\.0/24$`));
    expect(a.podCIDR).not.toBe(b.podCIDR);
    expect(a.podCIDRs).toEqual([a.podCIDR]);
  });

  it('evicts a lost node’s pods, recreates them on the other, and cleans up when the node returns', async () => {
    const deploy: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'survivor' },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'survivor' } },
        template: {
          metadata: { labels: { app: 'survivor' } },
          spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: TEST_IMAGES.busybox, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] },
        },
      },
    };
    await c.admin.create(deployInfo, 'default', deploy);
    const before = await c.waitFor('4 Running pods on both nodes', async () => {
      const pods = running(await c.pods('default', 'app=survivor'));
      return pods.length === 4 && pods.some((p) => p.spec.nodeName === 'node-b') && pods.some((p) => p.spec.nodeName === 'node-a') ? pods : undefined;
    }, 60_000);
    const onB = before.filter((p) => p.spec.nodeName === 'node-b');
    // the API added the default NoExecute toleration (TOLERATION_S once the server's flag reaches admission, else 30 s)
    const tol = onB[0]!.spec.tolerations?.find((t: { key?: string; effect?: string }) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute');
    expect(tol).toMatchObject({ operator: 'Exists', tolerationSeconds: expect.any(Number) });
    const tolS: number = tol.tolerationSeconds;
    const staleIds = (await c.docker.listContainers({ node: 'node-b' })).map((x) => x.id);
    expect(staleIds.length).toBeGreaterThan(0);

    // node-b dies as a host does: agent killed, its containers stopped (they stay on disk, as after a power cut)
    const t0 = Date.now();
    await c.killAgent('node-b');
    for (const id of staleIds) await c.docker.stopContainer(id, 0);
    const lost = await c.waitFor('node-b Unknown and tainted unreachable', async () => {
      const n = await c.admin.get(nodeInfo, undefined, 'node-b');
      return condition(n, 'Ready')?.status === 'Unknown' && taintKeys(n).includes('node.kubernetes.io/unreachable:NoExecute') ? n : undefined;
    }, (GRACE_S + 20) * 1000);
    // declared lost no sooner than the grace period after the last lease renewal (renewals are 10 s apart)
    const lease = await c.admin.get(leaseInfo, 'kube-node-lease', 'node-b');
    const silentS = (Date.parse(condition(lost, 'Ready').lastTransitionTime) - Date.parse(lease.spec.renewTime)) / 1000;
    expect(silentS).toBeGreaterThanOrEqual(GRACE_S - 1);
    expect((Date.now() - t0) / 1000).toBeLessThan(GRACE_S + 10 + 5);
    expect(condition(lost, 'Ready')).toMatchObject({ reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
    expect(condition(lost, 'MemoryPressure')?.status).toBe('Unknown');
    expect(taintKeys(lost)).toEqual(['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule']);
    // node-a is untouched
    expect(taintKeys(await c.admin.get(nodeInfo, undefined, 'node-a'))).toEqual([]);

    // after the toleration the pods of node-b are evicted (Terminating: nobody confirms) and replaced on node-a
    const replaced = await c.waitFor('4 Running pods on node-a', async () => {
      const pods = running(await c.pods('default', 'app=survivor'));
      return pods.length === 4 && pods.every((p) => p.spec.nodeName === 'node-a') ? pods : undefined;
    }, (tolS + 60) * 1000);
    expect(replaced).toHaveLength(4);
    const all = await c.pods('default', 'app=survivor');
    for (const p of onB) {
      const now = all.find((x) => x.metadata.uid === p.metadata.uid);
      expect(now?.metadata.deletionTimestamp, `${p.metadata.name} is terminating`).toBeTruthy();
    }
    const ev = await c.eventsFor(onB[0]!.metadata.name!);
    expect(ev.map((e) => e.reason)).toEqual(expect.arrayContaining(['TaintManagerEviction', 'NodeNotReady']));
    expect(ev.find((e) => e.reason === 'TaintManagerEviction')!.message).toBe(`Marking for deletion Pod default/${onB[0]!.metadata.name}`);
    const podReady = condition(all.find((x) => x.metadata.uid === onB[0]!.metadata.uid), 'Ready');
    expect(podReady?.status).toBe('False'); // MarkPodsNotReady

    // node-b returns: Ready, taints gone, the evicted pods finished, their containers removed, no duplicates
    await c.startAgent('node-b');
    await c.waitFor('node-b untainted', async () => {
      const n = await c.admin.get(nodeInfo, undefined, 'node-b');
      return condition(n, 'Ready')?.status === 'True' && taintKeys(n).length === 0 ? n : undefined;
    }, 30_000);
    await c.waitFor('evicted pods gone from the API', async () => {
      const pods = await c.pods('default', 'app=survivor');
      return pods.every((p) => !onB.some((o) => o.metadata.uid === p.metadata.uid)) ? pods : undefined;
    }, 60_000);
    await c.waitFor('node-b stale containers removed', async () => {
      const left = (await c.docker.listContainers({ node: 'node-b' })).filter((x) => staleIds.includes(x.id));
      return left.length === 0 ? true : undefined;
    }, 60_000);
    const final = await c.pods('default', 'app=survivor');
    expect(final).toHaveLength(4);
    expect(running(final)).toHaveLength(4);
    expect(new Set(final.map((p) => p.metadata.name)).size).toBe(4);
  }, 240_000);
});
