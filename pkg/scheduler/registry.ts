// registry: the default profile — every plugin in upstream's filter order, with upstream's default score weights.
import * as balancedAllocation from './plugins/balancedallocation.ts';
import * as interPodAffinity from './plugins/interpodaffinity.ts';
import * as nodeAffinity from './plugins/nodeaffinity.ts';
import * as nodeName from './plugins/nodename.ts';
import * as nodePorts from './plugins/nodeports.ts';
import * as nodeReady from './plugins/nodeready.ts';
import * as nodeResourcesFit from './plugins/noderesourcesfit.ts';
import * as nodeUnschedulable from './plugins/nodeunschedulable.ts';
import * as podTopologySpread from './plugins/podtopologyspread.ts';
import * as taintToleration from './plugins/tainttoleration.ts';
import type { Plugin } from './types.ts';

/** ProfileEntry is one enabled plugin; `weight` multiplies its normalised score (0 = it does not score). */
export interface ProfileEntry {
  plugin: Plugin;
  weight: number;
}

/**
 * DEFAULT_PROFILE is upstream's default-scheduler profile in small. Filters run in this order and a node's first
 * failure is its reason (upstream stops at the first failing filter). Weights: TaintToleration 3, NodeAffinity 2,
 * PodTopologySpread 2, InterPodAffinity 2 (no preferred terms here), NodeResourcesFit 1, BalancedAllocation 1.
 */
export const DEFAULT_PROFILE: readonly ProfileEntry[] = [
  { plugin: nodeUnschedulable, weight: 0 },
  { plugin: nodeName, weight: 0 },
  { plugin: taintToleration, weight: 3 },
  { plugin: nodeReady, weight: 0 },
  { plugin: nodeAffinity, weight: 2 },
  { plugin: nodePorts, weight: 0 },
  { plugin: nodeResourcesFit, weight: 1 },
  { plugin: podTopologySpread, weight: 2 },
  { plugin: interPodAffinity, weight: 2 },
  { plugin: balancedAllocation, weight: 1 },
];
