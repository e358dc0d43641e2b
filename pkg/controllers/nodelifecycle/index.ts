// nodelifecycle: the node lifecycle controller — silent nodes turn Unknown, condition taints follow the node's health,
// and pods on NoExecute-tainted nodes are evicted once their tolerations run out (upstream nodelifecycle + taint manager).
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Node, Pod, Taint } from 'kubernetes-types/core/v1.js';
import { ApiError } from '../../api/errors.ts';
import { lookupKind } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import { podTarget } from '../../client/events.ts';
import { INDEX_NODE_NAME } from '../../client/informer.ts';
import { WorkQueue } from '../../client/queue.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { runWorkers, type SyncResult } from '../worker.ts';
import { evictionFor, notReadyStatus, observe, readyStatus, reconcileTaints, silentConditions, wantedTaints } from './plan.ts';
import type { Probe, TimedTaint } from './plan.ts';
import { TokenBucket } from './ratelimit.ts';

export { evictionFor, reconcileTaints, silentConditions, wantedTaints, TAINT } from './plan.ts';

const nodeInfo = lookupKind('v1', 'Node')!;
const podInfo = lookupKind('v1', 'Pod')!;
const leaseInfo = lookupKind('coordination.k8s.io/v1', 'Lease')!;
const NODE_LEASE_NS = 'kube-node-lease';
/** LEASE_RENEW_MS is how often agents renew their node lease (pkg/kubelet/node.ts; upstream 10 s as well). */
const LEASE_RENEW_MS = 10_000;

/**
 * EVICTION_QPS / EVICTION_BURST pace pod deletions by the taint manager. Upstream paces whole nodes at 0.1/s
 * (--node-eviction-rate); here a failed node's pods go promptly while a mass failure still cannot flood the API.
 */
const EVICTION_QPS = 50;
const EVICTION_BURST = 100;

/** monitorPeriodMs is how often every node is re-checked (upstream --node-monitor-period 5 s), shorter for short grace periods. */
function monitorPeriodMs(graceMs: number): number {
  return Math.max(250, Math.min(5_000, Math.floor(graceMs / 4)));
}

/**
 * newNodeLifecycleController watches Nodes, node Leases and Pods. Per node key it: (1) turns Ready and the pressure
 * conditions Unknown when neither the lease nor the status heartbeat moved for the grace period; (2) keeps the
 * not-ready / unreachable (NoExecute + NoSchedule), pressure and unschedulable taints in step with the node;
 * (3) marks pods of an unreachable node NotReady; (4) deletes pods that do not tolerate a NoExecute taint, or
 * whose tolerationSeconds ran out since the taint's timeAdded (event TaintManagerEviction).
 */
