/**
 * Visits (sessions) derived per visitor id: a visit is a visitor's run of
 * events with no gap longer than {@link VISIT_TIMEOUT}. {@link Sessions} finds
 * the visit an event belongs to (one of the batch, else a stored one) and
 * remembers the event values of recent visits, so a visit that goes on batch
 * after batch is not read back from its events each time.
 *
 * ```ts
 * const sessions = new Sessions(db);
 * const visit = sessions.findVisitFor(site, event, batchVisits, visitorDays, seen);
 * sessions.remember(seen); // after the batch commits
 * ```
 */
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import type { Database } from "../db/mod.ts";
import { day, hour, minute } from "../../constants.ts";
import {
  clip,
  type EventValues,
  FIXED_DIMENSIONS,
  floorTo,
  HOUR,
  NAME,
  noEventValues,
  PAGE,
  PAGEVIEW,
} from "./schema.ts";

/** A visit ends after this much inactivity; the next event starts a new one. */
export const VISIT_TIMEOUT = 30 * minute;

export interface VisitState {
  id: number;
  /** The first event of a visit this batch creates; `undefined` for a visit already stored. */
  first?: AnalyticsEvent;
  visitorId: string;
  day: number;
  startTs: number;
  endTs: number;
  pageviews: number;
  events: number;
  entryPage: string | null;
  exitPage: string | null;
  exitTs: number | null;
  dirty: boolean;
  /** Labels of its {@link FIXED_DIMENSIONS}, in order. */
  fixed: string[];
  /** Its values under the {@link EVENT_DIMENSIONS} before this batch; read-only until it commits. */
  known: EventValues;
  /** Values under the {@link EVENT_DIMENSIONS} this batch adds to it (none of them in `known`). */
  added: EventValues;
  /** Its figures before this batch; `undefined` for a visit this batch creates. */
  before?: VisitFigures;
  /** Pageviews and events this batch adds to it, by UTC day. */
  counts: Map<number, { pageviews: number; events: number }>;
  /** Its visitor id and day. */
  visitorDay: VisitorDay;
}

/** The figures of one visit that its rows under the whole-visit dimensions hold. */
export interface VisitFigures {
  pageviews: number;
  events: number;
  bounces: 0 | 1;
  durationMs: number;
  entryPage: string | null;
  exitPage: string | null;
}

/** The visits of one visitor id on one day (of their start), which share one count in "visitors". */
export interface VisitorDay {
  visitorId: string;
  day: number;
  /** It had visits before this batch. */
  existed: boolean;
  visits: VisitState[];
}

export interface StoredVisit {
  id: number;
  day: number;
  start_ts: number;
  end_ts: number;
  pageviews: number;
  events: number;
  entry_page: string | null;
  exit_page: string | null;
  exit_ts: number | null;
  source: string | null;
  referrer: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_content: string | null;
  utm_term: string | null;
  device: string;
  browser: string;
  os: string;
}

/**
 * The event values of the visits a batch reads or writes, by visit id: before
 * it, what it adds, and the visit's events once it is stored (`visit.events`
 * for a visit the batch changes).
 */
export type SeenVisits = Map<
  number,
  { known: EventValues; added?: EventValues; visit?: VisitState; events: number }
>;

const VISIT_COLUMNS = `id, day, start_ts, end_ts, pageviews, events, entry_page, exit_page, exit_ts,
  source, referrer, utm_source, utm_medium, utm_campaign, utm_content, utm_term, device, browser, os`;

/**
 * Visits whose event values the writer remembers, so a visit that goes on
 * batch after batch (a long one, or a client sending many events) is not
 * read back from its events each time.
 */
const REMEMBERED_VISITS = 20_000;

/** Finds and remembers visits for the write path; its statements are made once per database. */
export class Sessions {
  readonly #findVisit;
  readonly #visitorDayVisits;
  readonly #visitEvents;
  /**
   * Event values of recently stored visits by id, least recently used first,
   * with the visit's event count then: only what is committed, and only used
   * while the visit still has that many events.
   */
  readonly #remembered = new Map<number, { events: number; values: EventValues }>();

