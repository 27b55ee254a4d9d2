/**
 * What the site dashboard (`web/routes/site.tsx`) shows, loaded in one go: the
 * period's top figures (and the previous period's when compared), the visitors
 * series, the realtime count, the twelve breakdown tables of {@link BREAKDOWNS},
 * the "Sell statistics" section on the owner's node and the events per proxy
 * on the node that registered the site. Every query runs concurrently.
 *
 * ```ts
 * const data = await loadDashboard(api, "example.com", {
 *   period: "30d", compare: true, origin: "http://127.0.0.1:8080", signal,
 * });
 * ```
 */
import type {
  KosmosApi,
  PrivacyBudgetView,
  ReleasePolicyView,
  ReleaseView,
  SiteProxyView,
  StatsResult,
} from "../../protocol/api/mod.ts";
import { getPreviousRange, loadTimeSeries, type Period, SUMMARY_METRICS, type TimeSeries } from "./series.ts";

export type Row = StatsResult["results"][number];

/** A table of the dashboard: one dimension, its metrics, the top rows. */
export interface Breakdown {
  id: string;
  title: string;
  /** Column heading of the dimension. */
  label: string;
  /** Column headings of the metrics; the first one sizes the bars. */
  columns: string[];
  rows: Row[];
  /** What an empty table means. */
  empty: string;
}

export interface SiteDashboard {
  domain: string;
  period: Period;
  compare: boolean;
  /** This node's origin, for the snippet. */
  origin: string;
  /** {@link SUMMARY_METRICS} over the period, and over the previous one when compared. */
  summary: number[];
  previous: number[] | null;
  series: TimeSeries;
  previousSeries: TimeSeries | null;
  realtime: number;
  breakdowns: Breakdown[];
  /** The site's privacy budget and releases; `null` when this node does not own the site. */
  sales: SalesData | null;
  /** Events by proxy; `null` when this node did not register the site. */
  proxies: SiteProxyView[] | null;
}

/** The "Sell statistics" section. */
export interface SalesData {
  budget: PrivacyBudgetView;
  releases: ReleaseView[];
  /** What a release may ask for on this node (cap per release, δ, bounds). */
  policy: ReleasePolicyView;
  /** `YYYY-MM-DD` (UTC): today, and the default range (the 30 days before today). */
  today: string;
  from: string;
  to: string;
}

/** How many rows each table shows. */
const TOP = 10;

type Metric = "visitors" | "visits" | "pageviews" | "events";

/** Column heading of each metric a breakdown shows. */
const COLUMN: Record<Metric, string> = {
  visitors: "Visitors",
  visits: "Visits",
  pageviews: "Pageviews",
  events: "Events",
};

const NO_VISITS = "No visits in this period.";
const NO_UTM = "No visits with UTM tags.";
const notNone = (dimension: string) => [["is_not", dimension, ["(none)"]]];

/** The dashboard's tables, in the order shown: each one query of `dimension`'s top {@link TOP} rows. */
export const BREAKDOWNS: readonly {
  id: string;
  title: string;
  label: string;
  dimension: string;
  metrics: Metric[];
  filters: unknown[];
  empty: string;
}[] = [
  {
    id: "sources",
    title: "Top sources",
    label: "Source",
    dimension: "visit:source",
    metrics: ["visitors", "visits"],
    filters: [],
    empty: NO_VISITS,
  },
  {
    id: "pages",
    title: "Top pages",
    label: "Page",
    dimension: "event:page",
    metrics: ["visitors", "pageviews"],
    filters: [["is", "event:name", ["pageview"]]],
    empty: NO_VISITS,
  },
  {
    id: "referrers",
    title: "Referrers",
    label: "Referrer",
    dimension: "visit:referrer",
    metrics: ["visitors", "visits"],
    filters: [],
    empty: NO_VISITS,
  },
  {
    id: "entry-pages",
    title: "Entry pages",
    label: "Page",
    dimension: "visit:entry_page",
    metrics: ["visitors", "visits"],
    filters: [],
    empty: NO_VISITS,
  },
  {
    id: "exit-pages",
    title: "Exit pages",
    label: "Page",
    dimension: "visit:exit_page",
    metrics: ["visitors", "visits"],
    filters: [],
    empty: NO_VISITS,
  },
  {
    id: "utm-sources",
    title: "UTM sources",
    label: "utm_source",
    dimension: "visit:utm_source",
    metrics: ["visitors"],
    filters: notNone("visit:utm_source"),
    empty: NO_UTM,
  },
  {
    id: "utm-mediums",
    title: "UTM mediums",
    label: "utm_medium",
    dimension: "visit:utm_medium",
    metrics: ["visitors"],
    filters: notNone("visit:utm_medium"),
    empty: NO_UTM,
  },
  {
    id: "utm-campaigns",
    title: "UTM campaigns",
    label: "utm_campaign",
    dimension: "visit:utm_campaign",
    metrics: ["visitors"],
    filters: notNone("visit:utm_campaign"),
    empty: NO_UTM,
  },
  {
    id: "devices",
    title: "Devices",
    label: "Device",
    dimension: "visit:device",
    metrics: ["visitors"],
    filters: [],
    empty: NO_VISITS,
  },
  {
    id: "browsers",
    title: "Browsers",
    label: "Browser",
    dimension: "visit:browser",
    metrics: ["visitors"],
    filters: [],
    empty: NO_VISITS,
  },
  {
    id: "os",
    title: "Operating systems",
    label: "OS",
    dimension: "visit:os",
    metrics: ["visitors"],
    filters: [],
    empty: NO_VISITS,
  },
  {
    id: "events",
    title: "Custom events",
    label: "Event",
    dimension: "event:name",
    metrics: ["visitors", "events"],
    filters: [["is_not", "event:name", ["pageview"]]],
    empty: 'No custom events: send them with kosmos("Signup", { props: { plan: "pro" } }).',
  },
];

