// kernel: the `--proxy-mode iptables` loop — on every Service/EndpointSlice change it applies buildRules as one iptables-restore transaction (the kernel then forwards with DNAT), and the teardown of a cluster's proxy chains.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { CommandError, type CommandRunner } from '../network/exec.ts';
import { splitArgs } from '../network/iptables.ts';
import { ServiceAddresses } from './addresses.ts';
import { buildRules, chainsInSave, isClusterChain, isNodeChain, proxyChains, renderRestore, staleUdpFlows, type Jump, type Table } from './iptables.ts';
import { keepAddresses, runnerOptions, type ProxyOptions } from './index.ts';
import { SyncRunner, type Pass, type SyncOutcome } from './runner.ts';
import type { ServiceMap, ServicePortEntry } from './servicemap.ts';

/** KernelCommand is what the kernel data path runs: iptables (jumps), iptables-save/-restore (the rules), conntrack (stale UDP flows). */
export type KernelCommand = 'iptables' | 'iptables-save' | 'iptables-restore' | 'conntrack';

/** KernelRunner runs one command, feeding `input` on stdin; rejects with a CommandError (exit code, stderr) on failure. */
export type KernelRunner = (cmd: KernelCommand, args: readonly string[], input?: string) => Promise<string>;

/** kernelRunner runs on the host; iptables and iptables-restore take the xtables lock (`-w`): other agents run too. */
export const kernelRunner: KernelRunner = (cmd, args, input) =>
  new Promise((resolve, reject) => {
    const full = cmd === 'iptables' || cmd === 'iptables-restore' ? ['-w', ...args] : [...args];
    const child = execFile(cmd, full, { timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      reject(new CommandError(cmd, full, typeof err.code === 'number' ? err.code : -1, stderr || err.message));
    });
    // a command that exits without reading its stdin (conntrack) must not turn into an EPIPE crash
    child.stdin?.on('error', () => undefined);
    if (input === undefined) child.stdin?.end();
    else child.stdin?.end(input);
  });

/** ROUTE_LOCALNET is the sysctl kube-proxy sets so that DNAT of 127/8 node-port traffic to pods routes (then masqueraded). */
const ROUTE_LOCALNET = '/proc/sys/net/ipv4/conf/all/route_localnet';

/**
 * KernelProxier is the sync of iptables mode: service map (pure) → rule set (pure) → one `iptables-restore --noflush`
 * of only this node's chains when the text changed. ClusterIPs are still made local on the service interface (the DNS
 * responder binds there; host → ClusterIP needs no default route, and a port without rules is refused by the kernel).
 * Established connections survive rule changes: conntrack keeps their translation. The shared SyncRunner decides
 * when it runs.
 */
export class KernelProxier {
  readonly addresses: ServiceAddresses;
  readonly runner: SyncRunner;
  private readonly opts: ProxyOptions;
  private readonly log: Logger;
  private readonly run: KernelRunner;
  /** applied: the restore text last applied (without stale chains), so an unchanged sync writes nothing */
  private applied = '';
  /** ourChains: this node's chains as last applied, per table */
  private ourChains: Record<Table, string[]> = { nat: [], filter: [] };
  private lastMap: ServiceMap = new Map<string, ServicePortEntry>();
  private conntrackMissing = false;

  constructor(opts: ProxyOptions, run: KernelRunner = kernelRunner) {
    this.opts = opts;
    this.log = opts.log;
    this.run = run;
    this.addresses = new ServiceAddresses({ clusterId: opts.clusterId, log: opts.log });
    this.runner = new SyncRunner({ ...runnerOptions(opts), what: 'proxy rules sync', sync: (map, pass) => this.sync(map, pass) });
  }

