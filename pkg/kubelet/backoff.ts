// backoff: the kubelet's per-key exponential back-off (CrashLoopBackOff, image pulls), upstream's flowcontrol.Backoff without jitter.

/** BACKOFF_INITIAL_MS and BACKOFF_MAX_MS are upstream's container restart and image pull back-off bounds (10 s → 5 min). */
export const BACKOFF_INITIAL_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;

interface Entry {
  backoffMs: number;
  lastUpdate: number;
}

/**
 * Backoff tracks one delay per key. An entry untouched for twice the maximum (10 min) counts as expired, so a
 * container that ran stably that long starts again from 10 s.
 *
 * Worked example (crash loop): exit at t=0 → not in back-off, next() → 10 s, restart now. Exit again at t=1 s →
 * inBackOffSince(1 s) is true until t=11 s; at t=11 s next() → 20 s and restart; then 40 s, 80 s, 160 s, 300 s, 300 s…
 */
export class Backoff {
  private readonly entries = new Map<string, Entry>();
  readonly initialMs: number;
  readonly maxMs: number;

  constructor(initialMs = BACKOFF_INITIAL_MS, maxMs = BACKOFF_MAX_MS) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
  }

  private expired(eventTime: number, e: Entry): boolean {
    return eventTime - e.lastUpdate > this.maxMs * 2;
  }

  /** next records a new attempt at `now` that follows an event at `eventTime`: start at initial, else double (capped). */
  next(key: string, eventTime: number, now: number): void {
    const e = this.entries.get(key);
    if (!e || this.expired(eventTime, e)) this.entries.set(key, { backoffMs: this.initialMs, lastUpdate: now });
    else this.entries.set(key, { backoffMs: Math.min(e.backoffMs * 2, this.maxMs), lastUpdate: now });
  }

  /** inBackOffSince reports whether less than the current delay has passed since `eventTime` (a container's finish). */
  inBackOffSince(key: string, eventTime: number, now: number): boolean {
    const e = this.entries.get(key);
    if (!e || this.expired(eventTime, e)) return false;
    return now - eventTime < e.backoffMs;
  }

  /** inBackOffSinceUpdate reports whether less than the current delay has passed since the last next() (image pulls). */
  inBackOffSinceUpdate(key: string, now: number): boolean {
    const e = this.entries.get(key);
    if (!e || this.expired(now, e)) return false;
    return now - e.lastUpdate < e.backoffMs;
  }

  /** remaining is how long until `inBackOffSince(key, eventTime)` turns false (0 when not in back-off). */
  remaining(key: string, eventTime: number, now: number): number {
    const e = this.entries.get(key);
    if (!e || this.expired(eventTime, e)) return 0;
    return Math.max(0, eventTime + e.backoffMs - now);
  }

  /** remainingSinceUpdate is how long until `inBackOffSinceUpdate(key)` turns false. */
  remainingSinceUpdate(key: string, now: number): number {
    const e = this.entries.get(key);
    if (!e || this.expired(now, e)) return 0;
    return Math.max(0, e.lastUpdate + e.backoffMs - now);
  }

  /** current is the key's present delay in ms (0 without an entry). */
  current(key: string): number {
    return this.entries.get(key)?.backoffMs ?? 0;
  }

  /** reset forgets one key. */
  reset(key: string): void {
    this.entries.delete(key);
  }

  /** gc drops expired entries and those whose key fails `keep`. */
  gc(now: number, keep: (key: string) => boolean = () => true): void {
    for (const [k, e] of this.entries) if (this.expired(now, e) || !keep(k)) this.entries.delete(k);
  }
}

/** formatDuration prints a delay as Go's time.Duration does for whole seconds: 10s, 1m20s, 5m0s. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  if (h > 0) return `${h}h${m % 60}m${s % 60}s`;
  return `${m}m${s % 60}s`;
}
