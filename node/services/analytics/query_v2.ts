/**
 * Plausible's Stats API v2 request (`POST /api/v2/query`) → {@link ResolvedQuery}:
 * the whole grammar (every metric and dimension, filter trees with
 * `and`/`or`/`not`, `has_done`/`has_not_done`, `contains`/`matches` and their
 * negations with `case_sensitive`, every `date_range` form, `include`,
 * `pagination`, `order_by`), checked with Plausible's own rules and answered,
 * when wrong, with Plausible's own messages (a {@link QueryError}), plus the
 * `query` echo of the answer.
 *
 * ```ts
 * const { query, echo } = parseQueryV2(
 *   { site_id: "example.com", date_range: "28d", metrics: ["visitors"], dimensions: ["time"] },
 *   { now: Date.now(), firstEventTs: null, goals: [] },
 * );
 * ```
 *
 * Everything is UTC (a site's time zone is UTC). Segments do not exist, so a
 * `segment` filter is refused as Plausible refuses an unknown one.
 */
import {
  type FilterTree,
  type Goal,
  isDimension,
  isTimeDimension,
  type Metric,
  METRICS,
  type OrderBy,
  PROPS_PREFIX,
  type ResolvedQuery,
  timeGrainFor,
} from "./query_ast.ts";
import { type DateRangeInput, resolveDateRangeV2 } from "./query_dates.ts";
import { inspect, QueryError } from "./query_error.ts";
import { checkBehavioural, collectDims, forEachLeaf, parseFilterTree } from "./query_filters.ts";

export { QueryError } from "./query_error.ts";

/** Largest `pagination.limit`, and its default. */
export const MAX_LIMIT = 10_000;
const TOP_KEYS = [
  "site_id",
  "metrics",
  "date_range",
  "dimensions",
  "filters",
  "order_by",
  "include",
  "pagination",
];
const INCLUDE_KEYS = ["imports", "time_labels", "total_rows"];

/** What the parser needs to know about the site and the clock. */
export interface ParseQueryContext {
  /** The clock, ms since the epoch. */
  now: number;
  /** The site's first event (for `"all"`), or null. */
  firstEventTs: number | null;
  /** The site's goals (`event:goal` filters must name one). */
  goals: readonly Goal[];
}

/** The `query` object of the answer: the query as it was run, in Plausible's form. */
export interface QueryEcho {
  site_id: string;
  metrics: Metric[];
  /** First and last included instants, `YYYY-MM-DDTHH:MM:SS+00:00`. */
  date_range: [string, string];
  filters: unknown[];
  dimensions: string[];
  order_by: [string, "asc" | "desc"][];
  include: { imports: boolean; time_labels: boolean; total_rows: boolean };
  pagination: { limit: number; offset: number };
}

const typeName = (v: unknown): string =>
  v === null
    ? "Null"
    : Array.isArray(v)
    ? "Array"
    : typeof v === "string"
    ? "String"
    : typeof v === "boolean"
    ? "Boolean"
    : typeof v === "number"
    ? (Number.isInteger(v) ? "Integer" : "Number")
    : "Object";

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function expectType(value: unknown, path: string, type: "Array" | "Object" | "Boolean" | "String"): void {
  const actual = typeName(value);
  if (actual !== type) throw new QueryError(`${path}: Type mismatch. Expected ${type} but got ${actual}.`);
}

function expectUnique(list: unknown[], path: string): void {
  const seen = new Set(list.map((x) => JSON.stringify(x)));
  if (seen.size !== list.length) {
    throw new QueryError(`${path}: Expected items to be unique but they were not.`);
  }
}

/**
 * Parses and checks a v2 query body. Throws {@link QueryError} (Plausible's
 * message, status 400) for anything Plausible refuses.
 */
