// scheduler.test: whole decisions over a few nodes with a fake binder — placement, assume, failure reports, retries.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../util/log.ts';
import { Framework, numFeasibleNodesToFind } from './framework.ts';
import { unschedulableCondition } from './index.ts';
import { DEFAULT_PROFILE } from './registry.ts';
import { Scheduler } from './scheduler.ts';
import type { BindOutcome, FailureReason, SchedulerIO } from './scheduler.ts';
import { makeNode, makePod } from './testing.ts';

class FakeIO implements SchedulerIO {
  binds: [string, string][] = [];
  failures: { pod: string; reason: FailureReason; message: string }[] = [];
  events: string[] = [];
  fail = new Set<string>();
  async bind(pod: Pod, node: string): Promise<BindOutcome> {
    if (this.fail.has(pod.metadata!.name!)) throw new Error('etcd on fire');
    this.binds.push([pod.metadata!.name!, node]);
    return 'bound';
  }
  scheduled(pod: Pod, node: string): void {
    this.events.push(`Successfully assigned ${pod.metadata!.namespace}/${pod.metadata!.name} to ${node}`);
  }
  async failed(pod: Pod, reason: FailureReason, message: string): Promise<void> {
    this.failures.push({ pod: pod.metadata!.name!, reason, message });
  }
}

function setup(random = () => 0.5) {
  const io = new FakeIO();
  let t = 1_000_000;
  const s = new Scheduler(io, { log: silentLogger(), random, now: () => t });
  /** drain decides every queued pod and lets the fake bindings settle */
  const drain = async () => {
    for (let e = s.queue.tryPop(); e; e = s.queue.tryPop()) s.scheduleOne(e);
    await new Promise((r) => setImmediate(r));
  };
  return { io, s, drain, advance: (ms: number) => (t += ms) };
}

describe('Scheduler.scheduleOne', () => {
  it('binds to the least allocated node and records Scheduled', async () => {
    const { io, s, drain } = setup();
    s.onNodeAdd(makeNode('a', { cpu: '4' }));
    s.onNodeAdd(makeNode('b', { cpu: '4' }));
    s.onPodAdd(makePod('busy', { cpu: '3', nodeName: 'a' }));
    s.onPodAdd(makePod('p', { cpu: '500m' }));
    await drain();
    expect(io.binds).toEqual([['p', 'b']]);
    expect(io.events).toEqual(['Successfully assigned default/p to b']);
  });

  it('counts an assumed pod in the next decision, before its binding is seen', async () => {
    const { io, s, drain } = setup();
    s.onNodeAdd(makeNode('a', { cpu: '1' }));
    s.onNodeAdd(makeNode('b', { cpu: '1' }));
    for (const n of ['p1', 'p2', 'p3']) s.onPodAdd(makePod(n, { cpu: '1' }));
    await drain();
    expect(io.binds.map(([, n]) => n).sort()).toEqual(['a', 'b']);
    expect(io.failures).toEqual([
      { pod: 'p3', reason: 'Unschedulable', message: '0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.' },
    ]);
  });

  it('spreads the pods of one owner over the nodes', async () => {
    const { io, s, drain } = setup(Math.random);
    for (const n of ['a', 'b', 'c']) s.onNodeAdd(makeNode(n));
    for (let i = 0; i < 9; i++) s.onPodAdd(makePod(`r${i}`, { ownerUid: 'rs1' }));
    await drain();
    const per = new Map<string, number>();
    for (const [, n] of io.binds) per.set(n, (per.get(n) ?? 0) + 1);
    expect([...per.values()]).toEqual([3, 3, 3]);
  });

  it('cordon, nodeSelector and taints steer pods, with the per-node reasons in the message', async () => {
    const { io, s, drain } = setup();
    s.onNodeAdd(makeNode('cp', { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }));
    s.onNodeAdd(makeNode('a', { unschedulable: true }));
    s.onNodeAdd(makeNode('b', { labels: { disk: 'ssd' } }));
    s.onPodAdd(makePod('any'));
    s.onPodAdd(makePod('hdd', { spec: { nodeSelector: { disk: 'hdd' } } }));
    await drain();
    expect(io.binds).toEqual([['any', 'b']]);
    expect(io.failures[0].message).toBe(
      "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 1 node(s) were unschedulable. " +
        'preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.',
    );
  });

  it('retries an unschedulable pod when a node is added, and when a bound pod is deleted', async () => {
    const { io, s, drain, advance } = setup();
    s.onNodeAdd(makeNode('a', { cpu: '1' }));
    const hog = makePod('hog', { cpu: '1', nodeName: 'a' });
    s.onPodAdd(hog);
    s.onPodAdd(makePod('p', { cpu: '1' }));
    await drain();
    expect(io.binds).toEqual([]);
    advance(1500);
    s.onPodDelete(hog);
    await drain();
    expect(io.binds).toEqual([['p', 'a']]);
    s.onPodAdd(makePod('q', { cpu: '1' }));
    await drain();
    expect(s.queue.stats.unschedulable).toBe(1);
    advance(1500);
    s.onNodeAdd(makeNode('b', { cpu: '1' }));
    await drain();
    expect(io.binds).toEqual([['p', 'a'], ['q', 'b']]);
  });

  it('a failed binding forgets the assumption and retries after back-off', async () => {
    const { io, s, drain, advance } = setup();
    s.onNodeAdd(makeNode('a', { cpu: '1' }));
    io.fail.add('p');
    s.onPodAdd(makePod('p', { cpu: '1' }));
    await drain();
    expect(io.failures.map((f) => f.reason)).toEqual(['SchedulerError']);
    expect(s.cache.podCount).toBe(0);
    expect(s.queue.stats.backoff).toBe(1);
    io.fail.clear();
    advance(1100);
    s.queue.flush();
    await drain();
    expect(io.binds).toEqual([['p', 'a']]);
  });

  it('leaves alone pods of other schedulers, bound, finished and terminating pods', async () => {
    const { io, s, drain } = setup();
    s.onNodeAdd(makeNode('a'));
    s.onPodAdd(makePod('other', { spec: { schedulerName: 'my-scheduler' } }));
    s.onPodAdd({ ...makePod('done'), status: { phase: 'Succeeded' } });
    const t = makePod('term');
    s.onPodAdd({ ...t, metadata: { ...t.metadata, deletionTimestamp: '2024-01-01T00:00:00Z' } });
    await drain();
    expect(io.binds).toEqual([]);
  });

  it('a pod bound by someone else while waiting leaves the queue', async () => {
    const { io, s, drain } = setup();
    s.onNodeAdd(makeNode('a', { cpu: '1' }));
    const p = makePod('p', { cpu: '2' });
    s.onPodAdd(p);
    await drain();
    s.onPodUpdate(p, { ...p, spec: { ...p.spec!, nodeName: 'a' } });
    expect(s.queue.has('default/p')).toBe(false);
    expect(io.binds).toEqual([]);
  });

  it('no nodes: an error with upstream text, retried with back-off', async () => {
    const { io, s, drain } = setup();
    s.onPodAdd(makePod('p'));
    await drain();
    expect(io.failures).toEqual([{ pod: 'p', reason: 'SchedulerError', message: 'no nodes available to schedule pods' }]);
    expect(s.queue.stats.backoff).toBe(1);
  });
});

