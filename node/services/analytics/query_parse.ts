/**
 * The stats query's request shape (Plausible's Stats API v2): its metrics,
 * dimensions, filters and date ranges, and {@link parseStatsQuery}, which
 * validates a body and resolves its range. Every error is a `TypeError` whose
 * message names the field. `query.ts` plans and runs the parsed query.
 *
 * ```ts
 * const { query, from, to } = parseStatsQuery(
 *   { site_id: "example.com", date_range: "7d", metrics: ["visitors"] },
 *   { now: Date.now(), firstEventTs: null },
 * );
 * ```
 */
import {
  STATS_DATE_RANGES,
  STATS_METRICS,
  type StatsDateRange,
  type StatsMetric,
} from "../../../protocol/analytics.ts";
import { day } from "../../constants.ts";
import { checkDomain } from "./schema.ts";

export const METRICS = STATS_METRICS;
export type Metric = StatsMetric;

export const DIMENSIONS = [
  "event:page",
  "event:name",
  "visit:entry_page",
  "visit:exit_page",
  "visit:source",
  "visit:referrer",
  "visit:utm_source",
  "visit:utm_medium",
  "visit:utm_campaign",
  "visit:utm_content",
  "visit:utm_term",
  "visit:device",
  "visit:browser",
  "visit:os",
  "time:hour",
  "time:day",
  "time:month",
] as const;
export type Dimension = typeof DIMENSIONS[number];

export const FILTER_OPS = ["is", "is_not", "contains"] as const;
export type FilterOp = typeof FILTER_OPS[number];
export type Filter = [FilterOp, Dimension, string[]];

export const DATE_RANGES = STATS_DATE_RANGES;
export type DateRange = StatsDateRange | [string, string];

export type OrderBy = [Metric | Dimension, "asc" | "desc"];

/** A `POST /api/v2/query` body. */
export interface StatsQuery {
  /** The site's domain. */
  site_id: string;
  date_range: DateRange;
  metrics: Metric[];
  /** @default [] */
  dimensions?: Dimension[];
  /** Joined by AND. @default [] */
  filters?: Filter[];
  /** @default time dimensions ascending, else the first metric descending */
  order_by?: OrderBy[];
  /** @default { limit: 10000, offset: 0 } */
  pagination?: { limit?: number; offset?: number };
}

/** The query as it was run, echoed in the answer. */
export interface NormalizedStatsQuery {
  site_id: string;
  /** First and last included instants, ISO 8601 UTC. */
  date_range: [string, string];
  metrics: Metric[];
  dimensions: Dimension[];
  filters: Filter[];
  order_by: OrderBy[];
  pagination: { limit: number; offset: number };
}

export interface StatsRow {
  metrics: number[];
  dimensions: string[];
}

/** The answer of `POST /api/v2/query`. */
export interface StatsResult {
  results: StatsRow[];
  meta: Record<string, unknown>;
  query: NormalizedStatsQuery;
}

/** A parsed query with its range as half-open `[from, to)` ms. */
export interface ParsedStatsQuery {
  query: NormalizedStatsQuery;
  from: number;
  to: number;
}

export const MAX_LIMIT = 10_000;
const MAX_FILTER_VALUES = 100;
const MAX_VALUE_LENGTH = 2048;
const QUERY_KEYS = ["site_id", "date_range", "metrics", "dimensions", "filters", "order_by", "pagination"];

/** A field of the query that cannot be run; its message names the field. */
function invalid(field: string, problem: string): TypeError {
  return new TypeError(`Invalid "${field}": ${problem}`);
}

const show = (value: unknown) => JSON.stringify(value)?.slice(0, 80) ?? String(value);

export interface ParseStatsQueryOptions {
  /** The clock, ms since the epoch. @default Date.now() */
  now?: number;
  /** The site's first event, for `"all"`. @default today */
  firstEventTs?: number | null;
}

