/**
 * Staking and challenges in the registry, from this node's wallet. Amounts
 * are token strings such as `"100"` or `"2.5"`; listing ids are the registry's
 * listing numbers.
 *
 * - `POST /api/v1/stakes { manifestCid, amount }` lists the manifest (201) or
 *   adds to this node's listing of it (200).
 * - `POST /api/v1/stakes/:listingId/withdrawal` requests the withdrawal (202),
 *   or withdraws once the delay is over (200).
 * - `GET /api/v1/challenges` listings with open challenges.
 * - `POST /api/v1/challenges { listingId, amount }` challenges a listing (201).
 * - `POST /api/v1/challenges/:listingId/resolve { valid }` resolves (arbiter
 *   only, 403 otherwise); `valid: false` removes the listing.
 */
import { Hono } from "hono";
import { toManifestCid } from "../../../protocol/ids.ts";
import type { KosmosFacade } from "../../facade.ts";
import { HttpError } from "../../http_error.ts";
import { readJson } from "../../read_json.ts";
import { defineRoute } from "../../router.ts";
import { expectObject, parseRegistryListingId, parseTokenAmount, toChainHttpError } from "./chain.ts";

const maxBytes = 4 * 1024;

export function createStakeRoutes(facade: KosmosFacade): Hono {
  const api = new Hono();
  defineRoute(api, "/stakes", {
    POST: async (c) => {
      const body = expectObject(
        await readJson(c.req.raw, { maxBytes }),
        ["manifestCid", "amount"],
        '{ "manifestCid": "bafyrei…", "amount": "100" }',
      );
      let manifestCid: string;
      try {
        manifestCid = toManifestCid(body.manifestCid);
      } catch (err) {
        throw new HttpError(422, "unprocessable", (err as Error).message);
      }
      const amount = parseTokenAmount(body.amount, "amount");
      try {
        const result = await facade.stakeListing({ manifestCid, amount }, { signal: c.req.raw.signal });
        return c.json(result, result.created ? 201 : 200);
      } catch (err) {
        throw toChainHttpError(err);
      }
    },
  });
  defineRoute(api, "/stakes/:listingId/withdrawal", {
    POST: async (c) => {
      const listingId = parseRegistryListingId(c.req.param("listingId"), "path");
      try {
        const result = await facade.withdrawStake(listingId, { signal: c.req.raw.signal });
        return c.json(result, result.status === "requested" ? 202 : 200);
      } catch (err) {
        throw toChainHttpError(err);
      }
    },
  });
  defineRoute(api, "/challenges", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      try {
        return c.json({ challenges: await facade.listChallenges({ signal: c.req.raw.signal }) });
      } catch (err) {
        throw toChainHttpError(err);
      }
    },
    POST: async (c) => {
      const body = expectObject(
        await readJson(c.req.raw, { maxBytes }),
        ["listingId", "amount"],
        '{ "listingId": "1", "amount": "10" }',
      );
      const listingId = parseRegistryListingId(body.listingId, "body");
      const amount = parseTokenAmount(body.amount, "amount");
      try {
        return c.json(
          await facade.challengeListing({ listingId, amount }, { signal: c.req.raw.signal }),
          201,
        );
      } catch (err) {
        throw toChainHttpError(err);
      }
    },
  });
  defineRoute(api, "/challenges/:listingId/resolve", {
    POST: async (c) => {
      const listingId = parseRegistryListingId(c.req.param("listingId"), "path");
      const body = expectObject(await readJson(c.req.raw, { maxBytes }), ["valid"], '{ "valid": true }');
      if (typeof body.valid !== "boolean") {
        throw new HttpError(
          422,
          "unprocessable",
          '"valid" must be true (the listing stays) or false (the listing is removed)',
        );
      }
      try {
        return c.json(
          await facade.resolveChallenge(listingId, { valid: body.valid }, { signal: c.req.raw.signal }),
        );
      } catch (err) {
        throw toChainHttpError(err);
      }
    },
  });
  return api;
}
