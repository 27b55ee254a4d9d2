/**
 * The stats query: Plausible's Stats API v2 request shape, validated and
 * normalized by `parseStatsQuery` (`query_parse.ts`), answered by {@link runStatsQuery}
 * from the rollups when it can, and from the raw events otherwise:
 *
 * - `analytics_hourly`: whole UTC days, no filters, no dimension or only
 *   `time:day`/`time:month` (the top figures and the graph);
 * - `analytics_breakdowns`: whole UTC days, one other dimension, filters only
 *   on that dimension (plus `event:name is pageview` for `event:page`), and for
 *   `event:page`/`event:name` no `bounce_rate` or `visit_duration` — every
 *   table of the dashboard, over any number of days, in a few milliseconds;
 * - the raw events: everything else (other filters, several dimensions,
 *   ranges that are not whole days).
 *
 * Definitions, the same on every path:
 * - `visitors`: distinct (visitor id, UTC day of the visit start) pairs; visitor
 *   ids rotate daily, so one id never spans two days anyway.
 * - `visits`: visits with at least one matching event in the range.
 * - `pageviews`, `events`: matching events named `pageview`, and all matching events.
 * - `views_per_visit`: pageviews / visits, 2 decimals.
 * - `bounce_rate`: % of those visits with exactly one pageview (in the whole visit), integer.
 * - `visit_duration`: mean of (last − first event ts) over those visits, seconds, integer.
 *
 * One difference between the paths: the rollups put a visit (its visit,
 * visitor, bounce and duration) on the UTC day it starts, so a visit that
 * crosses midnight counts on its first day only, where the raw events count it
 * on both. Only the days at the edges of a range can differ, and only by such
 * visits; per hour (`time:hour`) the paths agree.
 *
 * Cost: the rollup paths read one row per day and value. The raw path reads
 * every event of the range (13–17 s for 10 million events on a 2-core
 * machine). The dashboard never needs it; an API client asking for other
 * filters or several dimensions over a long range does. {@link runStatsQuery}
 * runs it on the caller's thread; the node runs it with
 * {@link runStatsQueryWith} on a worker thread with its own read-only
 * connection (`reader.ts`), so its event loop keeps serving meanwhile.
 *
 * All dates are UTC. Differences from Plausible: errors use the Kosmos shape
 * `{ error: { code, message } }` rather than Plausible's `{ error: "…" }`;
 * filters are a flat list joined by AND (no `and`/`or`/`not` groups); `contains`
 * is case-sensitive; `include` and `event:props:*` are not supported.
 */
import type { Database } from "../db/mod.ts";
import { day } from "../../constants.ts";
import type { BreakdownDimension } from "./schema.ts";
import { type GroupTotals, metricValue, zeroTotals } from "./engine_metrics.ts";
import type { Dimension, Filter, Metric, ParsedStatsQuery, StatsResult } from "./query_parse.ts";

/** SQL over `analytics_events e JOIN analytics_visits v` for each dimension. */
const DIMENSION_SQL: Record<Dimension, string> = {
  "event:page": "e.pathname",
  "event:name": "e.name",
  "visit:entry_page": "v.entry_page",
  "visit:exit_page": "v.exit_page",
  "visit:source": "COALESCE(v.source, 'Direct / None')",
  "visit:referrer": "COALESCE(v.referrer, 'Direct / None')",
  "visit:utm_source": "COALESCE(v.utm_source, '(none)')",
  "visit:utm_medium": "COALESCE(v.utm_medium, '(none)')",
  "visit:utm_campaign": "COALESCE(v.utm_campaign, '(none)')",
  "visit:utm_content": "COALESCE(v.utm_content, '(none)')",
  "visit:utm_term": "COALESCE(v.utm_term, '(none)')",
  "visit:device": "v.device",
  "visit:browser": "v.browser",
  "visit:os": "v.os",
  "time:hour": "strftime('%Y-%m-%d %H:00:00', e.ts / 1000, 'unixepoch')",
  "time:day": "strftime('%Y-%m-%d', e.ts / 1000, 'unixepoch')",
  "time:month": "strftime('%Y-%m-01', e.ts / 1000, 'unixepoch')",
};

