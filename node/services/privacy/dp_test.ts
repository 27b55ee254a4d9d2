/**
 * The noise of aggregates against its distribution: many noisy counts of one fixed count, drawn with
 * the real random source (crypto, no seed), binned and tested with Pearson's chi-square against the
 * discrete Laplace pmf P(Z = z) = (1-α)/(1+α)·α^|z|, α = exp(-ε). The test must also have the
 * power to tell a wrong scale: the same samples are rejected against ε/2 and 2ε.
 */
import assert from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import { COUNT_COLUMN, countThreshold, createPrivacy, noiseCount } from "./mod.ts";
import { T0 } from "./fixtures_test.ts";

/** The significance: a right scale passes with p above it, a wrong one must fall below it. */
const ALPHA = 1e-4;

function lnGamma(x: number): number {
  const c = [
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const y = x - 1;
  let a = c[0];
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized upper incomplete gamma function Q(a, x) (series below a + 1, continued fraction above). */
function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(-x + a * Math.log(x) - lnGamma(a));
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 10_000 && Math.abs(term) > Math.abs(sum) * 1e-16; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - sum * front;
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return front * h;
}

/**
 * Pearson's chi-square test of integer samples against the discrete Laplace pmf at rate ε: bins
 * -B … B and the two tails beyond, B the largest with at least 5 expected in each tail. Returns p.
 */
function chiSquareDiscreteLaplace(
  samples: number[],
  epsilon: number,
): { statistic: number; df: number; p: number } {
  const n = samples.length;
  const a = Math.exp(-epsilon);
  const pmf = (z: number) => (1 - a) / (1 + a) * a ** Math.abs(z);
  const tail = (t: number) => a ** t / (1 + a); // P(Z ≥ t), t ≥ 1
  let b = 0;
  while (n * tail(b + 2) >= 5) b++;
  const observed = new Map<number, number>();
  for (const z of samples) {
    const bin = Math.max(-b - 1, Math.min(b + 1, z));
    observed.set(bin, (observed.get(bin) ?? 0) + 1);
  }
  let statistic = 0;
  for (let bin = -b - 1; bin <= b + 1; bin++) {
    const expected = n * (Math.abs(bin) === b + 1 ? tail(b + 1) : pmf(bin));
    statistic += ((observed.get(bin) ?? 0) - expected) ** 2 / expected;
  }
  const df = 2 * b + 2;
  return { statistic, df, p: gammaQ(df / 2, statistic / 2) };
}

Deno.test("gammaQ() gives the chi-square tail probabilities of the tables", () => {
  // χ²(0.95) quantiles: df 1 → 3.841, df 10 → 18.307, df 30 → 43.773.
  for (const [df, x] of [[1, 3.841459], [10, 18.307038], [30, 43.772972]]) {
    assert.ok(Math.abs(gammaQ(df / 2, x / 2) - 0.05) < 1e-5, `df ${df}`);
  }
  assert.ok(Math.abs(gammaQ(2, 1) - 2 * Math.exp(-1)) < 1e-12, "Q(2, x) = (1 + x)e^-x");
});

for (const epsilon of [0.1, 1, 2]) {
  Deno.test(`noiseCount() at ε = ${epsilon} follows the discrete Laplace pmf (chi-square, p > ${ALPHA}), and not ε/2 or 2ε`, () => {
    const count = 1000;
    const samples = Array.from({ length: 20_000 }, () => noiseCount(count, epsilon * 1e6) - count);
    assert.ok(samples.every(Number.isSafeInteger));
    const right = chiSquareDiscreteLaplace(samples, epsilon);
    assert.ok(
      right.p > ALPHA,
      `rejected at the right scale: χ² = ${right.statistic}, df ${right.df}, p = ${right.p}`,
    );
    for (const wrong of [epsilon / 2, epsilon * 2]) {
      const test = chiSquareDiscreteLaplace(samples, wrong);
      assert.ok(test.p < ALPHA, `ε = ${wrong} was not rejected: χ² = ${test.statistic}, p = ${test.p}`);
    }
  });
}

Deno.test("Privacy.aggregate() releases counts noised at its ε: 1500 aggregates pass the chi-square test, and not at ε/2 or 2ε", () => {
  const db = openDatabase(":memory:");
  const privacy = createPrivacy({ db, log: createLogger({ level: "silent" }).forComponent("privacy") }, {
    budget: 1000,
  });
  const epsilon = 0.5;
  const count = 200;
  const rows = Array.from({ length: count }, () => ({
    date: T0,
    amount: -20,
    direction: "out",
    currency: "EUR",
    description: "Bakery",
    balance: 1000,
  }));
  assert.ok(countThreshold(5, epsilon * 1e6) < count - 100, "the class is never suppressed");
  const samples: number[] = [];
  for (let i = 0; i < 1500; i++) {
    const table = privacy.aggregate("bank", () => rows, { epsilon });
    assert.deepEqual(table.columns, ["date", "amount", COUNT_COLUMN]);
    const released = [...table.rows()];
    assert.equal(released.length, 1);
    samples.push((released[0][2] as number) - count);
  }
  assert.equal(privacy.getBudget("bank").remaining, 1000 - 1500 * epsilon);
  const right = chiSquareDiscreteLaplace(samples, epsilon);
  assert.ok(right.p > ALPHA, `rejected at the right scale: χ² = ${right.statistic}, p = ${right.p}`);
  for (const wrong of [epsilon / 2, epsilon * 2]) {
    assert.ok(chiSquareDiscreteLaplace(samples, wrong).p < ALPHA, `ε = ${wrong} was not rejected`);
  }
  db.close();
});