/**
 * Validates a query body and resolves its date range. Throws `TypeError`
 * whose message names the offending field.
 */
export function parseStatsQuery(input: unknown, options: ParseStatsQueryOptions = {}): ParsedStatsQuery {
  const now = options.now ?? Date.now();
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new TypeError("Invalid query: expected a JSON object with site_id, date_range and metrics");
  }
  const body = input as Record<string, unknown>;
  for (const key of Object.keys(body)) {
    if (!QUERY_KEYS.includes(key)) {
      throw invalid(key, `unknown field; use ${QUERY_KEYS.join(", ")}`);
    }
  }
  if (body.site_id === undefined) throw invalid("site_id", "required (the site's domain)");
  try {
    checkDomain(body.site_id);
  } catch (err) {
    throw invalid("site_id", (err as Error).message);
  }
  const site = body.site_id as string;

  if (body.date_range === undefined) {
    throw invalid("date_range", `required; use ${DATE_RANGES.join(", ")} or [from, to]`);
  }
  const [from, to] = resolveDateRange(body.date_range, now, options.firstEventTs ?? null);

  const metrics = readList(body.metrics, "metrics", METRICS, { required: true });
  const dimensions = readList(body.dimensions, "dimensions", DIMENSIONS, { required: false });

  const filters: Filter[] = [];
  if (body.filters !== undefined) {
    if (!Array.isArray(body.filters)) {
      throw invalid("filters", "expected an array of [op, dimension, [values]]");
    }
    body.filters.forEach((f, i) => {
      const field = `filters[${i}]`;
      if (!Array.isArray(f) || f.length !== 3) throw invalid(field, "expected [op, dimension, [values]]");
      const [op, dim, values] = f;
      if (!FILTER_OPS.includes(op)) {
        throw invalid(`${field}[0]`, `unknown operator ${show(op)}; use ${FILTER_OPS.join(", ")}`);
      }
      if (!DIMENSIONS.includes(dim) || String(dim).startsWith("time:")) {
        throw invalid(`${field}[1]`, `cannot filter by ${show(dim)}; use an event: or visit: dimension`);
      }
      if (!Array.isArray(values) || values.length === 0 || values.length > MAX_FILTER_VALUES) {
        throw invalid(`${field}[2]`, `expected an array of 1 to ${MAX_FILTER_VALUES} strings`);
      }
      values.forEach((v, j) => {
        if (typeof v !== "string" || v.length > MAX_VALUE_LENGTH) {
          throw invalid(`${field}[2][${j}]`, `expected a string of at most ${MAX_VALUE_LENGTH} characters`);
        }
      });
      filters.push([op, dim, [...values]]);
    });
  }

  const orderBy: OrderBy[] = [];
  if (body.order_by !== undefined) {
    if (!Array.isArray(body.order_by)) {
      throw invalid("order_by", 'expected an array of [field, "asc"|"desc"]');
    }
    body.order_by.forEach((o, i) => {
      const field = `order_by[${i}]`;
      if (!Array.isArray(o) || o.length !== 2) throw invalid(field, 'expected [field, "asc"|"desc"]');
      const [name, dir] = o;
      if (!metrics.includes(name) && !dimensions.includes(name)) {
        throw invalid(`${field}[0]`, `${show(name)} is not one of the query's metrics or dimensions`);
      }
      if (dir !== "asc" && dir !== "desc") {
        throw invalid(`${field}[1]`, `expected "asc" or "desc", got ${show(dir)}`);
      }
      orderBy.push([name, dir]);
    });
  } else {
    const time = dimensions.find((d) => d.startsWith("time:"));
    orderBy.push(time ? [time, "asc"] : [metrics[0], "desc"]);
  }

  const pagination = { limit: MAX_LIMIT, offset: 0 };
  if (body.pagination !== undefined) {
    const p = body.pagination as Record<string, unknown>;
    if (typeof p !== "object" || p === null || Array.isArray(p)) {
      throw invalid("pagination", "expected { limit, offset }");
    }
    for (const key of Object.keys(p)) {
      if (key !== "limit" && key !== "offset") {
        throw invalid(`pagination.${key}`, "unknown field; use limit, offset");
      }
    }
    if (p.limit !== undefined) {
      if (!Number.isInteger(p.limit) || (p.limit as number) < 1 || (p.limit as number) > MAX_LIMIT) {
        throw invalid("pagination.limit", `expected an integer from 1 to ${MAX_LIMIT}, got ${show(p.limit)}`);
      }
      pagination.limit = p.limit as number;
    }
    if (p.offset !== undefined) {
      if (!Number.isInteger(p.offset) || (p.offset as number) < 0) {
        throw invalid("pagination.offset", `expected an integer ≥ 0, got ${show(p.offset)}`);
      }
      pagination.offset = p.offset as number;
    }
  }
  return {
    query: {
      site_id: site,
      date_range: [new Date(from).toISOString(), new Date(to - 1).toISOString()],
      metrics,
      dimensions,
      filters,
      order_by: orderBy,
      pagination,
    },
    from,
    to,
  };
}