/** Sums from which every metric derives (here a visit's bounce always counts: `bounceVisits` is `visits`). */
type Totals = GroupTotals;

const zero = zeroTotals;

/** A row of the raw-events statement: its dimension columns `d0…` and the sums. */
export type EventRow = Record<string, number | string | null>;

/** Runs the raw-events statement (e.g. on another thread, over its own read connection). */
export type ReadEventRows = (sql: string, params: (string | number)[]) => Promise<EventRow[]>;

/**
 * Runs a parsed query against the analytics tables, on this thread. A query
 * the rollups cannot answer reads the raw events and blocks the caller for as
 * long as that takes; {@link runStatsQueryWith} runs that part elsewhere.
 */
export function runStatsQuery(db: Database, parsed: ParsedStatsQuery): StatsResult {
  const plan = planQuery(db, parsed);
  const groups = Array.isArray(plan)
    ? plan
    : eventGroups(db.prepare(plan.sql).all(...plan.params) as EventRow[], plan.dimNames);
  return toResult(parsed, groups);
}

/**
 * {@link runStatsQuery}, with the raw-events statement (if the query needs
 * it) run by `readRows`; the rollups are still read on this thread (a few
 * milliseconds at most).
 */
export async function runStatsQueryWith(
  db: Database,
  parsed: ParsedStatsQuery,
  readRows: ReadEventRows,
): Promise<StatsResult> {
  const plan = planQuery(db, parsed);
  const groups = Array.isArray(plan)
    ? plan
    : eventGroups(await readRows(plan.sql, plan.params), plan.dimNames);
  return toResult(parsed, groups);
}

/** Whether the query reads the raw events (every other query is answered by the rollups). */
export function readsRawEvents(parsed: ParsedStatsQuery): boolean {
  return !canUseRollups(parsed) && planBreakdown(parsed) === null;
}

/** The groups from the rollups, or the raw-events statement that gives them. */
function planQuery(db: Database, parsed: ParsedStatsQuery): Group[] | EventsStatement {
  if (canUseRollups(parsed)) return readRollups(db, parsed);
  const breakdown = planBreakdown(parsed);
  return breakdown ? readBreakdowns(db, parsed, breakdown) : eventsStatement(parsed);
}

function toResult({ query }: ParsedStatsQuery, groups: Group[]): StatsResult {
  if (query.dimensions.length === 0 && groups.length === 0) groups.push({ dims: [], totals: zero() });
  const rows = groups.map((g) => ({
    dimensions: g.dims,
    metrics: query.metrics.map((m) => metricValue(m, g.totals)),
  }));
  rows.sort((a, b) => {
    for (const [field, dir] of query.order_by) {
      const mi = query.metrics.indexOf(field as Metric);
      const x = mi >= 0 ? a.metrics[mi] : a.dimensions[query.dimensions.indexOf(field as Dimension)];
      const y = mi >= 0 ? b.metrics[mi] : b.dimensions[query.dimensions.indexOf(field as Dimension)];
      const c = x < y ? -1 : x > y ? 1 : 0;
      if (c !== 0) return dir === "asc" ? c : -c;
    }
    for (let i = 0; i < a.dimensions.length; i++) {
      if (a.dimensions[i] !== b.dimensions[i]) return a.dimensions[i] < b.dimensions[i] ? -1 : 1;
    }
    return 0;
  });
  const { limit, offset } = query.pagination;
  return { results: rows.slice(offset, offset + limit), meta: {}, query };
}

/** Whether the rollups answer the query exactly. */
function canUseRollups({ query, from, to }: ParsedStatsQuery): boolean {
  return query.filters.length === 0 && from % day === 0 && to % day === 0 &&
    query.dimensions.every((d) => d === "time:day" || d === "time:month");
}

interface Group {
  dims: string[];
  totals: Totals;
}

/** A query `analytics_breakdowns` answers: its rows and the filters on the grouped dimension itself. */
interface BreakdownPlan {
  dim: BreakdownDimension;
  /** `event:page` counted over pageviews only (`event:name is pageview`). */
  pageviews: boolean;
  filters: Filter[];
}

