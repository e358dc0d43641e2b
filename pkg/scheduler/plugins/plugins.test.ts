// plugins.test: each plugin's filter verdict and reason, and the score arithmetic, over hand-built nodes and pods.
import { describe, expect, it } from 'vitest';
import { Cache } from '../cache.ts';
import { podInfoOf, podRequests } from '../podinfo.ts';
import { makeNode, makePod } from '../testing.ts';
import { CycleState } from '../types.ts';
import type { NodeInfo } from '../types.ts';
import * as balanced from './balancedallocation.ts';
import * as interPod from './interpodaffinity.ts';
import * as nodeAffinity from './nodeaffinity.ts';
import * as nodeName from './nodename.ts';
import * as nodePorts from './nodeports.ts';
import * as nodeReady from './nodeready.ts';
import * as fit from './noderesourcesfit.ts';
import * as unsched from './nodeunschedulable.ts';
import * as spread from './podtopologyspread.ts';
import * as taints from './tainttoleration.ts';

function cacheWith(...nodes: ReturnType<typeof makeNode>[]): Cache {
  const c = new Cache();
  for (const n of nodes) c.addNode(n);
  return c;
}
const ni = (c: Cache, name: string): NodeInfo => c.node(name)!;

describe('NodeUnschedulable', () => {
  const c = cacheWith(makeNode('a', { unschedulable: true }), makeNode('b'));
  it('rejects a cordoned node as unresolvable', () => {
    expect(unsched.filter(podInfoOf(makePod('p')), ni(c, 'a'))).toEqual({ code: 'UnschedulableAndUnresolvable', reasons: ['node(s) were unschedulable'] });
    expect(unsched.filter(podInfoOf(makePod('p')), ni(c, 'b')).code).toBe('Success');
  });
  it('passes a pod tolerating node.kubernetes.io/unschedulable:NoSchedule', () => {
    const p = makePod('p', { spec: { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] } });
    expect(unsched.filter(podInfoOf(p), ni(c, 'a')).code).toBe('Success');
  });
});

describe('NodeName and NodeReady', () => {
  const c = cacheWith(makeNode('a'), makeNode('b', { ready: false }));
  it('NodeName', () => {
    const p = podInfoOf(makePod('p', { spec: { nodeName: 'b' } }));
    expect(nodeName.filter(p, ni(c, 'a')).reasons).toEqual(["node(s) didn't match the requested node name"]);
    expect(nodeName.filter(p, ni(c, 'b')).code).toBe('Success');
  });
  it('NodeReady rejects a node whose Ready condition is not True, and one with no conditions', () => {
    expect(nodeReady.filter(undefined, ni(c, 'b'))).toEqual({ code: 'UnschedulableAndUnresolvable', reasons: ['node(s) were not ready'] });
    expect(nodeReady.filter(undefined, ni(c, 'a')).code).toBe('Success');
    c.addNode({ metadata: { name: 'fresh' }, status: {} });
    expect(nodeReady.filter(undefined, ni(c, 'fresh')).code).toBe('UnschedulableAndUnresolvable');
  });
});

describe('TaintToleration', () => {
  const c = cacheWith(
    makeNode('cp', { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }),
    makeNode('gpu', { taints: [{ key: 'gpu', value: 'true', effect: 'NoExecute' }] }),
    makeNode('soft', { taints: [{ key: 'spot', value: 'yes', effect: 'PreferNoSchedule' }] }),
  );
  it('names the first untolerated taint as upstream: {key: value}', () => {
    const p = podInfoOf(makePod('p'));
    expect(taints.filter(p, ni(c, 'cp')).reasons).toEqual(['node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }']);
    expect(taints.filter(p, ni(c, 'gpu')).reasons).toEqual(['node(s) had untolerated taint {gpu: true}']);
    expect(taints.filter(p, ni(c, 'soft')).code).toBe('Success');
  });
  it.each([
    [{ key: 'gpu', operator: 'Equal' as const, value: 'true' }, 'Success'],
    [{ key: 'gpu', operator: 'Exists' as const }, 'Success'],
    [{ operator: 'Exists' as const }, 'Success'],
    [{ key: 'gpu', value: 'false' }, 'UnschedulableAndUnresolvable'],
    [{ key: 'gpu', operator: 'Exists' as const, effect: 'NoSchedule' }, 'UnschedulableAndUnresolvable'],
  ])('toleration %j → %s', (tol, code) => {
    expect(taints.filter(podInfoOf(makePod('p', { spec: { tolerations: [tol] } })), ni(c, 'gpu')).code).toBe(code);
  });
  it('scores untolerated PreferNoSchedule taints, reversed', () => {
    const p = podInfoOf(makePod('p'));
    const st = new CycleState();
    taints.preScore(p, [], undefined, st);
    const s = [taints.score(p, ni(c, 'cp'), st), taints.score(p, ni(c, 'soft'), st)];
    expect(s).toEqual([0, 1]);
    taints.normalizeScore(s);
    expect(s).toEqual([100, 0]);
  });
});

