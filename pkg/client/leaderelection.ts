// leaderelection: upstream's leader election over a coordination.k8s.io/v1 Lease, so one of several masters runs the controllers.
import type { Logger } from 'pino';
import type { Lease, LeaseSpec } from 'kubernetes-types/coordination/v1.js';
import { ApiError } from '../api/errors.ts';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { ApiClient } from './interface.ts';

const leaseInfo = lookupKind('coordination.k8s.io/v1', 'Lease')!;
/** JITTER_FACTOR spreads the candidates' acquire attempts (upstream's JitterFactor 1.2). */
const JITTER_FACTOR = 1.2;

export interface LeaderElectorOptions {
  client: ApiClient;
  /** the Lease's name (`kube-controller-manager`, `kube-scheduler`) */
  name: string;
  /** the Lease's namespace (upstream: kube-system) */
  namespace: string;
  /** this candidate's identity, unique among candidates (upstream: hostname + '_' + uuid) */
  identity: string;
  /** how long a lease is honoured after its last renewal as this candidate observed it (upstream default 15 s) */
  leaseDurationSeconds?: number;
  /** how long the leader keeps trying to renew before giving up leadership (upstream default 10 s) */
  renewDeadlineMs?: number;
  /** the wait between attempts (upstream default 2 s) */
  retryPeriodMs?: number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  /** called whenever the observed leader changes (upstream's OnNewLeader) */
  onNewLeader?: (identity: string) => void;
  log: Logger;
}

/** microTime renders a metav1.MicroTime: `2006-01-02T15:04:05.000000Z`. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * LeaderElector takes and keeps a Lease as upstream's leaderelection package does. A candidate acquires the lease
 * when nobody holds it or when the holder has not renewed it for `leaseDurationSeconds` — measured on this
 * candidate's clock from when it observed the last change, so clock skew between masters does not matter. The
 * leader renews every retryPeriod and gives up if it could not renew for renewDeadline. A 409 on write means
 * another candidate got there first. stop() releases the lease (ReleaseOnCancel) so another takes over at once;
 * after losing the lease (not by stop) the elector goes back to campaigning.
 */
