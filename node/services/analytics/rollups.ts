/**
 * The rollups the dashboard reads, kept up to date by deltas in the batch's
 * transaction: `analytics_hourly` (per site and UTC hour) and
 * `analytics_breakdowns` (per site, dimension, UTC day and value; see
 * `schema.ts` for what each row counts). {@link rebuildBreakdowns} recomputes
 * the breakdowns from the events; the property tests check the two agree.
 *
 * ```ts
 * const hours = new HourDeltas();
 * const breakdowns = new BreakdownDeltas();
 * hours.contribute(visit, 1);
 * addVisitBreakdowns(breakdowns, visit);
 * new Rollups(db).write(site, hours, breakdowns);
 * ```
 */
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import { type Database, transaction } from "../db/mod.ts";
import { day, hour } from "../../constants.ts";
import {
  ADD_BREAKDOWN,
  breakdownsFromEvents,
  EVENT_DIMENSIONS,
  type EventValues,
  FIXED_DIMENSIONS,
  floorTo,
  HOUR,
  NAME,
  PAGE,
  PAGEVIEW,
} from "./schema.ts";
import {
  figuresOf,
  type SeenVisits,
  type Sessions,
  storedFigures,
  storedLabels,
  visitDayOf,
  type VisitFigures,
  type VisitorDay,
  type VisitState,
} from "./sessions.ts";

/** Rows of `analytics_breakdowns` written by one statement. */
const BREAKDOWN_ROWS = 32;

export interface HourDelta {
  visitors: number;
  pageviews: number;
  events: number;
  visits: number;
  bounces: number;
  durationMs: number;
}

export interface BreakdownDelta extends HourDelta {
  dim: string;
  day: number;
  value: string;
  /** `event:page` only: visitors and visits counted over pageviews. */
  pageviewVisitors: number;
  pageviewVisits: number;
}

/** Sums to add to `analytics_hourly`, by hour (its first ms). */
export class HourDeltas {
  readonly #rows = new Map<number, HourDelta>();

  get(h: number): HourDelta {
    let row = this.#rows.get(h);
    if (!row) {
      this.#rows.set(h, row = { visitors: 0, pageviews: 0, events: 0, visits: 0, bounces: 0, durationMs: 0 });
    }
    return row;
  }

  /** Adds (or, with -1, takes back) a visit's visit, bounce and duration, in the hour it starts. */
  contribute(v: VisitState, sign: 1 | -1): void {
    const row = this.get(floorTo(v.startTs, hour));
    row.visits += sign;
    if (v.pageviews === 1) row.bounces += sign;
    row.durationMs += sign * (v.endTs - v.startTs);
  }

  /** Counts an event, and a pageview, in the hour it happens. */
  addEvent(e: AnalyticsEvent): void {
    const row = this.get(floorTo(e.ts, hour));
    row.events += 1;
    if (e.name === "pageview") row.pageviews += 1;
  }

  [Symbol.iterator](): IterableIterator<[number, HourDelta]> {
    return this.#rows.entries();
  }
}

/** Sums to add to `analytics_breakdowns`, by dimension, day and value. */
export class BreakdownDeltas {
  readonly #rows = new Map<string, Map<number, Map<string, BreakdownDelta>>>();

  get(dim: string, dayIndex: number, value: string): BreakdownDelta {
    let days = this.#rows.get(dim);
    if (!days) this.#rows.set(dim, days = new Map());
    let values = days.get(dayIndex);
    if (!values) days.set(dayIndex, values = new Map());
    let row = values.get(value);
    if (!row) {
      values.set(
        value,
        row = {
          dim,
          day: dayIndex,
          value,
          visitors: 0,
          visits: 0,
          pageviews: 0,
          events: 0,
          bounces: 0,
          durationMs: 0,
          pageviewVisitors: 0,
          pageviewVisits: 0,
        },
      );
    }
    return row;
  }

  *[Symbol.iterator](): Generator<BreakdownDelta> {
    for (const days of this.#rows.values()) {
      for (const values of days.values()) yield* values.values();
    }
  }
}

/**
 * An event's pageview and event under its own values (page, name, hour) on
 * the day it happens, the values it adds to its visit, and its counts by day,
 * which {@link addVisitBreakdowns} adds under the visit's fixed values.
 * `path` and `name` are the event's, clipped as stored.
 */
