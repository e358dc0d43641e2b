// network: the agent's pod network — this node's Docker bridge for its podCIDR, host-gateway routes to the other nodes, and the iptables rules between them.
import type Dockerode from 'dockerode';
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { ResourceEventHandler, SharedInformer, SharedInformerFactory } from '../client/informer.ts';
import { bridgeSpec, ensureBridge, removeClusterNetworks } from './bridge.ts';
import { formatCidr, mustParseCidr } from './cidr.ts';
import { CommandError, hostRunner, type CommandRunner } from './exec.ts';
import { clusterCidrsInChains, clusterIptables, ensureIptables, removeIptables } from './iptables.ts';
import { serviceInterfaceName } from './names.ts';
import { applyRoutes, currentRoutes, desiredRoutes, localAddresses, nodeRoute, planRoutes, removeRoutes, routeKey } from './routes.ts';

export { networkName, bridgeName, serviceInterfaceName, chainNames, ROUTE_PROTO } from './names.ts';
export { hostRunner, netnsRunner, CommandError, type CommandRunner } from './exec.ts';

export interface PodNetworkOptions {
  informers: SharedInformerFactory;
  docker: Dockerode;
  clusterId: string;
  nodeName: string;
  nodeIp: string;
  clusterCidr: string;
  log: Logger;
  /** run executes `ip` and `iptables` (default: on the host); tests pass netnsRunner(ns) */
  run?: CommandRunner;
  /** resyncMs re-asserts the bridge, rules and routes this often (default 15 s; dockerd restarts rewrite its chains) */
  resyncMs?: number;
  /** manageBridge: false leaves Docker alone and programs only routes and iptables (tests in a namespace) */
  manageBridge?: boolean;
}

/** PodNetworkReady is what pod sandboxes need: the docker network to join, and the node's subnet and gateway. */
export interface PodNetworkReady {
  networkName: string;
  podCIDR: string;
  gateway: string;
}

export interface PodNetwork {
  /** ready resolves once the bridge network and rules for this node's podCIDR exist; rejects if stopped first */
  ready(): Promise<PodNetworkReady>;
  /** stop ends the loops; it leaves networks, rules and routes in place (pods keep working across agent restarts) */
  stop(): Promise<void>;
}

const nodeInfo = lookupKind('v1', 'Node')!;
const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;

/**
 * startPodNetwork runs the node's network loop: it waits for `Node.spec.podCIDR` (nodeipam fills it), ensures the
 * docker bridge and iptables rules, and keeps one route per other node's subnet via that node's address. One sync
 * at a time; watch events that change a node's subnet or address, a periodic resync, and error back-off trigger it.
 * The caller starts the informer factory.
 */
