/**
 * `include.imports`: a site's imported history (`analytics_imported`,
 * per day, source and dimension value: a Plausible CSV export or a GA4
 * export) merged into a query's groups where the imported tables can
 * answer it, as Plausible decides: at most one non-time dimension, which
 * the import kept; filters only on that dimension (or, without one, on a
 * single imported dimension); metrics the import has (no conversions,
 * scroll depth, time on page or revenue); time by day, week or month.
 * Otherwise `meta.imports_skip_reason` says why and `meta.imports_warning`
 * repeats Plausible's sentence. Imported visitors add up per day (an
 * export has no visitor ids to deduplicate).
 *
 * ```ts
 * mergeImports(db, query, goals, groups, meta); // meta.imports_included: true | false
 * ```
 */
import type { Database } from "../db/mod.ts";
import type { FilterTree, Goal, QueryMeta, ResolvedQuery, ValueFilter } from "./query_ast.ts";
import { isTimeDimension, timeGrainOf } from "./query_ast.ts";
import type { Group } from "./engine.ts";
import { zeroTotals } from "./engine_metrics.ts";
import { valueMatches } from "./engine_filters.ts";

/** The dimensions an import keeps (`analytics_imported.dim`; "" holds the totals). */
export const IMPORTED_DIMENSIONS = [
  "visit:source",
  "event:page",
  "visit:country",
  "visit:device",
  "visit:browser",
  "visit:os",
  "visit:entry_page",
  "visit:exit_page",
  "event:goal",
] as const;

const IMPORTED_METRICS = new Set([
  "visitors",
  "visits",
  "pageviews",
  "views_per_visit",
  "bounce_rate",
  "visit_duration",
  "events",
  "percentage",
]);

const UNSUPPORTED_WARNING =
  "Imported stats are not included in the results because query parameters are not supported. " +
  "For more information, see: https://plausible.io/docs/stats-api#filtering-imported-stats";

const DAY = 86_400_000;

/** The imported dimension the query reads and its filter leaves, or null when imports cannot answer it. */
function planImports(q: ResolvedQuery): { dim: string; leaves: ValueFilter[] } | null {
  if (!q.metrics.every((m) => IMPORTED_METRICS.has(m))) return null;
  const grain = timeGrainOf(q);
  if (grain === "hour") return null;
  const dims = q.dimensions.filter((d) => !isTimeDimension(d));
  if (dims.length > 1) return null;
  const tree = q.filters;
  const children: FilterTree[] = tree[0] === "and" ? tree[1] as FilterTree[] : [tree];
  const leaves: ValueFilter[] = [];
  for (const child of children) {
    if (["and", "or", "not", "has_done", "has_not_done"].includes(child[0])) return null;
    leaves.push(child as ValueFilter);
  }
  const filtered = new Set(leaves.map((l) => l[1] as string));
  const dim: string = dims[0] ?? [...filtered][0] ?? "";
  if (dim !== "" && !(IMPORTED_DIMENSIONS as readonly string[]).includes(dim)) return null;
  if ([...filtered].some((d) => d !== dim)) return null;
  return { dim, leaves };
}

/** Adds the imported rows to `groups` where the query allows it; says what it did in `meta`. */
export function mergeImports(
  db: Database,
  q: ResolvedQuery,
  goals: readonly Goal[],
  groups: Map<string, Group>,
  meta: QueryMeta,
): void {
  const exists = db.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'analytics_imported'",
  )
    .get();
  const plan = planImports(q);
  if (!plan) {
    meta.imports_included = false;
    meta.imports_skip_reason = "unsupported_query";
    meta.imports_warning = UNSUPPORTED_WARNING;
    return;
  }
  const fromDay = Math.ceil(q.from / DAY);
  const toDay = Math.floor(q.to / DAY);
  const rows = exists && toDay > fromDay
    ? db.prepare(
      `SELECT day, value, SUM(visitors) AS visitors, SUM(visits) AS visits, SUM(pageviews) AS pageviews,
        SUM(bounces) AS bounces, SUM(visit_duration) AS visit_duration, SUM(events) AS events
       FROM analytics_imported WHERE site = ? AND dim = ? AND day >= ? AND day < ? GROUP BY day, value`,
    ).all(q.site, plan.dim, fromDay, toDay) as {
      day: number;
      value: string;
      visitors: number;
      visits: number;
      pageviews: number;
      bounces: number;
      visit_duration: number;
      events: number;
    }[]
    : [];
  if (rows.length === 0) {
    meta.imports_included = false;
    meta.imports_skip_reason = "no_imported_data";
    return;
  }
  const grain = timeGrainOf(q);
  const firstDay = Math.floor(q.from / DAY) * DAY;
  const bucketOf = (day: number): number => {
    const t = day * DAY;
    if (grain === "week") return Math.max((day - ((day + 3) % 7)) * DAY, firstDay);
    if (grain === "month") {
      const d = new Date(t);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    }
    return t;
  };
  for (const r of rows) {
    if (
      !plan.leaves.every(([op, , values, mods]) => {
        const hit = valueMatches(r.value, op, values, mods?.case_sensitive ?? true);
        return op.endsWith("_not") ? !hit : hit;
      })
    ) continue;
    // Goals are grouped by their index, as the events statement returns them.
    const goal = goals.findIndex((g) => g.name === r.value);
    if (plan.dim === "event:goal" && q.dimensions.includes("event:goal") && goal < 0) continue;
    const raw = q.dimensions.map((d) =>
      isTimeDimension(d) ? bucketOf(r.day) : d === "event:goal" ? goal : r.value
    );
    const key = JSON.stringify(raw);
    let g = groups.get(key);
    if (!g) groups.set(key, g = { raw, totals: zeroTotals() });
    const t = g.totals;
    t.visitors += r.visitors;
    t.visits += r.visits;
    t.pageviews += r.pageviews;
    t.events += r.events;
    t.bounces += r.bounces;
    t.bounceVisits += r.visits;
    t.durationMs += r.visit_duration * 1000;
  }
  meta.imports_included = true;
}
