import assert from "node:assert/strict";
import fc from "fast-check";
import { TokenBuckets } from "./rate_limit.ts";

Deno.test("TokenBuckets.take() allows a burst, then refills at the given rate", () => {
  const buckets = new TokenBuckets({ burst: 3, perMinute: 6 });
  const t0 = 1_000_000;
  assert.deepEqual([1, 2, 3, 4].map(() => buckets.take("a", t0)), [true, true, true, false]);
  assert.equal(buckets.take("b", t0), true, "another key has its own bucket");
  assert.equal(buckets.take("a", t0 + 9_999), false, "one token takes 10 s at 6 per minute");
  assert.equal(buckets.take("a", t0 + 10_000), true);
  assert.equal(buckets.take("a", t0 + 10_000), false);
});

Deno.test("TokenBuckets never grants more than burst + rate × time, and stays within maxKeys", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5_000 })), {
        maxLength: 300,
      }),
      (steps) => {
        const buckets = new TokenBuckets({ burst: 4, perMinute: 12, maxKeys: 100 });
        let now = 0;
        let granted = 0;
        for (const [, dt] of steps) {
          now += dt;
          if (buckets.take("k", now)) granted++;
        }
        assert.ok(granted <= 4 + Math.floor(now * 12 / 60_000) + 1);
      },
    ),
  );
  const buckets = new TokenBuckets({ burst: 1, perMinute: 1, maxKeys: 50 });
  for (let i = 0; i < 1000; i++) buckets.take(`peer${i}`, i);
  assert.ok(buckets.size <= 50);
});

Deno.test("TokenBuckets rejects a burst below one or a non-positive rate", () => {
  assert.throws(() => new TokenBuckets({ burst: 0, perMinute: 1 }), RangeError);
  assert.throws(() => new TokenBuckets({ burst: 1, perMinute: 0 }), RangeError);
  assert.throws(() => new TokenBuckets({ burst: Infinity, perMinute: 1 }), RangeError);
});
