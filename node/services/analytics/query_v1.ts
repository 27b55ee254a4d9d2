/**
 * Plausible's Stats API v1 (`GET /api/v1/stats/aggregate|timeseries|breakdown`)
 * for the integrations that still speak it: its query parameters (`period`,
 * `date`, `metrics`, `filters` in the `key==a|b;key!=c;key~d` syntax with
 * `*`/`**` wildcards on pages, goals and hostnames, `property`, `interval`,
 * `limit`/`page`, `compare=previous_period`, `with_imported`) are translated to
 * a {@link ResolvedQuery} ({@link parseQueryV1}), run by the same executor as
 * v2, and the rows shaped as v1 answers them ({@link shapeV1}). Errors are
 * {@link QueryError}s with Plausible's v1 messages.
 *
 * v1 periods include `date` (default today, UTC): `day`; `7d` (the 7 days
 * ending on it); `30d` (the 30 days before it and the day itself, 31 in
 * all, as Plausible's v1 counts); `month`; `6mo`/`12mo` (whole months, the
 * current one last); `custom` with `date=YYYY-MM-DD,YYYY-MM-DD`.
 */
import {
  type FilterTree,
  type Goal,
  isDimension,
  isTimeDimension,
  type Metric,
  PROPS_PREFIX,
  type QueryAnswer,
  type ResolvedQuery,
  type TimeGrain,
  type ValueFilter,
} from "./query_ast.ts";
import { pagePatternSource } from "./goals.ts";
import { QueryError } from "./query_error.ts";

export type V1Endpoint = "aggregate" | "timeseries" | "breakdown";

const DAY = 86_400_000;
const PERIODS = ["day", "7d", "30d", "month", "6mo", "12mo", "custom"];
const V1_METRICS = [
  "visitors",
  "visits",
  "pageviews",
  "views_per_visit",
  "bounce_rate",
  "visit_duration",
  "events",
  "conversion_rate",
  "time_on_page",
];
const SESSION_METRICS = ["visits", "bounce_rate", "visit_duration", "views_per_visit"];
const MAX_BREAKDOWN_LIMIT = 1000;
const DOCS = "https://plausible.io/docs/stats-api";
const KNOWN_PARAMS = [
  "site_id",
  "period",
  "date",
  "metrics",
  "filters",
  "property",
  "interval",
  "limit",
  "page",
  "compare",
  "with_imported",
];

/** A v1 request resolved: the query to run, and what shaping the answer needs. */
export interface ParsedV1 {
  query: ResolvedQuery;
  /** With `compare=previous_period`: the same query over the range just before. */
  previous?: ResolvedQuery;
  endpoint: V1Endpoint;
}

/**
 * Translates v1 query parameters. `site_id` must already be known to be the
 * site's. Throws {@link QueryError} with Plausible's messages.
 */
