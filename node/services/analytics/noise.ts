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
 */

/** Uniform 32-bit words; the default reads `crypto.getRandomValues`. */
export interface RandomSource {
  /** A uniform integer in [0, 2^32). */
  nextUint32(): number;
}

/** A positive rational `numerator / denominator`, both safe integers. */
export interface Rational {
  numerator: number;
  denominator: number;
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

/** Variance of {@link sampleDiscreteLaplace} at `rate`: 2α/(1-α)², α = exp(-rate). */
export function getDiscreteLaplaceVariance(rate: Rational): number {
  const alpha = Math.exp(-rate.numerator / rate.denominator);
  return (2 * alpha) / (1 - alpha) ** 2;
}

/** P(Z ≥ t) of {@link sampleDiscreteLaplace} for an integer t ≥ 1: α^t / (1 + α). */
export function getDiscreteLaplaceTail(rate: Rational, t: number): number {
  const alpha = Math.exp(-rate.numerator / rate.denominator);
  return alpha ** t / (1 + alpha);
}

/** `a / b` in lowest terms. */
export function toRational(numerator: number, denominator: number): Rational {
  let a = numerator;
  let b = denominator;
  while (b !== 0) [a, b] = [b, a % b];
  return { numerator: numerator / a, denominator: denominator / a };
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
