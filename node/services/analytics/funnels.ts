/**
 * A funnel's answer over a range: for each step, the visitors who, within
 * one visit, completed the funnel's goals in order up to that step (events
 * of other kinds in between do not matter), as Plausible's funnels count
 * them. Visitors are distinct (visitor id, visit day) pairs, as everywhere
 * in the analytics.
 *
 * The statement reads only the range's events that may complete a step:
 * the steps' custom events, and pageviews whose path starts as a page
 * step's pattern does (`LIKE` on the part before its first `*`); the exact
 * patterns and custom props are checked here. It runs through `read`: the
 * node passes its events reader, so the scan happens on the worker thread.
 *
 * ```ts
 * const steps = await computeFunnel(read, "example.com", funnel, goals, { from, to });
 * ```
 */
import type { Funnel, FunnelStepResult, Goal } from "./query_ast.ts";
import { matchesGoal } from "./goals.ts";

/** Runs a read-only statement and answers its rows. */
export type ReadRows = (sql: string, params: (string | number)[]) => Promise<Record<string, unknown>[]>;

/** The `LIKE` pattern of the paths a page goal may match: its text up to the first `*`, escaped. */
function likePrefix(match: string): string {
  const star = match.indexOf("*");
  const prefix = star < 0 ? match : match.slice(0, star);
  return prefix.replace(/[\\%_]/g, (ch) => `\\${ch}`) + (star < 0 ? "" : "%");
}

export async function computeFunnel(
  read: ReadRows,
  site: string,
  funnel: Funnel,
  goals: readonly Goal[],
  range: { from: number; to: number },
): Promise<FunnelStepResult[]> {
  const steps = funnel.steps.map((id) => {
    const goal = goals.find((g) => g.id === id);
    if (!goal) {
      throw new TypeError(`The funnel ${JSON.stringify(funnel.name)} names a goal that no longer exists`);
    }
    return goal;
  });
  const names = [...new Set(steps.filter((g) => g.kind === "event").map((g) => g.match))];
  const pages = [...new Set(steps.filter((g) => g.kind === "pageview").map((g) => likePrefix(g.match)))];
  const rows = await read(
    `SELECT e.visit_id AS visit, e.visitor_id || ':' || v.day AS visitor, e.name, e.pathname, e.props
     FROM analytics_events e JOIN analytics_visits v ON v.id = e.visit_id
     WHERE e.site = ? AND e.ts >= ? AND e.ts < ?
       AND (e.name IN (SELECT value FROM json_each(?))
         OR (e.name = 'pageview' AND EXISTS (
           SELECT 1 FROM json_each(?) p WHERE e.pathname LIKE p.value ESCAPE '\\')))
     ORDER BY e.visit_id, e.ts, e.id`,
    [site, range.from, range.to, JSON.stringify(names), JSON.stringify(pages)],
  );
  // The furthest step each visitor reached in any one visit.
  const reached = new Map<string, number>();
  let visit: unknown = null;
  let next = 0;
  let visitor = "";
  const close = () => {
    if (next > 0 && next > (reached.get(visitor) ?? 0)) reached.set(visitor, next);
  };
  for (const row of rows) {
    if (row.visit !== visit) {
      close();
      visit = row.visit;
      visitor = String(row.visitor);
      next = 0;
    }
    if (next >= steps.length) continue;
    let props: Record<string, string> | null = null;
    if (steps[next].customProps && typeof row.props === "string") {
      try {
        props = JSON.parse(row.props);
      } catch {
        props = null;
      }
    }
    if (matchesGoal(steps[next], { name: String(row.name), pathname: String(row.pathname), props })) next++;
  }
  close();
  const counts = steps.map((_, i) => [...reached.values()].filter((n) => n > i).length);
  return steps.map((goal, i) => ({
    goal: goal.name,
    visitors: counts[i],
    conversionRate: counts[0] === 0 ? 0 : Math.round((counts[i] / counts[0]) * 10_000) / 100,
    dropoff: i === 0 ? 0 : counts[i - 1] - counts[i],
  }));
}