describe('NodeAffinity', () => {
  const c = cacheWith(makeNode('a', { labels: { disk: 'ssd', gen: '5' } }), makeNode('b', { labels: { disk: 'hdd', gen: '3' } }));
  const REASON = "node(s) didn't match Pod's node affinity/selector";
  it('nodeSelector', () => {
    const p = podInfoOf(makePod('p', { spec: { nodeSelector: { disk: 'ssd' } } }));
    expect(nodeAffinity.filter(p, ni(c, 'a')).code).toBe('Success');
    expect(nodeAffinity.filter(p, ni(c, 'b'))).toEqual({ code: 'UnschedulableAndUnresolvable', reasons: [REASON] });
  });
  it.each([
    [{ key: 'disk', operator: 'In', values: ['ssd', 'nvme'] }, ['a']],
    [{ key: 'disk', operator: 'NotIn', values: ['ssd'] }, ['b']],
    [{ key: 'disk', operator: 'Exists' }, ['a', 'b']],
    [{ key: 'zone', operator: 'DoesNotExist' }, ['a', 'b']],
    [{ key: 'gen', operator: 'Gt', values: ['4'] }, ['a']],
    [{ key: 'gen', operator: 'Lt', values: ['4'] }, ['b']],
    [{ key: 'gen', operator: 'Gt', values: ['x'] }, []],
  ])('required expression %j matches %j', (expr, want) => {
    const p = podInfoOf(makePod('p', { spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [expr] }] } } } } }));
    expect(['a', 'b'].filter((n) => nodeAffinity.filter(p, ni(c, n)).code === 'Success')).toEqual(want);
  });
  it('terms are ORed, matchFields look at metadata.name, an empty term matches nothing', () => {
    const terms = [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['b'] }] }, {}];
    const p = podInfoOf(makePod('p', { spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } } }));
    expect(nodeAffinity.filter(p, ni(c, 'a')).code).toBe('UnschedulableAndUnresolvable');
    expect(nodeAffinity.filter(p, ni(c, 'b')).code).toBe('Success');
  });
  it('scores preferred terms by weight', () => {
    const p = podInfoOf(makePod('p', { spec: { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } }, { weight: 5, preference: { matchExpressions: [{ key: 'gen', operator: 'Exists' }] } }] } } } }));
    const st = new CycleState();
    expect(nodeAffinity.preScore(p, [], undefined, st)).toBe(true);
    const s = [nodeAffinity.score(p, ni(c, 'a'), st), nodeAffinity.score(p, ni(c, 'b'), st)];
    expect(s).toEqual([15, 5]);
    nodeAffinity.normalizeScore(s);
    expect(s).toEqual([100, 33]);
  });
});

describe('NodePorts', () => {
  const port = (hostPort: number, hostIP?: string, protocol?: string) => makePod(`p${hostPort}${hostIP ?? ''}${protocol ?? ''}`, { containers: [{ name: 'c', ports: [{ containerPort: 80, hostPort, hostIP, protocol }] }] });
  it.each([
    [port(8080), port(8080), false],
    [port(8080), port(8081), true],
    [port(8080), port(8080, undefined, 'UDP'), true],
    [port(8080, '127.0.0.2'), port(8080, '127.0.0.3'), true],
    [port(8080, '127.0.0.2'), port(8080, '127.0.0.2'), false],
    [port(8080, '127.0.0.2'), port(8080), false],
    [port(8080), port(8080, '127.0.0.2'), false],
  ])('existing %# conflicts as upstream', (existing, incoming, fits) => {
    const c = cacheWith(makeNode('a'));
    c.setPod({ ...existing, spec: { ...existing.spec!, nodeName: 'a' } });
    const r = nodePorts.filter(podInfoOf(incoming), ni(c, 'a'));
    expect(r.code === 'Success').toBe(fits);
    if (!fits) expect(r).toEqual({ code: 'Unschedulable', reasons: ["node(s) didn't have free ports for the requested pod ports"] });
  });
});

