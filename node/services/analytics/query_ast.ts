/**
 * The fully resolved stats query: what `query_v2.ts` (Plausible's Stats API
 * v2 body) and `query_v1.ts` (the v1 stats routes) produce, and what the
 * executor (`executeQuery`) runs. Nothing in a {@link ResolvedQuery} needs
 * checking again: names are known, the range is absolute, defaults are
 * filled in, and every cross-field rule (a metric that needs a dimension, an
 * `order_by` that names a queried field, …) has been enforced.
 *
 * Names and meanings follow Plausible's Stats API v2
 * (https://plausible.io/docs/stats-api); everything is UTC.
 *
 * ```ts
 * const q: ResolvedQuery = {
 *   site: "example.com",
 *   from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 8), timezone: "UTC",
 *   metrics: ["visitors", "conversion_rate"],
 *   dimensions: ["visit:country_name"],
 *   filters: ["and", [["is", "event:goal", ["Signup"]], ["contains", "event:page", ["/blog"], { case_sensitive: false }]]],
 *   orderBy: [["visitors", "desc"]],
 *   include: { imports: false, timeLabels: false, totalRows: false },
 *   pagination: { limit: 10_000, offset: 0 },
 * };
 * ```
 */

// ---------------------------------------------------------------------------
// Metrics

/**
 * Every metric of the Stats API v2, as Plausible names them:
 * - `visitors`: unique visitors; `visits`: sessions; `pageviews`: `pageview` events;
 * - `views_per_visit`: pageviews / visits (2 decimals); `bounce_rate`: % of visits with
 *   one pageview (integer); `visit_duration`: mean seconds per visit (integer);
 * - `events`: all events except `engagement` (pageviews + custom events);
 * - `scroll_depth`: mean of each visitor's maximum scroll depth on a page (0–100,
 *   integer) from engagement events; needs an `event:page` filter or dimension;
 * - `time_on_page`: mean seconds visitors spend on a page (engaged time), needs an
 *   `event:page` filter or dimension;
 * - `percentage`: % of all visitors that fall in this row (needs `dimensions`);
 * - `conversion_rate`: % of all visitors who completed the goal (needs an
 *   `event:goal` filter or dimension);
 * - `group_conversion_rate`: % of visitors of the same dimension row who completed
 *   the goal (needs an `event:goal` filter or dimension, and dimensions);
 * - `total_revenue`, `average_revenue`: sum / mean of revenue of goals that have a
 *   currency (needs an `event:goal` filter or dimension whose goals have one;
 *   `{ short, long, value, currency }` objects in Plausible, numbers here with the
 *   currency in `meta`).
 */
export const METRICS = [
  "visitors",
  "visits",
  "pageviews",
  "views_per_visit",
  "bounce_rate",
  "visit_duration",
  "events",
  "scroll_depth",
  "percentage",
  "conversion_rate",
  "group_conversion_rate",
  "average_revenue",
  "total_revenue",
  "time_on_page",
] as const;
export type Metric = typeof METRICS[number];

/** Metrics computed over sessions: they need every event of a visit, not only the matching ones. */
export const SESSION_METRICS = ["visits", "bounce_rate", "visit_duration", "views_per_visit"] as const;

/** Metrics that need an `event:goal` filter or dimension. */
export const GOAL_METRICS = [
  "conversion_rate",
  "group_conversion_rate",
  "average_revenue",
  "total_revenue",
] as const;

/** Revenue metrics (answered in the goals' currency). */
export const REVENUE_METRICS = ["average_revenue", "total_revenue"] as const;

// ---------------------------------------------------------------------------
// Dimensions

/** Event-level dimensions other than custom properties. */
export const EVENT_DIMENSIONS = ["event:name", "event:page", "event:goal", "event:hostname"] as const;

/** Visit-level dimensions: properties of the session (its first event, except `exit_page`). */
export const VISIT_DIMENSIONS = [
  "visit:entry_page",
  "visit:exit_page",
  "visit:entry_page_hostname",
  "visit:exit_page_hostname",
  "visit:source",
  "visit:channel",
  "visit:referrer",
  "visit:utm_source",
  "visit:utm_medium",
  "visit:utm_campaign",
  "visit:utm_content",
  "visit:utm_term",
  "visit:device",
  "visit:browser",
  "visit:browser_version",
  "visit:os",
  "visit:os_version",
  /** ISO 3166-1 alpha-2, e.g. "DE". */
  "visit:country",
  /** ISO 3166-2, e.g. "DE-BE". */
  "visit:region",
  /** GeoNames id as a decimal string, e.g. "2950159". */
  "visit:city",
  "visit:country_name",
  "visit:region_name",
  "visit:city_name",
] as const;

/**
 * Time buckets. The parsers resolve `time` to one of the others by the
 * length of the range (see {@link timeGrainFor}), as Plausible does, so a
 * parsed query never holds it (executors still accept it through
 * {@link timeGrainOf} for queries built by hand); results name the bucket by its
 * first instant: `time:hour` "2026-01-02 13:00:00", `time:day` "2026-01-02",
 * `time:week` the Monday "2025-12-29" (clamped to the range start as
 * Plausible does), `time:month` "2026-01-01".
 */
