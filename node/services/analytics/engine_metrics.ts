/**
 * Plausible's metrics from a group's sums, for both query paths: the
 * executor of Stats API v2 queries over raw events (`engine.ts`) and the
 * rollup and raw paths of the dashboard's queries (`query.ts`). Each adds
 * its rows up into one {@link GroupTotals} per group; {@link metricValue}
 * turns it into a metric, rounded as Plausible rounds it.
 *
 * ```ts
 * const t = zeroTotals();
 * t.visits = 4; t.pageviews = 6;
 * metricValue("views_per_visit", t); // 1.5
 * ```
 */
import type { Metric } from "./query_ast.ts";

/** Sums one group holds, from which every metric derives. */
export interface GroupTotals {
  visitors: number;
  visits: number;
  pageviews: number;
  events: number;
  /** Visits with one pageview, of the {@link bounceVisits}. */
  bounces: number;
  /** The visits whose bounce counts (all of them, or with a page filter those that entered on such a page). */
  bounceVisits: number;
  durationMs: number;
  revenue: number;
  revenueEvents: number;
  scrollTotal: number;
  scrollVisits: number;
  engagedMs: number;
  engagedVisits: number;
}

export const zeroTotals = (): GroupTotals => ({
  visitors: 0,
  visits: 0,
  pageviews: 0,
  events: 0,
  bounces: 0,
  bounceVisits: 0,
  durationMs: 0,
  revenue: 0,
  revenueEvents: 0,
  scrollTotal: 0,
  scrollVisits: 0,
  engagedMs: 0,
  engagedVisits: 0,
});

/** Denominators beyond the group: all visitors (`percentage`), converted ones, the group's own. */
export interface MetricContext {
  total?: number;
  converted?: number;
  group?: number;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Metric `m` of a group's totals `t`. */
export function metricValue(m: Metric, t: GroupTotals, c: MetricContext = {}): number {
  switch (m) {
    case "visitors":
      return t.visitors;
    case "visits":
      return t.visits;
    case "pageviews":
      return t.pageviews;
    case "events":
      return t.events;
    case "views_per_visit":
      return t.visits === 0 ? 0 : round(t.pageviews / t.visits, 2);
    case "bounce_rate":
      return t.bounceVisits === 0 ? 0 : Math.round((t.bounces / t.bounceVisits) * 100);
    case "visit_duration":
      return t.visits === 0 ? 0 : Math.round(t.durationMs / t.visits / 1000);
    case "scroll_depth":
      return t.scrollVisits === 0 ? 0 : Math.round(t.scrollTotal / t.scrollVisits);
    case "time_on_page":
      return t.engagedVisits === 0 ? 0 : Math.round(t.engagedMs / 1000 / t.engagedVisits);
    case "percentage":
      return c.total ? round((t.visitors / c.total) * 100, 1) : 0;
    case "conversion_rate":
      return c.converted ? round((t.visitors / c.converted) * 100, 2) : 0;
    case "group_conversion_rate":
      return c.group ? round((t.visitors / c.group) * 100, 2) : 0;
    case "total_revenue":
      return round(t.revenue, 2);
    case "average_revenue":
      return t.revenueEvents === 0 ? 0 : round(t.revenue / t.revenueEvents, 2);
  }
}
