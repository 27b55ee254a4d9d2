/**
 * Behavioural queries over visit rows: a query whose filters hold or fail
 * for whole visits (`has_done`/`has_not_done`, with or without filters on
 * visit dimensions, `engine_filters.ts` visitLevelFilters), grouped by visit
 * dimensions only and asking only visit metrics and event counts, is
 * answered from the visits table (as Plausible answers it from its sessions
 * table) rather than from every event in the range joined to the matching
 * visits: the behavioural subquery is tested once per visit instead of once
 * per event, and visitors need no distinct count over events.
 *
 * Every event of such a visit in the range counts, so a visit wholly inside
 * the range gives its stored `pageviews` and `events`; the few visits that
 * cross the range's start or end ({@link crossingStatement}) count their
 * events in the range one by one. {@link statementsFor} picks these
 * statements or `engine_sql.ts`' {@link mainStatements}.
 *
 * ```ts
 * const statements = statementsFor(query, DUCKDB, options); // rows to add up per group
 * ```
 */
import type { ResolvedQuery } from "./query_ast.ts";
import {
  answersFromVisits,
  Binder,
  type Dialect,
  dimensionSql,
  mainStatements,
  OMIT_MISSING,
  type Statement,
  type StatementOptions,
  VISIT_GAP,
  visitsStatement,
} from "./engine_sql.ts";
import { filterSql, visitLevelFilters } from "./engine_filters.ts";

/** The metrics visit rows answer for behavioural queries (event counts from the visits' stored counts). */
const METRICS = new Set([
  "visitors",
  "visits",
  "pageviews",
  "events",
  "views_per_visit",
  "bounce_rate",
  "visit_duration",
  "percentage",
]);

/**
 * Whether visit rows answer the query (see the module doc): a range of at least a visit's longest gap
 * (so the visits with an event in it are those overlapping it), visit dimensions, visit-level filters.
 */
export function answersFromVisitRows(q: ResolvedQuery, metrics: readonly string[]): boolean {
  return q.to - q.from >= VISIT_GAP && metrics.every((m) => METRICS.has(m)) &&
    q.dimensions.every((d) => d.startsWith("visit:")) && visitLevelFilters(q.filters);
}

/** The statements whose rows, added up per group, give the query's main metrics. */
export function statementsFor(q: ResolvedQuery, D: Dialect, o: StatementOptions): Statement[] {
  if (answersFromVisits(q, o.metrics) || !answersFromVisitRows(q, o.metrics)) return mainStatements(q, D, o);
  const counts = o.metrics.some((m) => m === "pageviews" || m === "events" || m === "views_per_visit");
  return counts ? [visitsStatement(q, D, o, true), crossingStatement(q, D, o)] : [visitsStatement(q, D, o)];
}

/**
 * Pageviews and events in the range of the matching visits that cross its start or end (those the
 * visits statement leaves out of its counts), by the query's visit dimensions.
 */
export function crossingStatement(q: ResolvedQuery, D: Dialect, o: StatementOptions): Statement {
  const b = new Binder();
  const dimExprs = q.dimensions.map((d) => dimensionSql(d, q, D, b));
  const [from, to] = [b.bind(q.from), b.bind(q.to)];
  const where = [
    `v.site = ${b.bind(q.site)}`,
    `v.start_ts < ${to}`,
    `v.end_ts >= ${from}`,
    `(v.start_ts < ${from} OR v.end_ts >= ${to})`,
    `e.ts >= ${from}`,
    `e.ts < ${to}`,
    filterSql(q.filters, { q, D, goals: o.goals, b, engagement: false, where: true, visitId: "v.id" }),
  ];
  q.dimensions.forEach((d, i) => {
    if (OMIT_MISSING.has(d)) where.push(`${dimExprs[i]} IS NOT NULL`);
  });
  const names = q.dimensions.map((_, i) => `d${i}`);
  return b.finish(`SELECT ${[...dimExprs.map((x, i) => `${x} AS d${i}`), ""].join(", ")}
      0 AS visitors, 0 AS visits, SUM(CASE WHEN e.name = 'pageview' THEN 1 ELSE 0 END) AS pageviews,
      COUNT(*) AS events, NULL AS revenue, 0 AS revenue_events, 0 AS bounces, 0 AS bounce_visits, 0 AS duration_ms
    FROM ${D.events} e JOIN ${D.visits} v ON v.id = e.visit_id WHERE ${where.join(" AND ")}${
    names.length > 0 ? ` GROUP BY ${names.join(", ")}` : ""
  }`);
}