  constructor(db: Database) {
    this.#findVisit = db.prepare(
      `SELECT ${VISIT_COLUMNS}
       FROM analytics_visits WHERE site = ? AND visitor_id = ? AND end_ts >= ? AND start_ts <= ?
       ORDER BY end_ts DESC LIMIT 1`,
    );
    this.#visitorDayVisits = db.prepare(
      `SELECT ${VISIT_COLUMNS} FROM analytics_visits WHERE site = ? AND visitor_id = ? AND day = ?`,
    );
    this.#visitEvents = db.prepare("SELECT name, pathname, ts FROM analytics_events WHERE visit_id = ?");
  }

  /** The stored visits of `visitorId` that started on `dayIndex`. */
  visitorDayVisits(site: string, visitorId: string, dayIndex: number): StoredVisit[] {
    return this.#visitorDayVisits.all(site, visitorId, dayIndex) as unknown as StoredVisit[];
  }

  /** Remembers the committed event values of the visits a batch read or wrote. */
  remember(seen: SeenVisits): void {
    for (const [id, { known, added, visit, events }] of seen) {
      if (added) added.forEach((values, i) => values.forEach((value) => known[i].add(value)));
      this.#remembered.delete(id);
      this.#remembered.set(id, { events: visit?.events ?? events, values: known });
    }
    for (const id of this.#remembered.keys()) {
      if (this.#remembered.size <= REMEMBERED_VISITS) break;
      this.#remembered.delete(id);
    }
  }

  /** The visit `e` belongs to: one seen earlier in this batch, else one in the database, else none. */
  findVisitFor(
    site: string,
    e: AnalyticsEvent,
    cache: Map<string, VisitState[]>,
    visitorDays: Map<string, VisitorDay>,
    seen: SeenVisits,
  ): VisitState | undefined {
    const fits = (v: VisitState) => e.ts <= v.endTs + VISIT_TIMEOUT && e.ts >= v.startTs - VISIT_TIMEOUT;
    const list = cache.get(e.visitorId);
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) if (fits(list[i])) return list[i];
    }
    const row = this.#findVisit.get(site, e.visitorId, e.ts - VISIT_TIMEOUT, e.ts + VISIT_TIMEOUT) as
      | StoredVisit
      | undefined;
    if (!row || list?.some((v) => v.id === row.id)) return undefined;
    const visit: VisitState = {
      id: row.id,
      visitorId: e.visitorId,
      day: row.day,
      startTs: row.start_ts,
      endTs: row.end_ts,
      pageviews: row.pageviews,
      events: row.events,
      entryPage: row.entry_page,
      exitPage: row.exit_page,
      exitTs: row.exit_ts,
      dirty: false,
      fixed: storedLabels(row),
      known: this.storedValues(row, seen),
      added: noEventValues(),
      before: storedFigures(row),
      counts: new Map(),
      visitorDay: visitorDayOf(visitorDays, e.visitorId, row.day, true),
    };
    seen.set(visit.id, { known: visit.known, added: visit.added, visit, events: row.events });
    cache.set(e.visitorId, [...(list ?? []), visit]);
    visit.visitorDay.visits.push(visit);
    return visit;
  }

  /** The event values of a stored visit: remembered, or read from its events. */
  storedValues(row: StoredVisit, seen: SeenVisits): EventValues {
    const id = row.id;
    const remembered = this.#remembered.get(id);
    let values = seen.get(id)?.known ?? (remembered?.events === row.events ? remembered.values : undefined);
    if (!values) {
      values = noEventValues();
      for (
        const e of this.#visitEvents.iterate(id) as Iterable<{ name: string; pathname: string; ts: number }>
      ) {
        values[PAGE].add(e.pathname);
        values[NAME].add(e.name);
        values[HOUR].add(String(floorTo(e.ts, hour)));
        if (e.name === "pageview") values[PAGEVIEW].add(e.pathname);
      }
    }
    if (!seen.has(id)) seen.set(id, { known: values, events: row.events });
    return values;
  }
}

