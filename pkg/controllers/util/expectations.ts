// expectations: upstream's UIDTrackingControllerExpectations — what a controller is waiting to see in its cache.
//
// A controller that creates 3 pods calls expectCreations(key, 3) first; each pod add the informer delivers calls
// creationObserved(key). Until the count is back to 0 (or 5 minutes passed), satisfied(key) is false and the
// controller does not act on its (stale) cache again, so a lagging watch never causes double creates.
// Deletions are tracked by pod key (`ns/name`), so a delete seen twice is counted once.

/** EXPECTATIONS_TIMEOUT_MS is upstream's ExpectationsTimeout: stale expectations are ignored after 5 minutes. */
export const EXPECTATIONS_TIMEOUT_MS = 5 * 60_000;

interface Record_ {
  add: number;
  del: number;
  /** when the expectations were set (ms) */
  at: number;
  /** keys of the objects whose deletion is awaited */
  deleting: Set<string>;
}

/** Expectations is keyed by the controller's key (`ns/name`). `now` is injectable for tests. */
export class Expectations {
  private readonly records = new Map<string, Record_>();
  private readonly now: () => number;
  private readonly timeoutMs: number;

  constructor(opts: { now?: () => number; timeoutMs?: number } = {}) {
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? EXPECTATIONS_TIMEOUT_MS;
  }

  /**
   * satisfied is upstream's SatisfiedExpectations: true when nothing is recorded for key (a new controller or one
   * whose expectations were deleted), when every expected add and delete was observed, or when they expired.
   */
  satisfied(key: string): boolean {
    const r = this.records.get(key);
    if (!r) return true;
    if (r.add <= 0 && r.del <= 0) return true;
    return this.now() - r.at > this.timeoutMs;
  }

  /** expectCreations replaces the key's expectations with `n` awaited creations. */
  expectCreations(key: string, n: number): void {
    this.set(key, n, 0, []);
  }

  /** expectDeletions replaces the key's expectations with the deletions of the objects `keys` (`ns/name`). */
  expectDeletions(key: string, keys: readonly string[]): void {
    this.set(key, 0, keys.length, keys);
  }

  /** creationObserved lowers the awaited creations by one (an informer add of an object this controller owns). */
  creationObserved(key: string): void {
    const r = this.records.get(key);
    if (r) r.add--;
  }

  /**
   * creationSkipped lowers the awaited creations by one for a create that failed or was never sent (upstream
   * calls CreationObserved for each of those too).
   */
  creationSkipped(key: string, n = 1): void {
    const r = this.records.get(key);
    if (r) r.add -= n;
  }

  /** deletionObserved counts the deletion of `objKey` once, if it was awaited. */
  deletionObserved(key: string, objKey: string): void {
    const r = this.records.get(key);
    if (r && r.deleting.delete(objKey)) r.del--;
  }

  /** delete forgets the key (the controller's object is gone). */
  delete(key: string): void {
    this.records.delete(key);
  }

  /** pending tells what is still awaited (for logs and tests). */
  pending(key: string): { add: number; del: number } | undefined {
    const r = this.records.get(key);
    return r && { add: r.add, del: r.del };
  }

  private set(key: string, add: number, del: number, keys: readonly string[]): void {
    this.records.set(key, { add, del, at: this.now(), deleting: new Set(keys) });
  }
}
