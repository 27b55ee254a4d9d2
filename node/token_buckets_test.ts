import assert from "node:assert/strict";
import { TokenBuckets } from "./token_buckets.ts";

Deno.test("TokenBuckets.take() allows a burst, refuses after it, and refills at the rate", () => {
  let now = 0;
  const buckets = new TokenBuckets({ rate: 2, burst: 3, now: () => now });
  assert.deepEqual([1, 2, 3, 4].map(() => buckets.take("a")), [true, true, true, false]);
  assert.equal(buckets.retryAfter("a"), 1);
  assert.equal(buckets.take("b"), true, "other keys have their own bucket");
  now = 499;
  assert.equal(buckets.take("a"), false);
  now = 500;
  assert.equal(buckets.take("a"), true);
  assert.equal(buckets.take("a"), false);
  now = 100_000;
  assert.deepEqual([1, 2, 3, 4].map(() => buckets.take("a")), [true, true, true, false], "capped at burst");
});

Deno.test("TokenBuckets forgets refilled buckets and stays under maxKeys", () => {
  let now = 0;
  const buckets = new TokenBuckets({ rate: 1, burst: 1, maxKeys: 100, now: () => now });
  for (let i = 0; i < 1000; i++) buckets.take(`k${i}`);
  assert.ok(buckets.size <= 100, `size ${buckets.size}`);
  now = 10_000;
  buckets.prune();
  assert.equal(buckets.size, 0);
});
