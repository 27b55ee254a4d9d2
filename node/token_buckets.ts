/**
 * Token buckets by key, in memory: each key may spend `burst` tokens at once
 * and earns `rate` per second back. Idle full buckets are forgotten, so the
 * map stays small under a flood of distinct keys.
 *
 * ```ts
 * const buckets = new TokenBuckets({ rate: 10, burst: 50 });
 * if (!buckets.take(clientKey)) return tooManyRequests(buckets.retryAfter(clientKey));
 * ```
 */

export interface TokenBucketsInit {
  /** Tokens earned per second. */
  rate: number;
  /** Largest balance. */
  burst: number;
  /** Most keys tracked; beyond it the fullest are dropped first. @default 100_000 */
  maxKeys?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

export class TokenBuckets {
  #rate: number;
  #burst: number;
  #maxKeys: number;
  #now: () => number;
  #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(init: TokenBucketsInit) {
    this.#rate = init.rate;
    this.#burst = init.burst;
    this.#maxKeys = init.maxKeys ?? 100_000;
    this.#now = init.now ?? Date.now;
  }

  /** Spends one token of `key`; false when it has none left. */
  take(key: string): boolean {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxKeys) this.prune();
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Seconds until `key` has a token again (at least 1). */
  retryAfter(key: string): number {
    const tokens = this.#buckets.get(key)?.tokens ?? this.#burst;
    return Math.max(1, Math.ceil((1 - tokens) / this.#rate));
  }

  /** Forgets buckets that have refilled; when still over the limit, forgets the oldest. */
  prune(): void {
    const now = this.#now();
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.#rate >= this.#burst) this.#buckets.delete(key);
    }
    if (this.#buckets.size >= this.#maxKeys) {
      const drop = this.#buckets.size - Math.floor(this.#maxKeys / 2);
      let i = 0;
      for (const key of this.#buckets.keys()) {
        if (i++ >= drop) break;
        this.#buckets.delete(key);
      }
    }
  }

  get size(): number {
    return this.#buckets.size;
  }
}
