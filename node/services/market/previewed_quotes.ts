/**
 * Quotes of previewed buys, kept in memory for the buy that follows, so the
 * person confirms the fee of the very quote that is then opened. At most
 * `max` are kept (the oldest dropped first); each is taken once, and only
 * while it has more than the market's `minQuoteTime` left.
 *
 * ```ts
 * previewed.keep(manifestCid, offer);
 * const offer = previewed.take(manifestCid, await getChainTime(client), 30);
 * ```
 */
import type { VerifiedQuote } from "./buyer.ts";

export class PreviewedQuotes {
  readonly #quotes = new Map<string, VerifiedQuote>();
  readonly #max: number;

  /** @param max @default 64 */
  constructor(max = 64) {
    this.#max = max;
  }

  keep(manifestCid: string, offer: VerifiedQuote): void {
    this.#quotes.delete(manifestCid);
    this.#quotes.set(manifestCid, offer);
    if (this.#quotes.size > this.#max) this.#quotes.delete(this.#quotes.keys().next().value!);
  }

  /** The quote kept for `manifestCid` when its deadline is more than `minQuoteTime` s after `now`. */
  take(manifestCid: string, now: bigint, minQuoteTime: number): VerifiedQuote | undefined {
    const offer = this.#quotes.get(manifestCid);
    this.#quotes.delete(manifestCid);
    return offer && offer.quote.deadline >= now + BigInt(minQuoteTime) ? offer : undefined;
  }
}