export const TIME_DIMENSIONS = ["time", "time:hour", "time:day", "time:week", "time:month"] as const;

export type EventDimension = typeof EVENT_DIMENSIONS[number];
export type VisitDimension = typeof VISIT_DIMENSIONS[number];
export type TimeDimension = typeof TIME_DIMENSIONS[number];
/** A custom property, e.g. `event:props:plan`. The name is 1–300 characters. */
export type PropDimension = `event:props:${string}`;
export const PROPS_PREFIX = "event:props:";

/** Any dimension a query may group by. */
export type Dimension = EventDimension | VisitDimension | TimeDimension | PropDimension;
/** Any dimension a filter may test (time dimensions cannot be filtered; use `date_range`). */
export type FilterDimension = EventDimension | VisitDimension | PropDimension;

/** The time bucket a `time` dimension resolves to. */
export type TimeGrain = "hour" | "day" | "week" | "month";

// ---------------------------------------------------------------------------
// Filters

/**
 * Operators on a dimension's value:
 * - `is` / `is_not`: equals one of the values (for `event:page`, `visit:entry_page`,
 *   `visit:exit_page` and hostnames a value may hold `*` wildcards as in Plausible v1:
 *   `*` matches anything but `/`, `**` anything; the v2 parser passes them through
 *   unchanged and the executor treats `*` literally, so v1 translates wildcards to `matches`);
 * - `contains` / `contains_not`: the value contains one of the substrings;
 * - `matches` / `matches_not`: the value matches one of the regular expressions
 *   (RE2-like syntax; the parser rejects patterns JavaScript cannot compile).
 *
 * `is_not`, `contains_not`, `matches_not` keep rows whose value matches NONE of the
 * values. Rows without the dimension (e.g. no such prop) match `is_not` and not `is`,
 * except `is "(none)"` on `event:props:*`, which matches events without the prop.
 */
export const VALUE_OPS = ["is", "is_not", "contains", "contains_not", "matches", "matches_not"] as const;
export type ValueOp = typeof VALUE_OPS[number];

/** Operator modifiers. `case_sensitive` defaults to true (`is`, `contains`, `matches`). */
export interface FilterModifiers {
  case_sensitive?: boolean;
}

/** A leaf: `[op, dimension, values, modifiers?]`. Values are non-empty, all strings. */
export type ValueFilter =
  | [ValueOp, FilterDimension, string[]]
  | [ValueOp, FilterDimension, string[], FilterModifiers];

/**
 * A filter tree. The top level of a resolved query is always a tree (an
 * `["and", []]` when the query has no filters).
 * - `["and"|"or", children]`: children non-empty except the empty top-level `and`;
 * - `["not", child]`;
 * - `["has_done"|"has_not_done", child]`: behavioural — keeps visitors (the whole
 *   visit, all its events) who did / did not, in the range, do an event matching
 *   `child`; `child` only uses event dimensions (`event:*`).
 */
export type FilterTree =
  | ["and" | "or", FilterTree[]]
  | ["not", FilterTree]
  | ["has_done" | "has_not_done", FilterTree]
  | ValueFilter;

export const LOGICAL_OPS = ["and", "or", "not"] as const;
export const BEHAVIOURAL_OPS = ["has_done", "has_not_done"] as const;

// ---------------------------------------------------------------------------
// The query

export type OrderBy = [Metric | Dimension, "asc" | "desc"];

export interface QueryInclude {
  /** Merge `analytics_imported` rows where the query allows it (Plausible's `include.imports`). */
  imports: boolean;
  /** Answer `meta.time_labels`: every bucket of the range for the query's time dimension. */
  timeLabels: boolean;
  /** Answer `meta.total_rows`: the number of rows before pagination. */
  totalRows: boolean;
}

/** The fully resolved query the executor runs. */
export interface ResolvedQuery {
  /** The site's domain. */
  site: string;
  /** Inclusive start, ms since the epoch (UTC). */
  from: number;
  /** Exclusive end, ms since the epoch (UTC); > `from`. */
  to: number;
  timezone: "UTC";
  /** Non-empty, no duplicates. */
  metrics: Metric[];
  /** No duplicates; at most one time dimension (never `time` from the parsers: it is resolved). */
  dimensions: Dimension[];
  /** Always a tree; `["and", []]` for no filters. */
  filters: FilterTree;
  /**
   * Non-empty, each naming a metric or dimension of the query. Default: the time
   * dimension ascending if any, else the first metric descending.
   */
  orderBy: OrderBy[];
  include: QueryInclude;
  /** limit 1..10 000, offset ≥ 0. */
  pagination: { limit: number; offset: number };
  /**
   * The bucket of the query's time dimension (`time` resolved by the range's
   * length, `time:day` → "day", …); absent when there is none. Use
   * {@link timeGrainOf} rather than reading it, so queries built by hand work too.
   */
  timeGrain?: TimeGrain;
}

