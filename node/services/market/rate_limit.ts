/**
 * Token buckets by key (a peer id, a buyer address) for the seller's quote
 * server: each key may take `burst` tokens at once, refilled at `perMinute`.
 * The map is bounded: when it is full, keys whose bucket has refilled are
 * dropped first (they carry no state), then the least recently used.
 *
 * ```ts
 * const perPeer = new TokenBuckets({ burst: 10, perMinute: 6 });
 * if (!perPeer.take(peerId)) refuse("rate-limited");
 * ```
 */
import { minute } from "../../constants.ts";

export interface TokenBucketsInit {
  /** Tokens a fresh key holds, the most it can spend at once. */
  burst: number;
  /** Tokens added per minute, up to `burst`. */
  perMinute: number;
  /** Keys remembered at most. @default 10_000 */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(init: TokenBucketsInit) {
    if (!(init.burst >= 1) || !Number.isFinite(init.burst)) {
      throw new RangeError(`Invalid burst ${init.burst}: expected a finite number ≥ 1`);
    }
    if (!(init.perMinute > 0) || !Number.isFinite(init.perMinute)) {
      throw new RangeError(`Invalid perMinute ${init.perMinute}: expected a finite positive number`);
    }
    this.#burst = init.burst;
    this.#perMs = init.perMinute / minute;
    this.#maxKeys = init.maxKeys ?? 10_000;
  }

  /** Takes one token of `key`; false (and nothing taken) when its bucket is empty. */
  take(key: string, now = Date.now()): boolean {
    const bucket = this.#refill(key, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Whether `key` has a token now, without taking it. */
  has(key: string, now = Date.now()): boolean {
    return this.#refill(key, now).tokens >= 1;
  }

  /** Keys remembered. */
  get size(): number {
    return this.#buckets.size;
  }

  #refill(key: string, now: number): Bucket {
    let bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
      bucket.at = now;
      this.#buckets.delete(key); // re-inserted below: Map order is recency order
    } else {
      if (this.#buckets.size >= this.#maxKeys) this.#evict(now);
      bucket = { tokens: this.#burst, at: now };
    }
    this.#buckets.set(key, bucket);
    return bucket;
  }

  #evict(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
    while (this.#buckets.size >= this.#maxKeys) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
  }
}
