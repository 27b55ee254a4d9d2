import assert from "node:assert/strict";
import {
  createCryptoRandom,
  getDiscreteLaplaceTail,
  getDiscreteLaplaceVariance,
  randomBelow,
  type RandomSource,
  sampleBernoulliExp,
  sampleDiscreteLaplace,
  toRational,
} from "./noise.ts";

const N = 20_000;

function moments(samples: number[]) {
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples.length - 1);
  return { mean, variance };
}

for (
  const epsilon of [toRational(1, 1), toRational(1, 2), toRational(1, 9), toRational(111_111, 3_000_000)]
) {
  const label = `${epsilon.numerator}/${epsilon.denominator}`;
  Deno.test(`sampleDiscreteLaplace() at ε/Δ = ${label} has mean 0 and variance 2α/(1-α)² over ${N} draws`, () => {
    const samples = Array.from({ length: N }, () => sampleDiscreteLaplace(epsilon));
    assert.ok(samples.every(Number.isSafeInteger), "every draw is an integer");
    const expected = getDiscreteLaplaceVariance(epsilon);
    const { mean, variance } = moments(samples);
    // 5 standard errors of the mean; the variance of a Laplace-like sample has kurtosis ≈ 6.
    assert.ok(Math.abs(mean) < 5 * Math.sqrt(expected / N), `mean ${mean} is not ≈ 0`);
    assert.ok(
      Math.abs(variance / expected - 1) < 5 * Math.sqrt(5 / N) + 0.01,
      `variance ${variance} is not ≈ ${expected}`,
    );
    // P(Z = 0) = (1-α)/(1+α), and the two sides are as likely.
    const alpha = Math.exp(-epsilon.numerator / epsilon.denominator);
    const zeros = samples.filter((z) => z === 0).length / N;
    const p0 = (1 - alpha) / (1 + alpha);
    assert.ok(Math.abs(zeros - p0) < 5 * Math.sqrt(p0 * (1 - p0) / N), `P(0) = ${zeros}, not ${p0}`);
    const positive = samples.filter((z) => z > 0).length;
    const negative = samples.filter((z) => z < 0).length;
    assert.ok(Math.abs(positive - negative) < 5 * Math.sqrt(positive + negative), "the noise is symmetric");
    // The tail matches α^t/(1+α).
    const tail = samples.filter((z) => z >= 2).length / N;
    const p2 = getDiscreteLaplaceTail(epsilon, 2);
    assert.ok(Math.abs(tail - p2) < 5 * Math.sqrt(p2 * (1 - p2) / N), `P(Z ≥ 2) = ${tail}, not ${p2}`);
  });
}

Deno.test("sampleDiscreteLaplace() reads only the random source it is given (no Math.random)", () => {
  const original = Math.random;
  Math.random = () => {
    throw new Error("Math.random was called");
  };
  try {
    let calls = 0;
    const crypto = createCryptoRandom();
    const counting: RandomSource = {
      nextUint32: () => {
        calls++;
        return crypto.nextUint32();
      },
    };
    for (let i = 0; i < 100; i++) sampleDiscreteLaplace(toRational(1, 3), counting);
    assert.ok(calls >= 100);
  } finally {
    Math.random = original;
  }
});

Deno.test("sampleBernoulliExp() succeeds with probability exp(-γ), also for γ > 1", () => {
  for (const [n, d] of [[1, 2], [23, 10], [0, 1]]) {
    const p = Math.exp(-n / d);
    let hits = 0;
    for (let i = 0; i < N; i++) if (sampleBernoulliExp({ numerator: n, denominator: d })) hits++;
    assert.ok(Math.abs(hits / N - p) < 5 * Math.sqrt(p * (1 - p) / N) + 1e-9, `exp(-${n}/${d}): ${hits / N}`);
  }
});

Deno.test("randomBelow() is uniform without modulo bias, also above 2^32", () => {
  const counts = [0, 0, 0];
  for (let i = 0; i < 30_000; i++) counts[randomBelow(3)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 5 * Math.sqrt(30_000 * (1 / 3) * (2 / 3)));
  const big = 2 ** 40 + 7;
  for (let i = 0; i < 1000; i++) {
    const x = randomBelow(big);
    assert.ok(Number.isSafeInteger(x) && x >= 0 && x < big);
  }
  assert.throws(() => randomBelow(0), RangeError);
  assert.throws(() => randomBelow(1.5), RangeError);
});

Deno.test("sampleDiscreteLaplace() rejects a rate that is not a positive fraction", () => {
  assert.throws(() => sampleDiscreteLaplace({ numerator: 0, denominator: 1 }), RangeError);
  assert.throws(() => sampleDiscreteLaplace({ numerator: 1, denominator: 0.5 }), RangeError);
  assert.deepEqual(toRational(333_333, 3_000_000), { numerator: 111_111, denominator: 1_000_000 });
});
