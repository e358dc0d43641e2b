// node: registers this agent's Node, renews its Lease every 10 s (one write) and posts node status when it changes or every 5 min.
import type { Logger } from 'pino';
import { ApiError } from '../api/errors.ts';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { ApiClient } from '../client/index.ts';
import { LEASE_DURATION_SECONDS, leaseObject, microTime, nodeLabels, nodeObject, nodeStatus } from './nodestatus.ts';
import type { NodeFacts } from './nodestatus.ts';
import type { ContainerRuntime } from './runtime/index.ts';
import { deepEqual } from './status.ts';

const nodeInfo = lookupKind('v1', 'Node')!;
const leaseInfo = lookupKind('coordination.k8s.io/v1', 'Lease')!;

/** LEASE_RENEW_MS is how often the Lease is renewed (upstream: a quarter of its 40 s duration). */
export const LEASE_RENEW_MS = 10_000;
/** NODE_STATUS_UPDATE_MS is how often the status is computed and compared (upstream's nodeStatusUpdateFrequency). */
export const NODE_STATUS_UPDATE_MS = 10_000;
/**
 * NODE_STATUS_REPORT_MS is how often an unchanged status is posted anyway (upstream's nodeStatusReportFrequency, 5 min
 * with the Lease heartbeat): the Lease says the node lives, the status only says what changed.
 */
export const NODE_STATUS_REPORT_MS = 300_000;

/** UNAUTHORIZED_MESSAGE is the error runAgent rejects with when the API refuses the node token. */
export const UNAUTHORIZED_MESSAGE = 'Unauthorized: the server rejected the node token';

/** asStartupError turns a 401 into the clear error the CLI prints; other errors pass through. */
export function asStartupError(err: unknown): Error {
  if (err instanceof ApiError && err.code === 401) return new Error(UNAUTHORIZED_MESSAGE, { cause: err });
  return err as Error;
}

/** NodeRegistrar owns the Node object and the Lease of this agent. */
export class NodeRegistrar {
  private readonly client: ApiClient;
  private readonly runtime: ContainerRuntime;
  private readonly log: Logger;
  private facts: NodeFacts;
  private uid: string | undefined;
  /** the Lease as the last write returned it: the next renewal updates it without reading it first (upstream's latestLease) */
  private latestLease: KubeObject | undefined;
  private leaseTimer?: NodeJS.Timeout;
  private statusTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(client: ApiClient, runtime: ContainerRuntime, base: Omit<NodeFacts, 'info' | 'version' | 'runtimeReady'>, log: Logger) {
    this.client = client;
    this.runtime = runtime;
    this.log = log;
    this.facts = { ...base, runtimeReady: true } as NodeFacts;
  }

  /** allocatable is what env and downward API fall back to for missing limits: cores and bytes. */
  allocatable(): { cpu: number; memory: number } {
    return { cpu: this.facts.info?.cpus ?? 1, memory: this.facts.info?.memoryBytes ?? 0 };
  }

