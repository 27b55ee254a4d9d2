/**
 * The dashboard's time series: the periods a site's figures are shown for, the
 * metrics of its top row and CSV columns, and the series itself with every
 * bucket of the range filled (buckets without events as zeros).
 *
 * Used by the site page (`web/routes/site.tsx`) and the CSV export
 * (`web/routes/api/site_stats.ts`).
 */
import { STATS_METRICS, type StatsDateRange, type StatsMetric } from "../../protocol/analytics.ts";
import type { KosmosApi, StatsResult } from "../../protocol/api/mod.ts";
import { HttpError } from "../http_error.ts";

export const PERIODS = [
  { id: "day", label: "Today" },
  { id: "7d", label: "Last 7 days" },
  { id: "30d", label: "Last 30 days" },
  { id: "month", label: "This month" },
  { id: "all", label: "All time" },
] as const satisfies readonly { id: StatsDateRange; label: string }[];
export type Period = typeof PERIODS[number]["id"];

/** @default period of the dashboard and the export */
export const DEFAULT_PERIOD: Period = "30d";

/** Every metric, in the order of the dashboard's top row and the CSV columns. */
export const SUMMARY_METRICS = STATS_METRICS;
export type SummaryMetric = StatsMetric;

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
  facade: Pick<KosmosApi, "queryStats">,
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
