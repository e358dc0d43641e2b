// allocators: hands out Service ClusterIPs (--service-cidr, 10.43.0.0/16) and NodePorts (--service-node-port-range,
// 30000-32767) as claims kept in the store,
// so several API servers sharing one store never hand out the same address or port.
import type { Logger } from 'pino';
import { errors, field, type FieldError } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';
import type { ServicePort, ServiceSpec } from 'kubernetes-types/core/v1.js';
import { StoreError, type Store, type Watcher } from '../store/types.ts';

/** Store keys of the claims: one object per claimed IP or port, named by it (never served by the API). */
export const IP_CLAIMS = '_internal/serviceipallocations';
export const PORT_CLAIMS = '_internal/servicenodeportallocations';

/** A claim names the service holding it (uid included, so a re-created service of the same name is another holder). */
interface Claim extends KubeObject {
  service: { namespace: string; name: string; uid: string };
}

/** claims younger than this are never repaired away: their service may be on its way into the store */
const REPAIR_MIN_AGE_MS = 60_000;

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return NaN;
  return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3];
}

function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** parseCidr reads an IPv4 CIDR (`10.43.0.0/16`) into its first address and size; throws on anything else. */
export function parseCidr(cidr: string): { base: number; size: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim());
  const base = m ? ipToInt(m[1]) : NaN;
  const bits = m ? Number(m[2]) : NaN;
  if (Number.isNaN(base) || !(bits >= 1 && bits <= 30)) throw new Error(`invalid CIDR ${JSON.stringify(cidr)}: want an IPv4 network such as 10.43.0.0/16`);
  const size = 2 ** (32 - bits);
  return { base: base - (base % size), size };
}

/** nthAddress is the n-th address of a CIDR (upstream: the kubernetes service takes the 1st, kube-dns the 10th). */
export function nthAddress(cidr: string, n: number): string {
  const { base, size } = parseCidr(cidr);
  if (n < 0 || n >= size) throw new Error(`CIDR ${cidr} has no address number ${n}`);
  return intToIp(base + n);
}

/** cidrContains says whether an IPv4 address lies in a CIDR. */
export function cidrContains(cidr: string, ip: string): boolean {
  const { base, size } = parseCidr(cidr);
  const n = ipToInt(ip);
  return !Number.isNaN(n) && n >= base && n < base + size;
}

/** parsePortRange reads upstream's --service-node-port-range syntax: `30000-32767`, `30000+2767`, or one port. */
export function parsePortRange(range: string): { min: number; max: number } {
  const m = /^\s*(\d+)\s*(?:([-+])\s*(\d+))?\s*$/.exec(range);
  if (!m) throw new Error(`invalid port range ${JSON.stringify(range)}: want BASE-MAX, e.g. 30000-32767`);
  const min = Number(m[1]);
  const max = m[2] === '+' ? min + Number(m[3]) : m[2] === '-' ? Number(m[3]) : min;
  if (!(min >= 1 && max <= 65535 && min <= max)) throw new Error(`invalid port range ${JSON.stringify(range)}: want 1 <= BASE <= MAX <= 65535`);
  return { min, max };
}

type SpecOf = ServiceSpec & { ports?: ServicePort[] };

function specOf(svc: KubeObject | undefined): SpecOf {
  return (svc?.spec ?? {}) as SpecOf;
}

/** Held is what a service holds: its ClusterIP (unless None / ExternalName) and node ports. */
function held(svc: KubeObject | undefined): { ip?: string; ports: Set<number> } {
  const s = specOf(svc);
  const ip = s.clusterIP && s.clusterIP !== 'None' ? s.clusterIP : undefined;
  return { ip, ports: new Set((s.ports ?? []).map((p) => p.nodePort).filter((p): p is number => !!p)) };
}

/** Allocation is the outcome of allocate(): undo() gives back the claims it made (after a failed write). */
export interface Allocation {
  undo(): Promise<void>;
}

/**
 * ServiceAllocator claims ClusterIPs and NodePorts by creating one store object per claim: the store's create is the
 * compare-and-swap (AlreadyExists = taken by someone else). A local set fed by a store watch is only a hint that
 * keeps the search for a free value short; the store decides.
 */
export class ServiceAllocator {
  readonly cidr: string;
  readonly portMin: number;
  readonly portMax: number;
  private readonly base: number;
  private readonly size: number;
  private readonly usedIps = new Set<number>();
  private readonly usedPorts = new Set<number>();
  /** dynamic picks start after the 10th address, which kube-dns takes (upstream's default cluster DNS address) */
  private nextIp = 11;
  private nextPort: number;
  private store: Store | undefined;
  private watchers: Watcher[] = [];

