// nodeipam: the node IPAM controller — gives every Node a pod subnet of --cluster-cidr in spec.podCIDR(s) (upstream range allocator).
import type { Node } from 'kubernetes-types/core/v1.js';
import { lookupKind } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import { WorkQueue } from '../../client/queue.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { runWorkers } from '../worker.ts';
import { CidrSet } from './cidrset.ts';

export { CidrSet, parseCidr } from './cidrset.ts';

const nodeInfo = lookupKind('v1', 'Node')!;

/** podCidrOf is the subnet a node already has (spec.podCIDR, else the first of spec.podCIDRs). */
function podCidrOf(node: KubeObject): string | undefined {
  const spec = (node as Node).spec;
  return spec?.podCIDR || spec?.podCIDRs?.[0] || undefined;
}

/**
 * newNodeIpamController allocates pod CIDRs. Start-up waits for the node cache and marks every subnet already
 * recorded as used before handing out any; a deleted node's subnet is freed. When the cluster CIDR is full the
 * node gets upstream's `CIDRNotAvailable` event and is retried with back-off.
 */
export function newNodeIpamController(ctx: ControllerContext): Controller {
  const log = ctx.log;
  const recorder = ctx.recorder('node-controller');
  const set = new CidrSet(ctx.options.clusterCidr, ctx.options.nodeCidrMaskSize);
  /** owner maps each allocated subnet to the node holding it, so a stale delete never frees a reused subnet */
  const owner = new Map<string, string>();
  const queue = new WorkQueue();
  const nodes = ctx.informers.informerFor(nodeInfo);
  let running: Promise<void> | undefined;
  let stopped!: () => void;
  const stopping = new Promise<'stopped'>((r) => (stopped = () => r('stopped')));

  const occupy = (node: KubeObject): void => {
    const cidr = podCidrOf(node);
    if (!cidr || owner.get(cidr) === node.metadata.name) return;
    if (set.occupy(cidr)) owner.set(cidr, node.metadata.name!);
    else log.warn({ node: node.metadata.name, cidr }, `node's pod CIDR is outside the cluster CIDR ${ctx.options.clusterCidr}`);
  };

  const reconcile = async (name: string): Promise<void> => {
    const node = nodes.get(undefined, name);
    if (!node) return;
    if (podCidrOf(node)) {
      occupy(node);
      return;
    }
    const cidr = set.allocateNext();
    if (!cidr) {
      recorder.event({ kind: 'Node', apiVersion: 'v1', name, uid: node.metadata.uid }, 'Normal', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
      throw new Error(`failed to allocate cidr from cluster cidr ${ctx.options.clusterCidr}: CIDR range full`);
    }
    owner.set(cidr, name);
    try {
      await ctx.client.patch(nodeInfo, undefined, name, { spec: { podCIDR: cidr, podCIDRs: [cidr] } }, 'merge');
      log.info({ node: name, podCIDR: cidr }, 'allocated pod CIDR');
    } catch (err) {
      set.release(cidr);
      owner.delete(cidr);
      recorder.event({ kind: 'Node', apiVersion: 'v1', name, uid: node.metadata.uid }, 'Warning', 'CIDRAssignmentFailed', `Node ${name} status is now: CIDRAssignmentFailed`);
      throw err;
    }
  };

  return {
    name: 'nodeipam',
    start() {
      nodes.addEventHandler({
        add: (n) => queue.add(n.metadata.name!),
        update: (_o, n) => {
          if (!podCidrOf(n)) queue.add(n.metadata.name!);
        },
        delete: (n) => {
          const cidr = podCidrOf(n);
          if (cidr && owner.get(cidr) === n.metadata.name) {
            owner.delete(cidr);
            set.release(cidr);
          }
        },
      });
      running = Promise.race([nodes.synced, stopping]).then((r) => {
        if (r === 'stopped') return;
        for (const n of nodes.list()) occupy(n);
        return runWorkers(queue, 1, reconcile, log);
      });
    },
    async stop() {
      stopped();
      queue.shutdown();
      await running;
    },
  };
}
