/**
 * What a statistics release costs a person, as plain arithmetic the node and
 * the Sell statistics form share: no data is read, only the range, ε, k and
 * the contribution bounds.
 *
 * The unit of privacy is a person. A visitor id is one person on one UTC day
 * (its salt rotates daily), so a person present on every day of a release
 * over D days is D visitor ids. A release is calibrated to the whole range:
 * every count's L1 sensitivity is D times what one visitor id can add
 * ({@link getPersonSensitivity}), and the open-domain threshold covers the
 * D × cells rows a person can appear in. The ε a release is asked for is then
 * the ε of a person, and it is what the site's budget is charged.
 *
 * ```ts
 * const cost = estimateRelease({ days: 30, epsilon: 1, k: 10, dimension: null,
 *   bounds: { maxVisits: 3, maxPageviews: 10, maxCells: 1 }, fixedGrid: true, delta: 1e-6 });
 * cost.visitorsMargin; // a daily visitor count is within ± this of the truth 95 % of the time
 * ```
 */

/** A positive rational `numerator / denominator`, both safe integers. */
export interface Rational {
  numerator: number;
  denominator: number;
}

/** How much one visitor id (one person on one day) may add to a release. */
export interface ContributionBounds {
  /** Visits per visitor id; later ones are dropped. */
  maxVisits: number;
  /** Pageviews per visitor id; later ones are dropped. */
  maxPageviews: number;
  /** Rows (day × dimension value) per visitor id; contributions to further rows are dropped. */
  maxCells: number;
}

/** L1 sensitivity of each count of a table: what one visitor id, or one person, can change in total. */
export interface Sensitivity {
  visitors: number;
  visits: number;
  pageviews: number;
}

/** The privacy unit of a release, as its manifest states it (`PrivacyReport.unit`). */
export const PRIVACY_UNIT = "person" as const;
/** Longest date range of one release, days (a manifest's `privacy.days` allows as many). */
export const MAX_RELEASE_DAYS = 366;
/** ε is kept as an integer number of millionths, so sums never drift. */
export const EPSILON_SCALE = 1_000_000;
/** The share of draws a noise interval covers. */
export const NOISE_CONFIDENCE = 0.95;

const DAY_MS = 86_400_000;

/** `a / b` in lowest terms. */
export function toRational(numerator: number, denominator: number): Rational {
  let a = numerator;
  let b = denominator;
  while (b !== 0) [a, b] = [b, a % b];
  return { numerator: numerator / a, denominator: denominator / a };
}

/** Variance of the discrete Laplace distribution P(Z = z) ∝ exp(-|z|·rate): 2α/(1-α)², α = exp(-rate). */
export function getDiscreteLaplaceVariance(rate: Rational): number {
  const alpha = Math.exp(-rate.numerator / rate.denominator);
  return (2 * alpha) / (1 - alpha) ** 2;
}

/** P(Z ≥ t) of the discrete Laplace distribution at `rate`, for an integer t ≥ 1: α^t / (1 + α). */
export function getDiscreteLaplaceTail(rate: Rational, t: number): number {
  const alpha = Math.exp(-rate.numerator / rate.denominator);
  return alpha ** t / (1 + alpha);
}

/**
 * The least integer h ≥ 0 with P(|Z| ≤ h) ≥ `confidence` for the discrete
 * Laplace distribution at `rate`: P(|Z| > h) = 2α^(h+1)/(1+α).
 */
export function getDiscreteLaplaceMargin(rate: Rational, confidence = NOISE_CONFIDENCE): number {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`Invalid confidence ${confidence}: expected 0 < c < 1`);
  }
  const outside = (h: number) => 2 * getDiscreteLaplaceTail(rate, h + 1);
  const alpha = Math.exp(-rate.numerator / rate.denominator);
  let h = Math.max(0, Math.ceil(Math.log(((1 - confidence) / 2) * (1 + alpha)) / Math.log(alpha)) - 1);
  // The closed form may be one off in floating point: settle on the least h.
  while (outside(h) > 1 - confidence) h++;
  while (h > 0 && outside(h - 1) <= 1 - confidence) h--;
  return h;
}

/**
 * What one visitor id can change: it counts once in each of its rows (at
 * most `maxCells`, and one row per visit for visit dimensions); its visits
 * count once each, or once per page row for pages (each such pair needs a
 * kept pageview); its pageviews once each.
 */
export function getSensitivity(dimension: string | null, bounds: ContributionBounds): Sensitivity {
  if (dimension === "page") {
    return {
      visitors: bounds.maxCells,
      visits: Math.min(bounds.maxVisits * bounds.maxCells, bounds.maxPageviews),
      pageviews: bounds.maxPageviews,
    };
  }
  return {
    visitors: Math.min(bounds.maxCells, bounds.maxVisits),
    visits: bounds.maxVisits,
    pageviews: bounds.maxPageviews,
  };
}

