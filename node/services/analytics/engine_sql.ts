/**
 * The SQL of a {@link ResolvedQuery} over the raw events, written once for
 * both engines: the columnar mirror (`duck_mirror.ts`, DuckDB) and the
 * node's SQLite file. A {@link Dialect} names the tables and the few
 * expressions that differ (the visitor key, a custom property, a regular
 * expression, time buckets); everything else is plain SQL both accept.
 *
 * Statements (each returns one row per group; `engine.ts` combines them):
 * - {@link mainStatement}: per group, visitors (distinct visitor-day keys),
 *   visits, pageviews, events, revenue, and with `bounce_rate` or
 *   `visit_duration` the per-visit bounce and duration (a visit counts
 *   when one of its events matches, with its whole-visit figures);
 * - {@link engagementStatement}: per group, from engagement events, the
 *   sum and count of each visit's maximum scroll depth and its engaged time.
 *
 * Behavioural queries by visit dimensions read visit rows instead
 * (`engine_visits.ts`); ungrouped distinct visits are counted in a bitmap of
 * visit ids on DuckDB ({@link countVisits}).
 *
 * Filters: a tree of leaves over events joined to their visit; `has_done`
 * keeps the visits with a matching event in the range. Dimension values
 * are labelled by `engine.ts` (times, goals, country names).
 */
import type { Dimension, Goal, ResolvedQuery, TimeGrain } from "./query_ast.ts";
import { filteredDimensions, propName, timeGrainOf } from "./query_ast.ts";
import {
  filterSql,
  goalCondition,
  leafSql,
  needsVisitJoin,
  needsVisitRow,
  onlyVisitFilters,
  topLevelLeaves,
  usesVisits,
  visitColumn,
} from "./engine_filters.ts";

export type Param = string | number | null;

/**
 * Collects a statement's parameters: {@link Binder.bind} returns a marker
 * that {@link Binder.finish} turns into `?`, with the parameters in the
 * order their markers appear in the text, however the text was assembled.
 */
export class Binder {
  readonly #values: Param[] = [];

  bind(value: Param): string {
    this.#values.push(value);
    return `\uE000${this.#values.length - 1}\uE000`;
  }

