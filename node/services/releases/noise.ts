/**
 * Exact integer noise for differential privacy, from cryptographically secure
 * randomness. {@link sampleDiscreteLaplace} draws from the discrete Laplace
 * (two-sided geometric) distribution, P(Z = z) ∝ exp(-|z|·ε/Δ), with the
 * algorithm of Canonne, Kamath and Steinke ("The Discrete Gaussian for
 * Differential Privacy", 2020, algorithms 1 and 2): only uniform integers and
 * exact Bernoulli trials with rational parameters, no floating point, so the
 * distribution is exactly the one the privacy proof assumes.
 *
 * ```ts
 * // ε = 0.5 with sensitivity 3: ε/Δ = 1/6
 * const z = sampleDiscreteLaplace({ numerator: 1, denominator: 6 });
 * ```
 *
 * On top of it, a release's noise ({@link addNoise}): ε is split equally over
 * the three counts; each count of each row gets discrete Laplace noise with
 * rate (ε/3)/Δ, where Δ is that count's sensitivity for one person over the
 * release's D days: D visitor ids, each bounded ({@link getPersonSensitivity}
 * in `protocol/release_privacy.ts`). Rows are then suppressed when their *noisy*
 * visitor count is below the threshold: deciding on the noisy count is
 * post-processing, so it leaks nothing beyond ε, whereas a decision on the
 * true count would reveal exactly whether a row had k visitors. Every
 * released row therefore shows at least k visitors. For dimensions with a
 * fixed set of values (none, device) every row of the grid is noised, zeros
 * included. For open ones (pages, sources, browsers, OS) a row exists only
 * when someone produced it, so the threshold is raised until one visitor
 * makes any of their rows appear with probability at most δ: (ε, δ)-
 * differential privacy for a person. {@link encodeReleaseCsv} writes the released rows.
 *
 * ```ts
 * const released = addNoise(table, { epsilon: { numerator: 1, denominator: 1 }, k: 10 });
 * const csv = encodeReleaseCsv(released);
 * ```
 */
import {
  type BoundedTable,
  type ContributionBounds,
  type ReleaseDimension,
  type ReleaseRow,
} from "../analytics/mod.ts";
import {
  getNoiseRates,
  getOpenDomainThreshold,
  getPersonSensitivity,
  getReleaseDays,
  type Rational,
  type Sensitivity,
} from "../../../protocol/release_privacy.ts";

export {
  getDiscreteLaplaceTail,
  getDiscreteLaplaceVariance,
  getOpenDomainThreshold,
  getPersonSensitivity,
  getSensitivity,
  type Rational,
  type Sensitivity,
  toRational,
} from "../../../protocol/release_privacy.ts";

/** The δ of open-domain releases: the chance one person makes any of their rows appear. */
export const DEFAULT_DELTA = 1e-6;

/** Uniform 32-bit words; the default reads `crypto.getRandomValues`. */
export interface RandomSource {
  /** A uniform integer in [0, 2^32). */
  nextUint32(): number;
}

const TWO_32 = 2 ** 32;
const TWO_21 = 2 ** 21;
const TWO_53 = 2 ** 53;

/** `crypto.getRandomValues`, read 1024 words at a time. */
export function createCryptoRandom(): RandomSource {
  const buffer = new Uint32Array(1024);
  let next = buffer.length;
  return {
    nextUint32() {
      if (next === buffer.length) {
        crypto.getRandomValues(buffer);
        next = 0;
      }
      return buffer[next++];
    },
  };
}

const defaultRandom = createCryptoRandom();

/** A uniform integer in [0, n) by rejection sampling (no modulo bias); `n` at most 2^53. */
export function randomBelow(n: number, random: RandomSource = defaultRandom): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > TWO_53) {
    throw new RangeError(`Cannot draw a random integer below ${n}: expected an integer in [1, 2^53]`);
  }
  if (n <= TWO_32) {
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const x = random.nextUint32();
      if (x < limit) return x % n;
    }
  }
  const limit = TWO_53 - (TWO_53 % n);
  for (;;) {
    const x = (random.nextUint32() % TWO_21) * TWO_32 + random.nextUint32();
    if (x < limit) return x % n;
  }
}

/** True with probability `numerator / denominator` exactly. */
export function sampleBernoulli(p: Rational, random: RandomSource = defaultRandom): boolean {
  return randomBelow(p.denominator, random) < p.numerator;
}

/** True with probability exp(-γ) exactly, for a rational γ ≥ 0 (CKS algorithm 1). */
export function sampleBernoulliExp(gamma: Rational, random: RandomSource = defaultRandom): boolean {
  checkRational(gamma, "gamma", { zero: true });
  let { numerator } = gamma;
  const { denominator } = gamma;
  // exp(-γ) = exp(-1)^⌊γ⌋ · exp(-(γ - ⌊γ⌋)), each factor an independent trial.
  while (numerator > denominator) {
    if (!bernoulliExpAtMostOne(1, 1, random)) return false;
    numerator -= denominator;
  }
  return bernoulliExpAtMostOne(numerator, denominator, random);
}

/** exp(-n/d) for n ≤ d: count K while Bernoulli(γ/K) succeeds; P(K odd) = exp(-γ). */
function bernoulliExpAtMostOne(n: number, d: number, random: RandomSource): boolean {
  let k = 1;
  while (sampleBernoulli({ numerator: n, denominator: d * k }, random)) k++;
  return k % 2 === 1;
}