export function addEventBreakdowns(
  breakdowns: BreakdownDeltas,
  v: VisitState,
  e: AnalyticsEvent,
  path: string,
  name: string,
): void {
  const isPageview = e.name === "pageview";
  const eventDay = Math.floor(e.ts / day);
  const pv = isPageview ? 1 : 0;
  const count = (i: number, value: string) => {
    if (!v.known[i].has(value)) v.added[i].add(value);
    const row = breakdowns.get(EVENT_DIMENSIONS[i], eventDay, value);
    row.pageviews += pv;
    row.events += 1;
  };
  count(PAGE, path);
  count(NAME, name);
  count(HOUR, String(floorTo(e.ts, hour)));
  // A pageview's page row has counted it already; only the visit's pageview pages grow.
  if (isPageview && !v.known[PAGEVIEW].has(path)) v.added[PAGEVIEW].add(path);
  const counts = v.counts.get(eventDay);
  if (counts) {
    counts.pageviews += pv;
    counts.events += 1;
  } else v.counts.set(eventDay, { pageviews: pv, events: 1 });
}

/** The keys (`dimension \0 value`) of a visit's fixed dimensions, entry and exit pages. */
export function addVisitKeys(into: Set<string>, fixed: readonly string[], f: VisitFigures): void {
  FIXED_DIMENSIONS.forEach(([dim], i) => into.add(`${dim}\0${fixed[i]}`));
  if (f.entryPage !== null) into.add(`visit:entry_page\0${f.entryPage}`);
  if (f.exitPage !== null) into.add(`visit:exit_page\0${f.exitPage}`);
}

/**
 * A visit's changes to the breakdowns in this batch: its whole-visit rows
 * (fixed dimensions, entry and exit pages, hours) move from its figures
 * before to its figures now; it counts as a visit under each page and name
 * new to it; its pageviews and events count under its fixed dimensions. The
 * only visit of a new visitor-day also counts its visitor under every value.
 */
export function addVisitBreakdowns(breakdowns: BreakdownDeltas, v: VisitState): void {
  const alone = !v.visitorDay.existed && v.visitorDay.visits.length === 1 ? 1 : 0;
  const whole = (f: VisitFigures, sign: 1 | -1, visitors: 0 | 1, hours: Iterable<string>[]) => {
    const add = (dim: string, value: string) => {
      const row = breakdowns.get(dim, visitDayOf(dim, value, v.day), value);
      row.visitors += visitors;
      row.visits += sign;
      row.bounces += sign * f.bounces;
      row.durationMs += sign * f.durationMs;
      return row;
    };
    FIXED_DIMENSIONS.forEach(([dim], i) => add(dim, v.fixed[i]));
    // Entry and exit pages hold the whole visit's pageviews and events.
    for (const [dim, page] of [["visit:entry_page", f.entryPage], ["visit:exit_page", f.exitPage]] as const) {
      if (page === null) continue;
      const row = add(dim, page);
      row.pageviews += sign * f.pageviews;
      row.events += sign * f.events;
    }
    for (const values of hours) for (const value of values) add("time:hour", value);
  };
  if (v.before) whole(v.before, -1, 0, [v.known[HOUR]]);
  whole(figuresOf(v), 1, alone, [v.known[HOUR], v.added[HOUR]]);
  for (const i of [PAGE, NAME]) {
    for (const value of v.added[i]) {
      const row = breakdowns.get(EVENT_DIMENSIONS[i], v.day, value);
      row.visits += 1;
      row.visitors += alone;
    }
  }
  for (const value of v.added[PAGEVIEW]) {
    const row = breakdowns.get("event:page", v.day, value);
    row.pageviewVisits += 1;
    row.pageviewVisitors += alone;
  }
  for (const [d, counts] of v.counts) {
    FIXED_DIMENSIONS.forEach(([dim], i) => {
      const row = breakdowns.get(dim, d, v.fixed[i]);
      row.pageviews += counts.pageviews;
      row.events += counts.events;
    });
  }
}

/**
 * Counts a visitor once under each value any of their visits that day has,
 * when this batch adds a visit to a day they already had, or a second one,
 * or changes a stored visit.
 */
