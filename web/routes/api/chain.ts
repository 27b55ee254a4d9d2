/**
 * `GET /api/v1/chain` — the chain this node uses and its Kosmos contracts —
 * plus what the chain, wallet and stake routes share: parsing token amounts
 * and listing ids, and mapping chain failures to HTTP errors.
 *
 * ```ts
 * app.route("/api/v1", createChainRoutes(facade));
 * const amount = parseTokenAmount(body.amount, "amount"); // "2.5" → 2.5 × 10^18
 * ```
 */
import { Hono } from "hono";
import { parseUnits } from "viem";
import type { KosmosFacade } from "../../facade.ts";
import { HttpError } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";

export function createChainRoutes(facade: KosmosFacade): Hono {
  const api = new Hono();
  defineRoute(api, "/chain", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      try {
        return c.json(await facade.getChainInfo({ signal: c.req.raw.signal }));
      } catch (err) {
        throw toChainHttpError(err);
      }
    },
  });
  return api;
}

/** Reverts that mean the caller may not do this. */
const forbiddenReverts = new Set(["NotArbiter", "NotListingOwner"]);
/** Reverts that mean the request's values cannot work, whatever the chain's state. */
const unprocessableReverts = new Set([
  "StakeTooLow",
  "ChallengeStakeTooLow",
  "EmptyCid",
  "OwnListing",
  "ERC20InsufficientBalance",
  "ERC20InsufficientAllowance",
  "SafeCastOverflowedUintDowncast",
]);

/**
 * Maps a failure of a chain facade method to an `HttpError`: reverts to 403,
 * 404, 409 or 422 with the contract's custom error name in the message, an
 * unreachable chain or missing contracts to 503. Anything else passes through.
 */
export function toChainHttpError(err: unknown): unknown {
  const e = err as Error & { revert?: string };
  switch (e?.name) {
    case "ContractRevertError": {
      const revert = e.revert ?? "Revert";
      if (forbiddenReverts.has(revert)) return new HttpError(403, "forbidden", e.message, { cause: err });
      if (revert === "ERC721NonexistentToken") {
        return new HttpError(404, "not_found", e.message, { cause: err });
      }
      if (unprocessableReverts.has(revert)) {
        return new HttpError(422, "unprocessable", e.message, { cause: err });
      }
      return new HttpError(409, "conflict", e.message, { cause: err });
    }
    case "NotArbiterError":
      return new HttpError(403, "forbidden", e.message, { cause: err });
    case "ChainUnavailableError":
      return new HttpError(503, "unavailable", e.message, { cause: err });
    case "TypeError":
    case "RangeError":
      return new HttpError(422, "unprocessable", e.message, { cause: err });
    default:
      return err;
  }
}

/** Largest token amount accepted (the whole supply). */
const MAX_TOKENS = 21_000_000n * 10n ** 18n;

/**
 * Parses a positive token amount written in tokens, as a string with up to 18
 * decimals (`"100"`, `"2.5"`), into base units. Throws a 422 naming `field`.
 */
export function parseTokenAmount(value: unknown, field: string): bigint {
  if (typeof value !== "string" || !/^\d{1,9}(\.\d{1,18})?$/.test(value)) {
    throw new HttpError(
      422,
      "unprocessable",
      `"${field}" must be a token amount as a string, such as "100" or "2.5" (up to 18 decimals)`,
    );
  }
  const amount = parseUnits(value, 18);
  if (amount <= 0n) throw new HttpError(422, "unprocessable", `"${field}" must be more than 0`);
  if (amount > MAX_TOKENS) throw new HttpError(422, "unprocessable", `"${field}" exceeds the token supply`);
  return amount;
}

/** Parses a registry listing id (a positive decimal integer) from a path or body. */
export function parseRegistryListingId(value: unknown, where: "path" | "body"): bigint {
  const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== "string" || !/^[1-9]\d{0,76}$/.test(text)) {
    const status = where === "path" ? 400 : 422;
    throw new HttpError(
      status,
      status === 400 ? "bad_request" : "unprocessable",
      `The listing id must be the registry's listing number (a positive whole number), got ${
        JSON.stringify(value)?.slice(0, 40) ?? "nothing"
      }`,
    );
  }
  return BigInt(text);
}

/** Throws a 422 unless `body` is an object with only `allowed` keys. */
export function expectObject(body: unknown, allowed: string[], example: string): Record<string, unknown> {
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(422, "unprocessable", `Expected a JSON object like ${example}`);
  }
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length) {
    throw new HttpError(
      422,
      "unprocessable",
      `Unknown field "${extra[0].slice(0, 40)}"; send only ${allowed.join(", ")}`,
    );
  }
  return body as Record<string, unknown>;
}
