// ratelimit: a token bucket on an injected clock — paces the node lifecycle controller's pod evictions.

/** TokenBucket allows `qps` takes per second on average and `burst` at once; `now` is injected so tests need no timers. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly qps: number;
  private readonly burst: number;

  constructor(qps: number, burst: number, now: number) {
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }

  /** take spends one token and returns 0, or returns how many ms until one is available (spending nothing). */
  take(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.qps) * 1000);
  }
}
