// status: `kubeling status` at a glance — the nodes with their health (Ready, pressure conditions, cordon, taints)
// and the pods by phase, rendered as plain text from the API's objects.
import type { Node, Pod } from 'kubernetes-types/core/v1.js';

/** NodeRow is one node's line. */
export interface NodeRow {
  name: string;
  status: string;
  age: string;
  version: string;
  internalIp: string;
  pods: number;
}

const PROBLEM_CONDITIONS = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable'];

/** nodeStatus is kubectl's STATUS column plus the conditions that are true and should not be: "Ready", "NotReady,SchedulingDisabled", "Unknown (kubelet stopped posting…)". */
export function nodeStatus(node: Node): string {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const parts = [ready?.status === 'True' ? 'Ready' : ready?.status === 'False' ? 'NotReady' : 'Unknown'];
  if (node.spec?.unschedulable) parts.push('SchedulingDisabled');
  for (const c of node.status?.conditions ?? []) if (PROBLEM_CONDITIONS.includes(c.type) && c.status === 'True') parts.push(c.type);
  let text = parts.join(',');
  if (ready?.status !== 'True' && ready?.message) text += ` (${ready.message})`;
  return text;
}

/** age renders a duration like kubectl: 45s, 3m, 5h, 2d. */
export function age(fromIso: string | undefined, now: number): string {
  if (!fromIso) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(fromIso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** nodeRows builds the rows, counting each node's pods. */
export function nodeRows(nodes: Node[], pods: Pod[], now: number): NodeRow[] {
  return nodes.map((n) => ({
    name: n.metadata?.name ?? '',
    status: nodeStatus(n),
    age: age(n.metadata?.creationTimestamp, now),
    version: n.status?.nodeInfo?.kubeletVersion ?? '',
    internalIp: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
    pods: pods.filter((p) => p.spec?.nodeName === n.metadata?.name && !['Succeeded', 'Failed'].includes(p.status?.phase ?? '')).length,
  }));
}

/** table renders rows under a header with columns padded as kubectl does (three spaces between). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

/** podPhases counts pods by phase ("Running 3, Pending 1"), not-ready running pods as "Running (not ready)". */
export function podPhases(pods: Pod[]): string {
  const counts = new Map<string, number>();
  for (const p of pods) {
    let phase = p.status?.phase ?? 'Pending';
    if (phase === 'Running' && !(p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')) phase = 'Running (not ready)';
    counts.set(phase, (counts.get(phase) ?? 0) + 1);
  }
  return counts.size ? [...counts].map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
}

/** renderStatus is the whole text of `kubeling status`. */
export function renderStatus(s: { server: string; health: Record<string, string>; nodes: Node[]; pods: Pod[]; now: number }): string {
  const rows = nodeRows(s.nodes, s.pods, s.now);
  const health = Object.entries(s.health).map(([k, v]) => `${k} ${v}`).join(', ');
  const ready = rows.filter((r) => r.status.startsWith('Ready')).length;
  return (
    `server:  ${s.server} (${health})\n` +
    `nodes:   ${ready}/${rows.length} Ready\n` +
    `pods:    ${podPhases(s.pods)}\n\n` +
    (rows.length ? table(['NAME', 'STATUS', 'AGE', 'VERSION', 'INTERNAL-IP', 'PODS'], rows.map((r) => [r.name, r.status, r.age, r.version, r.internalIp, String(r.pods)])) : 'no nodes have joined yet\n')
  );
}
