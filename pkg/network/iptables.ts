// iptables: the cluster's iptables chains and rules — pure generation and stale-rule planning, plus a thin applier over `iptables -w`.
import { createHash } from 'node:crypto';
import { CommandError, type CommandRunner } from './exec.ts';
import { chainNames } from './names.ts';

export type Table = 'filter' | 'nat';

/** Rule is one rule in one of our chains, its arguments in the order `iptables -S` prints them (so -S output compares). */
export interface Rule {
  table: Table;
  chain: string;
  args: string[];
}

/** Jump is a rule in a built-in or Docker chain that enters one of ours, inserted first (`-I from 1 -j to`). */
export interface Jump {
  table: Table;
  from: string;
  to: string;
}

/** ClusterIptables is everything the pod network keeps in iptables for one node of one cluster. */
export interface ClusterIptables {
  chains: { table: Table; name: string }[];
  /** in order: FORWARD → DOCKER-USER (created if absent, as Docker does), DOCKER-USER → ours, POSTROUTING → ours */
  jumps: Jump[];
  rules: Rule[];
  /** owned tells this node's rules among those of other agents sharing the host and cluster (the -S args of a rule) */
  owned: (args: readonly string[]) => boolean;
}

/** DOCKER_USER is the filter chain Docker jumps to first from FORWARD and leaves to its users. */
export const DOCKER_USER = 'DOCKER-USER';

/** CLUSTER_COMMENT marks the cluster-wide accept rules (the same for every agent of the cluster). */
const CLUSTER_COMMENT = 'kubeling pod network';

/** nodeComment marks one node's rules; iptables limits comments to 256 bytes, so long names end in a digest. */
export function nodeComment(nodeName: string): string {
  const c = `kubeling node ${nodeName}`;
  return c.length <= 200 ? c : `kubeling node ${nodeName.slice(0, 170)}~${createHash('sha256').update(nodeName).digest('hex').slice(0, 16)}`;
}

/**
 * clusterIptables is the desired state (pure). Example for cluster CIDR 10.42.0.0/16, this node's 10.42.1.0/24:
 *   filter KL-FWD-<id8>:  -s 10.42.0.0/16 -j ACCEPT ; -d 10.42.0.0/16 -j ACCEPT   (pod traffic between bridges and
 *                         hosts, which Docker's isolation chains and FORWARD policy would drop)
 *   nat KL-POST-<id8>:    -s 10.42.1.0/24 ! -d 10.42.0.0/16 -j MASQUERADE        (egress leaves as the node; pod↔pod
 *                         keeps pod IPs)
 */
export function clusterIptables(p: { clusterId: string; nodeName: string; clusterCidr: string; podCidr: string }): ClusterIptables {
  const ch = chainNames(p.clusterId);
  const mine = nodeComment(p.nodeName);
  const comment = (c: string) => ['-m', 'comment', '--comment', c];
  return {
    chains: [
      { table: 'filter', name: ch.forward },
      { table: 'nat', name: ch.postrouting },
    ],
    jumps: [
      { table: 'filter', from: 'FORWARD', to: DOCKER_USER },
      { table: 'filter', from: DOCKER_USER, to: ch.forward },
      { table: 'nat', from: 'POSTROUTING', to: ch.postrouting },
    ],
    rules: [
      { table: 'filter', chain: ch.forward, args: ['-s', p.clusterCidr, ...comment(CLUSTER_COMMENT), '-j', 'ACCEPT'] },
      { table: 'filter', chain: ch.forward, args: ['-d', p.clusterCidr, ...comment(CLUSTER_COMMENT), '-j', 'ACCEPT'] },
      { table: 'nat', chain: ch.postrouting, args: ['-s', p.podCidr, '!', '-d', p.clusterCidr, ...comment(mine), '-j', 'MASQUERADE'] },
    ],
    owned: (args) => commentOf(args) === mine || commentOf(args) === CLUSTER_COMMENT,
  };
}

/** splitArgs splits one `iptables -S` line into arguments, honouring the double quotes around comments. */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

/** chainRules parses `iptables -S CHAIN` output into each rule's arguments after `-A CHAIN`. */
export function chainRules(output: string, chain: string): string[][] {
  const rules: string[][] = [];
  for (const line of output.split('\n')) {
    const a = splitArgs(line);
    if (a[0] === '-A' && a[1] === chain) rules.push(a.slice(2));
  }
  return rules;
}

function commentOf(args: readonly string[]): string | undefined {
  const i = args.indexOf('--comment');
  return i >= 0 ? args[i + 1] : undefined;
}

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * planChain compares one chain's current rules with the desired ones (pure): it adds the missing ones and deletes
 * only the stale rules this node owns (another agent of the cluster on this host keeps its own), and duplicates.
 */
export function planChain(current: readonly string[][], desired: readonly string[][], owned: (args: readonly string[]) => boolean): { add: string[][]; del: string[][] } {
  const seen: string[][] = [];
  const del: string[][] = [];
  for (const r of current) {
    const dup = seen.some((s) => same(s, r));
    if (dup || (owned(r) && !desired.some((d) => same(d, r)))) del.push(r);
    else seen.push(r);
  }
  const add = desired.filter((d) => !seen.some((s) => same(s, d)));
  return { add: add.map((a) => [...a]), del };
}

