/**
 * A site's dashboard figures over HTTP (the time series helpers are in
 * `web/dashboard/series.ts`, shared with the dashboard page):
 *
 * - `GET /api/v1/sites/:domain/realtime` → `{ visitors }`, distinct visitors of
 *   the last 5 minutes;
 * - `GET /api/v1/sites/:domain/export.csv?period=day|7d|30d|month|all` → the
 *   period's time series (one row per hour for `day`, per day otherwise, per
 *   month for `all` beyond 400 days) with every metric, as CSV.
 *
 * Both answer 400 for a malformed domain or period and 404 for a site this
 * node neither owns nor has events for.
 */
import { Hono } from "hono";
import * as v from "valibot";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { searchParams } from "../../../protocol/api/schema.ts";
import { loadTimeSeries, parsePeriod, SUMMARY_METRICS } from "../../dashboard/series.ts";
import { defineRoute } from "../../router.ts";
import { validate } from "../../validate.ts";
import { STATS_ERRORS } from "./query.ts";

/** `?period=` of the CSV export; the period itself is read by `parsePeriod`. */
const ExportCsvParams = searchParams({ period: v.optional(v.string()) }, {
  unknown: (key) => `Unknown query parameter "${key.slice(0, 40)}"; use period`,
});

export function createSiteStatsRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/sites/:domain/realtime", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(
        await facade.getRealtimeVisitors(c.req.param("domain") ?? "", { signal: c.req.raw.signal }),
      );
    },
  }, { errors: STATS_ERRORS });
  defineRoute(api, "/sites/:domain/export.csv", {
    GET: async (c) => {
      const params = validate(ExportCsvParams, new URL(c.req.url).searchParams, { status: 400 });
      const period = parsePeriod(params.period ?? null);
      const domain = c.req.param("domain") ?? "";
      const series = await loadTimeSeries(facade, domain, { dateRange: period, signal: c.req.raw.signal });
      const lines = [
        [series.granularity === "month" ? "month" : series.granularity, ...SUMMARY_METRICS].join(","),
      ];
      for (const p of series.points) lines.push([p.label, ...p.values].join(","));
      return c.body(lines.join("\r\n") + "\r\n", 200, {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": `attachment; filename="${domain}-${period}.csv"`,
        "Cache-Control": "no-store",
      });
    },
  }, { errors: STATS_ERRORS });
  return api;
}
