import assert from "node:assert/strict";
import fc from "fast-check";
import {
  estimateRelease,
  getCapMessage,
  getDiscreteLaplaceMargin,
  getDiscreteLaplaceTail,
  getOpenDomainThreshold,
  getPersonSensitivity,
  getReleaseDays,
  getSensitivity,
  toRational,
} from "./release_privacy.ts";

const BOUNDS = { maxVisits: 3, maxPageviews: 10, maxCells: 3 };

Deno.test("getPersonSensitivity() is D visitor ids' sensitivity, for every dimension", () => {
  assert.deepEqual(getSensitivity("page", BOUNDS), { visitors: 3, visits: 9, pageviews: 10 });
  assert.deepEqual(getPersonSensitivity("page", BOUNDS, 30), { visitors: 90, visits: 270, pageviews: 300 });
  assert.deepEqual(getPersonSensitivity(null, { ...BOUNDS, maxCells: 1 }, 7), {
    visitors: 7,
    visits: 21,
    pageviews: 70,
  });
  for (const bad of [0, 1.5, 367, Number.NaN]) {
    assert.throws(() => getPersonSensitivity(null, BOUNDS, bad), RangeError);
  }
});

Deno.test("getReleaseDays() counts both ends of the requested range", () => {
  assert.equal(getReleaseDays("2024-03-01", "2024-03-01"), 1);
  assert.equal(getReleaseDays("2024-03-01", "2024-03-30"), 30);
  assert.equal(getReleaseDays("2024-02-01", "2024-03-01"), 30, "a leap February");
  assert.equal(getReleaseDays("2024-01-01", "2024-12-31"), 366);
  assert.throws(() => getReleaseDays("2024-03-02", "2024-03-01"), RangeError);
  assert.throws(() => getReleaseDays("2023-01-01", "2024-12-31"), RangeError);
  assert.throws(() => getReleaseDays("", "2024-03-01"), RangeError);
});

Deno.test("getOpenDomainThreshold() is the least τ with cells · P(Z ≥ τ - 1) ≤ δ", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5000 }),
      fc.integer({ min: 1, max: 2000 }),
      fc.constantFrom(1e-3, 1e-6, 1e-9),
      (denominator, cells, delta) => {
        const rate = toRational(1, denominator);
        const tau = getOpenDomainThreshold(rate, cells, delta);
        assert.ok(cells * getDiscreteLaplaceTail(rate, tau - 1) <= delta);
        if (tau > 2) assert.ok(cells * getDiscreteLaplaceTail(rate, tau - 2) > delta, "the least such τ");
      },
    ),
  );
});

Deno.test("getDiscreteLaplaceMargin() is the least h with P(|Z| ≤ h) ≥ 95 %", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 100_000 }), (n, d) => {
      const rate = toRational(n, d);
      const h = getDiscreteLaplaceMargin(rate);
      const outside = (x: number) => 2 * getDiscreteLaplaceTail(rate, x + 1);
      assert.ok(outside(h) <= 0.05 + 1e-12);
      if (h > 0) assert.ok(outside(h - 1) > 0.05, "the least such h");
    }),
  );
  // ε = 1 over 30 days of visitors: rate 1/90, α ≈ 0.989: ±270.
  assert.equal(getDiscreteLaplaceMargin(toRational(1, 90)), 270);
});

Deno.test("estimateRelease() of 30 days at ε = 1 charges 1 per person with 30 times the one-day noise", () => {
  const bounds = { maxVisits: 3, maxPageviews: 10, maxCells: 1 };
  const base = { epsilon: 1, k: 10, dimension: null, bounds, fixedGrid: true, delta: 1e-6 };
  const month = estimateRelease({ ...base, days: 30 });
  const day = estimateRelease({ ...base, days: 1 });
  assert.equal(month.epsilon, 1);
  assert.deepEqual(month.sensitivity, { visitors: 30, visits: 90, pageviews: 300 });
  assert.equal(month.threshold, 10);
  assert.equal(month.delta, 0, "a fixed grid needs no δ");
  assert.ok(
    Math.abs(month.visitorsSd / day.visitorsSd - 30) < 0.5,
    `sd ${month.visitorsSd} vs ${day.visitorsSd}`,
  );
  const pages = estimateRelease({ ...base, days: 30, dimension: "page", bounds: BOUNDS, fixedGrid: false });
  assert.equal(pages.delta, 1e-6);
  assert.equal(pages.threshold, getOpenDomainThreshold(toRational(1, 270), 90, 1e-6));
});

Deno.test("getCapMessage() names the ε asked for and the cap per person", () => {
  assert.equal(
    getCapMessage(2, 1),
    "Cannot release with ε = 2: one release may spend at most ε = 1 per person",
  );
});
