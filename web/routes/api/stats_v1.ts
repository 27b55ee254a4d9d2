/**
 * Plausible's Stats API v1, for integrations that still speak it:
 *
 * - `GET /api/v1/stats/realtime/visitors?site_id=…` → a number: visitors of the last 5 minutes;
 * - `GET /api/v1/stats/aggregate?site_id=…&period=30d&metrics=visitors,pageviews&compare=previous_period`
 *   → `{ results: { visitors: { value, change? }, … } }`;
 * - `GET /api/v1/stats/timeseries?site_id=…&period=6mo&interval=month` → `{ results: [{ date, visitors }] }`;
 * - `GET /api/v1/stats/breakdown?site_id=…&property=visit:source&limit=10&page=1`
 *   → `{ results: [{ source, visitors }] }`.
 *
 * `filters` use v1's syntax (`event:page==/blog/**;visit:country==DE|FR`).
 * Authentication and errors as `POST /api/v2/query` (`web/stats_auth.ts`);
 * the translation is `node/services/analytics/query_v1.ts`.
 */
import { type Context, Hono } from "hono";
import type { KosmosApi, StatsV1Endpoint } from "../../../protocol/api/mod.ts";
import type { ApiAuth } from "../../auth.ts";
import { defineRoute } from "../../router.ts";
import { authenticateStats, requireSiteAccess, StatsHttpError, withStatsErrors } from "../../stats_auth.ts";

const MISSING_SITE = "Missing site ID. Please provide the required site_id parameter with your request.";

/** The query string as one value per name; a name given twice is refused. */
function paramsOf(c: Context): Record<string, string> {
  const search = new URL(c.req.url).searchParams;
  const out: Record<string, string> = {};
  for (const [key, value] of search) {
    if (Object.hasOwn(out, key)) {
      throw new StatsHttpError(400, `Query parameter '${key.slice(0, 40)}' is given twice.`);
    }
    out[key] = value;
  }
  return out;
}

export function createStatsV1Routes(facade: KosmosApi, options: { auth: ApiAuth }): Hono {
  const api = new Hono();
  const authorize = async (c: Context) => {
    const caller = await authenticateStats(c, options.auth, facade);
    const params = paramsOf(c);
    if (!params.site_id) throw new StatsHttpError(400, MISSING_SITE);
    requireSiteAccess(caller, params.site_id);
    c.header("Cache-Control", "no-store");
    return params;
  };
  defineRoute(api, "/stats/realtime/visitors", {
    GET: withStatsErrors(async (c) => {
      const params = await authorize(c);
      return c.json(await facade.countRealtimeVisitors(params.site_id, { signal: c.req.raw.signal }));
    }),
  });
  for (const endpoint of ["aggregate", "timeseries", "breakdown"] as StatsV1Endpoint[]) {
    defineRoute(api, `/stats/${endpoint}`, {
      GET: withStatsErrors(async (c) => {
        const params = await authorize(c);
        return c.json(await facade.queryStatsV1(endpoint, params, { signal: c.req.raw.signal }));
      }),
    });
  }
  return api;
}
