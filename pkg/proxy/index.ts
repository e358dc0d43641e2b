// proxy: the node's kube-proxy — ClusterIP, NodePort and LoadBalancer services reconciled from Service and EndpointSlice watches, forwarded by a userland TCP/UDP forwarder or by the kernel (iptables DNAT).
import { networkInterfaces } from 'node:os';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Logger } from 'pino';
import { lookupKind } from '../api/resources.ts';
import type { ResourceEventHandler, SharedInformer, SharedInformerFactory } from '../client/informer.ts';
import { ServiceAddresses } from './addresses.ts';
import { diffListeners, planListeners, resolveNodeAddresses, type ListenerSpec } from './listeners.ts';
import { KernelProxier } from './kernel.ts';
import { EndpointPicker } from './picker.ts';
import { buildServiceMap } from './servicemap.ts';
import { TcpListener } from './tcp.ts';
import { UdpListener } from './udp.ts';

export { ServiceAddresses, serviceInterfaceName } from './addresses.ts';
export { buildServiceMap, type ServicePortEntry, type Target } from './servicemap.ts';
export { teardownProxyRules } from './kernel.ts';

/**
 * ProxyMode is kube-proxy's --proxy-mode: `userspace` forwards through sockets in the agent (retries a refusing
 * endpoint on another), `iptables` has the kernel forward with DNAT (no copies through user space).
 */
export type ProxyMode = 'userspace' | 'iptables';

export const PROXY_MODES: readonly ProxyMode[] = ['userspace', 'iptables'];

export interface ProxyOptions {
  informers: SharedInformerFactory;
  clusterId: string;
  nodeName: string;
  nodeIp: string;
  /** CIDRs NodePorts and LoadBalancer ports listen on (kube-proxy's --nodeport-addresses); [] = every address */
  nodePortAddresses: string[];
  /** the DNS responder owns this ClusterIP; the proxy skips its service */
  clusterDNS?: string;
  log: Logger;
  /** mode: how services are forwarded (default userspace) */
  mode?: ProxyMode;
  /** clusterCidr: in iptables mode, ClusterIP traffic from outside it is masqueraded (kube-proxy's --cluster-cidr) */
  clusterCidr?: string;
  /** connectTimeoutMs bounds one connect attempt to an endpoint (default 3000) */
  connectTimeoutMs?: number;
  /** udpIdleTimeoutMs ends a UDP client flow after this long idle (default 30000) */
  udpIdleTimeoutMs?: number;
  /** udpMaxFlows bounds the UDP flows per listener (default 4096) */
  udpMaxFlows?: number;
  /** stopGraceMs: at stop, connections still open after this long are cut (default 2000) */
  stopGraceMs?: number;
  /** resyncMs re-runs the reconcile this often (new host addresses, ports that could not be bound) (default 10000) */
  resyncMs?: number;
}

export interface ServiceProxy {
  stop(): Promise<void>;
  addresses: ServiceAddresses;
  /** ready resolves after the first reconcile over synced caches */
  ready(): Promise<void>;
}

/** startProxy starts the proxy; it reconciles as soon as the Service and EndpointSlice informers have synced. */
export function startProxy(opts: ProxyOptions): ServiceProxy {
  const p = opts.mode === 'iptables' ? new KernelProxier(opts) : new Proxier(opts);
  p.start();
  return { stop: () => p.stop(), addresses: p.addresses, ready: () => p.readyPromise };
}

type Impl = TcpListener | UdpListener;

interface Open {
  spec: ListenerSpec;
  impl: Impl;
}

/** DEBOUNCE_MS batches a burst of watch events into one reconcile; changes apply well within a second. */
const DEBOUNCE_MS = 20;
/** RETRY_MS is how soon a listener that could not be bound is tried again. */
const RETRY_MS = 2000;