  /** `cidr` is --service-cidr, `portRange` --service-node-port-range (`30000-32767`). */
  constructor(cidr = '10.43.0.0/16', portRange = '30000-32767') {
    ({ base: this.base, size: this.size } = parseCidr(cidr));
    this.cidr = `${intToIp(this.base)}/${32 - Math.log2(this.size)}`;
    ({ min: this.portMin, max: this.portMax } = parsePortRange(portRange));
    this.nextPort = this.portMin;
  }

  /** kubernetesServiceIP is the first address of the range, reserved for the `kubernetes` service. */
  get kubernetesServiceIP(): string {
    return intToIp(this.base + 1);
  }

  /**
   * start loads the claims, follows them with a watch, and claims what existing services hold but no claim records
   * (stores written before claims existed). Then it frees claims no service holds (a crash between the two writes).
   */
  async start(store: Store, services: KubeObject[], log?: Logger): Promise<void> {
    this.store = store;
    for (const [key, set, parse] of [
      [IP_CLAIMS, this.usedIps, ipToInt],
      [PORT_CLAIMS, this.usedPorts, Number],
    ] as const) {
      const l = await store.list(key);
      for (const raw of l.items) set.add(parse(JSON.parse(raw).metadata.name));
      this.watchers.push(
        store.watch(key, { fromRevision: l.revision }, (ev) => {
          const n = parse(ev.object.metadata.name!);
          if (ev.type === 'DELETED') set.delete(n);
          else set.add(n);
        }),
      );
    }
    const owners = new Map<string, KubeObject>();
    for (const svc of services) {
      owners.set(svc.metadata.uid!, svc);
      const h = held(svc);
      if (h.ip && !this.usedIps.has(ipToInt(h.ip))) await this.claim(IP_CLAIMS, h.ip, svc).catch(() => undefined);
      for (const p of h.ports) if (!this.usedPorts.has(p)) await this.claim(PORT_CLAIMS, String(p), svc).catch(() => undefined);
    }
    await this.repair(owners, log);
  }

  stop(): void {
    for (const w of this.watchers) w.stop();
    this.watchers = [];
  }

  /** repair deletes claims older than a minute whose service is gone or no longer holds the value (upstream's repair loop). */
  private async repair(owners: Map<string, KubeObject>, log?: Logger): Promise<void> {
    const store = this.need();
    for (const key of [IP_CLAIMS, PORT_CLAIMS]) {
      for (const raw of (await store.list(key)).items) {
        const c = JSON.parse(raw) as Claim;
        const age = Date.now() - Date.parse(c.metadata.creationTimestamp ?? '');
        if (!(age > REPAIR_MIN_AGE_MS)) continue;
        const h = held(owners.get(c.service?.uid));
        const stillHeld = key === IP_CLAIMS ? h.ip === c.metadata.name : h.ports.has(Number(c.metadata.name));
        if (stillHeld) continue;
        log?.info({ claim: key, value: c.metadata.name }, 'freeing a claim no service holds');
        await store.delete(key, '', c.metadata.name!, Number(c.metadata.resourceVersion)).catch(() => undefined);
      }
    }
  }

  private need(): Store {
    if (!this.store) throw new Error('ServiceAllocator used before start()');
    return this.store;
  }

  /** claim creates the claim object; false when someone else holds it. */
  private async claim(key: string, value: string, svc: KubeObject): Promise<boolean> {
    const claim: Claim = {
      metadata: { name: value, creationTimestamp: new Date().toISOString() },
      service: { namespace: svc.metadata.namespace ?? '', name: svc.metadata.name ?? '', uid: svc.metadata.uid ?? '' },
    };
    try {
      await this.need().create(key, claim);
      return true;
    } catch (e) {
      if (e instanceof StoreError && e.code === 'AlreadyExists') return false;
      throw e;
    }
  }

  /** taken reads whether a value is claimed (dry runs: look, never claim). */
  private async taken(key: string, value: string): Promise<boolean> {
    return (await this.need().get(key, '', value)) !== undefined;
  }

  private async unclaim(key: string, value: string): Promise<void> {
    await this.need().delete(key, '', value).catch((e) => {
      if (!(e instanceof StoreError && e.code === 'NotFound')) throw e;
    });
  }

  /**
   * allocate fills spec.clusterIP(s) and nodePorts of a new or changed service in place, claiming them in the store.
   * `old` is the stored service on update (its claims are kept). With dryRun nothing is claimed: values are only
   * checked and picked (a real allocation runs that check first). Throws Invalid (422) for a taken or out-of-range value.
   */
  async allocate(svc: KubeObject, old?: KubeObject, dryRun = false): Promise<Allocation> {
    // check the values asked for first, without writing, so a refused request leaves the store untouched
    if (!dryRun) await this.claimAll(structuredClone(svc), old, 'check');
    return this.claimAll(svc, old, dryRun ? 'dryRun' : 'claim');
  }

