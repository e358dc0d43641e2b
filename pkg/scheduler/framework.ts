// framework: one scheduling decision, pure — preFilter, filter a sample of nodes, preScore, score, normalise, weigh, pick.
import type { Diagnosis } from './message.ts';
import type { ProfileEntry } from './registry.ts';
import { CycleState } from './types.ts';
import type { ClusterView, FilterResult, NodeInfo, PodInfo } from './types.ts';

/** MIN_FEASIBLE_NODES_TO_FIND and MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND are upstream's constants (100 nodes, 5 %). */
export const MIN_FEASIBLE_NODES_TO_FIND = 100;
export const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;

/**
 * numFeasibleNodesToFind is upstream's sample size: every node below 100; otherwise `percentage` % of them
 * (0 = adaptive: 50 − nodes/125, at least 5 %), never fewer than 100. Example: 500 nodes → 46 % → 230.
 */
export function numFeasibleNodesToFind(numAllNodes: number, percentage = 0): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) return numAllNodes;
  let pct = percentage;
  if (pct === 0) {
    pct = 50 - Math.trunc(numAllNodes / 125);
    if (pct < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND) pct = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND;
  }
  const n = Math.trunc((numAllNodes * pct) / 100);
  return n < MIN_FEASIBLE_NODES_TO_FIND ? MIN_FEASIBLE_NODES_TO_FIND : n;
}

export type Outcome =
  | { kind: 'scheduled'; node: NodeInfo; evaluated: number; feasible: number }
  | { kind: 'unschedulable'; diagnosis: Diagnosis }
  | { kind: 'error'; message: string };

/**
 * Framework runs a profile over the cache's view. It remembers where the last sample ended so successive pods look
 * at different nodes first (upstream's nextStartNodeIndex), and breaks score ties at random.
 */
export class Framework {
  private readonly filters: ProfileEntry['plugin'][];
  private readonly scorers: ProfileEntry[];
  private readonly preFilters: ProfileEntry['plugin'][];
  private nextStartNodeIndex = 0;
  private readonly random: () => number;
  private readonly percentage: number;

  constructor(profile: readonly ProfileEntry[], opts: { random?: () => number; percentageOfNodesToScore?: number } = {}) {
    this.filters = profile.filter((e) => e.plugin.filter).map((e) => e.plugin);
    this.preFilters = profile.filter((e) => e.plugin.preFilter).map((e) => e.plugin);
    this.scorers = profile.filter((e) => e.weight > 0 && e.plugin.score);
    this.random = opts.random ?? Math.random;
    this.percentage = opts.percentageOfNodesToScore ?? 0;
  }

  /** runFilters is a node's verdict: the first plugin that does not succeed. */
  runFilters(pod: PodInfo, node: NodeInfo, state: CycleState): FilterResult | undefined {
    for (const p of this.filters) {
      const r = p.filter!(pod, node, state);
      if (r.code !== 'Success') return r;
    }
    return undefined;
  }

  /** schedule decides where `pod` goes, or why it cannot go anywhere. */
  schedule(pod: PodInfo, view: ClusterView): Outcome {
    const nodes = view.nodes;
    const all = nodes.length;
    if (all === 0) return { kind: 'error', message: 'no nodes available to schedule pods' };
    const state = new CycleState();
    for (const p of this.preFilters) {
      const r = p.preFilter!(pod, view, state);
      if (r && r.code !== 'Success') {
        const statuses = new Map<string, FilterResult>();
        for (const n of nodes) statuses.set(n.name, r);
        return { kind: 'unschedulable', diagnosis: { numAllNodes: all, statuses, preFilterMsg: (r.reasons ?? []).join(', ') } };
      }
    }
    const want = numFeasibleNodesToFind(all, this.percentage);
    const feasible: NodeInfo[] = [];
    const statuses = new Map<string, FilterResult>();
    let processed = 0;
    const start = this.nextStartNodeIndex % all;
    for (let i = 0; i < all && feasible.length < want; i++) {
      const node = nodes[(start + i) % all];
      processed++;
      const r = this.runFilters(pod, node, state);
      if (r) statuses.set(node.name, r);
      else feasible.push(node);
    }
    this.nextStartNodeIndex = (start + processed) % all;
    if (feasible.length === 0) return { kind: 'unschedulable', diagnosis: { numAllNodes: all, statuses } };
    if (feasible.length === 1) return { kind: 'scheduled', node: feasible[0], evaluated: processed, feasible: 1 };
    const totals = this.prioritize(pod, feasible, view, state);
    return { kind: 'scheduled', node: feasible[this.selectHost(totals)], evaluated: processed, feasible: feasible.length };
  }

  /** prioritize sums each scorer's normalised score times its weight, per feasible node. */
  prioritize(pod: PodInfo, nodes: readonly NodeInfo[], view: ClusterView, state: CycleState): number[] {
    const totals = new Array<number>(nodes.length).fill(0);
    const scores = new Array<number>(nodes.length);
    for (const { plugin, weight } of this.scorers) {
      if (plugin.preScore && !plugin.preScore(pod, nodes, view, state)) continue;
      for (let i = 0; i < nodes.length; i++) scores[i] = plugin.score!(pod, nodes[i], state);
      plugin.normalizeScore?.(scores, state);
      for (let i = 0; i < nodes.length; i++) totals[i] += scores[i] * weight;
    }
    return totals;
  }

  /** selectHost picks the highest total; among equal totals each is equally likely (reservoir sampling, as upstream). */
  selectHost(totals: readonly number[]): number {
    let best = 0;
    let ties = 1;
    for (let i = 1; i < totals.length; i++) {
      if (totals[i] > totals[best]) {
        best = i;
        ties = 1;
      } else if (totals[i] === totals[best]) {
        ties++;
        if (Math.floor(this.random() * ties) === 0) best = i;
      }
    }
    return best;
  }
}
