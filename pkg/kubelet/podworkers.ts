// podworkers: one async worker per pod uid; updates never block and a busy worker keeps only the newest one.

/** WorkerPhase is where a pod's worker stands: running it, stopping it, or done with it. */
export type WorkerPhase = 'sync' | 'terminating' | 'terminated';

/** SyncResult tells the worker what the sync function decided: the next phase and when to look again. */
export interface SyncResult {
  phase?: WorkerPhase;
  /** requeueAfterMs asks for another sync after a delay (back-off expiry, retries). */
  requeueAfterMs?: number;
}

/** SyncFn does one pass for a pod: `update` is the newest update given to updatePod, `phase` the worker's phase. */
export type SyncFn<T> = (uid: string, update: T, phase: WorkerPhase) => Promise<SyncResult>;

interface Slot<T> {
  phase: WorkerPhase;
  pending?: T;
  hasPending: boolean;
  busy: boolean;
  timer?: NodeJS.Timeout;
  last: T;
}

/**
 * PodWorkers runs the injected sync function for each pod uid, never two at once for one uid. updatePod returns at
 * once; while a sync runs, further updates collapse into the newest. A failing sync is retried after `retryMs`.
 * A terminated uid ignores further updates until forget().
 */
export class PodWorkers<T> {
  private readonly slots = new Map<string, Slot<T>>();
  private readonly sync: SyncFn<T>;
  private readonly onError: (uid: string, err: unknown) => void;
  private readonly retryMs: number;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(sync: SyncFn<T>, opts: { onError?: (uid: string, err: unknown) => void; retryMs?: number } = {}) {
    this.sync = sync;
    this.onError = opts.onError ?? (() => undefined);
    this.retryMs = opts.retryMs ?? 2000;
  }

  /** updatePod queues `update` for the pod's worker; `terminate` moves a syncing worker to terminating. */
  updatePod(uid: string, update: T, terminate = false): void {
    if (this.closed) return;
    let s = this.slots.get(uid);
    if (!s) {
      s = { phase: 'sync', hasPending: false, busy: false, last: update };
      this.slots.set(uid, s);
    }
    if (s.phase === 'terminated') return;
    if (terminate && s.phase === 'sync') s.phase = 'terminating';
    s.pending = update;
    s.hasPending = true;
    if (s.timer) {
      clearTimeout(s.timer);
      s.timer = undefined;
    }
    if (!s.busy) void this.run(uid, s);
  }

  /** requeue re-runs the pod's last update after `ms` unless a newer update comes first. */
  requeue(uid: string, ms: number): void {
    const s = this.slots.get(uid);
    if (!s || this.closed || s.phase === 'terminated') return;
    if (s.timer) clearTimeout(s.timer);
    s.timer = setTimeout(() => {
      s.timer = undefined;
      this.updatePod(uid, s.last);
    }, ms);
    s.timer.unref();
  }

  phase(uid: string): WorkerPhase | undefined {
    return this.slots.get(uid)?.phase;
  }

  uids(): string[] {
    return [...this.slots.keys()];
  }

  /** forget drops a terminated pod's slot so its uid could be worked on again. */
  forget(uid: string): void {
    const s = this.slots.get(uid);
    if (s?.timer) clearTimeout(s.timer);
    this.slots.delete(uid);
  }

  /** idle resolves once no worker is busy (tests). */
  idle(): Promise<void> {
    if (![...this.slots.values()].some((s) => s.busy)) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  close(): void {
    this.closed = true;
    for (const s of this.slots.values()) if (s.timer) clearTimeout(s.timer);
  }

  private async run(uid: string, s: Slot<T>): Promise<void> {
    s.busy = true;
    while (s.hasPending && !this.closed) {
      const update = s.pending as T;
      s.hasPending = false;
      s.pending = undefined;
      s.last = update;
      try {
        const r = await this.sync(uid, update, s.phase);
        if (r.phase && !(s.phase === 'terminating' && r.phase === 'sync')) s.phase = r.phase;
        if (s.phase !== 'terminated' && r.requeueAfterMs !== undefined && !s.hasPending) this.requeue(uid, r.requeueAfterMs);
      } catch (err) {
        this.onError(uid, err);
        if (!s.hasPending) this.requeue(uid, this.retryMs);
      }
    }
    s.busy = false;
    if (![...this.slots.values()].some((x) => x.busy)) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const r of w) r();
    }
  }
}
