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
 *
 * Each POST takes `?preview=1`: validated and estimated, nothing signed
 * (`200 { preview: true, fee, … }`, `protocol/api/fees.ts`). Writes answer
 * `gasUsed` and `effectiveGasPrice` from their receipts.
 */
import { Hono } from "hono";
import { ChallengeBody, RegistryListingId, ResolveBody, StakeBody } from "../../../protocol/api/chain.ts";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { defineRoute } from "../../router.ts";
import { readBody, validate } from "../../validate.ts";
import { CHAIN_ERRORS } from "./chain.ts";
import { wantsPreview } from "./preview.ts";

const maxBytes = 4 * 1024;

export function createStakeRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  const errors = CHAIN_ERRORS;
  defineRoute(api, "/stakes", {
    POST: async (c) => {
      const preview = wantsPreview(c);
      const params = await readBody(c, StakeBody, { maxBytes });
      if (preview) return c.json(await facade.previewStakeListing(params, { signal: c.req.raw.signal }));
      const result = await facade.stakeListing(params, { signal: c.req.raw.signal });
      return c.json(result, result.created ? 201 : 200);
    },
  }, { errors });
  defineRoute(api, "/stakes/:listingId/withdrawal", {
    POST: async (c) => {
      const preview = wantsPreview(c);
      const listingId = validate(RegistryListingId, c.req.param("listingId"), { status: 400 });
      if (preview) return c.json(await facade.previewWithdrawStake(listingId, { signal: c.req.raw.signal }));
      const result = await facade.withdrawStake(listingId, { signal: c.req.raw.signal });
      return c.json(result, result.status === "requested" ? 202 : 200);
    },
  }, { errors });
  defineRoute(api, "/challenges", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json({ challenges: await facade.listChallenges({ signal: c.req.raw.signal }) });
    },
    POST: async (c) => {
      const preview = wantsPreview(c);
      const params = await readBody(c, ChallengeBody, { maxBytes });
      if (preview) return c.json(await facade.previewChallengeListing(params, { signal: c.req.raw.signal }));
      return c.json(await facade.challengeListing(params, { signal: c.req.raw.signal }), 201);
    },
  }, { errors });
  defineRoute(api, "/challenges/:listingId/resolve", {
    POST: async (c) => {
      const preview = wantsPreview(c);
      const listingId = validate(RegistryListingId, c.req.param("listingId"), { status: 400 });
      const { valid } = await readBody(c, ResolveBody, { maxBytes });
      if (preview) {
        return c.json(
          await facade.previewResolveChallenge(listingId, { valid }, { signal: c.req.raw.signal }),
        );
      }
      return c.json(await facade.resolveChallenge(listingId, { valid }, { signal: c.req.raw.signal }));
    },
  }, { errors });
  return api;
}
