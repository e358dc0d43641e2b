// picker: which endpoint a new connection (or UDP flow) of one service port goes to — round robin, ClientIP session affinity.
import type { Target } from './servicemap.ts';

/** MAX_AFFINITY_ENTRIES bounds the client IPs remembered per service port; the least recently used go first. */
export const MAX_AFFINITY_ENTRIES = 65_536;

interface Affinity {
  target: string;
  at: number;
}

/**
 * EndpointPicker spreads connections of one service port over its targets. `start(clientIp)` gives the index to try
 * first; a connection that fails tries start+1, start+2 … (each target once), so retries also spread. With ClientIP
 * affinity a client that connected within the timeout goes back to the same target while it is still listed;
 * `connected` records where a client landed (after retries too), refreshing the timer as upstream's userspace proxy did.
 *
 * Example: targets [a, b, c], no affinity → starts 0, 1, 2, 0 …; with affinity, client X landing on b keeps starting
 * at b until b leaves the list or X is idle for the timeout.
 */
export class EndpointPicker {
  /** targets is replaced, never mutated, so a connection may hold the array it started with */
  targets: readonly Target[] = [];
  private affinityMs = 0;
  private next = 0;
  private readonly affinity = new Map<string, Affinity>();
  private readonly now: () => number;
  private lastSweep = 0;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** set replaces the targets and the affinity timeout (0 = no affinity); remembered clients stay if their target does. */
  set(targets: readonly Target[], affinityTimeoutSeconds: number): void {
    this.targets = targets;
    this.affinityMs = affinityTimeoutSeconds * 1000;
    if (this.affinityMs === 0) this.affinity.clear();
    if (this.next >= targets.length) this.next = 0;
  }

  /** start is the index of the first target to try for a client; -1 when there is none. */
  start(clientIp: string | undefined): number {
    const n = this.targets.length;
    if (n === 0) return -1;
    if (this.affinityMs > 0 && clientIp) {
      const now = this.now();
      this.sweep(now);
      const a = this.affinity.get(clientIp);
      if (a && now - a.at < this.affinityMs) {
        const i = this.indexOf(a.target);
        if (i >= 0) return i;
      }
    }
    const i = this.next % n;
    this.next = (i + 1) % n;
    return i;
  }

  /** connected records that the client's connection reached `target` (only with affinity). */
  connected(clientIp: string | undefined, target: Target): void {
    if (this.affinityMs === 0 || !clientIp) return;
    this.affinity.delete(clientIp); // re-insert: the Map's order is least recently used first
    this.affinity.set(clientIp, { target: `${target.ip}:${target.port}`, at: this.now() });
    if (this.affinity.size > MAX_AFFINITY_ENTRIES) this.affinity.delete(this.affinity.keys().next().value!);
  }

  /** affinitySize is how many clients are remembered (tests). */
  get affinitySize(): number {
    return this.affinity.size;
  }

  private indexOf(key: string): number {
    const t = this.targets;
    for (let i = 0; i < t.length; i++) if (`${t[i].ip}:${t[i].port}` === key) return i;
    return -1;
  }

  /** sweep drops expired clients at most once a minute; entries are in least-recently-used order, so it stops early. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [ip, a] of this.affinity) {
      if (now - a.at < this.affinityMs) break;
      this.affinity.delete(ip);
    }
  }
}