  private async sync(map: ServiceMap, pass: Pass): Promise<SyncOutcome> {
    const t0 = performance.now();
    // the first pass always verifies: chains of an earlier run may be there
    const verify = pass.verify || pass.first;
    const want = new Set<string>();
    for (const e of map.values()) for (const ip of e.clusterIPs) want.add(ip);
    const badIPs = await this.addresses.reconcile(want, pass, keepAddresses(this.opts));
    // the rules still go in (they DNAT before routing); the next sync retries the address
    if (badIPs.size) this.log.warn({ err: [...badIPs.values()][0], ips: [...badIPs.keys()] }, 'cannot add a ClusterIP to the service interface; will retry');

    const rs = buildRules(map, { clusterId: this.opts.clusterId, nodeName: this.opts.nodeName, nodeIp: this.opts.nodeIp, nodePortAddresses: this.opts.nodePortAddresses, clusterCidr: this.opts.clusterCidr });
    if (pass.first && rs.routeLocalnet) {
      try {
        await writeFile(ROUTE_LOCALNET, '1');
      } catch (err) {
        this.log.warn({ err }, `cannot set ${ROUTE_LOCALNET}; node ports on 127/8 will not reach pods`);
      }
    }
    // chains to delete: those applied before and no longer wanted, plus (on verify) leftovers of an earlier run
    const stale: Record<Table, string[]> = { nat: [], filter: [] };
    let missing = false;
    for (const t of ['nat', 'filter'] as const) {
      const have = new Set(this.ourChains[t]);
      if (verify) {
        const present = chainsInSave(await this.run('iptables-save', ['-t', t])).filter((c) => isNodeChain(c, proxyChains(this.opts.clusterId, this.opts.nodeName)));
        if (rs.chains[t].some((c) => !present.includes(c))) missing = true;
        for (const c of present) have.add(c);
      }
      stale[t] = [...have].filter((c) => !rs.chains[t].includes(c));
    }
    const text = renderRestore(rs, { nat: [], filter: [] });
    const changed = text !== this.applied || missing || stale.nat.length > 0 || stale.filter.length > 0;
    if (changed) {
      await this.run('iptables-restore', ['--noflush'], renderRestore(rs, stale));
      this.applied = text;
      this.ourChains = { nat: [...rs.chains.nat], filter: [...rs.chains.filter] };
    }
    if (changed || verify) await this.ensureJumps(rs.jumps);
    await this.flushStaleUdp(staleUdpFlows(this.lastMap, map));
    this.lastMap = map;
    if (changed) this.log.debug({ services: map.size, nat: rs.rules.nat.length, filter: rs.rules.filter.length, stale: stale.nat.length + stale.filter.length, ms: Math.round(performance.now() - t0) }, 'proxy rules synced');
    if (pass.first) this.log.info({ services: map.size, rules: rs.rules.nat.length + rs.rules.filter.length }, 'proxy rules in place (iptables mode)');
    return { retry: badIPs.size > 0 };
  }

  /** ensureJumps inserts the jumps from the built-in chains that are missing (`-C` exits 1 when absent). */
  private async ensureJumps(jumps: readonly Jump[]): Promise<void> {
    for (const j of jumps) {
      try {
        await this.run('iptables', ['-t', j.table, '-C', j.from, ...j.args]);
      } catch (err) {
        if (!(err instanceof CommandError) || err.code !== 1) throw err;
        await this.run('iptables', ['-t', j.table, '-I', j.from, '1', ...j.args]);
        this.log.info({ table: j.table, chain: j.from, to: j.args.at(-1) }, 'inserted proxy jump');
      }
    }
  }

  private async flushStaleUdp(flows: string[][]): Promise<void> {
    if (this.conntrackMissing) return;
    for (const args of flows) {
      try {
        await this.run('conntrack', args);
      } catch (err) {
        // exit 1 with "0 flow entries have been deleted" is the common case
        if (err instanceof CommandError && err.code === -1 && /ENOENT/.test(err.message)) {
          this.conntrackMissing = true;
          this.log.warn('conntrack is not installed: UDP flows to removed endpoints are not flushed');
          return;
        }
      }
    }
  }

  async stop(): Promise<void> {
    // the rules stay (as kube-proxy's): traffic keeps flowing while the agent restarts; teardown removes them
    await this.runner.stop();
  }
}

/**
 * teardownProxyRules removes every node's proxy chains of the cluster on this host and the jumps into them (nat and
 * filter), through the pod network's runner (`iptables -w`), so it works in a test's network namespace too.
 */
export async function teardownProxyRules(clusterId: string, run: CommandRunner): Promise<string[]> {
  const removed: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    const lines = (await run('iptables', ['-t', table, '-S'])).split('\n').map(splitArgs);
    const ours = lines.filter((a) => a[0] === '-N' && a[1] && isClusterChain(a[1], clusterId)).map((a) => a[1]!);
    if (ours.length === 0) continue;
    for (const a of lines) {
      if (a[0] !== '-A' || !a[1] || ours.includes(a[1])) continue;
      const j = a.indexOf('-j');
      if (j >= 0 && ours.includes(a[j + 1] ?? '')) await tryIptables(run, ['-t', table, '-D', ...a.slice(1)]);
    }
    for (const c of ours) await tryIptables(run, ['-t', table, '-F', c]);
    for (const c of ours) if (await tryIptables(run, ['-t', table, '-X', c])) removed.push(`${table}/${c}`);
  }
  return removed;
}

async function tryIptables(run: CommandRunner, args: string[]): Promise<boolean> {
  try {
    await run('iptables', args);
    return true;
  } catch (err) {
    if (err instanceof CommandError) return false;
    throw err;
  }
}