/**
 * What one person can change in a release over `days` days: one visitor id a
 * day, so `days` times {@link getSensitivity}. Assumes one id per person and
 * day; a person seen as m ids on one day (m browsers or networks) is covered
 * by m·ε instead.
 */
export function getPersonSensitivity(
  dimension: string | null,
  bounds: ContributionBounds,
  days: number,
): Sensitivity {
  checkDays(days);
  const one = getSensitivity(dimension, bounds);
  return { visitors: one.visitors * days, visits: one.visits * days, pageviews: one.pageviews * days };
}

/** The noise rate of each count: ε split equally over the three, divided by that count's sensitivity. */
export function getNoiseRates(
  epsilon: Rational,
  sensitivity: Sensitivity,
): Record<keyof Sensitivity, Rational> {
  const rate = (delta: number) => toRational(epsilon.numerator, epsilon.denominator * 3 * delta);
  return {
    visitors: rate(sensitivity.visitors),
    visits: rate(sensitivity.visits),
    pageviews: rate(sensitivity.pageviews),
  };
}

/**
 * The least threshold τ at which a person alone (count 1 in each of their
 * `cells` rows) gets any row released with probability at most δ:
 * cells · P(Z ≥ τ - 1) ≤ δ.
 */
export function getOpenDomainThreshold(rate: Rational, cells: number, delta: number): number {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`Invalid delta ${delta}: expected 0 < δ < 1`);
  const alpha = Math.exp(-rate.numerator / rate.denominator);
  // cells · α^t / (1+α) ≤ δ from the closed form, then settled exactly on the least such t.
  let t = Math.max(1, Math.ceil(Math.log((delta * (1 + alpha)) / cells) / Math.log(alpha)));
  while (cells * getDiscreteLaplaceTail(rate, t) > delta) t++;
  while (t > 1 && cells * getDiscreteLaplaceTail(rate, t - 1) <= delta) t--;
  return t + 1;
}

/** Days from `from` to `to` included (`YYYY-MM-DD`, UTC): the D a release is calibrated to. */
export function getReleaseDays(from: string, to: string): number {
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1;
  checkDays(days);
  return days;
}

/** ε as an exact fraction of millionths. */
export function toEpsilonRational(epsilon: number): Rational {
  return toRational(Math.round(epsilon * EPSILON_SCALE), EPSILON_SCALE);
}

/** What the node says when a release asks for more than one release may spend. */
export function getCapMessage(epsilon: number, cap: number): string {
  return `Cannot release with ε = ${epsilon}: one release may spend at most ε = ${cap} per person`;
}

export interface EstimateReleaseOptions {
  /** Days of the requested range (not the days with data). */
  days: number;
  /** The person-level ε asked for. */
  epsilon: number;
  /** The minimum count asked for. */
  k: number;
  /** `null` for one row per day. */
  dimension: string | null;
  bounds: ContributionBounds;
  /** Whether every row of the grid is released or suppressed, zeros included (days alone, devices). */
  fixedGrid: boolean;
  /** δ of an open-domain release. */
  delta: number;
}

export interface ReleaseEstimate {
  days: number;
  /** The ε of a person, charged once. */
  epsilon: number;
  /** Of one person over the whole range. */
  sensitivity: Sensitivity;
  /** The least noisy visitor count a released row has: k, raised for open dimensions. */
  threshold: number;
  /** 0 for a fixed grid. */
  delta: number;
  /** A row's noisy visitor count is within ± this of the true count with probability {@link NOISE_CONFIDENCE}. */
  visitorsMargin: number;
  /** Standard deviation of that noise. */
  visitorsSd: number;
}

/** The person-level cost and the noise of a release, from its parameters alone. */
export function estimateRelease(options: EstimateReleaseOptions): ReleaseEstimate {
  const { days, epsilon, k, dimension, bounds, fixedGrid } = options;
  const sensitivity = getPersonSensitivity(dimension, bounds, days);
  const rates = getNoiseRates(toEpsilonRational(epsilon), sensitivity);
  const delta = fixedGrid ? 0 : options.delta;
  const threshold = fixedGrid
    ? k
    : Math.max(k, getOpenDomainThreshold(rates.visitors, sensitivity.visitors, delta));
  return {
    days,
    epsilon,
    sensitivity,
    threshold,
    delta,
    visitorsMargin: getDiscreteLaplaceMargin(rates.visitors),
    visitorsSd: Math.sqrt(getDiscreteLaplaceVariance(rates.visitors)),
  };
}

function checkDays(days: number): void {
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_RELEASE_DAYS) {
    throw new RangeError(`Invalid range of ${days} days: expected 1 to ${MAX_RELEASE_DAYS}`);
  }
}
