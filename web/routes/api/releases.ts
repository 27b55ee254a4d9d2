/**
 * Selling a site's statistics, on the owner's node:
 *
 * - `POST /api/v1/sites/:domain/releases { from, to, dimension?, epsilon, k?, title, description?, price, licence }`
 *   computes a differentially private table of visitors, visits and
 *   pageviews per day (and `dimension`: page, entry_page, source, device,
 *   browser or os), charges `epsilon` (per person, once for the whole range)
 *   to the site's privacy budget and publishes the table as a CSV dataset.
 *   `price` is a token amount such as `"2.5"`. Answers
 *   `201 { id, manifestCid, release, budget }`. `400` for any bad field or an
 *   ε above what one release may spend (nothing charged), `404` for a site
 *   this node does not own, `409` when ε exceeds the budget left (nothing
 *   charged), `422` when every row was suppressed (ε charged, nothing
 *   published).
 * - `GET /api/v1/sites/:domain/releases` → `{ budget: { total, spent, remaining }, releases, policy }`:
 *   `policy` is what a release's cost depends on (ε cap per release, δ, the bounds per dimension).
 *
 *     curl -H 'Content-Type: application/json' -d '{"from":"2024-03-01","to":"2024-03-31",
 *       "epsilon":1,"title":"Visits, March","price":"2.5","licence":"CC-BY-4.0"}' \
 *       http://127.0.0.1:7464/api/v1/sites/example.com/releases
 */
import { Hono } from "hono";
import { CreateReleaseBody } from "../../../protocol/api/analytics.ts";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody } from "../../validate.ts";

const errors: ErrorPolicy = { badInput: 400 };

export function createReleaseRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/sites/:domain/releases", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.listReleases(c.req.param("domain") ?? "", { signal: c.req.raw.signal }));
    },
    POST: async (c) => {
      const input = await readBody(c, CreateReleaseBody, { maxBytes: 16 * 1024, status: 400 });
      const domain = c.req.param("domain") ?? "";
      const created = await facade.createRelease(domain, input, { signal: c.req.raw.signal });
      c.header("Location", `/api/v1/listings/${created.id}`);
      return c.json(created, 201);
    },
  }, { errors });
  return api;
}
