// nodeaffinity: spec.nodeSelector and required node affinity must match the node's labels; preferred terms add score.
import type { NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm } from 'kubernetes-types/core/v1.js';
import { defaultNormalize, SUCCESS, unschedulable } from '../types.ts';
import type { CycleState, FilterResult, NodeInfo, PodInfo } from '../types.ts';

export const name = 'NodeAffinity';

/** REASON is upstream's ErrReasonPod. */
export const REASON = "node(s) didn't match Pod's node affinity/selector";

const INT = /^[+-]?\d+$/;

/** requirementMatches is upstream's NodeSelectorRequirement match over a label (or field) map. */
function requirementMatches(r: NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(v);
    case 'NotIn':
      return !has || !values.includes(v);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || values.length !== 1 || !INT.test(v) || !INT.test(values[0])) return false;
      return r.operator === 'Gt' ? Number(v) > Number(values[0]) : Number(v) < Number(values[0]);
    }
    default:
      return false;
  }
}

/** termMatches: every expression on labels and every field (metadata.name) holds; a term with neither matches nothing. */
export function termMatches(t: NodeSelectorTerm, node: NodeInfo): boolean {
  const exprs = t.matchExpressions ?? [];
  const fields = t.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  for (const r of exprs) if (!requirementMatches(r, node.labels)) return false;
  if (fields.length) {
    const f = { 'metadata.name': node.name };
    for (const r of fields) if (!requirementMatches(r, f)) return false;
  }
  return true;
}

/** requiredMatches: the nodeSelector map and (if set) one of the required terms. */
export function requiredMatches(pod: PodInfo, node: NodeInfo): boolean {
  const sel = pod.pod.spec?.nodeSelector;
  if (sel) for (const k in sel) if (node.labels[k] !== sel[k]) return false;
  const req = pod.pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!req) return true;
  for (const t of req.nodeSelectorTerms ?? []) if (termMatches(t, node)) return true;
  return false;
}

export function filter(pod: PodInfo, node: NodeInfo): FilterResult {
  return requiredMatches(pod, node) ? SUCCESS : unschedulable('UnschedulableAndUnresolvable', REASON);
}

/** preScore skips the score when the pod prefers nothing. */
export function preScore(pod: PodInfo, _nodes: unknown, _view: unknown, state: CycleState): boolean {
  const pref = pod.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  if (pref.length === 0) return false;
  state.write(name, pref);
  return true;
}

/** score sums the weights of the preferred terms the node matches. */
export function score(_pod: PodInfo, node: NodeInfo, state: CycleState): number {
  let s = 0;
  for (const t of state.read<PreferredSchedulingTerm[]>(name) ?? []) if (t.weight && termMatches(t.preference, node)) s += t.weight;
  return s;
}

export function normalizeScore(scores: number[]): void {
  defaultNormalize(scores, false);
}