export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectorOptions, 'onStartedLeading' | 'onStoppedLeading' | 'onNewLeader'>> & LeaderElectorOptions;
  private observed: LeaseSpec | undefined;
  private observedRv = '';
  /** observedAt is when (local clock, ms) the record last changed as seen here */
  private observedAt = 0;
  private leading = false;
  /** held: our last write made us holder (set even if the caller stopped waiting for it) */
  private held = false;
  private stopped = false;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private reportedLeader = '';

  constructor(opts: LeaderElectorOptions) {
    this.o = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
    if (this.o.leaseDurationSeconds * 1000 <= this.o.renewDeadlineMs) throw new Error('leaseDuration must be greater than renewDeadline');
    if (this.o.renewDeadlineMs <= JITTER_FACTOR * this.o.retryPeriodMs) throw new Error('renewDeadline must be greater than retryPeriod*JitterFactor');
  }

  get identity(): string {
    return this.o.identity;
  }

  /** isLeader says whether this candidate holds the lease now. */
  isLeader(): boolean {
    return this.leading;
  }

  /** leader is the holder last observed ('' if none). */
  leader(): string {
    return this.observed?.holderIdentity ?? '';
  }

  /** run campaigns, leads, and campaigns again after a loss, until stop(). The promise resolves after stop(). */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /**
   * stop ends the elector. With `release` (the default) a leader hands the lease back (holder '' and a 1 s
   * duration, as upstream's release) so another candidate takes over at once; `release: false` just stops
   * renewing, as a crashed process would.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    if (this.stopped) return this.running;
    this.stopped = true;
    this.wake?.();
    await this.running;
    if (this.held && (opts.release ?? true)) await this.release();
    if (!this.leading) return;
    this.leading = false;
    safe(() => this.o.onStoppedLeading?.(), this.o.log);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      // campaign
      while (!this.stopped && !(await this.attempt())) await this.sleep(this.o.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR));
      if (this.stopped) return;
      this.leading = true;
      this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'successfully acquired lease');
      safe(() => this.o.onStartedLeading?.(), this.o.log);
      // renew
      let lastRenew = Date.now();
      for (;;) {
        await this.sleep(this.o.retryPeriodMs);
        if (this.stopped) return; // stop() releases and reports
        const ok = await this.attempt();
        if (ok) {
          lastRenew = Date.now();
          continue;
        }
        const lostToOther = this.observed?.holderIdentity && this.observed.holderIdentity !== this.o.identity;
        if (lostToOther || Date.now() - lastRenew >= this.o.renewDeadlineMs) break;
      }
      this.leading = false;
      this.held = false;
      this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'failed to renew lease; leadership lost');
      safe(() => this.o.onStoppedLeading?.(), this.o.log);
    }
  }

  /** attempt is one tryAcquireOrRenew bounded by renewDeadline; errors count as failure. */
  private async attempt(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.o.renewDeadlineMs)));
      return await Promise.race([this.tryAcquireOrRenew(), timeout]);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 409)) this.o.log.warn({ err: e, lease: `${this.o.namespace}/${this.o.name}` }, 'error taking or renewing lease');
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** tryAcquireOrRenew is upstream's: create the lease if missing; take it if free or expired; renew it if ours. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const nowMs = Date.now();
    const existing = (await this.o.client.getOrUndefined(leaseInfo, this.o.namespace, this.o.name)) as Lease | undefined;
    if (!existing) {
      if (this.stopped) return false;
      const spec: LeaseSpec = {
        holderIdentity: this.o.identity,
        leaseDurationSeconds: this.o.leaseDurationSeconds,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      };
      const lease: Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace }, spec };
      const created = (await this.o.client.create(leaseInfo, this.o.namespace, lease as unknown as KubeObject)) as Lease;
      this.held = true;
      this.observe(created, nowMs);
      return true;
    }
    const old = existing.spec ?? {};
    this.observe(existing, nowMs);
    const holder = old.holderIdentity ?? '';
    const ours = holder === this.o.identity;
    const duration = (old.leaseDurationSeconds ?? this.o.leaseDurationSeconds) * 1000;
    if (!ours) this.held = false;
    if (holder && !ours && this.observedAt + duration > nowMs) return false; // held by another, not expired
    if (this.stopped) return false;
    const spec: LeaseSpec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: this.o.leaseDurationSeconds,
      acquireTime: ours && old.acquireTime ? old.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: ours ? (old.leaseTransitions ?? 0) : (old.leaseTransitions ?? 0) + 1,
    };
    const updated = (await this.o.client.update(leaseInfo, { ...existing, spec } as unknown as KubeObject)) as Lease;
    this.held = true;
    this.observe(updated, nowMs);
    return true;
  }

  /** observe records the lease as seen; a changed record restarts the expiry clock. */
  private observe(lease: Lease, nowMs: number): void {
    const spec = lease.spec ?? {};
    const rv = lease.metadata?.resourceVersion ?? '';
    if (!this.observed || this.observed.holderIdentity !== spec.holderIdentity || this.observed.renewTime !== spec.renewTime || this.observedRv !== rv) {
      this.observed = spec;
      this.observedRv = rv;
      this.observedAt = nowMs;
    }
    const leader = spec.holderIdentity ?? '';
    if (leader && leader !== this.reportedLeader) {
      this.reportedLeader = leader;
      safe(() => this.o.onNewLeader?.(leader), this.o.log);
    }
  }

  /** release hands the lease back if we still hold it (upstream: holder '', duration 1 s, transitions kept). */
  private async release(): Promise<void> {
    try {
      const existing = (await this.o.client.getOrUndefined(leaseInfo, this.o.namespace, this.o.name)) as Lease | undefined;
      if (!existing || existing.spec?.holderIdentity !== this.o.identity) return;
      const now = microTime(new Date());
      const spec: LeaseSpec = { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: existing.spec?.leaseTransitions ?? 0 };
      await this.o.client.update(leaseInfo, { ...existing, spec } as unknown as KubeObject);
      this.held = false;
      this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'released lease');
    } catch (e) {
      this.o.log.warn({ err: e }, 'could not release lease');
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        r();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        r();
      };
    });
  }
}

function safe(fn: () => void, log: Logger): void {
  try {
    fn();
  } catch (e) {
    log.error({ err: e }, 'leader election callback failed');
  }
}