  /** register creates the Node, or updates its labels and status when it exists; rejects clearly on a bad token. */
  async register(): Promise<void> {
    const [info, version] = await Promise.all([this.runtime.info(), this.runtime.version()]);
    this.facts = { ...this.facts, info, version, runtimeReady: true };
    if (!this.facts.hostname) this.facts.hostname = info.hostname;
    const now = k8sNow();
    try {
      const created = await this.client.create(nodeInfo, undefined, nodeObject(this.facts, now));
      this.uid = created.metadata.uid;
      this.log.info({ node: this.facts.nodeName }, 'registered node');
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409)) throw asStartupError(err);
      // the Node exists: add our labels, retrying when a controller (taints, pod CIDR) wrote in between
      for (let attempt = 0; ; attempt++) {
        const existing = await this.client.get(nodeInfo, undefined, this.facts.nodeName);
        existing.metadata.labels = { ...existing.metadata.labels, ...nodeLabels(this.facts) };
        try {
          const updated = await this.client.update(nodeInfo, existing);
          this.uid = updated.metadata.uid;
          break;
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 409) || attempt >= 4) throw asStartupError(e);
        }
      }
      this.log.info({ node: this.facts.nodeName }, 'node already registered; updated it');
    }
    await this.postStatus(true);
    await this.renewLease();
  }

  /**
   * start renews the lease every 10 s and checks the status every 10 s (posted when it changed, else every 5 min).
   * The first renewal is due 10 s after the one registration made (at once when starting took longer: a slow start
   * must not let the lease lapse); `firstMs`, when given, sets the first renewal and status check instead (hollow nodes
   * spread theirs over the period).
   */
  start(firstMs?: number): void {
    const lease = (delay: number): void => {
      this.leaseTimer = setTimeout(async () => {
        await this.renewLease().catch((err) => !this.stopped && this.log.warn({ err }, 'lease renewal failed'));
        if (!this.stopped) lease(LEASE_RENEW_MS);
      }, delay);
    };
    const status = (delay: number): void => {
      this.statusTimer = setTimeout(async () => {
        await this.postStatus(false).catch((err) => !this.stopped && this.log.warn({ err }, 'node status update failed'));
        if (!this.stopped) status(NODE_STATUS_UPDATE_MS);
      }, delay);
    };
    lease(firstMs ?? Math.max(0, LEASE_RENEW_MS - (Date.now() - this.lastRenew)));
    status(firstMs ?? NODE_STATUS_UPDATE_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.leaseTimer);
    clearTimeout(this.statusTimer);
  }

  private lastPost = 0;
  /** when the lease was last renewed (Date.now()) */
  private lastRenew = 0;

  /** postStatus probes the runtime and writes node status when it changed or the heartbeat is due. */
  async postStatus(force: boolean): Promise<void> {
    let ready = true;
    let message: string | undefined;
    try {
      const [info, version] = await Promise.all([this.runtime.info(), this.runtime.version()]);
      this.facts = { ...this.facts, info, version };
    } catch (err) {
      ready = false;
      message = `container runtime is down: ${(err as Error).message}`;
    }
    this.facts = { ...this.facts, runtimeReady: ready, runtimeMessage: message };
    // as upstream's kubelet: compare with the Node as the server has it (the node lifecycle controller may have
    // marked it Unknown), post when it differs and at least every report period
    const heartbeatDue = force || Date.now() - this.lastPost >= NODE_STATUS_REPORT_MS - 1000;
    for (let attempt = 0; attempt < 3; attempt++) {
      const node = await this.client.get(nodeInfo, undefined, this.facts.nodeName);
      const next = nodeStatus(this.facts, node.status, k8sNow());
      if (!heartbeatDue && sameStatus(node.status, next)) return;
      node.status = next;
      try {
        await this.client.updateStatus(nodeInfo, node);
        this.lastPost = Date.now();
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 409)) throw err;
      }
    }
  }

  /**
   * renewLease renews `kube-node-lease/<node>` as upstream's lease controller: one update of the Lease the last write
   * returned; without one, or when that update fails (a conflict, the Lease deleted), the Lease is read or created
   * and updated once more.
   */
  async renewLease(): Promise<void> {
    await this.writeLease(new Date());
    this.lastRenew = Date.now();
  }

  private async writeLease(now: Date): Promise<void> {
    if (this.latestLease) {
      try {
        this.latestLease = await this.client.update(leaseInfo, renewed(this.latestLease, this.facts.nodeName, now));
        return;
      } catch (err) {
        this.latestLease = undefined;
        if (!(err instanceof ApiError && (err.code === 409 || err.code === 404))) throw err;
      }
    }
    const existing = await this.client.getOrUndefined(leaseInfo, 'kube-node-lease', this.facts.nodeName);
    if (!existing) {
      this.latestLease = await this.client.create(leaseInfo, 'kube-node-lease', leaseObject(this.facts.nodeName, this.uid, now));
      return;
    }
    this.latestLease = await this.client.update(leaseInfo, renewed(existing, this.facts.nodeName, now));
  }
}

/** renewed is `lease` held by `holder` with renewTime now (upstream's newLease: spec only, metadata kept). */
export function renewed(lease: KubeObject, holder: string, now: Date): KubeObject {
  return { ...lease, spec: { ...lease.spec, holderIdentity: holder, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime(now) } };
}

/** sameStatus compares node statuses, ignoring the heartbeat times that change on every post. */
function sameStatus(a: Record<string, any> | undefined, b: Record<string, any>): boolean {
  const strip = (st: Record<string, any> | undefined) => ({ ...(st ?? {}), conditions: (st?.conditions ?? []).map((c: Record<string, unknown>) => ({ ...c, lastHeartbeatTime: undefined })) });
  return deepEqual(strip(a), strip(b));
}

/** k8sNow is the current time as metav1.Time (whole seconds). */
export function k8sNow(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}
