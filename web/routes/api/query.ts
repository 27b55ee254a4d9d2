/**
 * `POST /api/v2/query` — Plausible's Stats API v2 over this node's analytics:
 *
 *     curl -H 'Authorization: Bearer kss_…' -H 'Content-Type: application/json' \
 *       http://127.0.0.1:7464/api/v2/query -d '{
 *       "site_id": "example.com", "date_range": "28d", "metrics": ["visitors", "conversion_rate"],
 *       "dimensions": ["visit:country_name"],
 *       "filters": [["is", "event:goal", ["Signup"]], ["contains", "event:page", ["/blog"], { "case_sensitive": false }]],
 *       "include": { "total_rows": true }, "pagination": { "limit": 10 } }'
 *
 * answers `{ results: [{ metrics, dimensions }], meta, query }` as Plausible
 * does (`query` is the query as it ran), and refuses as Plausible does:
 * `{ "error": "…" }` with its messages, 400 for a bad query, 401 for a
 * missing or wrong key (a site API key works for its own site only; the
 * owner's token or session for every site), 404 for a site this node neither
 * owns nor has events for. See `web/stats_auth.ts`.
 */
import { Hono } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import type { ApiAuth } from "../../auth.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { readJson } from "../../read_json.ts";
import { defineRoute } from "../../router.ts";
import { authenticateStats, requireSiteAccess, StatsHttpError, withStatsErrors } from "../../stats_auth.ts";

/** Largest query body, in bytes. */
export const MAX_QUERY_BYTES = 64 * 1024;

/** The Kosmos-shaped analytics routes' policy: bad input is a 400 naming the field, an unknown site a 404. */
export const STATS_ERRORS: ErrorPolicy = { badInput: 400 };

export function createQueryRoutes(facade: KosmosApi, options: { auth: ApiAuth }): Hono {
  const api = new Hono();
  defineRoute(api, "/query", {
    POST: withStatsErrors(async (c) => {
      const caller = await authenticateStats(c, options.auth, facade);
      const body = await readJson(c.req.raw, { maxBytes: MAX_QUERY_BYTES });
      const siteId = (body as { site_id?: unknown } | null)?.site_id;
      if (siteId === undefined || siteId === null || siteId === "") {
        throw new StatsHttpError(
          400,
          "Missing site ID. Please provide the required site_id parameter with your request.",
        );
      }
      requireSiteAccess(caller, siteId);
      c.header("Cache-Control", "no-store");
      return c.json(await facade.queryStatsV2(body, { signal: c.req.raw.signal }));
    }),
  });
  return api;
}
