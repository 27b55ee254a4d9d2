/**
 * Schema pieces the API's request bodies share, built on valibot. Every message is the text
 * clients already get: tests and scripts match on them.
 *
 * ```ts
 * const FetchBody = strictBody({ manifestCid }, { example: '{ "manifestCid": "bafy…" }' });
 * ```
 */
import * as v from "valibot";
import { parseUnits } from "viem";
import { toManifestCid } from "../ids.ts";
import { MAX_UINT256 } from "../manifest.ts";

/** Decimals of the token in which prices and amounts are written. */
export const TOKEN_DECIMALS = 18;

/** Largest token amount accepted in a chain write (the whole supply), in base units. */
export const MAX_TOKENS = 21_000_000n * 10n ** 18n;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export interface StrictBodyOptions {
  /** Shown in `Expected a JSON object like <example>`. */
  example: string;
  /** @default `Unknown field "<key>"; send only <entries>` */
  unknown?: (key: string) => string;
}

/**
 * A JSON object with exactly `entries`' keys (each optional or not as its schema says):
 * `Expected a JSON object like …` for anything else, `Unknown field "x"; send only a, b`
 * for an extra key, then each entry's own message.
 */
export function strictBody<const E extends v.ObjectEntries>(entries: E, options: StrictBodyOptions) {
  const keys = Object.keys(entries);
  const extra = (body: Record<string, unknown>) => Object.keys(body).find((key) => !keys.includes(key));
  const unknown = options.unknown ??
    ((key: string) => `Unknown field "${key.slice(0, 40)}"; send only ${keys.join(", ")}`);
  return v.pipe(
    v.custom<Record<string, unknown>>(isPlainObject, `Expected a JSON object like ${options.example}`),
    v.check((body) => extra(body) === undefined, (issue) => unknown(extra(issue.input)!)),
    fields(entries),
  );
}

/**
 * An object of `entries` in which a missing key is checked as `undefined` by its own schema
 * (so a required field says its own message, not valibot's), and absent from the output.
 */
export function fields<const E extends v.ObjectEntries>(entries: E) {
  const keys = Object.keys(entries);
  return v.pipe(
    v.custom<Record<string, unknown>>(isPlainObject),
    v.transform((body) => ({ ...Object.fromEntries(keys.map((key) => [key, undefined])), ...body })),
    v.object(entries),
    v.transform((body) =>
      Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined)) as typeof body
    ),
  );
}

/** Turns a throwing parser into a schema whose message is the parser's error message. */
export function parsed<T>(parse: (value: unknown) => T) {
  return v.pipe(
    v.unknown(),
    v.rawTransform<unknown, T>(({ dataset, addIssue, NEVER }) => {
      try {
        return parse(dataset.value);
      } catch (err) {
        addIssue({ message: (err as Error).message });
        return NEVER;
      }
    }),
  );
}

/** A manifest CID; the message is `toManifestCid`'s. */
export const manifestCid = parsed(toManifestCid);

/** A decimal token amount (`"2.5"`) in base units (`"2500000000000000000"`), or undefined when invalid. */
export function parsePrice(text: string): string | undefined {
  const match = /^(\d{1,60})(?:\.(\d{1,18}))?$/.exec(text);
  if (!match) return undefined;
  const units = BigInt(match[1]) * 10n ** BigInt(TOKEN_DECIMALS) +
    BigInt((match[2] ?? "").padEnd(TOKEN_DECIMALS, "0"));
  return units > MAX_UINT256 ? undefined : units.toString();
}

/**
 * A price field: a token amount as a string (`"2.5"`, zero allowed), as a decimal string of base units; the
 * message names `field`.
 */
export function priceField(field: string) {
  return v.pipe(
    v.string(`"${field}" must be a string`),
    v.rawTransform<string, string>(({ dataset, addIssue, NEVER }) => {
      const units = parsePrice(dataset.value);
      if (units === undefined) {
        addIssue({
          message: `"${field}" must be a token amount as a string, such as "2.5" (up to 18 decimals)`,
        });
        return NEVER;
      }
      return units;
    }),
  );
}

/**
 * A positive token amount of a chain write, written in tokens as a string with up to 18
 * decimals (`"100"`, `"2.5"`), as base units; the messages name `field`.
 */
export function tokenAmount(field: string) {
  return v.pipe(
    v.custom<string>(
      (value) => typeof value === "string" && /^\d{1,9}(\.\d{1,18})?$/.test(value),
      `"${field}" must be a token amount as a string, such as "100" or "2.5" (up to 18 decimals)`,
    ),
    v.transform((value) => parseUnits(value, 18)),
    v.check((amount) => amount > 0n, `"${field}" must be more than 0`),
    v.check((amount) => amount <= MAX_TOKENS, `"${field}" exceeds the token supply`),
  );
}

/** A registry listing id (a positive decimal integer, or a safe integer number), as a bigint. */
export const registryListingId = v.pipe(
  v.unknown(),
  v.rawTransform<unknown, bigint>(({ dataset, addIssue, NEVER }) => {
    const value = dataset.value;
    const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
    if (typeof text !== "string" || !/^[1-9]\d{0,76}$/.test(text)) {
      addIssue({
        message: `The listing id must be the registry's listing number (a positive whole number), got ${
          JSON.stringify(value)?.slice(0, 40) ?? "nothing"
        }`,
      });
      return NEVER;
    }
    return BigInt(text);
  }),
);

export interface SearchParamsOptions {
  /** The message for a parameter `entries` does not name. @default unknown parameters are ignored */
  unknown?: (key: string) => string;
  /** Refuse a parameter given twice: `Query parameter "x" is given more than once`. @default false */
  once?: boolean;
}

/**
 * URL query parameters (`URLSearchParams`) checked against `entries`, each as its first
 * value (`undefined` when absent), checking the keys in the order the URL gives them.
 */
export function searchParams<const E extends v.ObjectEntries>(entries: E, options: SearchParamsOptions = {}) {
  const keys = Object.keys(entries);
  const problem = (params: URLSearchParams): string | undefined => {
    for (const key of new Set(params.keys())) {
      if (options.unknown && !keys.includes(key)) return options.unknown(key);
      if (options.once && params.getAll(key).length > 1) {
        return `Query parameter "${key}" is given more than once`;
      }
    }
  };
  return v.pipe(
    v.instance(URLSearchParams),
    v.check((params) => problem(params) === undefined, (issue) => problem(issue.input as URLSearchParams)!),
    v.transform((params): Record<string, unknown> =>
      Object.fromEntries(keys.map((key) => [key, params.get(key) ?? undefined]))
    ),
    fields(entries),
  );
}