export function parseQueryV1(
  endpoint: V1Endpoint,
  params: Record<string, string>,
  ctx: { now: number; goals: readonly Goal[] },
): ParsedV1 {
  const site = params.site_id;
  if (!site) {
    throw new QueryError("Missing site ID. Please provide the required site_id parameter with your request.");
  }
  for (const key of Object.keys(params)) {
    if (!KNOWN_PARAMS.includes(key)) {
      throw new QueryError(`Unknown parameter '${key.slice(0, 40)}'. Accepted: ${KNOWN_PARAMS.join(", ")}.`);
    }
  }
  const period = params.period ?? "30d";
  if (!PERIODS.includes(period)) {
    throw new QueryError(
      `Error parsing \`period\` parameter: invalid period \`${period}\`. Please find accepted values in our ` +
        `docs: ${DOCS}#time-periods`,
    );
  }
  const { from, to } = resolvePeriod(period, params.date, ctx.now);

  let dimensions: string[] = [];
  if (endpoint === "breakdown") {
    const property = params.property;
    if (property === undefined || property === "") {
      throw new QueryError(
        "The `property` parameter is required. Please provide at least one property to show a breakdown by.",
      );
    }
    if (property === "event:hostname") {
      throw new QueryError(
        "Property 'event:hostname' is currently not supported for breakdowns.  Please provide a valid property " +
          `for the breakdown endpoint: ${DOCS}#properties`,
      );
    }
    if (!isDimension(property) || isTimeDimension(property)) {
      throw new QueryError(
        `Invalid property '${property}'. Please provide a valid property for the breakdown endpoint: ${DOCS}#properties`,
      );
    }
    dimensions = [property];
  }

  let grain: TimeGrain | undefined;
  if (endpoint === "timeseries") {
    const interval = params.interval === "date" ? "day" : params.interval;
    if (interval !== undefined && interval !== "day" && interval !== "month") {
      throw new QueryError(
        `Error parsing \`interval\` parameter: invalid interval \`${interval}\`. Valid intervals are \`day\`, \`month\``,
      );
    }
    grain = interval ?? (period === "day" ? "hour" : period === "6mo" || period === "12mo" ? "month" : "day");
    dimensions = [`time:${grain}`];
  }

  const filters = params.filters ? parseV1Filters(params.filters, ctx.goals) : [];
  const metrics = parseV1Metrics(params.metrics ?? "visitors", dimensions, filters);

  let pagination = { limit: 10_000, offset: 0 };
  if (endpoint === "breakdown") {
    const limit = params.limit === undefined ? 100 : strictInt(params.limit);
    if (limit === null || limit < 1 || limit > MAX_BREAKDOWN_LIMIT) {
      throw new QueryError(`Please provide limit as a number between 1 and ${MAX_BREAKDOWN_LIMIT}.`);
    }
    const page = params.page === undefined ? 1 : strictInt(params.page);
    if (page === null || page < 1) throw new QueryError("Please provide page as a positive number.");
    pagination = { limit, offset: (page - 1) * limit };
  }
  if (params.compare !== undefined && params.compare !== "previous_period") {
    throw new QueryError(`Invalid compare '${params.compare.slice(0, 40)}'. Use previous_period.`);
  }

  const query: ResolvedQuery = {
    site,
    from,
    to,
    timezone: "UTC",
    metrics,
    dimensions: dimensions as ResolvedQuery["dimensions"],
    filters: ["and", filters],
    orderBy: grain ? [[`time:${grain}`, "asc"]] : [[metrics[0], "desc"]],
    include: { imports: params.with_imported === "true", timeLabels: grain !== undefined, totalRows: false },
    pagination,
    ...(grain ? { timeGrain: grain } : {}),
  };
  const parsed: ParsedV1 = { query, endpoint };
  if (endpoint === "aggregate" && params.compare === "previous_period") {
    parsed.previous = { ...query, from: from - (to - from), to: from };
  }
  return parsed;
}

function strictInt(s: string): number | null {
  return /^\d{1,9}$/.test(s) ? Number(s) : null;
}

/** `[from, to)` of a v1 period around `date` (default today, UTC). */
export function resolvePeriod(
  period: string,
  date: string | undefined,
  now: number,
): { from: number; to: number } {
  if (period === "custom") {
    if (date === undefined) {
      throw new QueryError(
        `The \`date\` parameter is required when using a custom period. See ${DOCS}#time-periods`,
      );
    }
    const parts = date.split(",").map((s) => parseDay(s.trim()));
    if (parts.length !== 2 || parts[0] === null || parts[1] === null) {
      throw new QueryError(
        "Invalid format for `date` parameter. When using a custom period, please include two ISO-8601 formatted " +
          `dates joined by a comma. See ${DOCS}#time-periods`,
      );
    }
    if (parts[1] < parts[0]) throw new QueryError("Invalid `date` parameter: the end is before the start.");
    return { from: parts[0], to: parts[1] + DAY };
  }
  let day = Math.floor(now / DAY) * DAY;
  if (date !== undefined) {
    const parsed = parseDay(date);
    if (parsed === null) {
      throw new QueryError(
        "Error parsing `date` parameter: invalid_format. Please specify a valid date in ISO-8601 format.",
      );
    }
    day = parsed;
  }
  const d = new Date(day);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  switch (period) {
    case "day":
      return { from: day, to: day + DAY };
    case "7d":
      return { from: day - 6 * DAY, to: day + DAY };
    case "30d":
      return { from: day - 30 * DAY, to: day + DAY };
    case "month":
      return { from: Date.UTC(y, m, 1), to: Date.UTC(y, m + 1, 1) };
    case "6mo":
      return { from: Date.UTC(y, m - 5, 1), to: Date.UTC(y, m + 1, 1) };
    default: // 12mo
      return { from: Date.UTC(y, m - 11, 1), to: Date.UTC(y, m + 1, 1) };
  }
}