export function newNodeLifecycleController(ctx: ControllerContext): Controller {
  const log = ctx.log;
  const graceMs = ctx.options.nodeMonitorGracePeriodMs;
  const recorder = ctx.recorder('node-controller');
  const taintRecorder = ctx.recorder('taint-eviction-controller');
  const queue = new WorkQueue();
  const nodes = ctx.informers.informerFor(nodeInfo);
  const leases = ctx.informers.informerFor(leaseInfo);
  const pods = ctx.informers.informerFor(podInfo);
  if (graceMs <= LEASE_RENEW_MS) log.warn({ gracePeriodMs: graceMs }, `the node monitor grace period should exceed the agents' ${LEASE_RENEW_MS / 1000} s lease renewals, or live nodes will flap NotReady`);
  const probes = new Map<string, Probe>();
  /** firstSeen stands in for timeAdded on NoExecute taints added by others without one: `node/key` → ms */
  const firstSeen = new Map<string, number>();
  const bucket = new TokenBucket(EVICTION_QPS, EVICTION_BURST, Date.now());
  let ticker: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped!: () => void;
  const stopping = new Promise<'stopped'>((r) => (stopped = () => r('stopped')));

  const noExecute = (node: Node): boolean => (node.spec?.taints ?? []).some((t) => t.effect === 'NoExecute');

  const timed = (name: string, taints: Taint[], now: number): TimedTaint[] => {
    const out: TimedTaint[] = [];
    for (const taint of taints) {
      if (taint.effect !== 'NoExecute') continue;
      const at = taint.timeAdded ? Date.parse(taint.timeAdded) : NaN;
      if (!Number.isNaN(at)) {
        out.push({ taint, since: at });
        continue;
      }
      const k = `${name}/${taint.key}`;
      if (!firstSeen.has(k)) firstSeen.set(k, now);
      out.push({ taint, since: firstSeen.get(k)! });
    }
    return out;
  };

  /** monitor turns a silent node's conditions Unknown; returns the node as it now stands. */
  const monitor = async (node: Node, now: number): Promise<Node> => {
    const name = node.metadata!.name!;
    const lease = leases.get(NODE_LEASE_NS, name) as Lease | undefined;
    const probe = observe(probes.get(name), node, lease, now);
    probes.set(name, probe);
    const conds = silentConditions(node, probe, now, graceMs);
    if (!conds) return node;
    const wasReady = readyStatus(node) === 'True';
    const next: Node = { ...structuredClone(node), status: { ...node.status, conditions: conds } };
    const written = (await ctx.client.updateStatus(nodeInfo, next as KubeObject)) as Node;
    log.info({ node: name, silentForMs: now - probe.probedAt }, 'node stopped posting status; conditions set to Unknown');
    if (wasReady) recorder.event({ kind: 'Node', apiVersion: 'v1', name, uid: written.metadata?.uid }, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
    return written;
  };

  /** taint brings the controller's taints in line with the node's conditions; returns the node as it now stands. */
  const taint = async (node: Node, now: number): Promise<Node> => {
    const taints = reconcileTaints(node.spec?.taints, wantedTaints(node), now);
    if (!taints) return node;
    const { taints: _old, ...rest } = structuredClone(node.spec ?? {});
    const next: Node = { ...structuredClone(node), spec: taints.length ? { ...rest, taints } : rest };
    const written = (await ctx.client.update(nodeInfo, next as KubeObject)) as Node;
    log.info({ node: node.metadata!.name, taints: taints.map((t) => `${t.key}:${t.effect}`) }, 'node taints updated');
    return written;
  };

  /** pods marks pods NotReady on an unreachable node and evicts those whose NoExecute tolerations ran out. */
  const handlePods = async (node: Node, now: number): Promise<number | undefined> => {
    const name = node.metadata!.name!;
    const onNode = pods.byIndex(INDEX_NODE_NAME, name) as Pod[];
    if (!onNode.length) return undefined;
    let wait: number | undefined;
    const later = (ms: number) => (wait = wait === undefined ? ms : Math.min(wait, ms));
    if (readyStatus(node) === 'Unknown') {
      for (const pod of onNode) {
        const status = notReadyStatus(pod, now);
        if (!status) continue;
        try {
          await ctx.client.updateStatus(podInfo, { ...(structuredClone(pod) as KubeObject), status });
          recorder.event(podTarget(pod as KubeObject), 'Warning', 'NodeNotReady', 'Node is not ready');
        } catch (err) {
          if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) throw err;
          if (err.code === 409) later(100);
        }
      }
    }
    const taints = timed(name, node.spec?.taints ?? [], now);
    if (!taints.length) return wait;
    for (const pod of onNode) {
      const e = evictionFor(pod, taints, now);
      if (e.action === 'wait') later(e.ms + 10);
      if (e.action !== 'delete') continue;
      const delay = bucket.take(Date.now());
      if (delay > 0) {
        later(delay);
        continue;
      }
      const ns = pod.metadata!.namespace!;
      const podName = pod.metadata!.name!;
      taintRecorder.event(podTarget(pod as KubeObject), 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${ns}/${podName}`);
      try {
        await ctx.client.delete(podInfo, ns, podName, { preconditions: { uid: pod.metadata!.uid } });
        log.info({ pod: `${ns}/${podName}`, node: name, taint: `${e.taint.key}:${e.taint.effect}` }, 'evicted pod from tainted node');
      } catch (err) {
        if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) throw err;
      }
    }
    return wait;
  };

  const reconcile = async (name: string): Promise<SyncResult> => {
    const cached = nodes.get(undefined, name) as Node | undefined;
    if (!cached) {
      probes.delete(name);
      for (const k of firstSeen.keys()) if (k.startsWith(`${name}/`)) firstSeen.delete(k);
      return;
    }
    const now = Date.now();
    let node = await monitor(cached, now);
    node = await taint(node, now);
    if (!noExecute(node)) for (const k of firstSeen.keys()) if (k.startsWith(`${name}/`)) firstSeen.delete(k);
    const podWait = await handlePods(node, now);
    // come back when the grace period of a live node would run out, or when a toleration expires
    const probe = probes.get(name)!;
    const graceLeft = readyStatus(node) === 'Unknown' ? undefined : probe.probedAt + graceMs - now + 50;
    const next = Math.min(graceLeft ?? Infinity, podWait ?? Infinity);
    return Number.isFinite(next) ? { requeueAfterMs: Math.max(10, next) } : undefined;
  };

  const enqueueNode = (n: KubeObject) => queue.add(n.metadata.name!);
  const onPod = (p: KubeObject) => {
    const nodeName = (p as Pod).spec?.nodeName;
    if (!nodeName || p.metadata.deletionTimestamp) return;
    const node = nodes.get(undefined, nodeName) as Node | undefined;
    if (node && (noExecute(node) || readyStatus(node) === 'Unknown')) queue.add(nodeName);
  };

  return {
    name: 'nodelifecycle',
    start() {
      nodes.addEventHandler({ add: enqueueNode, update: (_o, n) => enqueueNode(n), delete: enqueueNode });
      leases.addEventHandler({
        add: (l) => l.metadata.namespace === NODE_LEASE_NS && queue.add(l.metadata.name!),
        update: (_o, l) => l.metadata.namespace === NODE_LEASE_NS && queue.add(l.metadata.name!),
      });
      pods.addEventHandler({ add: onPod, update: (_o, p) => onPod(p) });
      running = Promise.race([Promise.all([nodes.synced, leases.synced, pods.synced]), stopping]).then((r) => {
        if (r === 'stopped') return;
        ticker = setInterval(() => {
          for (const n of nodes.list()) queue.add(n.metadata.name!);
        }, monitorPeriodMs(graceMs));
        ticker.unref();
        return runWorkers(queue, ctx.options.workers, reconcile, log);
      });
    },
    async stop() {
      stopped();
      clearInterval(ticker);
      queue.shutdown();
      await running;
    },
  };
}