  /** claimAll is allocate in one mode: 'claim' writes claims, 'dryRun' picks without claiming, 'check' only checks given values. */
  private async claimAll(svc: KubeObject, old: KubeObject | undefined, mode: 'claim' | 'dryRun' | 'check'): Promise<Allocation> {
    const dryRun = mode !== 'claim';
    const claimed: [string, string][] = [];
    const undo = async () => {
      for (const [k, v] of claimed.splice(0)) await this.unclaim(k, v).catch(() => undefined);
    };
    const take = async (key: string, value: string): Promise<boolean> => {
      if (dryRun) return !(await this.taken(key, value));
      const ok = await this.claim(key, value, svc);
      if (ok) claimed.push([key, value]);
      return ok;
    };
    const errs: FieldError[] = [];
    const spec = (svc.spec ??= {}) as SpecOf;
    const oldSpec = specOf(old);
    const type = spec.type ?? 'ClusterIP';
    try {
      if (type !== 'ExternalName') {
        if (oldSpec.clusterIP && !spec.clusterIP) spec.clusterIP = oldSpec.clusterIP;
        if (!spec.clusterIP) {
          if (mode !== 'check') {
            const ip = await this.pick(IP_CLAIMS, () => this.freeIp(mode === 'claim'), take);
            if (ip === undefined) throw errors.internal('failed to allocate a serviceIP: range is full');
            spec.clusterIP = ip;
          }
        } else if (spec.clusterIP !== 'None' && spec.clusterIP !== oldSpec.clusterIP) {
          const n = ipToInt(spec.clusterIP);
          if (Number.isNaN(n) || n < this.base || n >= this.base + this.size) {
            errs.push(field.invalid('spec.clusterIPs', [spec.clusterIP], `failed to allocate IP ${spec.clusterIP}: the provided IP (${spec.clusterIP}) is not in the valid range. The range of valid IPs is ${this.cidr}`));
          } else if (!(await take(IP_CLAIMS, spec.clusterIP))) {
            errs.push(field.invalid('spec.clusterIPs', [spec.clusterIP], `failed to allocate IP ${spec.clusterIP}: provided IP is already allocated`));
          }
        }
        if (spec.clusterIP) spec.clusterIPs = [spec.clusterIP];
      }
      const oldPorts = held(old).ports;
      const mine = new Set<number>();
      const wantsNodePorts = type === 'NodePort' || type === 'LoadBalancer';
      const ports = spec.ports ?? [];
      for (let i = 0; i < ports.length; i++) {
        const p = ports[i];
        if (!wantsNodePorts) {
          if (p.nodePort && !oldPorts.has(p.nodePort) && type !== 'ClusterIP') errs.push(field.forbidden(`spec.ports[${i}].nodePort`, "may not be used when `type` is 'ClusterIP'"));
          delete p.nodePort;
          continue;
        }
        if (!p.nodePort) {
          const reuse = (oldSpec.ports ?? []).find((o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP') && o.nodePort);
          if (reuse) {
            p.nodePort = reuse.nodePort;
            continue;
          }
          if (mode === 'check') continue;
          const n = await this.pick(PORT_CLAIMS, () => this.freePort(mode === 'claim'), take);
          if (n === undefined) throw errors.internal('failed to allocate a nodePort: range is full');
          p.nodePort = Number(n);
          mine.add(p.nodePort);
        } else if (!oldPorts.has(p.nodePort) && !mine.has(p.nodePort)) {
          if (p.nodePort < this.portMin || p.nodePort > this.portMax) {
            errs.push(field.invalid(`spec.ports[${i}].nodePort`, p.nodePort, `provided port is not in the valid range. The range of valid ports is ${this.portMin}-${this.portMax}`));
          } else if (!(await take(PORT_CLAIMS, String(p.nodePort)))) {
            errs.push(field.invalid(`spec.ports[${i}].nodePort`, p.nodePort, 'provided port is already allocated'));
          } else {
            mine.add(p.nodePort);
          }
        }
      }
    } catch (e) {
      await undo();
      throw e;
    }
    if (errs.length) {
      await undo();
      throw errors.invalid('', 'Service', svc.metadata.name ?? '', errs);
    }
    return { undo };
  }

  /**
   * pick tries free-looking values until a claim succeeds (another server may win a value first; the watch then
   * marks it used). Bounded so a full range ends.
   */
  private async pick(key: string, next: () => string | undefined, take: (key: string, value: string) => Promise<boolean>): Promise<string | undefined> {
    for (let tries = 0; tries < 64; tries++) {
      const v = next();
      if (v === undefined) return undefined;
      if (await take(key, v)) return v;
      (key === IP_CLAIMS ? this.usedIps : this.usedPorts).add(key === IP_CLAIMS ? ipToInt(v) : Number(v));
    }
    return undefined;
  }

  /** release frees what a deleted service held, or what an update dropped (pass the new version as `keep`). */
  async release(svc: KubeObject, keep?: KubeObject): Promise<void> {
    const had = held(svc);
    const kept = held(keep);
    if (had.ip && kept.ip !== had.ip) await this.unclaim(IP_CLAIMS, had.ip);
    for (const p of had.ports) if (!kept.ports.has(p)) await this.unclaim(PORT_CLAIMS, String(p));
  }

  /** freeIp is the next address the local view thinks free, after the last one handed out; `advance` moves the cursor. */
  private freeIp(advance: boolean): string | undefined {
    const span = this.size - 12;
    for (let i = 0; i < span; i++) {
      const off = 10 + ((this.nextIp - 10 + i) % span);
      const n = this.base + off;
      if (!this.usedIps.has(n)) {
        if (advance) this.nextIp = off + 1;
        return intToIp(n);
      }
    }
    return undefined;
  }

  private freePort(advance: boolean): string | undefined {
    const span = this.portMax - this.portMin + 1;
    for (let i = 0; i < span; i++) {
      const n = this.portMin + ((this.nextPort - this.portMin + i) % span);
      if (!this.usedPorts.has(n)) {
        if (advance) this.nextPort = n + 1;
        return String(n);
      }
    }
    return undefined;
  }
}

const needsNodePorts = (t: string | undefined) => t === 'NodePort' || t === 'LoadBalancer';
const externallyAccessible = (s: SpecOf) => needsNodePorts(s.type) || (s.type === 'ClusterIP' && !!s.externalIPs?.length);

/**
 * dropTypeDependentFields is upstream's service strategy step of the same name, on update: a field the new type no
 * longer uses is wiped when the client did not change it (so `kubectl patch -p '{"spec":{"type":"ClusterIP"}}'` on a
 * LoadBalancer works): clusterIP(s) for ExternalName, nodePorts, healthCheckNodePort, allocateLoadBalancerNodePorts,
 * loadBalancerClass, externalTrafficPolicy; and status.loadBalancer of a service that is no longer a LoadBalancer.
 */
export function dropTypeDependentFields(next: KubeObject, old: KubeObject): void {
  const n = (next.spec ??= {}) as SpecOf;
  const o = specOf(old);
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const mut = n as Record<string, unknown>;
  if (o.type !== 'ExternalName' && n.type === 'ExternalName') {
    if (same(o.clusterIP, n.clusterIP) && same(o.clusterIPs, n.clusterIPs)) {
      delete mut.clusterIP;
      delete mut.clusterIPs;
    }
    if (same(o.ipFamilies, n.ipFamilies)) delete mut.ipFamilies;
    if (same(o.ipFamilyPolicy, n.ipFamilyPolicy)) delete mut.ipFamilyPolicy;
  }
  if (needsNodePorts(o.type) && !needsNodePorts(n.type)) {
    const nodePorts = (s: SpecOf) => (s.ports ?? []).map((p) => p.nodePort ?? 0);
    const oldSet = new Set(nodePorts(o).filter(Boolean));
    // unchanged = every node port left on the new ports is one the service had
    if (nodePorts(n).every((p) => !p || oldSet.has(p))) for (const p of n.ports ?? []) delete (p as unknown as Record<string, unknown>).nodePort;
  }
  const needsHc = (s: SpecOf) => s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';
  if (needsHc(o) && !needsHc(n) && same(o.healthCheckNodePort, n.healthCheckNodePort)) delete mut.healthCheckNodePort;
  if (o.type === 'LoadBalancer' && n.type !== 'LoadBalancer') {
    if (n.allocateLoadBalancerNodePorts !== undefined && same(o.allocateLoadBalancerNodePorts, n.allocateLoadBalancerNodePorts)) delete mut.allocateLoadBalancerNodePorts;
    if (same(o.loadBalancerClass, n.loadBalancerClass)) delete mut.loadBalancerClass;
  }
  if (externallyAccessible(o) && !externallyAccessible(n) && same(o.externalTrafficPolicy, n.externalTrafficPolicy)) delete mut.externalTrafficPolicy;
  if (n.type !== 'LoadBalancer' && next.status?.loadBalancer && Object.keys(next.status.loadBalancer).length) next.status = { ...next.status, loadBalancer: {} };
}
