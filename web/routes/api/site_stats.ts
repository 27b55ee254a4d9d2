/**
 * A site's dashboard figures over HTTP, and the helpers the dashboard page
 * shares with them:
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
import type { KosmosFacade, StatsResult } from "../../facade.ts";
import { HttpError } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { toStatsError } from "./query.ts";

export const PERIODS = [
  { id: "day", label: "Today" },
  { id: "7d", label: "Last 7 days" },
  { id: "30d", label: "Last 30 days" },
  { id: "month", label: "This month" },
  { id: "all", label: "All time" },
] as const;
export type Period = typeof PERIODS[number]["id"];

/** @default period of the dashboard and the export */
export const DEFAULT_PERIOD: Period = "30d";

/** Every metric, in the order of the dashboard's top row and the CSV columns. */
export const SUMMARY_METRICS = [
  "visitors",
  "visits",
  "pageviews",
  "views_per_visit",
  "bounce_rate",
  "visit_duration",
  "events",
] as const;
export type SummaryMetric = typeof SUMMARY_METRICS[number];

/** Reads `?period=`; 400 for anything but the listed periods. */
export function parsePeriod(value: string | null): Period {
  if (value === null || value === "") return DEFAULT_PERIOD;
  const period = PERIODS.find((p) => p.id === value);
  if (!period) {
    throw new HttpError(
      400,
      "bad_request",
      `Unknown period "${value.slice(0, 40)}"; use ${PERIODS.map((p) => p.id).join(", ")}`,
    );
  }
  return period.id;
}

export type Granularity = "hour" | "day" | "month";

/** A time bucket of a series and its metrics, in {@link SUMMARY_METRICS} order. */
export interface SeriesPoint {
  /** As the query API writes it: `2024-03-15 10:00:00`, `2024-03-15` or `2024-03-01`. */
  label: string;
  values: number[];
}

export interface TimeSeries {
  granularity: Granularity;
  /** The resolved range, ISO 8601 UTC instants (first and last included). */
  range: [string, string];
  /** Every bucket of the range, those without events as zeros. */
  points: SeriesPoint[];
}

const day = 86_400_000;

/** The bucket size that gives a readable graph for a range. */
export function getGranularity(range: [string, string]): Granularity {
  const span = Date.parse(range[1]) - Date.parse(range[0]);
  return span <= 2 * day ? "hour" : span <= 400 * day ? "day" : "month";
}

/** The labels of every bucket from `range[0]` to `range[1]`, as the query API writes them. */
export function listBuckets(range: [string, string], granularity: Granularity): string[] {
  const labels: string[] = [];
  const end = Date.parse(range[1]);
  const start = new Date(range[0]);
  if (granularity === "month") {
    for (let y = start.getUTCFullYear(), m = start.getUTCMonth(); Date.UTC(y, m, 1) <= end; m++) {
      labels.push(new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10));
    }
    return labels;
  }
  const step = granularity === "hour" ? 3_600_000 : day;
  for (let t = Math.floor(start.getTime() / step) * step; t <= end; t += step) {
    const iso = new Date(t).toISOString();
    labels.push(granularity === "hour" ? `${iso.slice(0, 10)} ${iso.slice(11, 13)}:00:00` : iso.slice(0, 10));
  }
  return labels;
}

/** Runs the time series query for `dateRange` and fills the buckets without events with zeros. */
export async function loadTimeSeries(
  facade: KosmosFacade,
  domain: string,
  options: { dateRange: string | [string, string]; signal?: AbortSignal },
): Promise<TimeSeries> {
  const totals: StatsResult = await facade.queryStats({
    site_id: domain,
    date_range: options.dateRange,
    metrics: ["visitors"],
  }, { signal: options.signal });
  const range = totals.query.date_range;
  const granularity = getGranularity(range);
  const { results } = await facade.queryStats({
    site_id: domain,
    date_range: range,
    metrics: [...SUMMARY_METRICS],
    dimensions: [`time:${granularity}`],
  }, { signal: options.signal });
  const byLabel = new Map(results.map((r) => [r.dimensions[0], r.metrics]));
  const points = listBuckets(range, granularity).map((label) => ({
    label,
    values: byLabel.get(label) ?? SUMMARY_METRICS.map(() => 0),
  }));
  return { granularity, range, points };
}

/** The range just before `range` with the same length (the previous calendar month for "month"). */
export function getPreviousRange(period: Period, range: [string, string]): [string, string] | null {
  if (period === "all") return null;
  const from = Date.parse(range[0]);
  if (period === "month") {
    const d = new Date(from);
    const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1);
    return [new Date(start).toISOString(), new Date(from - 1).toISOString()];
  }
  const length = Date.parse(range[1]) + 1 - from;
  return [new Date(from - length).toISOString(), new Date(from - 1).toISOString()];
}

export function createSiteStatsRoutes(facade: KosmosFacade): Hono {
  const api = new Hono();
  defineRoute(api, "/sites/:domain/realtime", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      try {
        return c.json(
          await facade.getRealtimeVisitors(c.req.param("domain") ?? "", { signal: c.req.raw.signal }),
        );
      } catch (err) {
        throw toStatsError(err);
      }
    },
  });
  defineRoute(api, "/sites/:domain/export.csv", {
    GET: async (c) => {
      const params = new URL(c.req.url).searchParams;
      for (const key of params.keys()) {
        if (key !== "period") {
          throw new HttpError(
            400,
            "bad_request",
            `Unknown query parameter "${key.slice(0, 40)}"; use period`,
          );
        }
      }
      const period = parsePeriod(params.get("period"));
      const domain = c.req.param("domain") ?? "";
      let series: TimeSeries;
      try {
        series = await loadTimeSeries(facade, domain, { dateRange: period, signal: c.req.raw.signal });
      } catch (err) {
        throw toStatsError(err);
      }
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
  });
  return api;
}