/** One row of the answer: values in the order of the query's metrics and dimensions. */
export interface ResultRow {
  metrics: number[];
  dimensions: string[];
}

export interface QueryMeta {
  /** Human-readable notes Plausible puts in `meta.metric_warnings` / `meta.warning`. */
  warnings?: string[];
  /** Per-metric warnings, e.g. revenue in mixed currencies: `{ total_revenue: { code, warning } }`. */
  metric_warnings?: Record<string, { code: string; warning: string }>;
  imports_included?: boolean;
  imports_skip_reason?: string;
  imports_warning?: string;
  time_labels?: string[];
  total_rows?: number;
  [key: string]: unknown;
}

/** What `executeQuery` answers. */
export interface QueryAnswer {
  results: ResultRow[];
  meta: QueryMeta;
}

// ---------------------------------------------------------------------------
// Goals and funnels (stored per site by `goals.ts`)

/**
 * A conversion goal of a site.
 * - `kind: "pageview"`: `match` is a page path, `*` matching anything but `/`
 *   and `**` anything (Plausible's page goals, e.g. `/blog/**`);
 * - `kind: "event"`: `match` is a custom event name, exact.
 * `name` is what `event:goal` answers and filters by (Plausible's display name;
 * default `Visit <path>` for pageview goals, the event name for event goals).
 * `currency` (ISO 4217) makes it a revenue goal (event goals only).
 */
export interface Goal {
  id: string;
  kind: "pageview" | "event";
  match: string;
  name: string;
  currency?: string;
  /** Only events whose props hold all these pairs count (Plausible's goal custom props). */
  customProps?: Record<string, string>;
}

/** A funnel of a site: 2–8 goals (by id) a visitor completes in order within one visit. */
export interface Funnel {
  id: string;
  name: string;
  steps: string[];
}

/** One step of a funnel's answer. */
export interface FunnelStepResult {
  goal: string;
  visitors: number;
  /** % of the first step's visitors who reached this step (2 decimals). */
  conversionRate: number;
  /** Visitors of the previous step who did not reach this one. */
  dropoff: number;
}

// ---------------------------------------------------------------------------
// Helpers shared by parsers and executors

/** Is this string a dimension name (incl. `event:props:<name>`)? */
export function isDimension(name: unknown): name is Dimension {
  if (typeof name !== "string") return false;
  if (name.startsWith(PROPS_PREFIX)) return name.length > PROPS_PREFIX.length && name.length <= 312;
  return (EVENT_DIMENSIONS as readonly string[]).includes(name) ||
    (VISIT_DIMENSIONS as readonly string[]).includes(name) ||
    (TIME_DIMENSIONS as readonly string[]).includes(name);
}

export function isTimeDimension(name: string): name is TimeDimension {
  return name === "time" || name.startsWith("time:");
}

/** The prop name of an `event:props:<name>` dimension, or null. */
export function propName(dimension: string): string | null {
  return dimension.startsWith(PROPS_PREFIX) ? dimension.slice(PROPS_PREFIX.length) : null;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The bucket `time` resolves to, as Plausible picks it (from the range's first
 * to its last instant): hours up to 48 hours (`day`, `24h`), days up to 40
 * days, weeks up to 52 weeks, else months.
 */
export function timeGrainFor(from: number, to: number): TimeGrain {
  const span = to - 1 - from;
  if (span < 49 * HOUR) return "hour";
  if (span < 41 * DAY) return "day";
  if (span < 53 * 7 * DAY) return "week";
  return "month";
}

/** The bucket of a query's time dimension, or null when it has none. */
export function timeGrainOf(
  q: Pick<ResolvedQuery, "dimensions" | "from" | "to" | "timeGrain">,
): TimeGrain | null {
  const dim = q.dimensions.find(isTimeDimension);
  if (dim === undefined) return null;
  if (dim === "time") return q.timeGrain ?? timeGrainFor(q.from, q.to);
  return dim.slice("time:".length) as TimeGrain;
}

/** Visits every leaf of a filter tree (with whether it sits under a behavioural filter). */
export function walkFilters(
  tree: FilterTree,
  visit: (leaf: ValueFilter, behavioural: boolean) => void,
): void {
  const go = (t: FilterTree, behavioural: boolean) => {
    switch (t[0]) {
      case "and":
      case "or":
        for (const child of t[1] as FilterTree[]) go(child, behavioural);
        return;
      case "not":
        go(t[1] as FilterTree, behavioural);
        return;
      case "has_done":
      case "has_not_done":
        go(t[1] as FilterTree, true);
        return;
      default:
        visit(t as ValueFilter, behavioural);
    }
  };
  go(tree, false);
}

/** The dimensions a filter tree tests (outside behavioural filters unless `all`). */
export function filteredDimensions(tree: FilterTree, options: { all?: boolean } = {}): Set<FilterDimension> {
  const out = new Set<FilterDimension>();
  walkFilters(tree, (leaf, behavioural) => {
    if (options.all || !behavioural) out.add(leaf[1]);
  });
  return out;
}

/** The filter tree with no filters. */
export const NO_FILTERS: FilterTree = ["and", []];