function parseDay(s: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!match) return null;
  const ms = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return new Date(ms).toISOString().slice(0, 10) === s ? ms : null;
}

/** Splits on `sep` not preceded by a backslash, then unescapes `\|`. */
function splitUnescaped(s: string, sep: string): string[] {
  return s.split(new RegExp(`(?<!\\\\)\\${sep}`)).map((part) => part.replaceAll(`\\${sep}`, sep));
}

/** v1's filter syntax → leaves (joined by AND). */
export function parseV1Filters(text: string, goals: readonly Goal[]): FilterTree[] {
  if (text.length > 10_000) throw new QueryError("Invalid filters: at most 10 000 characters.");
  const out: FilterTree[] = [];
  for (const raw of text.split(";")) {
    const str = raw.trim();
    if (str === "") continue;
    const match = /^(.*?)(==|!=|~)(.*)$/s.exec(str);
    if (!match) {
      throw new QueryError(
        `Invalid filter '${str.slice(0, 100)}'. Use property==value, property!=value or property~value.`,
      );
    }
    const key = match[1].trim();
    const op = match[2];
    const rawValue = match[3].trim();
    if (!isDimension(key) || isTimeDimension(key)) {
      throw new QueryError(
        `Invalid filter property '${
          key.slice(0, 100)
        }'. Please provide a valid filter property: ${DOCS}#properties`,
      );
    }
    const values = splitUnescaped(rawValue, "|").map((v) => v.trim());
    if (key === "event:goal") {
      const configured = new Set(goals.map((g) => g.name));
      const missing = values.find((v) => !configured.has(v));
      if (missing !== undefined) {
        const what = missing.startsWith("Visit ")
          ? `The pageview goal for the pathname \`${missing.slice(6)}\` is not configured for this site. `
          : `The goal \`${missing}\` is not configured for this site. `;
        throw new QueryError(`${what}Find out how to configure goals here: ${DOCS}#filtering-by-goals`);
      }
      out.push([op === "~" ? "contains" : "is", "event:goal", values] as ValueFilter);
      continue;
    }
    const wildcard = /page|hostname/.test(key) && values.some((v) => v.includes("*"));
    if (op === "~") out.push(["contains", key, values] as ValueFilter);
    else if (wildcard) {
      out.push([op === "!=" ? "matches_not" : "matches", key, values.map(pagePatternSource)] as ValueFilter);
    } else out.push([op === "!=" ? "is_not" : "is", key, values] as ValueFilter);
  }
  return out;
}