/**
 * Proxier is the thin loop: on any Service/EndpointSlice change it rebuilds the service map (pure), plans the
 * listeners (pure), diffs them with those open (pure) and applies the diff — addresses first, then closes, target
 * updates and opens. One reconcile runs at a time; changes during one trigger another.
 */
class Proxier {
  readonly addresses: ServiceAddresses;
  readonly readyPromise: Promise<void>;
  private readyResolve!: () => void;
  private readonly opts: ProxyOptions;
  private readonly log: Logger;
  private readonly open = new Map<string, Open>();
  private readonly pickers = new Map<string, EndpointPicker>();
  /** draining: closed TCP listeners whose connections still run; stop() cuts them after the grace */
  private readonly draining = new Set<TcpListener>();
  /** owned: ClusterIPs this proxy made local */
  private readonly owned = new Set<string>();
  /** failed: listener key (or ClusterIP) → last error, so a port that stays taken is logged once */
  private readonly failed = new Map<string, string>();
  private readonly services: SharedInformer;
  private readonly slices: SharedInformer;
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;
  private firstDone = false;
  /** verify: re-read the service interface on the next reconcile (set by the resync tick), re-adding what went missing */
  private verify = false;
  private readonly handler: ResourceEventHandler;

  constructor(opts: ProxyOptions) {
    this.opts = opts;
    this.log = opts.log;
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
          this.log.error({ err }, 'proxy reconcile failed; retrying');
          failed = true;
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
    const map = buildServiceMap(this.services.list() as unknown as Service[], this.slices.list() as unknown as EndpointSlice[], { nodeName: this.opts.nodeName, clusterDNS: this.opts.clusterDNS });
    const nodeAddrs = resolveNodeAddresses(this.opts.nodePortAddresses, hostAddresses(this.addresses.interfaceName), this.opts.nodeIp);
    const plan = planListeners(map, nodeAddrs);
    for (const c of plan.conflicts) this.log.debug(c, 'port already taken by another service; not opened for this one');

    // addresses before listeners: a ClusterIP must be local before it can be bound
    if (this.verify) {
      this.verify = false;
      try {
        const present = new Set(await this.addresses.list());
        for (const ip of [...this.owned]) if (!present.has(ip)) this.owned.delete(ip);
      } catch (err) {
        this.log.warn({ err }, 'cannot list the service interface');
      }
    }
    const badIPs = new Set<string>();
    for (const ip of plan.clusterIPs) {
      if (this.owned.has(ip)) continue;
      try {
        await this.addresses.ensure(ip);
        this.owned.add(ip);
        this.failed.delete(ip);
      } catch (err) {
        badIPs.add(ip);
        const msg = String((err as Error).message);
        if (this.failed.get(ip) !== msg) this.log.warn({ err, ip }, 'cannot add the ClusterIP to the service interface; will retry');
        this.failed.set(ip, msg);
      }
    }

    // pickers: one per service port and target set (cluster or external policy)
    const used = new Set<string>();
    for (const spec of plan.listeners.values()) {
      const pk = pickerKey(spec);
      used.add(pk);
      let picker = this.pickers.get(pk);
      if (!picker) this.pickers.set(pk, (picker = new EndpointPicker()));
      picker.set(spec.targets, spec.affinityTimeoutSeconds);
    }
    for (const pk of [...this.pickers.keys()]) if (!used.has(pk)) this.pickers.delete(pk);

    const current = new Map<string, ListenerSpec>();
    for (const [k, o] of this.open) current.set(k, o.spec);
    const diff = diffListeners(current, plan.listeners);
    for (const k of diff.close) this.closeListener(k, 'no longer wanted');
    for (const spec of diff.update) {
      const o = this.open.get(spec.key)!;
      o.impl.picker = this.pickers.get(pickerKey(spec))!;
      if (o.impl instanceof UdpListener) o.impl.dropStaleFlows();
      o.spec = spec;
      this.log.debug({ listener: spec.key, service: spec.service, endpoints: spec.targets.length }, 'endpoints updated');
    }
    let retry = false;
    for (const spec of diff.open) {
      if (badIPs.has(spec.ip)) {
        retry = true;
        continue;
      }
      const picker = this.pickers.get(pickerKey(spec))!;
      const impl: Impl =
        spec.protocol === 'TCP'
          ? new TcpListener({ ip: spec.ip, port: spec.port, picker, connectTimeoutMs: this.opts.connectTimeoutMs, log: this.log })
          : new UdpListener({ ip: spec.ip, port: spec.port, picker, idleTimeoutMs: this.opts.udpIdleTimeoutMs, maxFlows: this.opts.udpMaxFlows, log: this.log });
      try {
        await impl.listen();
      } catch (err) {
        retry = true;
        const msg = String((err as Error).message);
        if (this.failed.get(spec.key) !== msg) this.log.warn({ err, listener: spec.key, service: spec.service }, 'cannot listen; will retry');
        this.failed.set(spec.key, msg);
        continue;
      }
      if (this.stopped) {
        await impl.close();
        return;
      }
      this.failed.delete(spec.key);
      this.open.set(spec.key, { spec, impl });
      this.log.info({ listener: spec.key, kind: spec.kind, service: spec.service, endpoints: spec.targets.length }, 'listening');
    }
    for (const k of [...this.failed.keys()]) if (!plan.listeners.has(k) && !badIPs.has(k)) this.failed.delete(k);

    // addresses no service uses any more; on the first pass also those left from before a restart
    for (const ip of [...this.owned]) {
      if (plan.clusterIPs.has(ip)) continue;
      try {
        await this.addresses.release(ip);
        this.owned.delete(ip);
      } catch (err) {
        this.log.warn({ err, ip }, 'cannot remove a ClusterIP from the service interface');
      }
    }
    if (!this.firstDone) {
      const keep = new Set(plan.clusterIPs);
      if (this.opts.clusterDNS) keep.add(this.opts.clusterDNS);
      try {
        const removed = await this.addresses.releaseStale(keep);
        if (removed.length) this.log.info({ removed }, 'removed stale service addresses');
      } catch (err) {
        this.log.warn({ err }, 'cannot list the service interface');
      }
      this.firstDone = true;
      this.readyResolve();
    }
    if ((retry || badIPs.size > 0) && !this.stopped && !this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.schedule(0);
      }, RETRY_MS);
      this.retryTimer.unref();
    }
  }

  private closeListener(key: string, why: string): void {
    const o = this.open.get(key);
    if (!o) return;
    this.open.delete(key);
    const impl = o.impl;
    if (impl instanceof TcpListener) {
      // close() resolves when the last connection ends; established connections are never cut here
      this.draining.add(impl);
      void impl.close().then(() => this.draining.delete(impl));
    } else void impl.close();
    this.log.info({ listener: key, service: o.spec.service, why }, 'stopped listening');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resync) clearInterval(this.resync);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.running?.catch(() => undefined);
    for (const k of [...this.open.keys()]) this.closeListener(k, 'proxy stopping');
    const grace = this.opts.stopGraceMs ?? 2000;
    const deadline = Date.now() + grace;
    while (Date.now() < deadline && [...this.draining].some((l) => l.connections > 0)) await new Promise((r) => setTimeout(r, 50));
    for (const l of this.draining) l.destroyConnections();
    this.draining.clear();
  }
}

function pickerKey(spec: ListenerSpec): string {
  return `${spec.service}|${spec.kind === 'clusterIP' ? 'cluster' : 'external'}`;
}

/** hostAddresses lists the host's IPv4 addresses except the ClusterIPs on the service interface. */
function hostAddresses(serviceInterface: string): string[] {
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name === serviceInterface) continue;
    for (const a of addrs ?? []) if (a.family === 'IPv4') out.push(a.address);
  }
  return out;
}
