// proxy: the node's kube-proxy — ClusterIP, NodePort and LoadBalancer services reconciled from Service and EndpointSlice watches, forwarded by a userland TCP/UDP forwarder or by the kernel (iptables DNAT).
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { SharedInformerFactory } from '../client/informer.ts';
import { ServiceAddresses } from './addresses.ts';
import { diffListeners, planListeners, resolveNodeAddresses, type ListenerSpec } from './listeners.ts';
import { KernelProxier } from './kernel.ts';
import { EndpointPicker } from './picker.ts';
import { SyncRunner, type Pass, type SyncOutcome, type SyncRunnerOptions } from './runner.ts';
import type { ServiceMap } from './servicemap.ts';
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
  p.runner.start();
  return { stop: () => p.stop(), addresses: p.addresses, ready: () => p.runner.ready };
}

type Impl = TcpListener | UdpListener;

interface Open {
  spec: ListenerSpec;
  impl: Impl;
}

/**
 * Proxier is the userspace mode's sync: from the service map (pure) it plans the listeners (pure), diffs them with
 * those open (pure) and applies the diff — addresses first, then closes, target updates and opens. The shared
 * SyncRunner decides when it runs.
 */
class Proxier {
  readonly addresses: ServiceAddresses;
  readonly runner: SyncRunner;
  private readonly opts: ProxyOptions;
  private readonly log: Logger;
  private readonly open = new Map<string, Open>();
  private readonly pickers = new Map<string, EndpointPicker>();
  /** draining: closed TCP listeners whose connections still run; stop() cuts them after the grace */
  private readonly draining = new Set<TcpListener>();
  /** failed: listener key (or ClusterIP) → last error, so a port that stays taken is logged once */
  private readonly failed = new Map<string, string>();

  constructor(opts: ProxyOptions) {
    this.opts = opts;
    this.log = opts.log;
    this.addresses = new ServiceAddresses({ clusterId: opts.clusterId, log: opts.log });
    this.runner = new SyncRunner({ ...runnerOptions(opts), what: 'proxy reconcile', sync: (map, pass) => this.sync(map, pass) });
  }

  private async sync(map: ServiceMap, pass: Pass): Promise<SyncOutcome> {
    const nodeAddrs = resolveNodeAddresses(this.opts.nodePortAddresses, hostAddresses(this.addresses.interfaceName), this.opts.nodeIp);
    const plan = planListeners(map, nodeAddrs);
    for (const c of plan.conflicts) this.log.debug(c, 'port already taken by another service; not opened for this one');

    // addresses before listeners: a ClusterIP must be local before it can be bound
    const badIPs = await this.addresses.reconcile(plan.clusterIPs, pass, keepAddresses(this.opts));
    for (const [ip, err] of badIPs) {
      if (this.failed.get(ip) !== err.message) this.log.warn({ err, ip }, 'cannot add the ClusterIP to the service interface; will retry');
      this.failed.set(ip, err.message);
    }
    for (const ip of plan.clusterIPs) if (!badIPs.has(ip)) this.failed.delete(ip);

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
    let retry = badIPs.size > 0;
    for (const spec of diff.open) {
      if (badIPs.has(spec.ip)) continue;
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
      if (this.runner.isStopped) {
        await impl.close();
        return {};
      }
      this.failed.delete(spec.key);
      this.open.set(spec.key, { spec, impl });
      this.log.info({ listener: spec.key, kind: spec.kind, service: spec.service, endpoints: spec.targets.length }, 'listening');
    }
    for (const k of [...this.failed.keys()]) if (!plan.listeners.has(k) && !badIPs.has(k)) this.failed.delete(k);
    return { retry };
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
    await this.runner.stop();
    for (const k of [...this.open.keys()]) this.closeListener(k, 'proxy stopping');
    const grace = this.opts.stopGraceMs ?? 2000;
    const deadline = Date.now() + grace;
    while (Date.now() < deadline && [...this.draining].some((l) => l.connections > 0)) await new Promise((r) => setTimeout(r, 50));
    for (const l of this.draining) l.destroyConnections();
    this.draining.clear();
  }
}

/** runnerOptions are the SyncRunner settings both modes take from the proxy options. */
export function runnerOptions(opts: ProxyOptions): Pick<SyncRunnerOptions, 'informers' | 'nodeName' | 'clusterDNS' | 'log' | 'resyncMs'> {
  return { informers: opts.informers, nodeName: opts.nodeName, ...(opts.clusterDNS ? { clusterDNS: opts.clusterDNS } : {}), log: opts.log, ...(opts.resyncMs ? { resyncMs: opts.resyncMs } : {}) };
}

/** keepAddresses are the service-interface addresses the proxy never removes: the DNS responder's. */
export function keepAddresses(opts: ProxyOptions): Set<string> {
  return new Set(opts.clusterDNS ? [opts.clusterDNS] : []);
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
