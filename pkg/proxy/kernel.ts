// kernel: the `--proxy-mode iptables` loop — on every Service/EndpointSlice change it applies buildRules as one iptables-restore transaction (the kernel then forwards with DNAT), and the teardown of a cluster's proxy chains.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Logger } from 'pino';
import { lookupKind } from '../api/resources.ts';
import type { ResourceEventHandler, SharedInformer } from '../client/informer.ts';
import { CommandError, type CommandRunner } from '../network/exec.ts';
import { splitArgs } from '../network/iptables.ts';
import { ServiceAddresses } from './addresses.ts';
import { buildRules, chainsInSave, isClusterChain, isNodeChain, proxyChains, renderRestore, staleUdpFlows, type Jump, type Table } from './iptables.ts';
import type { ProxyOptions } from './index.ts';
import { buildServiceMap, type ServicePortEntry } from './servicemap.ts';

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

const DEBOUNCE_MS = 20;
const RETRY_MS = 2000;

/**
 * KernelProxier is the thin loop of iptables mode: service map (pure) → rule set (pure) → one `iptables-restore
 * --noflush` of only this node's chains when the text changed. ClusterIPs are still made local on the service
 * interface (the DNS responder binds there; host → ClusterIP needs no default route, and a port without rules is
 * refused by the kernel). Established connections survive rule changes: conntrack keeps their translation.
 */
export class KernelProxier {
  readonly addresses: ServiceAddresses;
  readonly readyPromise: Promise<void>;
  private readyResolve!: () => void;
  private readonly opts: ProxyOptions;
  private readonly log: Logger;
  private readonly run: KernelRunner;
  private readonly services: SharedInformer;
  private readonly slices: SharedInformer;
  private readonly handler: ResourceEventHandler;
  private readonly owned = new Set<string>();
  /** applied: the restore text last applied (without stale chains), so an unchanged sync writes nothing */
  private applied = '';
  /** ourChains: this node's chains as last applied, per table */
  private ourChains: Record<Table, string[]> = { nat: [], filter: [] };
  private lastMap = new Map<string, ServicePortEntry>();
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;
  private firstDone = false;
  /** verify: re-read the tables and the service interface on the next sync (resync tick) and repair what went missing */
  private verify = true;
  private conntrackMissing = false;

  constructor(opts: ProxyOptions, run: KernelRunner = kernelRunner) {
    this.opts = opts;
    this.log = opts.log;
    this.run = run;
    this.addresses = new ServiceAddresses({ clusterId: opts.clusterId, log: opts.log });
    this.readyPromise = new Promise((r) => (this.readyResolve = r));
    this.services = opts.informers.informerFor(lookupKind('v1', 'Service')!);
    this.slices = opts.informers.informerFor(lookupKind('discovery.k8s.io/v1', 'EndpointSlice')!);
    const kick = () => this.schedule(DEBOUNCE_MS);
    this.handler = { add: kick, update: kick, delete: kick };
  }

  start(): void {
    this.services.addEventHandler(this.handler);
    this.slices.addEventHandler(this.handler);
    void Promise.all([this.services.synced, this.slices.synced]).then(() => this.schedule(0));
    this.resync = setInterval(() => {
      this.verify = true;
      this.schedule(0);
    }, this.opts.resyncMs ?? 10_000);
    this.resync.unref();
  }

  private schedule(ms: number): void {
    if (this.stopped || !this.services.hasSynced() || !this.slices.hasSynced()) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      let failed = false;
      this.running = this.sync()
        .catch((err) => {
          this.log.error({ err }, 'proxy rules sync failed; retrying');
          failed = true;
          this.verify = true;
        })
        .finally(() => {
          this.running = undefined;
          if ((this.dirty || failed) && !this.stopped) {
            this.dirty = false;
            this.schedule(failed ? RETRY_MS : DEBOUNCE_MS);
          }
        });
    }, ms);
  }

  private async sync(): Promise<void> {
    const t0 = performance.now();
    const map = buildServiceMap(this.services.list() as unknown as Service[], this.slices.list() as unknown as EndpointSlice[], { nodeName: this.opts.nodeName, clusterDNS: this.opts.clusterDNS });
    const verify = this.verify;
    this.verify = false;
    await this.syncAddresses(map, verify);

    const rs = buildRules(map, { clusterId: this.opts.clusterId, nodeName: this.opts.nodeName, nodeIp: this.opts.nodeIp, nodePortAddresses: this.opts.nodePortAddresses, clusterCidr: this.opts.clusterCidr });
    if (!this.firstDone && rs.routeLocalnet) {
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
    if (!this.firstDone) {
      this.firstDone = true;
      this.log.info({ services: map.size, rules: rs.rules.nat.length + rs.rules.filter.length }, 'proxy rules in place (iptables mode)');
      this.readyResolve();
    }
  }

  /** syncAddresses makes every ClusterIP local and releases those no service uses (the first pass: leftovers too). */
  private async syncAddresses(map: ReadonlyMap<string, ServicePortEntry>, verify: boolean): Promise<void> {
    const want = new Set<string>();
    for (const e of map.values()) for (const ip of e.clusterIPs) want.add(ip);
    if (verify && this.firstDone) {
      const present = new Set(await this.addresses.list());
      for (const ip of [...this.owned]) if (!present.has(ip)) this.owned.delete(ip);
    }
    let failed: unknown;
    for (const ip of want) {
      if (this.owned.has(ip)) continue;
      try {
        await this.addresses.ensure(ip);
        this.owned.add(ip);
      } catch (err) {
        failed ??= err;
      }
    }
    for (const ip of [...this.owned]) {
      if (want.has(ip)) continue;
      await this.addresses.release(ip).then(
        () => this.owned.delete(ip),
        (err) => this.log.warn({ err, ip }, 'cannot remove a ClusterIP from the service interface'),
      );
    }
    if (!this.firstDone) {
      const keep = new Set(want);
      if (this.opts.clusterDNS) keep.add(this.opts.clusterDNS);
      const removed = await this.addresses.releaseStale(keep).catch(() => []);
      if (removed.length) this.log.info({ removed }, 'removed stale service addresses');
    }
    // the rules still go in (they DNAT before routing); the next sync retries the address
    if (failed) {
      this.log.warn({ err: failed }, 'cannot add a ClusterIP to the service interface; will retry');
      this.verify = true;
      this.dirty = true;
    }
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
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resync) clearInterval(this.resync);
    await this.running?.catch(() => undefined);
    const inf = (i: SharedInformer) => i as SharedInformer & { removeEventHandler?(h: ResourceEventHandler): void };
    inf(this.services).removeEventHandler?.(this.handler);
    inf(this.slices).removeEventHandler?.(this.handler);
    // the rules stay (as kube-proxy's): traffic keeps flowing while the agent restarts; teardown removes them
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
