// routes: host-gateway routes to the other nodes' pod subnets — a pure planner (desired from Nodes vs current) and a thin applier over `ip`.
import type { Node } from 'kubernetes-types/core/v1.js';
import { cidrContains, cidrContainsIp, mustParseCidr, normalizeCidr, parseCidr, parseIp } from './cidr.ts';
import type { CommandRunner } from './exec.ts';
import { ROUTE_PROTO } from './names.ts';

/** NodeRoute is what routing needs of a Node: its pod subnet and the address to reach it by. */
export interface NodeRoute {
  name: string;
  podCidr?: string;
  ip?: string;
}

/** Route is one installed or wanted route: `dst via gateway`. */
export interface Route {
  dst: string;
  via: string;
}

/** CurrentRoute is a route as `ip -j route show proto N` reports it. */
export interface CurrentRoute {
  dst: string;
  gateway?: string;
}

export interface RoutePlan {
  /** routes to install or move (`ip route replace`) */
  replace: Route[];
  /** destinations to remove (`ip route del … proto N`) */
  del: string[];
}

/** nodeRoute reads a Node: spec.podCIDR (else the first of podCIDRs) and the InternalIP (else the ExternalIP). */
export function nodeRoute(node: Node): NodeRoute {
  const addrs = node.status?.addresses ?? [];
  const ip = addrs.find((a) => a.type === 'InternalIP')?.address ?? addrs.find((a) => a.type === 'ExternalIP')?.address;
  const podCidr = node.spec?.podCIDR || node.spec?.podCIDRs?.[0] || undefined;
  return { name: node.metadata?.name ?? '', ...(podCidr ? { podCidr } : {}), ...(ip ? { ip } : {}) };
}

/** routeKey is what routing depends on, so watch handlers skip the heartbeats that change nothing. */
export function routeKey(n: NodeRoute): string {
  return `${n.name} ${n.podCidr ?? ''} ${n.ip ?? ''}`;
}

const LOOPBACK = parseCidr('127.0.0.0/8')!;

/**
 * desiredRoutes (pure): one route per other node whose pod subnet lies inside the cluster CIDR, via that node's
 * address — unless the address is one of this host's (several agents on one host: the bridges are all local) or
 * loopback, or the subnet is this node's own. Two nodes claiming one subnet: the first by name wins.
 */
export function desiredRoutes(nodes: readonly NodeRoute[], p: { self: string; clusterCidr: string; localAddresses: ReadonlySet<string> }): Route[] {
  const cluster = mustParseCidr(p.clusterCidr, 'cluster CIDR');
  const own = normalizeCidr(nodes.find((n) => n.name === p.self)?.podCidr ?? '');
  const byDst = new Map<string, Route>();
  for (const n of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (n.name === p.self || !n.podCidr || !n.ip) continue;
    const dst = parseCidr(n.podCidr);
    const ip = parseIp(n.ip);
    if (!dst || ip === undefined || !cidrContains(cluster, dst)) continue;
    if (p.localAddresses.has(n.ip) || cidrContainsIp(LOOPBACK, ip)) continue;
    const key = `${normalizeCidr(n.podCidr)}`;
    if (key === own || byDst.has(key)) continue;
    byDst.set(key, { dst: key, via: n.ip });
  }
  return [...byDst.values()].sort((a, b) => (a.dst < b.dst ? -1 : 1));
}

/**
 * planRoutes (pure) compares the desired routes with those of our protocol now installed: replace what is missing
 * or points elsewhere, delete ours that nobody wants — only inside the cluster CIDR, as other clusters sharing the
 * host (tests) keep routes of the same protocol in their own CIDRs.
 */
export function planRoutes(desired: readonly Route[], current: readonly CurrentRoute[], clusterCidr: string): RoutePlan {
  const cluster = mustParseCidr(clusterCidr, 'cluster CIDR');
  const have = new Map<string, string | undefined>();
  for (const r of current) {
    const dst = normalizeCidr(r.dst);
    if (dst) have.set(dst, r.gateway);
  }
  const want = new Set(desired.map((r) => r.dst));
  const replace = desired.filter((r) => have.get(r.dst) !== r.via);
  const del = [...have.keys()].filter((dst) => !want.has(dst) && cidrContains(cluster, parseCidr(dst)!)).sort();
  return { replace: [...replace], del };
}

/** parseRouteJson reads `ip -j route show` output. */
export function parseRouteJson(out: string): CurrentRoute[] {
  const rows = out.trim() ? (JSON.parse(out) as { dst?: string; gateway?: string }[]) : [];
  return rows.filter((r) => r.dst && r.dst !== 'default').map((r) => ({ dst: r.dst!, ...(r.gateway ? { gateway: r.gateway } : {}) }));
}

/** parseAddressJson reads `ip -j -4 addr show` output into the set of this host's IPv4 addresses. */
export function parseAddressJson(out: string): Set<string> {
  const links = out.trim() ? (JSON.parse(out) as { addr_info?: { family?: string; local?: string }[] }[]) : [];
  const set = new Set<string>();
  for (const l of links) for (const a of l.addr_info ?? []) if (a.family === 'inet' && a.local) set.add(a.local);
  return set;
}

/** localAddresses lists the host's IPv4 addresses through the runner (so in a test's namespace, that namespace's). */
export async function localAddresses(run: CommandRunner): Promise<Set<string>> {
  return parseAddressJson(await run('ip', ['-j', '-4', 'addr', 'show']));
}

/** currentRoutes lists the routes of our protocol in the main table. */
export async function currentRoutes(run: CommandRunner): Promise<CurrentRoute[]> {
  return parseRouteJson(await run('ip', ['-j', '-4', 'route', 'show', 'proto', String(ROUTE_PROTO)]));
}

/** applyRoutes carries a plan out route by route; one failure (say an unreachable gateway) does not stop the rest. */
export async function applyRoutes(run: CommandRunner, plan: RoutePlan): Promise<{ changed: number; errors: Error[] }> {
  const errors: Error[] = [];
  let changed = 0;
  for (const dst of plan.del) {
    try {
      await run('ip', ['route', 'del', dst, 'proto', String(ROUTE_PROTO)]);
      changed++;
    } catch (err) {
      errors.push(err as Error);
    }
  }
  for (const r of plan.replace) {
    try {
      await run('ip', ['route', 'replace', r.dst, 'via', r.via, 'proto', String(ROUTE_PROTO)]);
      changed++;
    } catch (err) {
      errors.push(err as Error);
    }
  }
  return { changed, errors };
}

/** removeRoutes deletes every route of our protocol inside any of the given CIDRs (teardown). */
export async function removeRoutes(run: CommandRunner, cidrs: readonly string[]): Promise<number> {
  const current = await currentRoutes(run);
  const del = new Set<string>();
  for (const c of cidrs) if (parseCidr(c)) for (const d of planRoutes([], current, c).del) del.add(d);
  const { changed } = await applyRoutes(run, { replace: [], del: [...del] });
  return changed;
}