export function startPodNetwork(opts: PodNetworkOptions): PodNetwork {
  const log = opts.log;
  const run = opts.run ?? hostRunner;
  const clusterCidr = formatCidr(mustParseCidr(opts.clusterCidr, 'cluster CIDR'));
  const nodes: SharedInformer = opts.informers.informerFor(nodeInfo);

  let resolveReady!: (r: PodNetworkReady) => void;
  let rejectReady!: (e: Error) => void;
  const readyP = new Promise<PodNetworkReady>((res, rej) => ((resolveReady = res), (rejectReady = rej)));
  readyP.catch(() => undefined); // nobody may be waiting when stop() rejects it
  let isReady = false;
  let stopped = false;
  let dirty = false;
  let running: Promise<void> | undefined;
  let backoff = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let lastError = '';
  let stopSignal!: () => void;
  const stopping = new Promise<void>((r) => (stopSignal = r));

  const trigger = (): void => {
    if (stopped) return;
    dirty = true;
    running ??= loop().finally(() => (running = undefined));
  };

  const loop = async (): Promise<void> => {
    while (dirty && !stopped) {
      dirty = false;
      try {
        await syncOnce();
        backoff = 0;
        lastError = '';
      } catch (err) {
        backoff = Math.min(MAX_BACKOFF_MS, backoff ? backoff * 2 : MIN_BACKOFF_MS);
        const msg = (err as Error).message;
        // the same failure again is worth a line at debug only: the first one said it
        if (msg !== lastError) log.error({ err, retryMs: backoff }, 'pod network sync failed');
        else log.debug({ retryMs: backoff }, `pod network sync failed again: ${msg}`);
        lastError = msg;
        clearTimeout(retryTimer);
        retryTimer = setTimeout(trigger, backoff);
      }
    }
  };

  const syncOnce = async (): Promise<void> => {
    // never plan routes from a half-filled cache: it would delete the routes of unlisted nodes
    await Promise.race([nodes.synced, stopping]);
    if (stopped) return;
    const all = nodes.list().map((n: KubeObject) => nodeRoute(n as Node));
    const self = all.find((n) => n.name === opts.nodeName);
    let problem: Error | undefined;
    if (self?.podCidr) {
      const spec = bridgeSpec({ clusterId: opts.clusterId, nodeName: opts.nodeName, podCidr: self.podCidr, clusterCidr });
      if (opts.manageBridge !== false) {
        const b = await ensureBridge(opts.docker, spec, log);
        if (!b.ok) problem = new Error(`pod network not ready: ${b.reason}`);
      }
      const changes = await ensureIptables(run, clusterIptables({ clusterId: opts.clusterId, nodeName: opts.nodeName, clusterCidr, podCidr: spec.subnet }));
      if (changes && isReady) log.info({ changes }, 'restored pod network iptables rules');
      if (!problem && !isReady) {
        isReady = true;
        log.info({ network: spec.name, podCIDR: spec.subnet, gateway: spec.gateway }, 'pod network ready');
        resolveReady({ networkName: spec.name, podCIDR: spec.subnet, gateway: spec.gateway });
      }
    } else {
      log.debug({ node: opts.nodeName }, 'waiting for the node to get spec.podCIDR');
    }
    const desired = desiredRoutes(all, { self: opts.nodeName, clusterCidr, localAddresses: await localAddresses(run) });
    const plan = planRoutes(desired, await currentRoutes(run), clusterCidr);
    if (plan.replace.length || plan.del.length) {
      const { errors } = await applyRoutes(run, plan);
      log.info({ replace: plan.replace, del: plan.del, errors: errors.length }, 'synced pod routes');
      if (errors.length) problem ??= new Error(`route sync: ${errors.map((e) => e.message).join('; ')}`);
    }
    if (problem) throw problem;
  };

  const handler: ResourceEventHandler = {
    add: () => trigger(),
    update: (o, n) => {
      if (routeKey(nodeRoute(o as Node)) !== routeKey(nodeRoute(n as Node))) trigger();
    },
    delete: () => trigger(),
  };
  nodes.addEventHandler(handler);
  const resync = setInterval(trigger, opts.resyncMs ?? 15_000);
  resync.unref?.();
  trigger();

  return {
    ready: () => readyP,
    async stop() {
      stopped = true;
      stopSignal();
      clearInterval(resync);
      clearTimeout(retryTimer);
      const inf = nodes as SharedInformer & { removeEventHandler?(h: ResourceEventHandler): void };
      inf.removeEventHandler?.(handler);
      if (!isReady) rejectReady(new Error('pod network stopped before it was ready'));
      await running;
    },
  };
}

/**
 * teardownNetwork removes everything of the cluster's pod network on this host: its docker networks (call it after
 * removing the cluster's containers), iptables chains and jumps, our routes inside the cluster CIDRs (read from the
 * networks' labels and the chains, plus `clusterCidrs` if given), and the proxy's ClusterIP dummy interface.
 */
export async function teardownNetwork(opts: { docker: Dockerode; clusterId: string; log?: Logger; clusterCidrs?: string[]; run?: CommandRunner }): Promise<void> {
  const run = opts.run ?? hostRunner;
  const cidrs = new Set<string>(opts.clusterCidrs ?? []);
  for (const c of await removeClusterNetworks(opts.docker, opts.clusterId, opts.log)) cidrs.add(c);
  for (const c of await clusterCidrsInChains(run, opts.clusterId)) cidrs.add(c);
  const removed = await removeRoutes(run, [...cidrs]);
  await removeIptables(run, opts.clusterId);
  try {
    await run('ip', ['link', 'del', serviceInterfaceName(opts.clusterId)]);
  } catch (err) {
    // absent: nothing to do ("Cannot find device")
    if (!(err instanceof CommandError)) throw err;
  }
  opts.log?.info({ clusterId: opts.clusterId, cidrs: [...cidrs], routes: removed }, 'pod network torn down');
}
