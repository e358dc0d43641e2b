// scheduler: the default scheduler inside `kubeling server` against two real agents and the real kubectl — spreading,
// FailedScheduling with upstream's message, cordon/uncordon, nodeSelector retried on a node change, drain, schedulerName.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../pkg/api/types.ts';
import { podInfo, startTwoNodeCluster, type TwoNodeCluster } from '../helpers/cluster.ts';
import { TEST_IMAGES } from '../helpers/images.ts';

/** pod is a busybox pod without spec.nodeName: the scheduler has to place it. */
function pod(name: string, o: { labels?: Record<string, string>; cpu?: string; spec?: Record<string, unknown> } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: o.labels ?? { test: 'scheduler' } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: TEST_IMAGES.busybox, imagePullPolicy: 'Never', command: ['sleep', '3600'], ...(o.cpu ? { resources: { requests: { cpu: o.cpu } } } : {}) }],
      ...o.spec,
    },
  };
}

describe('scheduler', () => {
  let c: TwoNodeCluster;

  beforeAll(async () => {
    c = await startTwoNodeCluster();
  }, 120_000);

  afterAll(async () => {
    await c?.cleanup();
  }, 60_000);

  const create = (...objs: KubeObject[]) => {
    const r = c.kubectlInput(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }), 'create', '-f', '-');
    expect(r.stderr).toBe('');
  };
  const get = (name: string) => c.admin.getOrUndefined(podInfo, 'default', name);
  const runningOn = (name: string) =>
    c.waitFor(`${name} Running`, async () => {
      const p = await get(name);
      return p?.status?.phase === 'Running' ? (p.spec.nodeName as string) : undefined;
    }, 45_000);
  const failedScheduling = (name: string, pred: (m: string) => boolean) =>
    c.waitFor(`FailedScheduling of ${name}`, async () => {
      const msgs = (await c.eventsFor(name)).filter((e) => e.reason === 'FailedScheduling' && e.source?.component === 'default-scheduler').map((e) => e.message as string);
      return msgs.find(pred);
    }, 30_000);
  const deletePods = (...names: string[]) => expect(c.kubectl('delete', 'pod', '--wait=false', ...names).code).toBe(0);

  it('spreads plain pods over both nodes, and they run', async () => {
    const names = ['spread-0', 'spread-1', 'spread-2', 'spread-3'];
    create(...names.map((n) => pod(n, { labels: { app: 'spread' } })));
    const nodes = await Promise.all(names.map(runningOn));
    expect(new Set(nodes)).toEqual(new Set(['node-a', 'node-b']));
    const ev = (await c.eventsFor('spread-0')).find((e) => e.reason === 'Scheduled');
    expect(ev).toMatchObject({ type: 'Normal', source: { component: 'default-scheduler' }, message: `Successfully assigned default/spread-0 to ${nodes[0]}` });
    const p = await get('spread-0');
    expect(p!.status.conditions.find((x: { type: string }) => x.type === 'PodScheduled')).toMatchObject({ status: 'True' });
    deletePods(...names);
  });

  it('leaves an unschedulable pod Pending with FailedScheduling and the PodScheduled condition', async () => {
    create(pod('huge', { cpu: '1000' }));
    const msg = await failedScheduling('huge', (m) => m.startsWith('0/2 nodes'));
    expect(msg).toBe('0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.');
    const p = await c.waitFor('PodScheduled False', async () => {
      const x = await get('huge');
      return x?.status?.conditions?.some((k: { type: string; status: string }) => k.type === 'PodScheduled' && k.status === 'False') ? x : undefined;
    });
    expect(p.status.phase).toBe('Pending');
    expect(p.spec.nodeName).toBeUndefined();
    expect(p.status.conditions.find((k: { type: string }) => k.type === 'PodScheduled')).toMatchObject({ reason: 'Unschedulable', message: msg });
    const described = c.kubectl('describe', 'pod', 'huge');
    expect(described.stdout).toContain('FailedScheduling');
    expect(described.stdout).toContain('Insufficient cpu');
  });

  it('cordon keeps new pods off the node (and the pending pod is re-evaluated); uncordon lets them back', async () => {
    expect(c.kubectl('cordon', 'node-a').stdout).toContain('node/node-a cordoned');
    // the node change re-queues the parked pod: its message now names the cordon
    await failedScheduling('huge', (m) => m === '0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.');
    const names = ['cordon-0', 'cordon-1', 'cordon-2'];
    create(...names.map((n) => pod(n, { labels: { app: 'cordon' } })));
    expect(await Promise.all(names.map(runningOn))).toEqual(['node-b', 'node-b', 'node-b']);
    expect(c.kubectl('uncordon', 'node-a').stdout).toContain('node/node-a uncordoned');
    create(pod('after-uncordon', { labels: { app: 'cordon' } }));
    // three of the group are on node-b: spreading and least-allocated both point at node-a
    expect(await runningOn('after-uncordon')).toBe('node-a');
    deletePods(...names, 'after-uncordon', 'huge');
  });

  it('honours nodeSelector, and retries a pod when a node gets the label it wants', async () => {
    expect(c.kubectl('label', 'node', 'node-b', 'disk=ssd').code).toBe(0);
    create(pod('ssd', { spec: { nodeSelector: { disk: 'ssd' } } }), pod('nvme', { spec: { nodeSelector: { disk: 'nvme' } } }));
    expect(await runningOn('ssd')).toBe('node-b');
    const msg = await failedScheduling('nvme', (m) => m.startsWith('0/2'));
    expect(msg).toBe("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.");
    expect(c.kubectl('label', 'node', 'node-a', 'disk=nvme').code).toBe(0);
    expect(await runningOn('nvme')).toBe('node-a');
    deletePods('ssd', 'nvme');
  });

  it('leaves pods of another scheduler alone', async () => {
    create(pod('other-sched', { spec: { schedulerName: 'my-scheduler' } }));
    await new Promise((r) => setTimeout(r, 2000));
    const p = await get('other-sched');
    expect(p?.spec.nodeName).toBeUndefined();
    expect((await c.eventsFor('other-sched')).filter((e) => e.source?.component === 'default-scheduler')).toEqual([]);
    deletePods('other-sched');
  });

  it('drain evicts the pods of a node and cordons it; new pods go elsewhere', async () => {
    const names = ['drain-0', 'drain-1', 'drain-2', 'drain-3'];
    create(...names.map((n) => pod(n, { labels: { app: 'drain' } })));
    const nodes = await Promise.all(names.map(runningOn));
    const onB = names.filter((_, i) => nodes[i] === 'node-b');
    expect(onB.length).toBeGreaterThan(0);
    const r = c.kubectl('drain', 'node-b', '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=90s');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('node/node-b cordoned');
    expect(r.stdout).toContain('node/node-b drained');
    for (const n of onB) expect(r.stdout).toContain(`evicting pod default/${n}`);
    for (const n of onB) expect(await get(n)).toBeUndefined();
    create(pod('after-drain', { labels: { app: 'drain' } }));
    expect(await runningOn('after-drain')).toBe('node-a');
    expect(c.kubectl('uncordon', 'node-b').code).toBe(0);
    deletePods(...names.filter((n) => !onB.includes(n)), 'after-drain');
  }, 150_000);
});