/**
 * One draw of the discrete Laplace distribution with P(Z = z) ∝ exp(-|z|·r)
 * for the rational `r` (ε/Δ for a count with sensitivity Δ): mean 0,
 * variance 2α/(1-α)² with α = exp(-r). CKS algorithm 2.
 */
export function sampleDiscreteLaplace(rate: Rational, random: RandomSource = defaultRandom): number {
  checkRational(rate, "rate", { zero: false });
  // r = s/t: a geometric X with parameter exp(-1/t), then Y = ⌊X/s⌋ has parameter exp(-s/t).
  const s = rate.numerator;
  const t = rate.denominator;
  for (;;) {
    const u = randomBelow(t, random);
    if (!sampleBernoulliExp({ numerator: u, denominator: t }, random)) continue;
    let v = 0;
    while (sampleBernoulliExp({ numerator: 1, denominator: 1 }, random)) v++;
    const y = Math.floor((u + t * v) / s);
    const negative = randomBelow(2, random) === 1;
    if (negative && y === 0) continue; // -0 and +0 are one outcome: reject one of them
    return negative ? -y : y;
  }
}

function checkRational(r: Rational, name: string, { zero }: { zero: boolean }): void {
  const ok = typeof r === "object" && r !== null && Number.isSafeInteger(r.numerator) &&
    Number.isSafeInteger(r.denominator) && r.denominator >= 1 && r.denominator <= 2 ** 40 &&
    (zero ? r.numerator >= 0 : r.numerator >= 1) && r.numerator <= 2 ** 40;
  if (!ok) {
    throw new RangeError(
      `Invalid ${name}: expected integers numerator ${
        zero ? "≥ 0" : "≥ 1"
      } and denominator ≥ 1, at most 2^40`,
    );
  }
}

export interface AddNoiseOptions {
  /** The ε of a person over the whole table, as an exact fraction; split equally over the three counts. */
  epsilon: Rational;
  /** Rows with fewer noisy visitors are suppressed. */
  k: number;
  /** @default {@link DEFAULT_DELTA} (open-domain tables only) */
  delta?: number;
  /** @default crypto.getRandomValues */
  random?: RandomSource;
}

export interface NoisyTable {
  dimension: ReleaseDimension | null;
  from: string;
  to: string;
  bounds: ContributionBounds;
  /** Days of the requested range: the visitor ids one person can be in the table. */
  days: number;
  /** Of one person over the whole range: `days` times what one visitor id can change. */
  sensitivity: Sensitivity;
  /** The discrete Laplace rate of each count: (ε/3)/sensitivity. */
  rates: Record<keyof Sensitivity, Rational>;
  /** The least noisy visitor count a released row has: k, raised for open-domain tables. */
  threshold: number;
  /** δ of the release: 0 for a fixed grid. */
  delta: number;
  /** Released rows, noisy, every one with at least `threshold` visitors. */
  rows: ReleaseRow[];
  /** Rows noised and withheld (in memory only: never stored, logged or shown). */
  suppressed: number;
}

/**
 * Noises every count of every row and keeps the rows whose noisy visitor
 * count reaches the threshold. Visits are raised to at least the visitors
 * (every counted visitor has a visit in the row), pageviews to at least zero
 * (at least the visits for pages): post-processing, which costs no privacy.
 */
export function addNoise(table: BoundedTable, options: AddNoiseOptions): NoisyTable {
  const { k } = options;
  if (!Number.isSafeInteger(k) || k < 1) throw new TypeError(`Invalid "k": expected a positive integer`);
  // The requested range, not the days with data: D does not depend on who visited.
  const days = getReleaseDays(table.from, table.to);
  const sensitivity = getPersonSensitivity(table.dimension, table.bounds, days);
  // ε/3 per count, then divided by that count's sensitivity.
  const rates = getNoiseRates(options.epsilon, sensitivity);
  const delta = table.publicDomain ? 0 : options.delta ?? DEFAULT_DELTA;
  const threshold = table.publicDomain
    ? k
    : Math.max(k, getOpenDomainThreshold(rates.visitors, sensitivity.visitors, delta));
  const random = options.random;
  const rows: ReleaseRow[] = [];
  let suppressed = 0;
  for (const row of table.rows) {
    const visitors = row.visitors + sampleDiscreteLaplace(rates.visitors, random);
    if (visitors < threshold) {
      suppressed += 1;
      continue;
    }
    const visits = Math.max(row.visits + sampleDiscreteLaplace(rates.visits, random), visitors);
    const pageviews = Math.max(
      row.pageviews + sampleDiscreteLaplace(rates.pageviews, random),
      table.dimension === "page" ? visits : 0,
    );
    rows.push({ date: row.date, value: row.value, visitors, visits, pageviews });
  }
  return {
    dimension: table.dimension,
    from: table.from,
    to: table.to,
    bounds: table.bounds,
    days,
    sensitivity,
    rates,
    threshold,
    delta,
    rows,
    suppressed,
  };
}

/** The released rows as CSV: `date[,dimension],visitors,visits,pageviews`, CRLF line ends. */
export function encodeReleaseCsv(table: Pick<NoisyTable, "dimension" | "rows">): string {
  const head = ["date", ...(table.dimension ? [table.dimension] : []), "visitors", "visits", "pageviews"];
  const lines = [head.join(",")];
  for (const r of table.rows) {
    const cells = [
      r.date,
      ...(table.dimension ? [csvField(r.value ?? "")] : []),
      r.visitors,
      r.visits,
      r.pageviews,
    ];
    lines.push(cells.join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replaceAll('"', '""')}"` : value;
}