export function visitorDayOf(
  groups: Map<string, VisitorDay>,
  visitorId: string,
  dayIndex: number,
  existed: boolean,
): VisitorDay {
  const key = `${visitorId}\0${dayIndex}`;
  let group = groups.get(key);
  if (!group) groups.set(key, group = { visitorId, day: dayIndex, existed, visits: [] });
  else if (existed) group.existed = true;
  return group;
}

/** The day a visit's figures count on under `dim`: an hour's own day, else the visit's day. */
export function visitDayOf(dim: string, value: string, visitDay: number): number {
  return dim === "time:hour" ? Math.floor(Number(value) / day) : visitDay;
}

/**
 * The values of `e` in the columns of the {@link FIXED_DIMENSIONS}, in their
 * order, as stored: clipped, `null` where absent (browser and os `""`).
 */
export function fixedColumns(e: AnalyticsEvent): (string | null)[] {
  const utm = e.utm ?? {};
  return [
    clip(e.referrerSource),
    clip(e.referrer),
    clip(utm.source),
    clip(utm.medium),
    clip(utm.campaign),
    clip(utm.content),
    clip(utm.term),
    e.device,
    clip(e.browser) ?? "",
    clip(e.os) ?? "",
  ];
}

/** The labels of the fixed dimensions of a visit whose first event is `e`. */
export function fixedLabels(e: AnalyticsEvent): string[] {
  return fixedColumns(e).map((value, i) => value ?? FIXED_DIMENSIONS[i][2]);
}

/** The labels of the fixed dimensions of a stored visit. */
export function storedLabels(row: StoredVisit): string[] {
  return FIXED_DIMENSIONS.map(([, column, none]) => row[column] ?? none);
}

/** A visit's figures: a visit of one pageview is a bounce; its duration runs from first to last event. */
export function figuresOf(
  v: Pick<VisitState, "pageviews" | "events" | "startTs" | "endTs" | "entryPage" | "exitPage">,
): VisitFigures {
  return {
    pageviews: v.pageviews,
    events: v.events,
    bounces: v.pageviews === 1 ? 1 : 0,
    durationMs: v.endTs - v.startTs,
    entryPage: v.entryPage,
    exitPage: v.exitPage,
  };
}

export function storedFigures(row: StoredVisit): VisitFigures {
  return figuresOf({
    pageviews: row.pageviews,
    events: row.events,
    startTs: row.start_ts,
    endTs: row.end_ts,
    entryPage: row.entry_page,
    exitPage: row.exit_page,
  });
}

/** A visit whose first event is `e`, not stored yet, with no events counted. */
export function newVisit(id: number, e: AnalyticsEvent, visitorDay: VisitorDay): VisitState {
  return {
    id,
    first: e,
    visitorId: e.visitorId,
    day: visitorDay.day,
    startTs: e.ts,
    endTs: e.ts,
    pageviews: 0,
    events: 0,
    entryPage: null,
    exitPage: null,
    exitTs: null,
    dirty: true,
    fixed: fixedLabels(e),
    known: noEventValues(),
    added: noEventValues(),
    counts: new Map(),
    visitorDay,
  };
}

/**
 * Adds `e` (whose clipped pathname is `path`) to `visit`: it may start it
 * earlier, end it later, set its entry page (the first pageview) and exit
 * page (the last).
 */
export function extendVisit(visit: VisitState, e: AnalyticsEvent, path: string): void {
  const isPageview = e.name === "pageview";
  if (e.ts < visit.startTs) {
    visit.startTs = e.ts;
    if (isPageview) visit.entryPage = path;
  } else if (isPageview && visit.entryPage === null) {
    visit.entryPage = path;
  }
  if (e.ts > visit.endTs) visit.endTs = e.ts;
  if (isPageview && (visit.exitTs === null || e.ts >= visit.exitTs)) {
    visit.exitPage = path;
    visit.exitTs = e.ts;
  }
  visit.events += 1;
  if (isPageview) visit.pageviews += 1;
  visit.dirty = true;
}