function parseV1Metrics(text: string, dimensions: string[], filters: FilterTree[]): Metric[] {
  const metrics = text.split(",").map((m) => m.trim());
  if (new Set(metrics).size !== metrics.length) {
    throw new QueryError("Metrics cannot be queried multiple times.");
  }
  const filtered = new Set(filters.map((f) => f[1] as string));
  const eventOnly = (d: string) => d === "event:name" || d === "event:goal" || d.startsWith(PROPS_PREFIX);
  const breakdown = dimensions.filter((d) => !isTimeDimension(d));
  for (const metric of metrics) {
    if (!V1_METRICS.includes(metric)) {
      throw new QueryError(
        `The metric \`${metric}\` is not recognized. Find valid metrics from the documentation: ${DOCS}#metrics`,
      );
    }
    if (metric === "time_on_page") {
      if (filtered.has("event:goal")) {
        throw new QueryError("Metric `time_on_page` cannot be queried when filtering by `event:goal`");
      }
      if (filtered.has("event:name")) {
        throw new QueryError("Metric `time_on_page` cannot be queried when filtering by `event:name`");
      }
      if (breakdown.length > 0 && breakdown[0] !== "event:page") {
        throw new QueryError(
          "Metric `time_on_page` is not supported in breakdown queries (except `event:page` breakdown)",
        );
      }
      if (breakdown.length === 0 && !filtered.has("event:page")) {
        throw new QueryError(
          "Metric `time_on_page` can only be queried in a page breakdown or with a page filter.",
        );
      }
    }
    if (metric === "conversion_rate" && breakdown[0] !== "event:goal" && !filtered.has("event:goal")) {
      throw new QueryError(
        "Metric `conversion_rate` can only be queried in a goal breakdown or with a goal filter",
      );
    }
    if (metric === "views_per_visit") {
      if (filtered.has("event:page")) {
        throw new QueryError("Metric `views_per_visit` cannot be queried with a filter on `event:page`.");
      }
      if (breakdown.length > 0) {
        throw new QueryError("Metric `views_per_visit` is not supported in breakdown queries.");
      }
    }
    if (SESSION_METRICS.includes(metric)) {
      if (breakdown.length === 1 && eventOnly(breakdown[0])) {
        throw new QueryError(
          `Session metric \`${metric}\` cannot be queried for breakdown by \`${breakdown[0]}\`.`,
        );
      }
      const f = [...filtered].find(eventOnly);
      if (f !== undefined) {
        throw new QueryError(
          `Session metric \`${metric}\` cannot be queried when using a filter on \`${f}\`.`,
        );
      }
    }
  }
  return metrics as Metric[];
}

/** The v1 key of a property's column: `event:page` → `page`, `event:props:plan` → `plan`. */
export function v1Key(dimension: string): string {
  if (dimension.startsWith(PROPS_PREFIX)) return dimension.slice(PROPS_PREFIX.length);
  return dimension.slice(dimension.indexOf(":") + 1);
}

/** The v1 answer body of an executed query (and its previous period). */
export function shapeV1(
  parsed: ParsedV1,
  answer: QueryAnswer,
  previous?: QueryAnswer,
): Record<string, unknown> {
  const q = parsed.query;
  const warning = answer.meta.imports_skip_reason === "unsupported_query" || answer.meta.imports_warning
    ? {
      warning:
        "Imported stats are not included in the results because query parameters are not supported. For " +
        `more information, see: ${DOCS}#filtering-imported-stats`,
    }
    : {};
  if (parsed.endpoint === "aggregate") {
    const now = answer.results[0]?.metrics ?? q.metrics.map(() => 0);
    const before = previous?.results[0]?.metrics;
    const results: Record<string, { value: number; change?: number | null }> = {};
    q.metrics.forEach((m, i) => {
      results[m] = { value: now[i] ?? 0 };
      if (before) results[m].change = change(m, now[i] ?? 0, before[i] ?? 0);
    });
    return { results, ...warning };
  }
  if (parsed.endpoint === "timeseries") {
    const byLabel = new Map(answer.results.map((r) => [r.dimensions[0], r.metrics]));
    const labels = answer.meta.time_labels ?? answer.results.map((r) => r.dimensions[0]);
    const results = labels.map((label) => {
      const values = byLabel.get(label);
      const row: Record<string, unknown> = { date: label };
      q.metrics.forEach((m, i) => row[m] = values?.[i] ?? 0);
      return row;
    });
    return { results, ...warning };
  }
  const key = v1Key(q.dimensions[0]);
  const results = answer.results.map((r) => {
    const value = r.dimensions[0];
    const row: Record<string, unknown> = {
      [key]: q.dimensions[0] === "visit:city" && /^\d+$/.test(value) ? Number(value) : value,
    };
    q.metrics.forEach((m, i) => row[m] = r.metrics[i]);
    return row;
  });
  return { results, ...warning };
}

/** v1's `change`: a percentage (integer), except rates, which change by their difference. */
function change(metric: string, now: number, before: number): number | null {
  if (metric === "bounce_rate" || metric === "conversion_rate") {
    return Math.round((now - before) * 10) / 10;
  }
  if (before === 0) return now > 0 ? 100 : 0;
  return Math.round(((now - before) / before) * 100);
}