export function countVisitorDay(
  sessions: Sessions,
  site: string,
  group: VisitorDay,
  breakdowns: BreakdownDeltas,
  seen: SeenVisits,
): void {
  const others: { fixed: string[]; figures: VisitFigures; values: EventValues }[] = [];
  if (group.existed) {
    const touched = new Set(group.visits.map((v) => v.id));
    const rows = sessions.visitorDayVisits(site, group.visitorId, group.day);
    for (const row of rows) {
      if (touched.has(row.id)) continue;
      others.push({
        fixed: storedLabels(row),
        figures: storedFigures(row),
        values: sessions.storedValues(row, seen),
      });
    }
  }
  const count = (dim: string, value: string, sign: 1 | -1) => {
    breakdowns.get(dim, visitDayOf(dim, value, group.day), value).visitors += sign;
  };
  const countPageview = (value: string) => {
    breakdowns.get("event:page", group.day, value).pageviewVisitors += 1;
  };
  // One value each, which an entry or exit page can change: compare the day's before and after.
  const before = new Set<string>();
  const after = new Set<string>();
  for (const o of others) {
    addVisitKeys(before, o.fixed, o.figures);
    addVisitKeys(after, o.fixed, o.figures);
  }
  for (const v of group.visits) {
    if (v.before) addVisitKeys(before, v.fixed, v.before);
    addVisitKeys(after, v.fixed, figuresOf(v));
  }
  const split = (key: string, sign: 1 | -1) => {
    const sep = key.indexOf("\0");
    count(key.slice(0, sep), key.slice(sep + 1), sign);
  };
  for (const key of after) if (!before.has(key)) split(key, 1);
  for (const key of before) if (!after.has(key)) split(key, -1);
  // Event values only grow: count each value new to the day once.
  EVENT_DIMENSIONS.forEach((dim, i) => {
    const had = [...group.visits.map((v) => v.known[i]), ...others.map((o) => o.values[i])];
    const counted = new Set<string>();
    for (const v of group.visits) {
      for (const value of v.added[i]) {
        if (counted.has(value) || had.some((set) => set.has(value))) continue;
        counted.add(value);
        if (i === PAGEVIEW) countPageview(value);
        else count(dim, value, 1);
      }
    }
  });
}

/** The prepared statements that add a batch's deltas to the rollups, made once per database. */
export class Rollups {
  readonly #addHour;
  readonly #addBreakdown;
  readonly #addBreakdowns;

  constructor(db: Database) {
    this.#addHour = db.prepare(
      `INSERT INTO analytics_hourly (site, hour, visitors, pageviews, events, visits, bounces, duration_ms)
       VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (site, hour) DO UPDATE SET
        visitors = visitors + excluded.visitors, pageviews = pageviews + excluded.pageviews, events = events + excluded.events,
        visits = visits + excluded.visits, bounces = bounces + excluded.bounces,
        duration_ms = duration_ms + excluded.duration_ms`,
    );
    const addBreakdowns = (rows: number) =>
      db.prepare(
        `INSERT INTO analytics_breakdowns (site, dim, day, value, visitors, visits, pageviews, events, bounces,
          duration_ms, pageview_visitors, pageview_visits)
         VALUES ${new Array(rows).fill("(?,?,?,?,?,?,?,?,?,?,?,?)").join(",")} ${ADD_BREAKDOWN}`,
      );
    this.#addBreakdown = addBreakdowns(1);
    // Rows go in groups of BREAKDOWN_ROWS, which costs a third less per row than one at a time.
    this.#addBreakdowns = addBreakdowns(BREAKDOWN_ROWS);
  }

  /** Adds every non-zero delta; call inside the batch's transaction. */
  write(site: string, hours: HourDeltas, breakdowns: BreakdownDeltas): void {
    for (const [h, d] of hours) {
      if (Object.values(d).every((v) => v === 0)) continue;
      this.#addHour.run(site, h, d.visitors, d.pageviews, d.events, d.visits, d.bounces, d.durationMs);
    }
    const rows: (string | number)[][] = [];
    for (const d of breakdowns) {
      if (
        d.visitors === 0 && d.visits === 0 && d.pageviews === 0 && d.events === 0 && d.bounces === 0 &&
        d.durationMs === 0 && d.pageviewVisitors === 0 && d.pageviewVisits === 0
      ) continue;
      rows.push([
        site,
        d.dim,
        d.day,
        d.value,
        d.visitors,
        d.visits,
        d.pageviews,
        d.events,
        d.bounces,
        d.durationMs,
        d.pageviewVisitors,
        d.pageviewVisits,
      ]);
    }
    let next = 0;
    for (; next + BREAKDOWN_ROWS <= rows.length; next += BREAKDOWN_ROWS) {
      this.#addBreakdowns.run(...rows.slice(next, next + BREAKDOWN_ROWS).flat());
    }
    for (; next < rows.length; next++) this.#addBreakdown.run(...rows[next]);
  }
}

/**
 * Recomputes `analytics_breakdowns` from the stored events and visits, in one
 * transaction. The write path keeps the table current; this repairs it (and
 * checks it, in tests).
 */
export function rebuildBreakdowns(db: Database): void {
  transaction(db, () => {
    db.exec("DELETE FROM analytics_breakdowns");
    db.exec(breakdownsFromEvents());
  });
}