/** tableArgs prefixes `-t nat` for the nat table. */
const t = (table: Table): string[] => (table === 'filter' ? [] : ['-t', table]);

/** exitsOne: iptables exits 1 for "no such rule/chain" on -C/-S/-D, and for "already exists" on -N. */
const exitsOne = (err: unknown): boolean => err instanceof CommandError && err.code === 1;

/** tryRun runs iptables and answers false for the exit codes that mean "not there" (1; 2 too where asked: a chain named in the rule is missing). */
async function tryRun(run: CommandRunner, args: string[], missingCodes: readonly number[] = [1]): Promise<boolean> {
  try {
    await run('iptables', args);
    return true;
  } catch (err) {
    if (err instanceof CommandError && missingCodes.includes(err.code)) return false;
    throw err;
  }
}

/** ensureChain creates a chain unless it exists. */
async function ensureChain(run: CommandRunner, table: Table, name: string): Promise<void> {
  if (await tryRun(run, [...t(table), '-S', name, '1'])) return;
  if (!(await tryRun(run, [...t(table), '-N', name]))) {
    // lost a race with another agent creating it: it must exist now
    await run('iptables', [...t(table), '-S', name, '1']);
  }
}

/**
 * ensureIptables makes the rules true (idempotent: -C before -I/-A), deletes this node's stale rules, and returns
 * how many changes it made. Safe to call often: dockerd restarts rewrite its chains and this puts the jumps back.
 */
export async function ensureIptables(run: CommandRunner, want: ClusterIptables): Promise<number> {
  // check-then-insert is not atomic: agents of one process (tests) take turns, so a jump is never inserted twice
  const prev = serial;
  let done!: () => void;
  serial = new Promise<void>((r) => (done = r));
  await prev;
  try {
    return await ensureIptablesNow(run, want);
  } finally {
    done();
  }
}

/** serial chains the ensureIptables calls of this process. */
let serial: Promise<void> = Promise.resolve();

async function ensureIptablesNow(run: CommandRunner, want: ClusterIptables): Promise<number> {
  let changes = 0;
  for (const c of want.chains) await ensureChain(run, c.table, c.name);
  await ensureChain(run, 'filter', DOCKER_USER);
  for (const j of want.jumps) {
    const copies = chainRules(await run('iptables', [...t(j.table), '-S', j.from]), j.from).filter((r) => same(r, ['-j', j.to])).length;
    if (copies === 0) {
      await run('iptables', [...t(j.table), '-I', j.from, '1', '-j', j.to]);
      changes++;
    }
    // another process of the cluster on this host raced us to it: drop the extra copies
    for (let i = 1; i < copies; i++) if (await tryRun(run, [...t(j.table), '-D', j.from, '-j', j.to])) changes++;
  }
  for (const c of want.chains) {
    const current = chainRules(await run('iptables', [...t(c.table), '-S', c.name]), c.name);
    const desired = want.rules.filter((r) => r.table === c.table && r.chain === c.name).map((r) => r.args);
    const plan = planChain(current, desired, want.owned);
    for (const r of plan.del) if (await tryRun(run, [...t(c.table), '-D', c.name, ...r])) changes++;
    for (const r of plan.add) {
      await run('iptables', [...t(c.table), '-A', c.name, ...r]);
      changes++;
    }
  }
  return changes;
}

/**
 * clusterCidrsInChains reads the cluster CIDRs back from the cluster's filter chain (`-s CIDR … -j ACCEPT`), so
 * teardown finds our routes even when the docker networks that record the CIDR are already gone.
 */
export async function clusterCidrsInChains(run: CommandRunner, clusterId: string): Promise<string[]> {
  const { forward } = chainNames(clusterId);
  let out: string;
  try {
    out = await run('iptables', ['-S', forward]);
  } catch (err) {
    if (exitsOne(err)) return [];
    throw err;
  }
  const cidrs = new Set<string>();
  for (const r of chainRules(out, forward)) {
    const i = r.indexOf('-s');
    if (i >= 0 && r[i + 1] && commentOf(r) === CLUSTER_COMMENT) cidrs.add(r[i + 1]!);
  }
  return [...cidrs];
}

/** removeIptables deletes every jump into the cluster's chains (however many copies), then the chains. Absent = done. */
export async function removeIptables(run: CommandRunner, clusterId: string): Promise<void> {
  const ch = chainNames(clusterId);
  const jumps: Jump[] = [
    { table: 'filter', from: DOCKER_USER, to: ch.forward },
    { table: 'filter', from: 'FORWARD', to: ch.forward },
    { table: 'nat', from: 'POSTROUTING', to: ch.postrouting },
  ];
  for (const j of jumps) {
    for (let i = 0; i < 100 && (await tryRun(run, [...t(j.table), '-D', j.from, '-j', j.to], [1, 2])); i++);
  }
  for (const [table, name] of [['filter', ch.forward], ['nat', ch.postrouting]] as const) {
    if (!(await tryRun(run, [...t(table), '-S', name, '1']))) continue;
    await run('iptables', [...t(table), '-F', name]);
    await tryRun(run, [...t(table), '-X', name]);
  }
}