export function parseQueryV2(
  input: unknown,
  ctx: ParseQueryContext,
): { query: ResolvedQuery; echo: QueryEcho } {
  // --- the shape (Plausible's JSON schema) ---
  if (!isObject(input)) expectType(input, "#", "Object");
  const body = input as Record<string, unknown>;
  const missing = ["site_id", "metrics", "date_range"].filter((k) => body[k] === undefined);
  if (missing.length === 1) throw new QueryError(`#: Required property ${missing[0]} was not present.`);
  if (missing.length > 1) {
    throw new QueryError(`#: Required properties ${missing.join(", ")} were not present.`);
  }
  for (const key of Object.keys(body)) {
    if (!TOP_KEYS.includes(key)) {
      throw new QueryError(`#/${key}: Schema does not allow additional properties.`);
    }
  }
  expectType(body.site_id, "#/site_id", "String");
  const site = body.site_id as string;

  expectType(body.metrics, "#/metrics", "Array");
  const rawMetrics = body.metrics as unknown[];
  if (rawMetrics.length === 0) throw new QueryError("#/metrics: Expected a minimum of 1 items but got 0.");
  rawMetrics.forEach((m, i) => {
    if (!(METRICS as readonly unknown[]).includes(m)) {
      throw new QueryError(`#/metrics/${i}: Invalid metric ${inspect(m)}`);
    }
  });
  expectUnique(rawMetrics, "#/metrics");
  const metrics = rawMetrics as Metric[];

  const range = resolveDateRangeV2(body.date_range as DateRangeInput, ctx.now, ctx.firstEventTs);

  let dimensions: string[] = [];
  if (body.dimensions !== undefined) {
    expectType(body.dimensions, "#/dimensions", "Array");
    const raw = body.dimensions as unknown[];
    raw.forEach((d, i) => {
      if (!isDimension(d)) throw new QueryError(`#/dimensions/${i}: Invalid dimension ${inspect(d)}`);
    });
    expectUnique(raw, "#/dimensions");
    dimensions = raw as string[];
  }

  const rawFilters: unknown[] = [];
  if (body.filters !== undefined) {
    expectType(body.filters, "#/filters", "Array");
    rawFilters.push(...body.filters as unknown[]);
  }
  const budget = { nodes: 0 };
  const filters = rawFilters.map((f, i) => parseFilterTree(f, `#/filters/${i}`, f, 0, budget));

  let orderBy: OrderBy[] | null = null;
  if (body.order_by !== undefined) {
    expectType(body.order_by, "#/order_by", "Array");
    orderBy = (body.order_by as unknown[]).map((entry, i) => {
      const path = `#/order_by/${i}`;
      expectType(entry, path, "Array");
      const e = entry as unknown[];
      if (e.length !== 2) {
        throw new QueryError(
          `${path}: Expected ${e.length < 2 ? "a minimum" : "a maximum"} of 2 items but got ${e.length}.`,
        );
      }
      if (!(METRICS as readonly unknown[]).includes(e[0]) && !isDimension(e[0])) {
        throw new QueryError(
          `${path}/0: Expected exactly one of the schemata to match, but none of them did.`,
        );
      }
      if (e[1] !== "asc" && e[1] !== "desc") throw new QueryError(`${path}/1: Value is not allowed in enum.`);
      return [e[0], e[1]] as OrderBy;
    });
  }

  const include = { imports: false, time_labels: false, total_rows: false };
  if (body.include !== undefined) {
    expectType(body.include, "#/include", "Object");
    for (const [key, value] of Object.entries(body.include as Record<string, unknown>)) {
      if (!INCLUDE_KEYS.includes(key)) {
        throw new QueryError(`#/include/${key}: Schema does not allow additional properties.`);
      }
      expectType(value, `#/include/${key}`, "Boolean");
      include[key as keyof typeof include] = value as boolean;
    }
  }

  const pagination = { limit: MAX_LIMIT, offset: 0 };
  if (body.pagination !== undefined) {
    expectType(body.pagination, "#/pagination", "Object");
    for (const [key, value] of Object.entries(body.pagination as Record<string, unknown>)) {
      const path = `#/pagination/${key}`;
      if (key !== "limit" && key !== "offset") {
        throw new QueryError(`${path}: Schema does not allow additional properties.`);
      }
      if (typeName(value) !== "Integer") {
        throw new QueryError(`${path}: Type mismatch. Expected Integer but got ${typeName(value)}.`);
      }
      const n = value as number;
      if (key === "limit" && n < 1) throw new QueryError(`${path}: Expected the value to be >= 1`);
      if (key === "limit" && n > MAX_LIMIT) {
        throw new QueryError(`${path}: Expected the value to be <= ${MAX_LIMIT}`);
      }
      if (key === "offset" && n < 0) throw new QueryError(`${path}: Expected the value to be >= 0`);
      pagination[key] = n;
    }
  }

  // --- Plausible's rules across fields (its QueryBuilder, in its order) ---
  const timeDims = dimensions.filter(isTimeDimension);
  if (timeDims.length > 1) {
    throw new QueryError(`Invalid dimensions '${inspect(dimensions)}'. Only one time dimension is allowed.`);
  }
  const timeGrain = timeDims.length === 1
    ? (timeDims[0] === "time"
      ? timeGrainFor(range.from, range.to)
      : timeDims[0].slice(5) as ResolvedQuery["timeGrain"])
    : undefined;
  // `time` resolves to its bucket, in dimensions and in order_by (as Plausible's optimizer does).
  const resolveTime = (name: string) => name === "time" && timeGrain ? `time:${timeGrain}` : name;
  const resolvedDims = dimensions.map(resolveTime) as ResolvedQuery["dimensions"];

  if (orderBy !== null) {
    const queried = [...metrics, ...dimensions] as string[];
    for (const [value, dir] of orderBy) {
      if (!queried.includes(value)) {
        const shown = (METRICS as readonly string[]).includes(value) ? `:${value}` : inspect(value);
        throw new QueryError(
          `Invalid order_by entry '{${shown}, :${dir}}'. Entry is not a queried metric or dimension.`,
        );
      }
    }
    orderBy = orderBy.map(([v, d]) => [resolveTime(v), d] as OrderBy);
  } else {
    const time = resolvedDims.find((d) => isTimeDimension(d));
    orderBy = time ? [[time, "asc"], [metrics[0], "desc"]] : [[metrics[0], "desc"]];
  }

  // Dimensions used below the top level (inside and/or/not), outside behavioural filters.
  const deep = new Set<string>();
  const anywhere = new Set<string>();
  const topLevel = new Set<string>();
  for (const f of filters) collectDims(f, 0, 0, { deep, anywhere, topLevel });

  for (const dim of ["event:goal", "event:hostname"]) {
    if (deep.has(dim)) {
      throw new QueryError(`Invalid filters. Dimension \`${dim}\` can only be filtered at the top level.`);
    }
  }
  if (
    (metrics.includes("conversion_rate") || metrics.includes("group_conversion_rate")) &&
    [...deep].some((d) => d.startsWith(PROPS_PREFIX))
  ) {
    throw new QueryError(
      "Invalid filters. When `conversion_rate` or `group_conversion_rate` metrics are used, custom property " +
        "filters can only be used on top level.",
    );
  }
  for (const f of filters) checkBehavioural(f, 0);

  const goalNames = new Set(ctx.goals.map((g) => g.name));
  for (const f of filters) {
    forEachLeaf(f, (leaf) => {
      if (leaf[0] !== "is" || leaf[1] !== "event:goal") return;
      for (const clause of leaf[2]) {
        if (!goalNames.has(clause)) {
          throw new QueryError(
            `Invalid filters. The goal \`${clause}\` is not configured for this site. Find out how to configure ` +
              "goals here: https://plausible.io/docs/stats-api#filtering-by-goals",
          );
        }
      }
    });
  }

  for (const metric of metrics) checkMetric(metric, { dimensions, anywhere, topLevel });
  const sessionOnly = metrics.filter((m) => ["bounce_rate", "visit_duration", "views_per_visit"].includes(m));
  if (
    sessionOnly.length > 0 &&
    dimensions.some((d) => d.startsWith("event:") && d !== "event:page")
  ) {
    throw new QueryError(
      `Session metric(s) \`${sessionOnly.join(", ")}\` cannot be queried along with event dimensions.`,
    );
  }
  if (include.time_labels && timeDims.length === 0) {
    throw new QueryError("Invalid include.time_labels: requires a time dimension.");
  }

  const query: ResolvedQuery = {
    site,
    from: range.from,
    to: range.to,
    timezone: "UTC",
    metrics: [...metrics],
    dimensions: resolvedDims,
    filters: ["and", filters],
    orderBy,
    include: { imports: include.imports, timeLabels: include.time_labels, totalRows: include.total_rows },
    pagination,
    ...(timeGrain ? { timeGrain } : {}),
  };
  return { query, echo: echoOf(query) };
}

