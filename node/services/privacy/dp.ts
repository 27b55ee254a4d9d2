/**
 * Differentially private counts of a source's equivalence classes, with the noise of the analytics
 * releases (the exact discrete Laplace sampler of `releases`).
 *
 * The table is the classes of the generalisation `anonymize` chooses for the same k, one row per
 * class: its released quasi-identifier values and its count. One row of the source changes one
 * count by one (sensitivity 1: the unit protected is a row, an event of the person's history), so
 * each count gets discrete Laplace noise of rate ε. A class exists only when some row falls in it
 * (an open domain), so, as the releases do for open dimensions, a class is withheld unless its
 * *noisy* count reaches max(k, τ), τ the threshold at which a single row makes its class appear
 * with probability at most δ. Deciding on the noisy count is post-processing; deciding on the true
 * count would reveal it. The choice of generalisation is made from the data, as for `anonymize`, and
 * is released with the report.
 *
 * ```ts
 * const table = noisyCounts(analyse("bank", rows, { k: 5 }), { epsilonMicro: 500_000 });
 * table.columns; // ["date", "amount", "count"]
 * ```
 */
import {
  DEFAULT_DELTA,
  EPSILON_SCALE,
  getOpenDomainThreshold,
  type RandomSource,
  type Rational,
  sampleDiscreteLaplace,
  toRational,
} from "../releases/mod.ts";
import type { Analysis, AnonymizedTable } from "./anonymize.ts";
import type { Released } from "./generalise.ts";

/** The column of an aggregate that holds the noisy count. */
export const COUNT_COLUMN = "count";

export interface NoisyCountsOptions {
  /** ε in millionths (see `toMicroEpsilon`). */
  epsilonMicro: number;
  /** @default {@link DEFAULT_DELTA} */
  delta?: number;
  /** @default crypto.getRandomValues */
  random?: RandomSource;
}

/** The discrete Laplace rate of a count with sensitivity 1 at ε (in millionths). */
export function countRate(epsilonMicro: number): Rational {
  return toRational(epsilonMicro, EPSILON_SCALE);
}

/** `count` plus one draw of discrete Laplace noise at ε (in millionths), as every aggregate count gets. */
export function noiseCount(count: number, epsilonMicro: number, random?: RandomSource): number {
  return count + sampleDiscreteLaplace(countRate(epsilonMicro), random);
}

/** The least noisy count a released class shows: k, raised so that one row alone appears with probability ≤ δ. */
export function countThreshold(k: number, epsilonMicro: number, delta = DEFAULT_DELTA): number {
  return Math.max(k, getOpenDomainThreshold(countRate(epsilonMicro), 1, delta));
}

/** The noisy counts of an analysis's classes, those below the threshold withheld. */
export function noisyCounts(analysis: Analysis, options: NoisyCountsOptions): AnonymizedTable {
  const threshold = countThreshold(analysis.k, options.epsilonMicro, options.delta);
  const released: Released[][] = [];
  let suppressed = 0;
  const classes = [...analysis.classes.values()].sort((a, b) => compareRows(a.values, b.values));
  for (const cls of classes) {
    const noisy = noiseCount(cls.count, options.epsilonMicro, options.random);
    if (noisy < threshold) suppressed += 1;
    else released.push([...cls.values, noisy]);
  }
  return {
    kind: analysis.kind,
    columns: [...analysis.quasi.map((q) => q.spec.name), COUNT_COLUMN],
    released: released.length,
    report: {
      ...analysis.report,
      epsilon: options.epsilonMicro / EPSILON_SCALE,
      // Classes withheld: the rows they hold are not released, and their true sizes are not told.
      suppressed,
    },
    rows: () => released.values(),
  };
}

function compareRows(a: readonly Released[], b: readonly Released[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    if (a[i] === null) return -1;
    if (b[i] === null) return 1;
    const [x, y] = [String(a[i]), String(b[i])];
    if (x !== y) return x < y ? -1 : 1;
    return typeof a[i] < typeof b[i] ? -1 : 1;
  }
  return 0;
}