/** The metrics the `event:page` and `event:name` rows of `analytics_breakdowns` answer. */
const EVENT_ROW_METRICS: readonly Metric[] = ["visitors", "visits", "pageviews", "views_per_visit", "events"];

/**
 * How `analytics_breakdowns` answers the query, or `null` when it cannot:
 * whole UTC days, one dimension other than `time:day`/`time:month`, and
 * filters only on that dimension (they keep or drop whole rows), except that
 * `event:page` may also be filtered by `event:name is pageview`, which its
 * rows count apart. Pages and names have no bounce rate or visit duration there.
 */
function planBreakdown({ query, from, to }: ParsedStatsQuery): BreakdownPlan | null {
  if (from % day !== 0 || to % day !== 0 || query.dimensions.length !== 1) return null;
  const grouped = query.dimensions[0];
  if (grouped === "time:day" || grouped === "time:month") return null;
  if (
    (grouped === "event:page" || grouped === "event:name") &&
    !query.metrics.every((m) => EVENT_ROW_METRICS.includes(m))
  ) return null;
  let pageviews = false;
  const filters: Filter[] = [];
  for (const filter of query.filters) {
    const [op, filtered, values] = filter;
    if (filtered === grouped) {
      filters.push(filter);
    } else if (
      grouped === "event:page" && !pageviews && filtered === "event:name" && op === "is" &&
      values.length === 1 && values[0] === "pageview"
    ) {
      pageviews = true;
    } else {
      return null;
    }
  }
  return { dim: grouped, pageviews, filters };
}

function matches(value: string, [op, , values]: Filter): boolean {
  switch (op) {
    case "is":
      return values.includes(value);
    case "is_not":
      return !values.includes(value);
    case "contains":
      return values.some((v) => value.includes(v));
  }
}

function readBreakdowns(db: Database, { query, from, to }: ParsedStatsQuery, plan: BreakdownPlan): Group[] {
  // Over pageviews only, a page's events are its pageviews.
  const [visitors, visits, events] = plan.pageviews
    ? ["pageview_visitors", "pageview_visits", "pageviews"]
    : ["visitors", "visits", "events"];
  const rows = db.prepare(
    `SELECT value, SUM(${visitors}) AS visitors, SUM(${visits}) AS visits, SUM(pageviews) AS pageviews,
      SUM(${events}) AS events, SUM(bounces) AS bounces, SUM(duration_ms) AS duration_ms
     FROM analytics_breakdowns WHERE site = ? AND dim = ? AND day >= ? AND day < ? GROUP BY value`,
  ).all(query.site_id, plan.dim, from / day, to / day) as unknown as (HourRow & { value: string })[];
  const groups: Group[] = [];
  for (const r of rows) {
    // A value whose visits all moved away (an entry or exit page that changed) keeps a row of zeros.
    if ((r.visits ?? 0) <= 0 && (r.events ?? 0) <= 0) continue;
    const label = plan.dim === "time:hour" ? hourLabel(Number(r.value)) : r.value;
    if (!plan.filters.every((f) => matches(label, f))) continue;
    const totals = zero();
    addHour(totals, r);
    groups.push({ dims: [label], totals });
  }
  return groups;
}