describe('NodeResourcesFit', () => {
  it('pod requests: init containers by max, sidecars add up, overhead added', () => {
    const p = makePod('p', {
      containers: [
        { name: 'c1', resources: { requests: { cpu: '2', memory: '1G' } } },
        { name: 'c2', resources: { requests: { cpu: '1', memory: '1G' } } },
      ],
      spec: {
        initContainers: [
          { name: 'i1', resources: { requests: { cpu: '2', memory: '1G' } } },
          { name: 'i2', resources: { requests: { cpu: '2', memory: '3G' } } },
        ],
        overhead: { cpu: '100m' },
      },
    });
    expect(Object.fromEntries(podRequests(p))).toEqual({ cpu: 3100, memory: 3e9 });
    const side = makePod('s', {
      containers: [{ name: 'c', resources: { requests: { cpu: '1' } } }],
      spec: { initContainers: [{ name: 'sc', restartPolicy: 'Always', resources: { requests: { cpu: '500m' } } }, { name: 'i', resources: { requests: { cpu: '2' } } }] },
    });
    expect(podRequests(side).get('cpu')).toBe(2500);
    expect(podInfoOf(makePod('be')).nonZero).toEqual({ milliCpu: 100, memory: 200 * 1024 * 1024 });
  });
  it('counts bound and assumed pods against allocatable', () => {
    const c = cacheWith(makeNode('a', { cpu: '2', memory: '1Gi', pods: 2 }));
    c.setPod(makePod('x', { cpu: '1500m', memory: '512Mi', nodeName: 'a' }));
    expect(fit.filter(podInfoOf(makePod('p', { cpu: '500m' })), ni(c, 'a')).code).toBe('Success');
    expect(fit.filter(podInfoOf(makePod('p', { cpu: '600m', memory: '600Mi' })), ni(c, 'a'))).toEqual({ code: 'Unschedulable', reasons: ['Insufficient cpu', 'Insufficient memory'] });
    c.assume(podInfoOf(makePod('y')), 'a');
    expect(fit.filter(podInfoOf(makePod('p')), ni(c, 'a')).reasons).toEqual(['Too many pods']);
  });
  it('a finished pod frees its requests', () => {
    const c = cacheWith(makeNode('a', { cpu: '1' }));
    const x = makePod('x', { cpu: '1', nodeName: 'a' });
    c.setPod(x);
    expect(fit.filter(podInfoOf(makePod('p', { cpu: '1' })), ni(c, 'a')).code).toBe('Unschedulable');
    c.setPod({ ...x, status: { phase: 'Succeeded' } });
    expect(fit.filter(podInfoOf(makePod('p', { cpu: '1' })), ni(c, 'a')).code).toBe('Success');
  });
  it('extended resources', () => {
    const c = cacheWith(makeNode('a'));
    const p = makePod('p', { containers: [{ name: 'c', resources: { requests: { 'nvidia.com/gpu': '1' } } }] });
    expect(fit.filter(podInfoOf(p), ni(c, 'a')).reasons).toEqual(['Insufficient nvidia.com/gpu']);
  });
  it('least allocated score (upstream formula, non-zero requests)', () => {
    expect(fit.leastRequestedScore(1000, 4000)).toBe(75);
    expect(fit.leastRequestedScore(5000, 4000)).toBe(0);
    expect(fit.leastRequestedScore(0, 0)).toBe(0);
    const c = cacheWith(makeNode('a', { cpu: '4', memory: '8Gi' }));
    c.setPod(makePod('x', { cpu: '1', memory: '2Gi', nodeName: 'a' }));
    expect(fit.score(podInfoOf(makePod('p', { cpu: '1', memory: '2Gi' })), ni(c, 'a'))).toBe(50);
    // no requests: 100m and 200Mi count → cpu (4000−1100)·100/4000 = 72, memory (8192−2248)·100/8192 = 72
    expect(fit.score(podInfoOf(makePod('p')), ni(c, 'a'))).toBe(72);
  });
});

describe('NodeResourcesBalancedAllocation', () => {
  it('scores (1 − |cpu − memory| / 2) · 100 and skips best-effort pods', () => {
    const c = cacheWith(makeNode('a', { cpu: '4', memory: '10Gi' }));
    const p = podInfoOf(makePod('p', { cpu: '2', memory: '1Gi' }));
    expect(balanced.preScore(p)).toBe(true);
    expect(balanced.score(p, ni(c, 'a'))).toBe(80);
    expect(balanced.preScore(podInfoOf(makePod('be')))).toBe(false);
  });
});

