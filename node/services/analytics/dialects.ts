/**
 * The two {@link Dialect}s of `engine_sql.ts`: DuckDB over the mirror's
 * tables (`duck_mirror.ts`) and SQLite over the node's own tables, plus the
 * `REGEXP` function SQLite needs for `matches` filters and page goals.
 *
 * ```ts
 * registerRegexp(db); // once per SQLite connection
 * const { sql, params } = mainStatement(query, SQLITE, options);
 * ```
 */
import type { DatabaseSync } from "node:sqlite";
import type { TimeGrain } from "./query_ast.ts";
import type { Binder, Dialect } from "./engine_sql.ts";

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** A JSON path naming one key exactly (`$."the key"`). */
function jsonKey(name: string): string {
  return `$."${name.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** Integer-division bucket expressions; `div` is the dialect's integer division. */
function bucket(div: (a: string, b: number) => string, month: (ts: string) => string) {
  return (grain: TimeGrain, ts: string, from: number): string => {
    switch (grain) {
      case "hour":
        return `(${div(ts, HOUR)} * ${HOUR})`;
      case "day":
        return `(${div(ts, DAY)} * ${DAY})`;
      case "week": {
        // Day 0 (1970-01-01) was a Thursday: (day + 3) % 7 is the days since Monday.
        const d = div(ts, DAY);
        const first = Math.floor(from / DAY) * DAY;
        return `(CASE WHEN (${d} - (${d} + 3) % 7) * ${DAY} < ${first} THEN ${first}
          ELSE (${d} - (${d} + 3) % 7) * ${DAY} END)`;
      }
      case "month":
        return month(ts);
    }
  };
}

/** The visit columns the mirror copies onto each event (set at the visit's first event, never updated). */
export const EVENT_VISIT_COLUMNS = [
  "source",
  "referrer",
  "utm_source",
  "utm_medium",
  "utm_campaign",
  "utm_content",
  "utm_term",
  "device",
  "browser",
  "os",
  "country",
  "region",
  "city",
  "city_name",
  "region_name",
];

export const DUCKDB: Dialect = {
  name: "duckdb",
  events: "events",
  visits: "visits",
  engagement: "engagement",
  visitorKey: "e.vkey",
  eventVisitorKey: "e.vkey",
  visitVisitorKey: "v.vkey",
  eventColumns: ["x.vkey", "x.solo"],
  solo: true,
  pages: "pages",
  visitColumnsOnEvents: EVENT_VISIT_COLUMNS,
  prop: (x: string, name: string, b: Binder) => `map_extract_value(${x}.props, ${b.bind(name)})`,
  regex: (expr: string, pattern: string, b: Binder) => `regexp_matches(${expr}, ${b.bind(pattern)})`,
  bucket: bucket(
    (a, n) => `(${a} // ${n})`,
    (ts) => `epoch_ms(date_trunc('month', make_timestamp(${ts} * 1000)))`,
  ),
  exitHostname: "v.exit_hostname",
  revenue: "x.revenue_amount",
};

export const SQLITE: Dialect = {
  name: "sqlite",
  events: "analytics_events",
  visits: "analytics_visits",
  engagement: "analytics_engagement",
  visitorKey: "v.visitor_id || ':' || v.day",
  eventVisitorKey: null,
  visitVisitorKey: "v.visitor_id || ':' || v.day",
  eventColumns: [],
  solo: false,
  pages: null,
  visitColumnsOnEvents: [],
  prop: (x: string, name: string, b: Binder) => `json_extract(${x}.props, ${b.bind(jsonKey(name))})`,
  regex: (expr: string, pattern: string, b: Binder) => `(${expr} REGEXP ${b.bind(pattern)})`,
  bucket: bucket(
    (a, n) => `(${a} / ${n})`,
    (ts) => `(CAST(strftime('%s', ${ts} / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000)`,
  ),
  exitHostname: `(SELECT x.hostname FROM analytics_events x
    WHERE x.visit_id = v.id AND x.ts = v.exit_ts AND x.name = 'pageview' LIMIT 1)`,
  revenue: "CAST(x.revenue_amount AS REAL)",
};

/**
 * Adds `REGEXP` to a SQLite connection: JavaScript regular expressions,
 * a leading `(?i)` (RE2's case-insensitive flag) read as the `i` flag.
 */
export function registerRegexp(db: DatabaseSync): void {
  const cache = new Map<string, RegExp>();
  db.function("regexp", { deterministic: true }, (pattern, value) => {
    if (typeof pattern !== "string" || typeof value !== "string") return 0;
    let re = cache.get(pattern);
    if (!re) {
      re = pattern.startsWith("(?i)") ? new RegExp(pattern.slice(4), "i") : new RegExp(pattern);
      if (cache.size > 1000) cache.clear();
      cache.set(pattern, re);
    }
    return re.test(value) ? 1 : 0;
  });
}