function readList<T extends string>(
  value: unknown,
  field: string,
  allowed: readonly T[],
  options: { required: boolean },
): T[] {
  if (value === undefined && !options.required) return [];
  if (!Array.isArray(value) || (options.required && value.length === 0)) {
    throw invalid(
      field,
      `expected ${options.required ? "a non-empty" : "an"} array of ${allowed.join(", ")}`,
    );
  }
  const seen = new Set<string>();
  value.forEach((item, i) => {
    if (!allowed.includes(item)) {
      throw invalid(`${field}[${i}]`, `unknown ${show(item)}; use ${allowed.join(", ")}`);
    }
    if (seen.has(item)) throw invalid(`${field}[${i}]`, `${show(item)} is listed twice`);
    seen.add(item);
  });
  return value as T[];
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** `[from, to)` in ms for a date range, UTC. */
export function resolveDateRange(
  range: unknown,
  now: number,
  firstEventTs: number | null = null,
): [number, number] {
  const today = Math.floor(now / day) * day;
  switch (range) {
    case "day":
      return [today, today + day];
    case "7d":
      return [today - 6 * day, today + day];
    case "30d":
      return [today - 29 * day, today + day];
    case "month": {
      const d = new Date(today);
      const first = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
      return [first, Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)];
    }
    case "all": {
      const first = firstEventTs === null ? today : Math.min(today, Math.floor(firstEventTs / day) * day);
      return [first, today + day];
    }
  }
  if (!Array.isArray(range) || range.length !== 2) {
    throw invalid(
      "date_range",
      `expected ${DATE_RANGES.map((r) => `"${r}"`).join(", ")} or [from, to], got ${show(range)}`,
    );
  }
  const parse = (value: unknown, i: 0 | 1): number => {
    const field = `date_range[${i}]`;
    if (typeof value !== "string") throw invalid(field, "expected an ISO 8601 date or date-time string");
    if (DATE_RE.test(value)) {
      const ms = Date.parse(`${value}T00:00:00Z`);
      if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
        throw invalid(field, `${show(value)} is not a calendar date`);
      }
      return i === 0 ? ms : ms + day;
    }
    if (DATETIME_RE.test(value)) {
      const ms = Date.parse(value);
      if (Number.isNaN(ms)) throw invalid(field, `${show(value)} is not a valid date-time`);
      return i === 0 ? ms : ms + 1;
    }
    throw invalid(field, `expected "YYYY-MM-DD" or an ISO 8601 date-time with a zone, got ${show(value)}`);
  };
  const from = parse(range[0], 0);
  const to = parse(range[1], 1);
  if (to <= from) throw invalid("date_range", "the end is before the start");
  if (to - from > 20 * 366 * day) throw invalid("date_range", "spans more than 20 years");
  return [from, to];
}