describe('failure reports', () => {
  it('keep at most 16 in flight and the newest per pod waiting', async () => {
    const io = new FakeIO();
    const release: (() => void)[] = [];
    let started = 0;
    io.failed = () => {
      started++;
      return new Promise<void>((r) => release.push(r));
    };
    const s = new Scheduler(io, { log: silentLogger() });
    s.onNodeAdd(makeNode('a', { cpu: '1' }));
    for (let i = 0; i < 20; i++) s.onPodAdd(makePod(`p${i}`, { cpu: '2' }));
    for (let e = s.queue.tryPop(); e; e = s.queue.tryPop()) s.scheduleOne(e);
    expect(started).toBe(16);
    for (const r of release.splice(0)) r();
    await new Promise((r) => setImmediate(r));
    expect(started).toBe(20);
    for (const r of release.splice(0)) r();
    await s.stop();
  });

  it('the PodScheduled condition is written only when it changes', () => {
    const p = makePod('p');
    const cond = unschedulableCondition(p, 'Unschedulable', 'm1')!;
    expect(cond).toMatchObject({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'm1', lastProbeTime: null });
    const withCond = { ...p, status: { conditions: [cond] } };
    expect(unschedulableCondition(withCond, 'Unschedulable', 'm1')).toBeUndefined();
    expect(unschedulableCondition(withCond, 'Unschedulable', 'm2')).toMatchObject({ message: 'm2', lastTransitionTime: cond.lastTransitionTime });
  });
});

describe('Framework', () => {
  it('samples nodes as upstream (percentageOfNodesToScore adaptive)', () => {
    expect(numFeasibleNodesToFind(50)).toBe(50);
    expect(numFeasibleNodesToFind(150)).toBe(100);
    expect(numFeasibleNodesToFind(500)).toBe(230);
    expect(numFeasibleNodesToFind(5000)).toBe(500);
    expect(numFeasibleNodesToFind(1000, 30)).toBe(300);
  });

  it('breaks ties among equal scores at random', () => {
    let r = 0;
    const f = new Framework(DEFAULT_PROFILE, { random: () => r });
    r = 0; // always take the newest tie
    expect(f.selectHost([5, 7, 7, 7])).toBe(3);
    r = 0.99; // never replace
    expect(f.selectHost([5, 7, 7, 7])).toBe(1);
  });

  it('decides thousands of pods/s with 500 nodes (5,000 pods of 50 owners; bound kept generous for loaded machines)', async () => {
    const { s } = setup(Math.random);
    for (let i = 0; i < 500; i++) s.onNodeAdd(makeNode(`n${i}`, { cpu: '32', memory: '128Gi' }));
    for (let i = 0; i < 5000; i++) s.onPodAdd(makePod(`p${i}`, { cpu: '100m', memory: '128Mi', ownerUid: `rs${i % 50}` }));
    const t0 = performance.now();
    let n = 0;
    for (let e = s.queue.tryPop(); e; e = s.queue.tryPop()) {
      s.scheduleOne(e);
      n++;
    }
    const rate = n / ((performance.now() - t0) / 1000);
    console.log(`scheduler decisions: ${n} pods in ${(performance.now() - t0).toFixed(0)} ms = ${rate.toFixed(0)} pods/s`);
    expect(s.cache.podCount).toBe(5000);
    expect(rate).toBeGreaterThan(500);
    await s.stop();
  });
});
