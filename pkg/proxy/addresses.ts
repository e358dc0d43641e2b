// addresses: makes ClusterIPs local to the host as /32s on a dummy interface (kube-proxy IPVS mode's kube-ipvs0), so the proxy can listen on them.
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

/**
 * serviceInterfaceName is the dummy interface of a cluster's ClusterIPs: `kl` + the first 12 characters of the
 * cluster id (hex), 14 characters (IFNAMSIZ allows 15). Example: '0123456789abcdef' → `kl0123456789ab`.
 */
export function serviceInterfaceName(clusterId: string): string {
  return `kl${clusterId.slice(0, 12)}`;
}

/** IpRunner runs `ip ARGS…` and resolves with its stdout (injectable for tests). */
export type IpRunner = (args: string[]) => Promise<string>;

const runIp: IpRunner = (args) =>
  new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(new Error(`ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`), { stderr: String(stderr) }));
      else resolve(String(stdout));
    });
  });

/**
 * ServiceAddresses adds and removes /32 addresses on the cluster's dummy interface, creating the interface on demand
 * (an empty bridge where the kernel lacks the dummy driver).
 * Both calls are idempotent and run one at a time. The interface is left in place on exit (as kube-proxy leaves its
 * rules); `teardownNetwork` removes it with the cluster.
 */
export class ServiceAddresses {
  readonly interfaceName: string;
  private readonly ip: IpRunner;
  private readonly log: Logger | undefined;
  /** present: addresses known to be on the interface (a cache; `refresh` re-reads it) */
  private present = new Set<string>();
  /** ensured: addresses ensure()d and not released since, which releaseStale keeps */
  private readonly ensured = new Set<string>();
  /** managed: ClusterIPs reconcile() added, which it removes again when no service wants them */
  private readonly managed = new Set<string>();
  private linkReady = false;
  /** linkType is `dummy`, or `bridge` where the kernel has no dummy driver */
  private linkType: 'dummy' | 'bridge' = 'dummy';
  private chain: Promise<unknown> = Promise.resolve();

  constructor(opts: { clusterId: string; log?: Logger; ip?: IpRunner }) {
    this.interfaceName = serviceInterfaceName(opts.clusterId);
    this.ip = opts.ip ?? runIp;
    this.log = opts.log;
  }

  /** ensure makes `ip` a local address of this host (on the dummy interface). */
  ensure(ip: string): Promise<void> {
    this.ensured.add(ip);
    return this.serial(async () => {
      if (this.present.has(ip) && this.linkReady) return;
      for (let attempt = 0; ; attempt++) {
        await this.ensureLink();
        try {
          await this.ip(['addr', 'add', `${ip}/32`, 'dev', this.interfaceName]);
          this.log?.info({ ip, dev: this.interfaceName }, 'service address added');
        } catch (e) {
          const msg = String((e as Error).message);
          if (attempt === 0 && /Cannot find device|does not exist/i.test(msg)) {
            // the interface went away behind our back (teardown): create it again
            this.linkReady = false;
            this.present.clear();
            continue;
          }
          if (!/File exists|already assigned/i.test(msg)) throw e;
        }
        break;
      }
      this.present.add(ip);
    });
  }

  /** release removes `ip` from the interface (nothing if it is not there). */
  release(ip: string): Promise<void> {
    this.ensured.delete(ip);
    return this.serial(async () => {
      try {
        await this.ip(['addr', 'del', `${ip}/32`, 'dev', this.interfaceName]);
        this.log?.info({ ip, dev: this.interfaceName }, 'service address removed');
      } catch (e) {
        const msg = String((e as Error).message);
        if (!/Cannot assign|Cannot find device|does not exist|not found/i.test(msg)) throw e;
      }
      this.present.delete(ip);
    });
  }

  /**
   * releaseStale removes the interface's addresses that are neither in `keep` nor ensured through this object (the DNS
   * responder's), e.g. ClusterIPs of services deleted while the agent was down. It returns what it removed.
   */
  async releaseStale(keep: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const ip of await this.list()) {
      if (keep.has(ip) || this.ensured.has(ip)) continue;
      await this.release(ip);
      removed.push(ip);
    }
    return removed;
  }

  /**
   * reconcile makes the ClusterIPs in `want` local and removes those it added before that are no longer wanted; with
   * `verify` it re-reads the interface first (an address removed behind its back is added again); on the first pass it
   * also removes leftovers of an earlier run except `keep` (the DNS responder's address). It returns the addresses
   * that could not be added, with their errors: their listeners wait and the caller retries.
   */
  async reconcile(want: ReadonlySet<string>, pass: { first: boolean; verify: boolean }, keep: ReadonlySet<string> = new Set()): Promise<Map<string, Error>> {
    if (pass.verify) await this.list().catch((err) => this.log?.warn({ err }, 'cannot list the service interface'));
    const failed = new Map<string, Error>();
    for (const ip of want) {
      try {
        await this.ensure(ip);
        this.managed.add(ip);
      } catch (err) {
        failed.set(ip, err as Error);
      }
    }
    for (const ip of [...this.managed]) {
      if (want.has(ip)) continue;
      try {
        await this.release(ip);
        this.managed.delete(ip);
      } catch (err) {
        this.log?.warn({ err, ip }, 'cannot remove a ClusterIP from the service interface');
      }
    }
    if (pass.first) {
      const removed = await this.releaseStale(new Set([...want, ...keep])).catch((err) => {
        this.log?.warn({ err }, 'cannot list the service interface');
        return [];
      });
      if (removed.length) this.log?.info({ removed }, 'removed stale service addresses');
    }
    return failed;
  }

  /** list reads the addresses on the interface ([] when it does not exist) and refreshes the cache. */
  list(): Promise<string[]> {
    return this.serial(async () => {
      let out: string;
      try {
        out = await this.ip(['-4', '-o', 'addr', 'show', 'dev', this.interfaceName]);
      } catch (e) {
        if (/does not exist|Cannot find device/i.test(String((e as Error).message))) {
          this.present = new Set();
          this.linkReady = false;
          return [];
        }
        throw e;
      }
      const addrs = parseAddrShow(out);
      this.present = new Set(addrs);
      return addrs;
    });
  }

  private async ensureLink(): Promise<void> {
    if (this.linkReady) return;
    try {
      await this.ip(['link', 'add', this.interfaceName, 'type', this.linkType]);
      this.log?.info({ dev: this.interfaceName, type: this.linkType }, 'service interface created');
    } catch (e) {
      const msg = String((e as Error).message);
      if (this.linkType === 'dummy' && /Unknown device type|not supported/i.test(msg)) {
        // kernels without the dummy driver (some VM kernels): an empty bridge holds local addresses just as well
        this.linkType = 'bridge';
        return this.ensureLink();
      }
      if (!/File exists/i.test(msg)) throw e;
    }
    await this.ip(['link', 'set', this.interfaceName, 'up']);
    this.linkReady = true;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }
}

/** parseAddrShow reads the IPv4 addresses out of `ip -4 -o addr show` lines ("… inet 10.43.0.7/32 scope global …"). */
export function parseAddrShow(out: string): string[] {
  const addrs: string[] = [];
  for (const m of out.matchAll(/\binet (\d+\.\d+\.\d+\.\d+)\//g)) addrs.push(m[1]);
  return addrs;
}
