/**
 * What an owner asks a release for, checked before anything is computed or
 * charged, and the method text a buyer reads in the listing.
 *
 * ```ts
 * const p = checkParams({ from: "2024-03-01", to: "2024-03-31", epsilon: 1, title: "March",
 *   price: "0", licence: "CC-BY-4.0" }, { now: Date.now() });
 * ```
 */
import { day } from "../../constants.ts";
import {
  MAX_DESCRIPTION_LENGTH,
  MAX_LICENCE_ID_LENGTH,
  MAX_TITLE_LENGTH,
  MAX_UINT256,
} from "../../../protocol/manifest.ts";
import { formatDay, parseDay, RELEASE_DIMENSIONS, type ReleaseDimension } from "../analytics/mod.ts";
import {
  getDiscreteLaplaceMargin,
  MAX_RELEASE_DAYS,
  NOISE_CONFIDENCE,
} from "../../../protocol/release_privacy.ts";
import type { NoisyTable } from "./noise.ts";
import { EPSILON_SCALE, toMicroEpsilon } from "./store.ts";

export { MAX_RELEASE_DAYS };
/** Rows with fewer (noisy) visitors are suppressed. */
export const DEFAULT_MIN_COUNT = 10;
export const MAX_K = 10_000;

/** What the owner asks for. */
export interface CreateReleaseParams {
  /** First day, `YYYY-MM-DD` (UTC). */
  from: string;
  /** Last day included, `YYYY-MM-DD` (UTC), not after today. */
  to: string;
  /** @default none: one row per day */
  dimension?: ReleaseDimension | null;
  /** ε per person over the whole range: at least 0.01, at most 6 decimals. */
  epsilon: number;
  /** @default 10 */
  k?: number;
  title: string;
  /** Put before the generated description of the method. @default "" */
  description?: string;
  /** Token base units, decimal string. */
  price: string;
  /** Licence id, e.g. `"CC-BY-4.0"`. */
  licence: string;
  /** Count only visitors who agreed (`kosmos.consent(true)`); the description says so. @default false */
  consentedOnly?: boolean;
  signal?: AbortSignal;
}

export interface CheckedParams {
  fromDay: number;
  toDay: number;
  dimension: ReleaseDimension | null;
  epsilonMicro: number;
  k: number;
  title: string;
  description: string;
  price: string;
  licence: string;
  consentedOnly: boolean;
}

/** Throws `TypeError` naming the first bad field. */
export function checkParams(params: CreateReleaseParams, options: { now: number }): CheckedParams {
  if (typeof params !== "object" || params === null) {
    throw new TypeError(
      "Invalid release: expected an object with from, to, epsilon, title, price and licence",
    );
  }
  const fromDay = parseDay(params.from, "from");
  const toDay = parseDay(params.to, "to");
  const today = Math.floor(options.now / day);
  if (toDay < fromDay) throw new TypeError(`Invalid "to": ${params.to} is before "from" ${params.from}`);
  if (toDay > today) {
    throw new TypeError(`Invalid "to": ${params.to} is in the future (today is ${formatDay(today)} UTC)`);
  }
  if (toDay - fromDay + 1 > MAX_RELEASE_DAYS) {
    throw new TypeError(`Invalid range: at most ${MAX_RELEASE_DAYS} days per release`);
  }
  const dimension = params.dimension ?? null;
  if (dimension !== null && !(RELEASE_DIMENSIONS as readonly string[]).includes(dimension)) {
    throw new TypeError(`Invalid "dimension": expected one of ${RELEASE_DIMENSIONS.join(", ")}, or none`);
  }
  const epsilonMicro = toMicroEpsilon(params.epsilon);
  const k = params.k ?? DEFAULT_MIN_COUNT;
  if (!Number.isSafeInteger(k) || k < 2 || k > MAX_K) {
    throw new TypeError(`Invalid "k": expected an integer from 2 to ${MAX_K}`);
  }
  const title = checkText(params.title, "title", MAX_TITLE_LENGTH, { required: true, oneLine: true });
  const description = checkText(params.description ?? "", "description", MAX_DESCRIPTION_LENGTH - 1000, {
    required: false,
    oneLine: false,
  });
  if (
    typeof params.price !== "string" || !/^(0|[1-9]\d{0,77})$/.test(params.price) ||
    BigInt(params.price) > MAX_UINT256
  ) {
    throw new TypeError('Invalid "price": expected a decimal string of token base units');
  }
  const licence = checkText(params.licence, "licence", MAX_LICENCE_ID_LENGTH, {
    required: true,
    oneLine: true,
  });
  if (/\s/.test(licence)) {
    throw new TypeError('Invalid "licence": a licence id has no spaces, e.g. CC-BY-4.0');
  }
  return {
    fromDay,
    toDay,
    dimension: dimension as ReleaseDimension | null,
    epsilonMicro,
    k,
    title,
    description,
    price: params.price,
    licence,
    consentedOnly: params.consentedOnly === true,
  };
}

function checkText(
  value: unknown,
  field: string,
  max: number,
  { required, oneLine }: { required: boolean; oneLine: boolean },
): string {
  if (typeof value !== "string") throw new TypeError(`Invalid "${field}": expected a string`);
  const text = value.trim();
  if (required && text === "") throw new TypeError(`Invalid "${field}": must not be empty`);
  if (text.length > max) throw new TypeError(`Invalid "${field}": at most ${max} characters`);
  // deno-lint-ignore no-control-regex
  const control = oneLine ? /[\u0000-\u001f\u007f]/ : /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
  if (control.test(text)) {
    throw new TypeError(`Invalid "${field}": ${oneLine ? "one line without" : "no"} control characters`);
  }
  return text;
}

/** What a buyer reads about the method, after the owner's own words. */
export function describe(site: string, p: CheckedParams, table: NoisyTable): string {
  const by = p.dimension ? `per day and ${p.dimension.replace("_", " ")}` : "per day";
  const b = table.bounds;
  const days = `${table.days} day${table.days === 1 ? "" : "s"}`;
  const epsilon = p.epsilonMicro / EPSILON_SCALE;
  const delta = table.delta > 0 ? ` (δ = ${table.delta})` : "";
  const margin = getDiscreteLaplaceMargin(table.rates.visitors);
  // At most about 900 characters with the longest domain: the owner's own words may take the rest.
  const method = [
    `Statistics of ${site} from ${table.from} to ${table.to} (${days}), ${by}: visitors, visits, pageviews.`,
    `Differential privacy per person: ε = ${epsilon} for anyone in the data over all ${days} together${delta},`,
    "discrete Laplace noise split over the three counts.",
    `A visitor id (one browser, one day) adds at most ${b.maxVisits} visits, ${b.maxPageviews} pageviews and`,
    `${b.maxCells} row${
      b.maxCells === 1 ? "" : "s"
    }; the excess was dropped. Someone seen as m ids on one day gets m·ε.`,
    `A row's visitor count is within ±${margin} of the truth ${
      Math.round(NOISE_CONFIDENCE * 100)
    } % of the time.`,
    `Rows under ${table.threshold} visitors after noise were withheld (k = ${p.k}).`,
    "Visitors with Do-Not-Track or Global Privacy Control are not counted. No visitor ids or raw events.",
    p.consentedOnly
      ? "Only visitors who agreed to it on the site are counted."
      : "Visitors are counted whether or not they agreed to it on the site.",
  ].join(" ");
  return p.description ? `${p.description}\n\n${method}` : method;
}
