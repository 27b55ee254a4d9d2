/**
 * Earnings of this node's wallet from pools and mining, and their claims:
 *
 * - `GET /api/v1/earnings` what each pool sale and each mining epoch owes this wallet (recomputed
 *   from the chain's events; a distribution the events do not imply is `unverifiable`), with the
 *   mining schedule and the sums.
 * - `POST /api/v1/earnings/claims { distributionId? }` claims one distribution, or every claimable
 *   one without it: `{ claimed, alreadyClaimed }` (a claim made before sends nothing). An id that
 *   owes this wallet nothing is a 404, an unverifiable one a 409. Takes `?preview=1`.
 * - `GET /api/v1/mining` the schedule and every epoch published.
 */
import { Hono } from "hono";
import { ClaimBody } from "../../../protocol/api/earnings.ts";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody } from "../../validate.ts";
import { wantsPreview } from "./preview.ts";

const maxBytes = 1024;
/** A revert the checks before sending did not foresee (a claim racing another) is a conflict. */
const errors: ErrorPolicy = { badInput: 422, reverts: "conflict" };

export function createEarningRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/earnings", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getEarnings({ signal: c.req.raw.signal }));
    },
  }, { errors });
  defineRoute(api, "/earnings/claims", {
    POST: async (c) => {
      const preview = wantsPreview(c);
      const params = await readBody(c, ClaimBody, { maxBytes });
      const signal = c.req.raw.signal;
      if (preview) return c.json(await facade.previewClaimEarnings(params, { signal }));
      return c.json(await facade.claimEarnings(params, { signal }));
    },
  }, { errors });
  defineRoute(api, "/mining", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getMining({ signal: c.req.raw.signal }));
    },
  }, { errors });
  return api;
}
