/**
 * Validation of catalog queries, and the translation of free text into an
 * FTS5 expression that cannot fail to parse: only letters and digits reach
 * the index, each word is quoted and matched as a prefix, all words must
 * match.
 *
 * ```ts
 * const query = parseListingQuery({ q: "air quality", category: "environment", sort: "price" });
 * query.q; // '"air"* "quality"*'
 * ```
 */
import { CATEGORIES, type Category } from "../../../protocol/manifest.ts";
import { toAddress } from "../../../protocol/ids.ts";

export const LISTING_SORTS = ["newest", "price", "stake", "relevance"] as const;
export type ListingSort = typeof LISTING_SORTS[number];

/** Longest accepted search text, in characters. */
export const MAX_QUERY_LENGTH = 200;
/** Most words of a search text that are matched; the rest are dropped. */
export const MAX_QUERY_WORDS = 16;
export const MAX_LIST_LIMIT = 100;
export const MAX_LIST_OFFSET = 100_000;

export interface ListingQuery {
  /** Free text matched against title, description, category and column names. */
  q?: string;
  /** One of `CATEGORIES`. */
  category?: string;
  /** Only this seller's listings (an EVM address). */
  seller?: string;
  /**
   * `newest` (dataset creation time, newest first), `price` (cheapest first),
   * `stake` (largest registry stake first) or `relevance` (best text match).
   * @default "relevance" with `q`, else "newest"
   */
  sort?: ListingSort;
  /** @default 20 */
  limit?: number;
  /** @default 0 */
  offset?: number;
}

export interface ParsedListingQuery {
  /** An FTS5 expression, or `undefined` for no text filter. */
  q?: string;
  /** True when the search text held no words: nothing can match. */
  empty: boolean;
  category?: Category;
  seller?: string;
  sort: ListingSort;
  limit: number;
  offset: number;
}

const KEYS = ["q", "category", "seller", "sort", "limit", "offset"];

/** Validates a listing query; throws a `TypeError` or `RangeError` saying what is wrong. */
export function parseListingQuery(input: ListingQuery = {}): ParsedListingQuery {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new TypeError("Cannot list listings: query must be an object");
  }
  for (const key of Object.keys(input)) {
    if (!KEYS.includes(key)) throw new RangeError(`Cannot list listings: unknown option "${key}"`);
  }
  const { q, category, seller, sort, limit = 20, offset = 0 } = input;
  let match: string | undefined;
  let empty = false;
  if (q !== undefined) {
    if (typeof q !== "string") throw new TypeError("Cannot list listings: q must be a string");
    if (q.length > MAX_QUERY_LENGTH) {
      throw new RangeError(
        `Cannot list listings: q is ${q.length} characters, at most ${MAX_QUERY_LENGTH} allowed`,
      );
    }
    if (q.trim() !== "") {
      const words = q.normalize("NFKC").toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
      if (words.length === 0) empty = true;
      else match = words.slice(0, MAX_QUERY_WORDS).map((w) => `"${w}"*`).join(" ");
    }
  }
  if (category !== undefined && !CATEGORIES.includes(category as Category)) {
    throw new RangeError(
      `Cannot list listings: unknown category ${JSON.stringify(category)} (one of ${CATEGORIES.join(", ")})`,
    );
  }
  let sellerAddress: string | undefined;
  if (seller !== undefined) {
    try {
      sellerAddress = toAddress(seller);
    } catch (cause) {
      throw new TypeError(`Cannot list listings: seller must be an EVM address`, { cause });
    }
  }
  if (sort !== undefined && !LISTING_SORTS.includes(sort)) {
    throw new RangeError(
      `Cannot list listings: unknown sort ${JSON.stringify(sort)} (one of ${LISTING_SORTS.join(", ")})`,
    );
  }
  checkInteger(limit, "limit", 1, MAX_LIST_LIMIT);
  checkInteger(offset, "offset", 0, MAX_LIST_OFFSET);
  return {
    q: match,
    empty,
    category: category as Category | undefined,
    seller: sellerAddress,
    sort: sort ?? (match !== undefined ? "relevance" : "newest"),
    limit,
    offset,
  };
}

function checkInteger(value: unknown, name: string, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`Cannot list listings: ${name} must be an integer`);
  }
  if (value < min || value > max) {
    throw new RangeError(`Cannot list listings: ${name} is ${value}, must be between ${min} and ${max}`);
  }
}