/** "2024-03-15 10:00:00" for the hour starting at `ts`, as `time:hour` reads on the raw path. */
function hourLabel(ts: number): string {
  const iso = new Date(ts).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 13)}:00:00`;
}

function readRollups(db: Database, { query, from, to }: ParsedStatsQuery): Group[] {
  const site = query.site_id;
  const dim = query.dimensions[0] as "time:day" | "time:month" | undefined;
  const label = (ts: number) => {
    const iso = new Date(ts).toISOString();
    return dim === "time:month" ? `${iso.slice(0, 7)}-01` : iso.slice(0, 10);
  };
  const groups = new Map<string, Totals>();
  const get = (key: string) => {
    let t = groups.get(key);
    if (!t) groups.set(key, t = zero());
    return t;
  };
  const sums = `SUM(visitors) AS visitors, SUM(pageviews) AS pageviews, SUM(events) AS events,
    SUM(visits) AS visits, SUM(bounces) AS bounces, SUM(duration_ms) AS duration_ms`;
  if (dim) {
    const hours = db.prepare(
      `SELECT hour / ${day} AS d, ${sums} FROM analytics_hourly
       WHERE site = ? AND hour >= ? AND hour < ? GROUP BY d`,
    ).all(site, from, to) as unknown as (HourRow & { d: number })[];
    for (const r of hours) addHour(get(label(r.d * day)), r);
  } else {
    const r = db.prepare(`SELECT ${sums} FROM analytics_hourly WHERE site = ? AND hour >= ? AND hour < ?`)
      .get(site, from, to) as unknown as HourRow;
    addHour(get(""), r);
  }
  return [...groups].map(([key, totals]) => ({ dims: dim ? [key] : [], totals }));
}

interface HourRow {
  visitors: number | null;
  pageviews: number | null;
  events: number | null;
  visits: number | null;
  bounces: number | null;
  duration_ms: number | null;
}

function addHour(t: Totals, r: HourRow): void {
  t.visitors += r.visitors ?? 0;
  t.pageviews += r.pageviews ?? 0;
  t.events += r.events ?? 0;
  t.visits += r.visits ?? 0;
  t.bounceVisits += r.visits ?? 0;
  t.bounces += r.bounces ?? 0;
  t.durationMs += r.duration_ms ?? 0;
}

interface EventsStatement {
  sql: string;
  params: (string | number)[];
  /** Names of the dimension columns, in query order. */
  dimNames: string[];
}

/** The one statement that answers a query from the raw events. */
function eventsStatement({ query, from, to }: ParsedStatsQuery): EventsStatement {
  const where = ["e.site = ?", "e.ts >= ?", "e.ts < ?"];
  const params: (string | number)[] = [query.site_id, from, to];
  for (const [op, dim, values] of query.filters) {
    const expr = DIMENSION_SQL[dim];
    if (op === "contains") {
      where.push(`(${values.map(() => `instr(${expr}, ?) > 0`).join(" OR ")})`);
    } else {
      where.push(`${expr} ${op === "is" ? "IN" : "NOT IN"} (${values.map(() => "?").join(", ")})`);
      if (op === "is_not") where.push(`${expr} IS NOT NULL`);
    }
    params.push(...values);
  }
  for (const d of query.dimensions) {
    if (d === "visit:entry_page" || d === "visit:exit_page") where.push(`${DIMENSION_SQL[d]} IS NOT NULL`);
  }
  const dims = query.dimensions.map((d, i) => `${DIMENSION_SQL[d]} AS d${i}`);
  const dimNames = query.dimensions.map((_, i) => `d${i}`);
  const sql = `SELECT ${[...dimNames, ""].join(", ")}
      COUNT(DISTINCT vkey) AS visitors, COUNT(*) AS visits, SUM(pv) AS pageviews, SUM(ev) AS events,
      SUM(bounce) AS bounces, SUM(dur) AS duration_ms
    FROM (
      SELECT ${[...dims, ""].join(", ")} e.visit_id, v.visitor_id || ':' || v.day AS vkey,
        SUM(e.name = 'pageview') AS pv, COUNT(*) AS ev, (v.pageviews = 1) AS bounce, v.end_ts - v.start_ts AS dur
      FROM analytics_events e JOIN analytics_visits v ON v.id = e.visit_id
      WHERE ${where.join(" AND ")}
      GROUP BY ${[...dimNames, "e.visit_id"].join(", ")}
    )${dimNames.length > 0 ? ` GROUP BY ${dimNames.join(", ")}` : ""}`;
  return { sql, params, dimNames };
}

function eventGroups(rows: EventRow[], dimNames: string[]): Group[] {
  const groups: Group[] = [];
  for (const r of rows) {
    if (Number(r.visits) === 0) continue;
    groups.push({
      dims: dimNames.map((n) => String(r[n])),
      totals: {
        ...zeroTotals(),
        visitors: Number(r.visitors),
        visits: Number(r.visits),
        pageviews: Number(r.pageviews ?? 0),
        events: Number(r.events ?? 0),
        bounces: Number(r.bounces ?? 0),
        bounceVisits: Number(r.visits),
        durationMs: Number(r.duration_ms ?? 0),
      },
    });
  }
  return groups;
}