describe('PodTopologySpread (system default)', () => {
  it('prefers the node with fewer pods of the same owner', () => {
    const c = cacheWith(makeNode('a'), makeNode('b'), makeNode('c'));
    c.setPod(makePod('x1', { ownerUid: 'rs1', nodeName: 'a' }));
    c.setPod(makePod('x2', { ownerUid: 'rs1', nodeName: 'a' }));
    c.setPod(makePod('x3', { ownerUid: 'rs1', nodeName: 'b' }));
    c.setPod(makePod('other', { ownerUid: 'rs2', nodeName: 'c' }));
    const p = podInfoOf(makePod('p', { ownerUid: 'rs1' }));
    const st = new CycleState();
    expect(spread.preScore(p, c.nodes, c, st)).toBe(true);
    const s = c.nodes.map((n) => spread.score(p, n, st));
    // weight log(3 + 2) ≈ 1.609: a = round(2·1.609 + 2) = 5, b = round(1.609 + 2) = 4, c = 2
    expect(s).toEqual([5, 4, 2]);
    spread.normalizeScore(s);
    // 100 · (5 + 2 − s) / 5
    expect(s).toEqual([40, 60, 100]);
  });
  it('groups ownerless pods by namespace and labels; a pod without labels is not spread', () => {
    expect(podInfoOf(makePod('a', { labels: { app: 'x', t: '1' } })).spreadKey).toBe(podInfoOf(makePod('b', { labels: { t: '1', app: 'x' } })).spreadKey);
    expect(spread.preScore(podInfoOf(makePod('p')), [], new Cache(), new CycleState())).toBe(false);
  });
  it('terminating pods do not count', () => {
    const c = cacheWith(makeNode('a'));
    const x = makePod('x', { ownerUid: 'rs1', nodeName: 'a' });
    c.setPod(x);
    expect(c.spreadCounts('owner:rs1')?.get('a')).toBe(1);
    c.setPod({ ...x, metadata: { ...x.metadata, deletionTimestamp: '2024-01-01T00:00:00Z' } });
    expect(c.spreadCounts('owner:rs1')).toBeUndefined();
  });
});

describe('InterPodAffinity', () => {
  const anti = (labels: Record<string, string>, match: Record<string, string>, key = 'kubernetes.io/hostname') =>
    makePod(`anti-${Math.random()}`, { labels, spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: match }, topologyKey: key }] } } } });
  it("rejects nodes holding a pod the incoming pod's anti-affinity selects", () => {
    const c = cacheWith(makeNode('a'), makeNode('b'));
    c.setPod(makePod('web1', { labels: { app: 'web' }, nodeName: 'a' }));
    const p = podInfoOf(anti({ app: 'web' }, { app: 'web' }));
    const st = new CycleState();
    interPod.preFilter(p, c, st);
    expect(interPod.filter(p, ni(c, 'a'), st)).toEqual({ code: 'Unschedulable', reasons: ["node(s) didn't match pod anti-affinity rules"] });
    expect(interPod.filter(p, ni(c, 'b'), st).code).toBe('Success');
  });
  it("honours existing pods' anti-affinity (symmetry)", () => {
    const c = cacheWith(makeNode('a'), makeNode('b'));
    const existing = anti({ app: 'db' }, { app: 'web' });
    c.setPod({ ...existing, spec: { ...existing.spec!, nodeName: 'b' } });
    const p = podInfoOf(makePod('w', { labels: { app: 'web' } }));
    const st = new CycleState();
    interPod.preFilter(p, c, st);
    expect(interPod.filter(p, ni(c, 'b'), st).reasons).toEqual(["node(s) didn't satisfy existing pods anti-affinity rules"]);
    expect(interPod.filter(p, ni(c, 'a'), st).code).toBe('Success');
  });
  it('required affinity: co-locate, and the first pod of a self-affine group goes anywhere', () => {
    const c = cacheWith(makeNode('a'), makeNode('b'));
    const aff = (name: string) => makePod(name, { labels: { app: 'cache' }, spec: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'cache' } }, topologyKey: 'kubernetes.io/hostname' }] } } } });
    let p = podInfoOf(aff('first'));
    let st = new CycleState();
    interPod.preFilter(p, c, st);
    expect(interPod.filter(p, ni(c, 'a'), st).code).toBe('Success');
    c.setPod({ ...p.pod, spec: { ...p.pod.spec!, nodeName: 'b' } });
    p = podInfoOf(aff('second'));
    st = new CycleState();
    interPod.preFilter(p, c, st);
    expect(interPod.filter(p, ni(c, 'a'), st)).toEqual({ code: 'UnschedulableAndUnresolvable', reasons: ["node(s) didn't match pod affinity rules"] });
    expect(interPod.filter(p, ni(c, 'b'), st).code).toBe('Success');
  });
});
