/**
 * Token bucket per provider and workspace: sends are paced to the provider's rate instead of
 * being thrown at it and bounced with throttling errors. In-process on purpose — one app process
 * sends for a workspace in the embedded engine; with several workers each gets its share (see
 * docs/channels.md).
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  private refill(now: number) {
    if (now > this.updatedAt) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
      this.updatedAt = now;
    }
  }

  /**
   * Reserves one token. Returns 0 when one is available now, otherwise how many ms until the
   * reserved token exists (the caller waits that long or gives it back with `refund`).
   */
  take(now: number): number {
    this.refill(now);
    this.tokens -= 1;
    if (this.tokens >= 0) return 0;
    return Math.ceil((-this.tokens / this.perSecond) * 1000);
  }

  /** Returns a token reserved by `take` that will not be used (the send was deferred). */
  refund(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }
}

export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly now: () => number = Date.now) {}

  /** 0 = go; otherwise ms to wait for the token that was reserved. */
  take(key: string, limit: { perSecond: number; burst: number } | undefined): number {
    if (!limit) return 0;
    let bucket = this.buckets.get(key);
    if (!bucket || bucket.perSecond !== limit.perSecond || bucket.burst !== limit.burst) {
      bucket = new TokenBucket(limit.perSecond, limit.burst, this.now());
      this.buckets.set(key, bucket);
    }
    return bucket.take(this.now());
  }

  refund(key: string): void {
    this.buckets.get(key)?.refund();
  }
}