/** The `query` echo of a resolved query. */
export function echoOf(q: ResolvedQuery): QueryEcho {
  return {
    site_id: q.site,
    metrics: [...q.metrics],
    date_range: [formatInstant(q.from), formatInstant(q.to - 1)],
    filters: q.filters[0] === "and" ? [...q.filters[1] as FilterTree[]] : [q.filters],
    dimensions: [...q.dimensions],
    order_by: q.orderBy.map(([v, d]) => [v, d]),
    include: {
      imports: q.include.imports,
      time_labels: q.include.timeLabels,
      total_rows: q.include.totalRows,
    },
    pagination: { ...q.pagination },
  };
}

/** `2026-01-02T03:04:05+00:00`, as Plausible writes instants (whole seconds). */
export function formatInstant(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19) + "+00:00";
}

function checkMetric(
  metric: Metric,
  q: { dimensions: string[]; anywhere: Set<string>; topLevel: Set<string> },
): void {
  switch (metric) {
    case "conversion_rate":
    case "group_conversion_rate":
      if (!q.dimensions.includes("event:goal") && !q.anywhere.has("event:goal")) {
        throw new QueryError(
          `Metric \`${metric}\` can only be queried with event:goal filters or dimensions.`,
        );
      }
      return;
    case "scroll_depth":
      if (!q.dimensions.includes("event:page") && !q.topLevel.has("event:page")) {
        throw new QueryError(
          `Metric \`${metric}\` can only be queried with event:page filters or dimensions.`,
        );
      }
      return;
    case "time_on_page":
      if (!q.dimensions.includes("event:page") && !q.anywhere.has("event:page")) {
        throw new QueryError(
          `Metric \`${metric}\` can only be queried with event:page filters or dimensions.`,
        );
      }
      return;
    case "views_per_visit":
      if (q.anywhere.has("event:page")) {
        throw new QueryError(`Metric \`${metric}\` cannot be queried with a filter on \`event:page\`.`);
      }
      if (q.dimensions.length > 0) {
        throw new QueryError(`Metric \`${metric}\` cannot be queried with \`dimensions\`.`);
      }
      return;
  }
}