/**
 * Everything the dashboard of `domain` shows for `period`. Rejects like
 * `queryStats`: `NotFoundError` for a site this node neither owns nor has
 * events for, `TypeError` for a malformed domain.
 */
export async function loadDashboard(
  api: KosmosApi,
  domain: string,
  options: { period: Period; compare: boolean; origin: string; signal: AbortSignal },
): Promise<SiteDashboard> {
  const { period, signal } = options;
  const series = await loadTimeSeries(api, domain, { dateRange: period, signal });
  const previousRange = options.compare ? getPreviousRange(period, series.range) : null;
  const summaryOf = (dateRange: string | [string, string]) =>
    api.queryStats({ site_id: domain, date_range: dateRange, metrics: [...SUMMARY_METRICS] }, { signal })
      .then((r) => r.results[0].metrics);
  const [proxies, sales, summary, previous, previousSeries, realtime, ...tables] = await Promise.all([
    api.listSiteProxies(domain, { signal }).catch((err) => {
      if ((err as Error).name === "NotFoundError") return null;
      throw err;
    }),
    loadSales(api, domain, signal),
    summaryOf(period),
    previousRange ? summaryOf(previousRange) : null,
    previousRange ? loadTimeSeries(api, domain, { dateRange: previousRange, signal }) : null,
    api.getRealtimeVisitors(domain, { signal }).then((r) => r.visitors),
    ...BREAKDOWNS.map((b) =>
      api.queryStats({
        site_id: domain,
        date_range: period,
        metrics: b.metrics,
        dimensions: [b.dimension],
        filters: b.filters,
        pagination: { limit: TOP },
      }, { signal }).then((r) => r.results)
    ),
  ]);
  return {
    domain,
    period,
    compare: previousRange !== null,
    origin: options.origin,
    summary,
    previous,
    series,
    previousSeries,
    realtime,
    breakdowns: BREAKDOWNS.map((b, i) => ({
      id: b.id,
      title: b.title,
      label: b.label,
      columns: b.metrics.map((m) => COLUMN[m]),
      rows: tables[i] as Row[],
      empty: b.empty,
    })),
    sales,
    proxies,
  };
}

/** The privacy budget and releases of a site this node owns, else `null`. */
export async function loadSales(
  api: KosmosApi,
  domain: string,
  signal: AbortSignal,
): Promise<SalesData | null> {
  let listed;
  try {
    listed = await api.listReleases(domain, { signal });
  } catch (err) {
    if ((err as Error).name === "NotFoundError" || (err as Error).name === "TypeError") return null;
    throw err;
  }
  const today = Math.floor(Date.now() / 86_400_000) * 86_400_000;
  const iso = (ts: number) => new Date(ts).toISOString().slice(0, 10);
  return {
    ...listed,
    today: iso(today),
    from: iso(today - 30 * 86_400_000),
    to: iso(today - 86_400_000),
  };
}
