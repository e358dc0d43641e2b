// allocators: hands out Service ClusterIPs (10.43.0.0/16) and NodePorts (30000–32767) without duplicates.
import { errors, field, type FieldError } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return NaN;
  return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3];
}

function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** ServiceAllocator keeps the sets of used ClusterIPs and NodePorts; single-threaded use makes it race-free. */
export class ServiceAllocator {
  readonly cidr: string;
  private readonly base: number;
  private readonly size: number;
  private readonly usedIps = new Set<number>();
  private readonly usedPorts = new Set<number>();
  private nextIp = 10;
  private nextPort = 30000;
  readonly portMin = 30000;
  readonly portMax = 32767;

  constructor(cidr = '10.43.0.0/16') {
    this.cidr = cidr;
    const [addr, bits] = cidr.split('/');
    this.base = ipToInt(addr);
    this.size = 2 ** (32 - Number(bits));
  }

  /** kubernetesServiceIP is the first address of the range, reserved for the `kubernetes` service. */
  get kubernetesServiceIP(): string {
    return intToIp(this.base + 1);
  }

  /** load marks the IPs and ports of existing services as used (at start-up). */
  load(services: KubeObject[]): void {
    for (const s of services) this.claimExisting(s);
  }

  private claimExisting(svc: KubeObject): void {
    const ip = svc.spec?.clusterIP;
    if (ip && ip !== 'None') this.usedIps.add(ipToInt(ip));
    for (const p of svc.spec?.ports ?? []) if (p.nodePort) this.usedPorts.add(p.nodePort);
  }

  /**
   * allocate fills spec.clusterIP(s) and nodePorts of a new or changed service in place, claiming them.
   * `old` is the stored service on update (its claims are kept). Returns a function that undoes the new claims.
   */
  allocate(svc: KubeObject, old?: KubeObject): () => void {
    const claimedIps: number[] = [];
    const claimedPorts: number[] = [];
    const undo = () => {
      for (const i of claimedIps) this.usedIps.delete(i);
      for (const p of claimedPorts) this.usedPorts.delete(p);
    };
    const errs: FieldError[] = [];
    const spec = (svc.spec ??= {});
    const type = spec.type ?? 'ClusterIP';
    try {
      if (type !== 'ExternalName') {
        if (old?.spec?.clusterIP && !spec.clusterIP) spec.clusterIP = old.spec.clusterIP;
        if (!spec.clusterIP) {
          const n = this.freeIp();
          if (n === undefined) throw errors.internal('failed to allocate a serviceIP: range is full');
          this.usedIps.add(n);
          claimedIps.push(n);
          spec.clusterIP = intToIp(n);
        } else if (spec.clusterIP !== 'None' && spec.clusterIP !== old?.spec?.clusterIP) {
          const n = ipToInt(spec.clusterIP);
          if (Number.isNaN(n) || n < this.base || n >= this.base + this.size) {
            errs.push(field.invalid('spec.clusterIPs', [spec.clusterIP], `failed to allocate IP ${spec.clusterIP}: the provided IP (${spec.clusterIP}) is not in the valid range. The range of valid IPs is ${this.cidr}`));
          } else if (this.usedIps.has(n)) {
            errs.push(field.invalid('spec.clusterIPs', [spec.clusterIP], `failed to allocate IP ${spec.clusterIP}: provided IP is already allocated`));
          } else {
            this.usedIps.add(n);
            claimedIps.push(n);
          }
        }
        if (spec.clusterIP) spec.clusterIPs = [spec.clusterIP];
      }
      const oldPorts = new Set<number>((old?.spec?.ports ?? []).map((p: any) => p.nodePort).filter(Boolean));
      const wantsNodePorts = type === 'NodePort' || type === 'LoadBalancer';
      (spec.ports ?? []).forEach((p: any, i: number) => {
        if (!wantsNodePorts) {
          if (p.nodePort && !oldPorts.has(p.nodePort) && type !== 'ClusterIP') errs.push(field.forbidden(`spec.ports[${i}].nodePort`, 'may not be used when `type` is \'ClusterIP\''));
          delete p.nodePort;
          return;
        }
        if (!p.nodePort) {
          const reuse = (old?.spec?.ports ?? []).find((o: any) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP') && o.nodePort);
          if (reuse) {
            p.nodePort = reuse.nodePort;
            return;
          }
          const n = this.freePort();
          if (n === undefined) throw errors.internal('failed to allocate a nodePort: range is full');
          this.usedPorts.add(n);
          claimedPorts.push(n);
          p.nodePort = n;
        } else if (!oldPorts.has(p.nodePort)) {
          if (p.nodePort < this.portMin || p.nodePort > this.portMax) {
            errs.push(field.invalid(`spec.ports[${i}].nodePort`, p.nodePort, `provided port is not in the valid range. The range of valid ports is ${this.portMin}-${this.portMax}`));
          } else if (this.usedPorts.has(p.nodePort) && !claimedPorts.includes(p.nodePort)) {
            errs.push(field.invalid(`spec.ports[${i}].nodePort`, p.nodePort, 'provided port is already allocated'));
          } else {
            this.usedPorts.add(p.nodePort);
            claimedPorts.push(p.nodePort);
          }
        }
      });
    } catch (e) {
      undo();
      throw e;
    }
    if (errs.length) {
      undo();
      throw errors.invalid('', 'Service', svc.metadata.name ?? '', errs);
    }
    return undo;
  }

  /** release frees what a deleted service held, or what an update dropped (pass the new version as `keep`). */
  release(svc: KubeObject, keep?: KubeObject): void {
    const keepPorts = new Set<number>((keep?.spec?.ports ?? []).map((p: any) => p.nodePort).filter(Boolean));
    const ip = svc.spec?.clusterIP;
    if (ip && ip !== 'None' && keep?.spec?.clusterIP !== ip) this.usedIps.delete(ipToInt(ip));
    for (const p of svc.spec?.ports ?? []) if (p.nodePort && !keepPorts.has(p.nodePort)) this.usedPorts.delete(p.nodePort);
  }

  private freeIp(): number | undefined {
    for (let i = 0; i < this.size - 12; i++) {
      const off = 10 + ((this.nextIp - 10 + i) % (this.size - 12));
      const n = this.base + off;
      if (!this.usedIps.has(n)) {
        this.nextIp = off + 1;
        return n;
      }
    }
    return undefined;
  }

  private freePort(): number | undefined {
    const span = this.portMax - this.portMin + 1;
    for (let i = 0; i < span; i++) {
      const n = this.portMin + ((this.nextPort - this.portMin + i) % span);
      if (!this.usedPorts.has(n)) {
        this.nextPort = n + 1;
        return n;
      }
    }
    return undefined;
  }
}