  finish(sql: string): { sql: string; params: Param[] } {
    const params: Param[] = [];
    const text = sql.replace(/\uE000(\d+)\uE000/g, (_, i) => {
      params.push(this.#values[Number(i)]);
      return "?";
    });
    return { sql: text, params };
  }
}

/** What differs between the engines. */
export interface Dialect {
  name: "duckdb" | "sqlite";
  events: string;
  visits: string;
  engagement: string;
  /** The visitor-day key of an event row `e` joined to its visit `v`. */
  visitorKey: string;
  /** The same key read from the event row alone (so a query without visit columns needs no join), or null. */
  eventVisitorKey: string | null;
  /** The key of a visit row `v`. */
  visitVisitorKey: string;
  /** Further event columns the statements read (`x.` prefixed). */
  eventColumns: string[];
  /** A table of each site's distinct pathnames (`site`, `pathname`), or null. */
  pages: string | null;
  /**
   * Visits and events carry `solo`: the visit is the only one of its visitor-day (see {@link countVisitors}).
   */
  solo: boolean;
  /**
   * The visit columns events carry too (their visit's first-event columns:
   * source, UTM tags, device, browser, OS, location), so that only entry and
   * exit pages need the visit row; none in SQLite.
   */
  visitColumnsOnEvents: readonly string[];
  /** A custom property's value of the event alias `x` (null when absent). */
  prop(x: string, name: string, b: Binder): string;
  /** `expr` matches the regular expression `pattern`. */
  regex(expr: string, pattern: string, b: Binder): string;
  /** The first ms of the `grain` bucket of `ts` (weeks start on Monday, not before `from`). */
  bucket(grain: TimeGrain, ts: string, from: number): string;
  /** The hostname of a visit's exit page. */
  exitHostname: string;
  /** The revenue amount of the event alias `x` as a number (null when none). */
  revenue: string;
}

export interface Statement {
  sql: string;
  params: Param[];
}

/** What a statement needs beyond the query. */
export interface StatementOptions {
  goals: readonly Goal[];
  /** Compute the per-visit bounce and duration (two-level grouping). */
  visitFigures: boolean;
  /** The currency revenue is summed in when the query has no `event:goal` dimension. */
  currency: string | null;
  /** The metrics asked (decides whether the visits table alone answers). */
  metrics: readonly string[];
  /**
   * Bounds of the ids of the visits overlapping the range (DuckDB): visits are then counted as the bits
   * set in a bitmap of that span instead of a hashed distinct count (see {@link countVisits}). @default none
   */
  visitIds?: VisitIdSpan;
}

/** The smallest and largest visit id of a range (see {@link StatementOptions.visitIds}). */
export interface VisitIdSpan {
  min: number;
  max: number;
}

/** The widest span counted in a bitmap: 2^28 visit ids, 32 MiB per thread. */
export const MAX_VISIT_ID_SPAN = 2 ** 28;

/** The statement giving a range's {@link VisitIdSpan} (`min` and `max`; both null without visits). */
export function visitIdSpanStatement(q: ResolvedQuery, D: Dialect): Statement {
  const b = new Binder();
  return b.finish(`SELECT MIN(v.id) AS min, MAX(v.id) AS max FROM ${D.visits} v
    WHERE v.site = ${b.bind(q.site)} AND v.start_ts < ${b.bind(q.to)} AND v.end_ts >= ${b.bind(q.from)}`);
}

/**
 * The distinct visits of ungrouped event rows `e`, exactly: with a {@link VisitIdSpan}, the bits a bitmap
 * over the span has set (DuckDB's `bitstring_agg`: no hashing, and a few times cheaper than a distinct
 * count at millions of visits), plus a distinct count of any id outside the span; else a distinct count.
 */
function countVisits(span: VisitIdSpan | undefined): string {
  if (!span || !Number.isSafeInteger(span.min) || !Number.isSafeInteger(span.max)) {
    return "COUNT(DISTINCT e.visit_id)";
  }
  // Literals, not parameters: the two uses (visitors and visits) are then one aggregate to DuckDB.
  const [min, max] = [span.min, span.max];
  const inside = `e.visit_id BETWEEN ${min} AND ${max}`;
  return `(COALESCE(bit_count(bitstring_agg(e.visit_id, ${min}, ${max}) FILTER (WHERE ${inside})), 0)
    + COUNT(DISTINCT e.visit_id) FILTER (WHERE NOT (${inside})))`;
}

/** A dimension's expression over `e` joined to `v` (`event:goal` is the goal's index). */
export function dimensionSql(d: Dimension, q: ResolvedQuery, D: Dialect, b: Binder, v = "v"): string {
  const prop = propName(d);
  if (prop !== null) return `COALESCE(${D.prop("e", prop, b)}, '(none)')`;
  if (d === "time" || d.startsWith("time:")) return D.bucket(timeGrainOf(q) as TimeGrain, "e.ts", q.from);
  switch (d) {
    case "event:page":
      return "e.pathname";
    case "event:name":
      return "e.name";
    case "event:hostname":
      return "e.hostname";
    case "event:goal":
      return "e.goal_index";
  }
  return visitColumn(d, D, v);
}

/**
 * Visitors over rows that are one visit each: distinct visitor-day `key`s. With {@link Dialect.solo},
 * a visit alone in its visitor-day counts one without going through the distinct count (hashing every
 * key is most of a raw query's work); only the visits of visitor-days with several are counted distinct.
 */
export function countVisitors(D: Dialect, key: string, solo: string): string {
  return D.solo
    ? `(COUNT(*) FILTER (WHERE ${solo}) + COUNT(DISTINCT ${key}) FILTER (WHERE NOT ${solo}))`
    : `COUNT(DISTINCT ${key})`;
}

/**
 * {@link countVisitors} over event rows (several per visit): the distinct visits, less those whose
 * visitor-day has others, plus those visitor-days (only their rows go through a second distinct count).
 */
function countEventVisitors(
  D: Dialect,
  key: string,
  solo: string,
  visits = "COUNT(DISTINCT e.visit_id)",
): string {
  return D.solo
    ? `(${visits} - COUNT(DISTINCT e.visit_id) FILTER (WHERE NOT ${solo})
      + COUNT(DISTINCT ${key}) FILTER (WHERE NOT ${solo}))`
    : `COUNT(DISTINCT ${key})`;
}

/** Dimensions whose rows are left out where the visit has no value. */
export const OMIT_MISSING = new Set([
  "visit:entry_page",
  "visit:exit_page",
  "visit:country",
  "visit:country_name",
  "visit:region",
  "visit:region_name",
  "visit:city",
  "visit:city_name",
]);

/** The columns of events `x` a statement reads (a props map copied for every event costs). */
function sourceColumns(q: ResolvedQuery, D: Dialect, withVisitColumns: boolean): string[] {
  const usesProps = q.dimensions.some((d) => propName(d) !== null) ||
    [...filteredDimensions(q.filters, { all: true })].some((d) => propName(d) !== null);
  const columns = ["x.id", "x.ts", "x.name", "x.pathname", "x.hostname", "x.visit_id", ...D.eventColumns];
  if (usesProps) columns.push("x.props");
  if (withVisitColumns) columns.push(...D.visitColumnsOnEvents.map((c) => `x.${c}`));
  return columns;
}

/**
 * The events of the range: as stored, or with `event:goal` grouped, once per goal each completes
 * (`onlyGoal`: the events of that goal alone).
 */
function eventsSource(
  q: ResolvedQuery,
  D: Dialect,
  o: StatementOptions,
  b: Binder,
  withVisitColumns: boolean,
  onlyGoal?: number,
): string {
  const columns = sourceColumns(q, D, withVisitColumns);
  const range = `x.site = ${b.bind(q.site)} AND x.ts >= ${b.bind(q.from)} AND x.ts < ${b.bind(q.to)}`;
  const revenue = (currency: string | null | undefined) =>
    currency ? `CASE WHEN x.revenue_currency = ${b.bind(currency)} THEN ${D.revenue} END` : "NULL";
  if (!q.dimensions.includes("event:goal")) {
    return `(SELECT ${columns.join(", ")}, ${revenue(o.currency)} AS rev FROM ${D.events} x WHERE ${range})`;
  }
  if (o.goals.length === 0) {
    return `(SELECT ${
      columns.join(", ")
    }, -1 AS goal_index, NULL AS rev FROM ${D.events} x WHERE ${range} AND 1 = 0)`;
  }
  return `(${
    o.goals.flatMap((g, i) =>
      onlyGoal === undefined || onlyGoal === i
        ? [`SELECT ${columns.join(", ")}, ${i} AS goal_index, ${revenue(g.currency)} AS rev FROM ${D.events} x
        WHERE ${range} AND ${goalCondition(g, "x", D, b)}`]
        : []
    ).join(" UNION ALL ")
  })`;
}

/** Metrics a visit row answers exactly (with {@link VISIT_TIMEOUT}-long ranges or longer). */
const VISIT_ROW_METRICS = new Set(["visitors", "visits", "bounce_rate", "visit_duration", "percentage"]);
/** A visit's events span no gap longer than this (`sessions.ts`' VISIT_TIMEOUT). */
export const VISIT_GAP = 30 * 60_000;

/**
 * Whether the visits table alone answers the query (Plausible's sessions
 * table): only visit dimensions and filters, and visit metrics. A range of
 * at least a visit's longest gap holds an event of every visit that
 * overlaps it, so "visits with an event in the range" are the overlapping ones.
 */
export function answersFromVisits(q: ResolvedQuery, metrics: readonly string[]): boolean {
  return q.to - q.from >= VISIT_GAP && metrics.every((m) => VISIT_ROW_METRICS.has(m)) &&
    q.dimensions.every((d) => d.startsWith("visit:")) && onlyVisitFilters(q.filters);
}

/**
 * {@link mainStatements} over the visits table (see {@link answersFromVisits}); with `counts`, also the
 * pageviews and events of the visits wholly inside the range (`engine_visits.ts` adds the others').
 */
export function visitsStatement(
  q: ResolvedQuery,
  D: Dialect,
  o: StatementOptions,
  counts = false,
): Statement {
  const b = new Binder();
  const dimExprs = q.dimensions.map((d) => dimensionSql(d, q, D, b));
  const where = [
    `v.site = ${b.bind(q.site)}`,
    `v.start_ts < ${b.bind(q.to)}`,
    `v.end_ts >= ${b.bind(q.from)}`,
    filterSql(q.filters, { q, D, goals: o.goals, b, engagement: false, where: true, visitId: "v.id" }),
  ];
  const whole = `v.start_ts >= ${b.bind(q.from)} AND v.end_ts < ${b.bind(q.to)}`;
  const inside = (column: string) => counts ? `SUM(CASE WHEN ${whole} THEN ${column} ELSE 0 END)` : "0";
  q.dimensions.forEach((d, i) => {
    if (OMIT_MISSING.has(d)) where.push(`${dimExprs[i]} IS NOT NULL`);
  });
  const names = q.dimensions.map((_, i) => `d${i}`);
  return b.finish(`SELECT ${[...dimExprs.map((x, i) => `${x} AS d${i}`), ""].join(", ")}
      ${countVisitors(D, D.visitVisitorKey, "v.solo")} AS visitors, COUNT(*) AS visits,
      ${inside("v.pageviews")} AS pageviews, ${inside("v.events")} AS events,
      NULL AS revenue, 0 AS revenue_events,
      SUM(CASE WHEN v.pageviews = 1 THEN 1 ELSE 0 END) AS bounces,
      COUNT(*) AS bounce_visits, SUM(v.end_ts - v.start_ts) AS duration_ms
    FROM ${D.visits} v WHERE ${where.join(" AND ")}${
    names.length > 0 ? ` GROUP BY ${names.join(", ")}` : ""
  }`);
}

/**
 * The statements whose rows, added up per group, give the query's main
 * metrics; see the module doc. With `bounce_rate` or `visit_duration` and
 * only visit dimensions, the events give the counts and the matching
 * visits (a semi-join) their figures, which is cheaper than grouping the
 * events by visit; with event dimensions, events are grouped by visit.
 */
export function mainStatements(q: ResolvedQuery, D: Dialect, o: StatementOptions): Statement[] {
  if (answersFromVisits(q, o.metrics)) return [visitsStatement(q, D, o)];
  // By goal: one statement per goal, each counting its own events (distinct counts of a few smaller
  // groups are cheaper than of their union grouped by goal); the groups do not overlap.
  const byGoal = (make: (goal?: number) => Statement) =>
    q.dimensions.includes("event:goal") && o.goals.length > 0 ? o.goals.map((_, i) => make(i)) : [make()];
  if (!o.visitFigures) return byGoal((g) => eventsStatement(q, D, o, false, true, g));
  if (q.dimensions.every((d) => d.startsWith("visit:"))) {
    // The matching visits give visitors and visits too; the events only what they count.
    const counts = o.metrics.some((m) => EVENT_COUNT_METRICS.has(m));
    return [...(counts ? [eventsStatement(q, D, o, false, false)] : []), visitFiguresStatement(q, D, o)];
  }
  return byGoal((g) => eventsStatement(q, D, o, true, true, g));
}

/** `entered`: 1 for a visit whose bounce counts (as Plausible: with an event:page filter, visits that entered on such a page). */
function enteredSql(q: ResolvedQuery, D: Dialect, o: StatementOptions, b: Binder): string {
  const pageFilter = topLevelLeaves(q.filters).filter((l) => l[1] === "event:page");
  if (pageFilter.length === 0) return "1";
  const cond = pageFilter.map((l) => leafSql(l, { q, D, goals: o.goals, b, engagement: false })).join(
    " AND ",
  );
  return `CASE WHEN ${cond.replaceAll("e.pathname", "v.entry_page")} THEN 1 ELSE 0 END`;
}

/** Metrics that count events (as opposed to visits or visitors). */
const EVENT_COUNT_METRICS = new Set([
  "pageviews",
  "events",
  "views_per_visit",
  "total_revenue",
  "average_revenue",
]);

/** Visitors, visits, bounces and durations of the visits with a matching event, by visit dimensions. */
function visitFiguresStatement(q: ResolvedQuery, D: Dialect, o: StatementOptions): Statement {
  const b = new Binder();
  const dimExprs = q.dimensions.map((d) => dimensionSql(d, q, D, b));
  const entered = enteredSql(q, D, o, b);
  const range = `e.site = ${b.bind(q.site)} AND e.ts >= ${b.bind(q.from)} AND e.ts < ${b.bind(q.to)}`;
  const joined = needsVisitJoin(q.filters, D);
  const filter = filterSql(q.filters, {
    q,
    D,
    goals: o.goals,
    b,
    engagement: false,
    visitAlias: joined ? "v" : "e",
    where: true,
  });
  const join = joined ? `JOIN ${D.visits} v ON v.id = e.visit_id` : "";
  const where = [`v.id IN (SELECT e.visit_id FROM ${D.events} e ${join} WHERE ${range} AND ${filter})`];
  q.dimensions.forEach((d, i) => {
    if (OMIT_MISSING.has(d)) where.push(`${dimExprs[i]} IS NOT NULL`);
  });
  const names = q.dimensions.map((_, i) => `d${i}`);
  return b.finish(`SELECT ${[...dimExprs.map((x, i) => `${x} AS d${i}`), ""].join(", ")}
      ${countVisitors(D, D.visitVisitorKey, "v.solo")} AS visitors, COUNT(*) AS visits, 0 AS pageviews,
      0 AS events, NULL AS revenue, 0 AS revenue_events,
      SUM(CASE WHEN v.pageviews = 1 THEN ${entered} ELSE 0 END) AS bounces, SUM(${entered}) AS bounce_visits,
      SUM(v.end_ts - v.start_ts) AS duration_ms
    FROM ${D.visits} v WHERE ${where.join(" AND ")}${
    names.length > 0 ? ` GROUP BY ${names.join(", ")}` : ""
  }`);
}

/** The events' counts per group; with `byVisit`, also the figures of their visits (grouped by visit first). */
function eventsStatement(
  q: ResolvedQuery,
  D: Dialect,
  o: StatementOptions,
  byVisit: boolean,
  distinct = true,
  onlyGoal?: number,
): Statement {
  // Without columns only the visit row has, an engine that keeps the visitor key on events skips the join
  // (with visit figures, it joins the visits after grouping the events by visit).
  const joinVisits = D.eventVisitorKey === null || needsVisitJoin(q.filters, D) ||
    q.dimensions.some((d) => needsVisitRow(d, D));
  const readsVisit = usesVisits(q.filters) || q.dimensions.some((d) => d.startsWith("visit:"));
  const b = new Binder();
  const source = eventsSource(q, D, o, b, !joinVisits && readsVisit, onlyGoal);
  const v = joinVisits ? "v" : "e";
  const dimExprs = q.dimensions.map((d) => dimensionSql(d, q, D, b, v));
  const where = [
    filterSql(q.filters, { q, D, goals: o.goals, b, engagement: false, visitAlias: v, where: true }),
  ];
  q.dimensions.forEach((d, i) => {
    if (OMIT_MISSING.has(d)) where.push(`${dimExprs[i]} IS NOT NULL`);
  });
  // One goal's statement: its goal is a constant, not a group (a grouped distinct count costs several times
  // an ungrouped one in DuckDB).
  const constant = (i: number) => !byVisit && onlyGoal !== undefined && q.dimensions[i] === "event:goal";
  const dimCols = dimExprs.map((x, i) => `${constant(i) ? onlyGoal : x} AS d${i}`);
  const names = q.dimensions.map((_, i) => `d${i}`);
  const groupBy = (extra: string[]) => {
    const keys = [...names.filter((_, i) => !constant(i)), ...extra];
    return keys.length > 0 ? `GROUP BY ${keys.join(", ")}` : "";
  };
  const visitorKey = joinVisits ? D.visitorKey : D.eventVisitorKey as string;
  const from = `FROM ${source} e ${joinVisits ? `JOIN ${D.visits} v ON v.id = e.visit_id` : ""}
    WHERE ${where.join(" AND ")}`;
  const pageview = "CASE WHEN e.name = 'pageview' THEN 1 ELSE 0 END";
  if (!byVisit) {
    // Ungrouped rows (one goal's, or no dimensions) count their visits in a bitmap when the span is known.
    const ungrouped = names.every((_, i) => constant(i));
    const visits = countVisits(ungrouped && D.name === "duckdb" ? o.visitIds : undefined);
    const counts = distinct
      ? `${countEventVisitors(D, visitorKey, `${v}.solo`, visits)} AS visitors, ${visits} AS visits`
      : "0 AS visitors, 0 AS visits";
    return b.finish(`SELECT ${[...dimCols, ""].join(", ")}
      ${counts},
      SUM(${pageview}) AS pageviews, COUNT(*) AS events, SUM(e.rev) AS revenue, COUNT(e.rev) AS revenue_events,
      0 AS bounces, 0 AS bounce_visits, 0 AS duration_ms
      ${from} ${groupBy([])}`);
  }
  const entered = enteredSql(q, D, o, b);
  if (!joinVisits) {
    // Group the events by visit first, then join each group's visit once.
    return b.finish(`SELECT ${[...names, ""].join(", ")}
      ${countVisitors(D, "t.vkey", "v.solo")} AS visitors, COUNT(*) AS visits, SUM(t.pv) AS pageviews,
      SUM(t.ev) AS events,
      SUM(t.rev) AS revenue, SUM(t.rev_n) AS revenue_events,
      SUM(CASE WHEN v.pageviews = 1 THEN ${entered} ELSE 0 END) AS bounces,
      SUM(${entered}) AS bounce_visits, SUM(v.end_ts - v.start_ts) AS duration_ms
    FROM (
      SELECT ${[...dimCols, ""].join(", ")} e.visit_id AS vid, MIN(${visitorKey}) AS vkey,
        SUM(${pageview}) AS pv, COUNT(*) AS ev, SUM(e.rev) AS rev, COUNT(e.rev) AS rev_n
      ${from} ${groupBy(["e.visit_id"])}
    ) t JOIN ${D.visits} v ON v.id = t.vid ${
      names.length > 0 ? `GROUP BY ${names.map((n) => `t.${n}`).join(", ")}` : ""
    }`);
  }
  return b.finish(`SELECT ${[...names, ""].join(", ")}
      ${countVisitors(D, "vkey", "solo")} AS visitors, COUNT(*) AS visits, SUM(pv) AS pageviews,
      SUM(ev) AS events, SUM(rev) AS revenue, SUM(rev_n) AS revenue_events, SUM(bounce * entered) AS bounces,
      SUM(entered) AS bounce_visits, SUM(dur) AS duration_ms
    FROM (
      SELECT ${[...dimCols, ""].join(", ")} MIN(${D.visitorKey}) AS vkey,${
    D.solo ? " bool_and(v.solo) AS solo," : ""
  } SUM(${pageview}) AS pv,
        COUNT(*) AS ev, SUM(e.rev) AS rev, COUNT(e.rev) AS rev_n,
        MAX(CASE WHEN v.pageviews = 1 THEN 1 ELSE 0 END) AS bounce, MAX(${entered}) AS entered,
        MAX(v.end_ts - v.start_ts) AS dur
      ${from} ${groupBy(["e.visit_id"])}
    ) t ${groupBy([])}`);
}

/**
 * Per group, from engagement events: `scroll_total`/`scroll_visits` (each
 * visit's maximum scroll depth ≤ 100) and `engaged_ms`/`engaged_visits`.
 */
export function engagementStatement(q: ResolvedQuery, D: Dialect, o: StatementOptions): Statement {
  const b = new Binder();
  const dimExprs = q.dimensions.map((d) => dimensionSql(d, q, D, b));
  const where = [`e.site = ${b.bind(q.site)}`, `e.ts >= ${b.bind(q.from)}`, `e.ts < ${b.bind(q.to)}`];
  where.push(filterSql(q.filters, { q, D, goals: o.goals, b, engagement: true, where: true }));
  q.dimensions.forEach((d, i) => {
    if (OMIT_MISSING.has(d)) where.push(`${dimExprs[i]} IS NOT NULL`);
  });
  // Engagement outside any visit counts nowhere; the visit's columns are read only when asked for.
  const needsVisit = usesVisits(q.filters) || q.dimensions.some((d) => d.startsWith("visit:"));
  const join = needsVisit ? `JOIN ${D.visits} v ON v.id = e.visit_id` : "";
  if (!needsVisit) where.push("e.visit_id IS NOT NULL");
  const names = q.dimensions.map((_, i) => `d${i}`);
  const group = (extra: string[]) =>
    names.length + extra.length > 0 ? `GROUP BY ${[...names, ...extra].join(", ")}` : "";
  return b.finish(`SELECT ${[...names, ""].join(", ")}
      SUM(max_depth) AS scroll_total, COUNT(max_depth) AS scroll_visits,
      SUM(engaged) AS engaged_ms, SUM(CASE WHEN engaged > 0 THEN 1 ELSE 0 END) AS engaged_visits
    FROM (
      SELECT ${[...dimExprs.map((x, i) => `${x} AS d${i}`), ""].join(", ")}
        MAX(CASE WHEN e.scroll_depth <= 100 THEN e.scroll_depth END) AS max_depth,
        COALESCE(SUM(e.engaged_ms), 0) AS engaged
      FROM ${D.engagement} e ${join}
      WHERE ${where.join(" AND ")} ${group(["e.visit_id"])}
    ) t ${group([])}`);
}
