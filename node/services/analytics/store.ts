/**
 * Storage of website analytics on the site owner's node: raw events, visits
 * (sessions) derived per visitor, and the rollups the dashboard reads.
 *
 * - `analytics_events`: every event, indexed by (site, ts) and by its visit.
 * - `analytics_visits`: one row per visit. A visit is a visitor's run of events
 *   with no gap longer than {@link VISIT_TIMEOUT}; its entry page is the first
 *   pageview, its exit page the last, it bounced when it has one pageview, and
 *   its duration is the last event's ts minus the first's. Source, referrer,
 *   UTM tags, device, browser and OS are the first event's.
 * - `analytics_hourly`: per site and UTC hour, pageviews and events (by event
 *   time), visits, bounces and summed duration (by visit start), kept up to
 *   date by deltas as visits grow, and visitors (each visitor once per UTC day,
 *   in the hour of their first visit that day).
 * - `analytics_visitor_days`: the distinct visitor ids per site and UTC day (of
 *   the visit start). Visitor ids are keyed hashes with a salt that rotates
 *   daily, so a visitor id means one person on one day; "visitors" over a range
 *   is the number of distinct (visitor id, day) pairs, which is additive over
 *   days and lets whole-day queries skip the raw events.
 * - `analytics_breakdowns`: per site, dimension, UTC day and value, the sums
 *   the dashboard's tables need (see {@link BREAKDOWN_DIMENSIONS}), kept up to
 *   date in the same transaction as the events. A visit counts (its visit,
 *   bounce and duration, and its visitor once per (visitor id, day)) on its
 *   day (`analytics_visits.day`, that of its first event) under every value it
 *   has: its source, entry page, each page it viewed, each hour it was active
 *   in (on that hour's day). Pageviews and events count on the day they
 *   happen, except that entry and exit page rows hold the whole visit's.
 *   Page and name rows hold no bounces or duration: a visit may have many
 *   pages, and each batch that extends it would rewrite all of them.
 *   Visitors add up over days for the same reason as `analytics_visitor_days`,
 *   so a range is a sum of days. {@link rebuildBreakdowns} recomputes the
 *   table from the events; the property tests check the two agree.
 * - `analytics_batches`: batch ids already recorded, so a redelivered batch
 *   changes nothing.
 */
import { type AnalyticsEvent, isSiteDomain } from "../../../protocol/analytics.ts";
import { type Database, migrate, transaction } from "../db/mod.ts";
import { day, hour, minute } from "../../constants.ts";

/** A visit ends after this much inactivity; the next event starts a new one. */
export const VISIT_TIMEOUT = 30 * minute;

/** Longest stored string field (longer values are cut). */
export const MAX_FIELD_LENGTH = 2048;

/**
 * The visit dimensions whose value is fixed by a visit's first event, with
 * the column of `analytics_visits` that holds it and the label of a missing
 * value (as the query API shows it).
 */
const FIXED_DIMENSIONS = [
  ["visit:source", "source", "Direct / None"],
  ["visit:referrer", "referrer", "Direct / None"],
  ["visit:utm_source", "utm_source", "(none)"],
  ["visit:utm_medium", "utm_medium", "(none)"],
  ["visit:utm_campaign", "utm_campaign", "(none)"],
  ["visit:utm_content", "utm_content", "(none)"],
  ["visit:utm_term", "utm_term", "(none)"],
  ["visit:device", "device", ""],
  ["visit:browser", "browser", ""],
  ["visit:os", "os", ""],
] as const;

/**
 * The dimensions `analytics_breakdowns` keeps: every `visit:` dimension,
 * `event:page`, `event:name` and `time:hour` (values are the hour's first ms,
 * as text). `event:page` rows also hold `pageview_visitors` and
 * `pageview_visits`: visitors and visits counted over pageview events only,
 * which with `pageviews` answer `event:page` filtered by `event:name is pageview`.
 */
export const BREAKDOWN_DIMENSIONS = [
  ...FIXED_DIMENSIONS.map(([dim]) => dim),
  "visit:entry_page",
  "visit:exit_page",
  "event:page",
  "event:name",
  "time:hour",
] as const;
export type BreakdownDimension = typeof BREAKDOWN_DIMENSIONS[number];

const ADD_BREAKDOWN = `ON CONFLICT (site, dim, day, value) DO UPDATE SET
  visitors = visitors + excluded.visitors, visits = visits + excluded.visits,
  pageviews = pageviews + excluded.pageviews, events = events + excluded.events,
  bounces = bounces + excluded.bounces, duration_ms = duration_ms + excluded.duration_ms,
  pageview_visitors = pageview_visitors + excluded.pageview_visitors,
  pageview_visits = pageview_visits + excluded.pageview_visits`;

/**
 * SQL that adds the breakdowns of every stored event to `analytics_breakdowns`
 * (the definition the incremental updates of {@link AnalyticsWriter} follow).
 */
function breakdownsFromEvents(): string {
  const columns = `(site, dim, day, value, visitors, visits, pageviews, events, bounces, duration_ms,
    pageview_visitors, pageview_visits)`;
  const perVisit = "COUNT(DISTINCT v.visitor_id || ':' || v.day), COUNT(*)";
  const visitSums = "SUM(v.pageviews = 1), SUM(v.end_ts - v.start_ts)";
  const statements: string[] = [];
  for (const [dim, column, none] of FIXED_DIMENSIONS) {
    const value = none === "" ? `v.${column}` : `COALESCE(v.${column}, '${none}')`;
    statements.push(
      `INSERT INTO analytics_breakdowns ${columns}
       SELECT v.site, '${dim}', v.day, ${value}, ${perVisit}, 0, 0, ${visitSums}, 0, 0
       FROM analytics_visits v WHERE true GROUP BY v.site, v.day, ${value} ${ADD_BREAKDOWN};`,
      `INSERT INTO analytics_breakdowns ${columns}
       SELECT e.site, '${dim}', e.ts / ${day}, ${value}, 0, 0, SUM(e.name = 'pageview'), COUNT(*), 0, 0, 0, 0
       FROM analytics_events e JOIN analytics_visits v ON v.id = e.visit_id
       WHERE true GROUP BY e.site, e.ts / ${day}, ${value} ${ADD_BREAKDOWN};`,
    );
  }
  for (const [dim, column] of [["visit:entry_page", "entry_page"], ["visit:exit_page", "exit_page"]]) {
    statements.push(
      `INSERT INTO analytics_breakdowns ${columns}
       SELECT v.site, '${dim}', v.day, v.${column}, ${perVisit}, SUM(v.pageviews), SUM(v.events), ${visitSums}, 0, 0
       FROM analytics_visits v WHERE v.${column} IS NOT NULL GROUP BY v.site, v.day, v.${column}
       ${ADD_BREAKDOWN};`,
    );
  }
  const hourValue = `CAST(e.ts / ${hour} * ${hour} AS TEXT)`;
  // Only hours hold bounces and duration (see EVENT_DIMENSIONS).
  const eventDimensions: [string, string, string, string][] = [
    ["event:page", "e.pathname", "v.day", "0, 0"],
    ["event:name", "e.name", "v.day", "0, 0"],
    ["time:hour", hourValue, `CAST(x.value AS INTEGER) / ${day}`, visitSums],
  ];
  for (const [dim, value, visitDay, sums] of eventDimensions) {
    statements.push(
      `INSERT INTO analytics_breakdowns ${columns}
       SELECT v.site, '${dim}', ${visitDay}, x.value, ${perVisit}, 0, 0, ${sums}, 0, 0
       FROM (SELECT DISTINCT e.visit_id, ${value} AS value FROM analytics_events e) x
       JOIN analytics_visits v ON v.id = x.visit_id
       WHERE true GROUP BY v.site, ${visitDay}, x.value ${ADD_BREAKDOWN};`,
      `INSERT INTO analytics_breakdowns ${columns}
       SELECT e.site, '${dim}', e.ts / ${day}, ${value}, 0, 0, SUM(e.name = 'pageview'), COUNT(*), 0, 0, 0, 0
       FROM analytics_events e WHERE true GROUP BY e.site, e.ts / ${day}, ${value} ${ADD_BREAKDOWN};`,
    );
  }
  statements.push(
    `INSERT INTO analytics_breakdowns ${columns}
     SELECT v.site, 'event:page', v.day, x.value, 0, 0, 0, 0, 0, 0, ${perVisit}
     FROM (SELECT DISTINCT e.visit_id, e.pathname AS value FROM analytics_events e WHERE e.name = 'pageview') x
     JOIN analytics_visits v ON v.id = x.visit_id
     WHERE true GROUP BY v.site, v.day, x.value ${ADD_BREAKDOWN};`,
  );
  return statements.join("\n");
}

const MIGRATIONS = [
  `CREATE TABLE analytics_visits (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    start_ts INTEGER NOT NULL,
    end_ts INTEGER NOT NULL,
    pageviews INTEGER NOT NULL,
    events INTEGER NOT NULL,
    entry_page TEXT,
    exit_page TEXT,
    exit_ts INTEGER,
    source TEXT,
    referrer TEXT,
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    utm_content TEXT,
    utm_term TEXT,
    device TEXT NOT NULL,
    browser TEXT NOT NULL,
    os TEXT NOT NULL
  );
  CREATE INDEX analytics_visits_by_visitor ON analytics_visits (site, visitor_id, end_ts);
  CREATE TABLE analytics_events (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    ts INTEGER NOT NULL,
    name TEXT NOT NULL,
    pathname TEXT NOT NULL,
    hostname TEXT NOT NULL,
    referrer TEXT,
    referrer_source TEXT,
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    utm_content TEXT,
    utm_term TEXT,
    device TEXT NOT NULL,
    browser TEXT NOT NULL,
    os TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    props TEXT,
    visit_id INTEGER NOT NULL
  );
  CREATE INDEX analytics_events_by_time ON analytics_events (site, ts);
  CREATE TABLE analytics_hourly (
    site TEXT NOT NULL,
    hour INTEGER NOT NULL,
    visitors INTEGER NOT NULL DEFAULT 0,
    pageviews INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    visits INTEGER NOT NULL DEFAULT 0,
    bounces INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, hour)
  ) WITHOUT ROWID;
  CREATE TABLE analytics_visitor_days (
    site TEXT NOT NULL,
    day INTEGER NOT NULL,
    visitor_id TEXT NOT NULL,
    PRIMARY KEY (site, day, visitor_id)
  ) WITHOUT ROWID;
  CREATE TABLE analytics_batches (
    site TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    events INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (site, batch_id)
  ) WITHOUT ROWID;
  CREATE TABLE analytics_sites (
    site TEXT PRIMARY KEY,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    events INTEGER NOT NULL
  ) WITHOUT ROWID;`,
  `CREATE TABLE analytics_breakdowns (
    site TEXT NOT NULL,
    dim TEXT NOT NULL,
    day INTEGER NOT NULL,
    value TEXT NOT NULL,
    visitors INTEGER NOT NULL DEFAULT 0,
    visits INTEGER NOT NULL DEFAULT 0,
    pageviews INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    bounces INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    pageview_visitors INTEGER NOT NULL DEFAULT 0,
    pageview_visits INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, dim, day, value)
  ) WITHOUT ROWID;
  CREATE INDEX analytics_events_by_visit ON analytics_events (visit_id);
  ${breakdownsFromEvents()}`,
];

/** Creates or upgrades the analytics tables. */
export function migrateAnalytics(db: Database): void {
  migrate(db, "analytics", MIGRATIONS);
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

export interface RecordEventsOptions {
  /** Recording the same batch id for the same site twice stores it once. @default none (always stored) */
  batchId?: string;
}

export interface RecordEventsResult {
  /** Events stored by this call (0 for a batch already recorded). */
  recorded: number;
  /** True when `batchId` had been recorded before. */
  duplicate: boolean;
}

interface VisitState {
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
interface VisitFigures {
  pageviews: number;
  events: number;
  bounces: 0 | 1;
  durationMs: number;
  entryPage: string | null;
  exitPage: string | null;
}

/** The visits of one visitor id on one day (of their start), which share one count in "visitors". */
interface VisitorDay {
  visitorId: string;
  day: number;
  /** It had visits before this batch. */
  existed: boolean;
  visits: VisitState[];
}

interface HourDelta {
  visitors: number;
  pageviews: number;
  events: number;
  visits: number;
  bounces: number;
  durationMs: number;
}

interface BreakdownDelta extends HourDelta {
  dim: string;
  day: number;
  value: string;
  /** `event:page` only: visitors and visits counted over pageviews. */
  pageviewVisitors: number;
  pageviewVisits: number;
}

interface StoredVisit {
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
type SeenVisits = Map<
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

/** Rows of `analytics_breakdowns` written by one statement. */
const BREAKDOWN_ROWS = 32;

/** The prepared statements of the write path, made once per database. */
export class AnalyticsWriter {
  readonly #db: Database;
  readonly #insertEvent;
  readonly #insertVisit;
  readonly #lastVisitId;
  readonly #updateVisit;
  readonly #findVisit;
  readonly #visitorDayVisits;
  readonly #visitEvents;
  readonly #addHour;
  readonly #addVisitorDay;
  readonly #addBreakdown;
  readonly #addBreakdowns;
  readonly #insertBatch;
  readonly #touchSite;
  /**
   * Event values of recently stored visits by id, least recently used first,
   * with the visit's event count then: only what is committed, and only used
   * while the visit still has that many events.
   */
  readonly #remembered = new Map<number, { events: number; values: EventValues }>();

  constructor(db: Database) {
    this.#db = db;
    this.#insertEvent = db.prepare(
      `INSERT INTO analytics_events (site, ts, name, pathname, hostname, referrer_source, referrer,
        utm_source, utm_medium, utm_campaign, utm_content, utm_term, device, browser, os, visitor_id,
        props, visit_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    this.#insertVisit = db.prepare(
      `INSERT INTO analytics_visits (id, site, visitor_id, day, start_ts, end_ts, pageviews, events,
        entry_page, exit_page, exit_ts, source, referrer, utm_source, utm_medium, utm_campaign,
        utm_content, utm_term, device, browser, os)
       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    this.#lastVisitId = db.prepare("SELECT COALESCE(MAX(id), 0) AS id FROM analytics_visits");
    this.#updateVisit = db.prepare(
      `UPDATE analytics_visits SET start_ts = ?, end_ts = ?, pageviews = ?, events = ?,
        entry_page = ?, exit_page = ?, exit_ts = ? WHERE id = ?`,
    );
    this.#findVisit = db.prepare(
      `SELECT ${VISIT_COLUMNS}
       FROM analytics_visits WHERE site = ? AND visitor_id = ? AND end_ts >= ? AND start_ts <= ?
       ORDER BY end_ts DESC LIMIT 1`,
    );
    this.#visitorDayVisits = db.prepare(
      `SELECT ${VISIT_COLUMNS} FROM analytics_visits WHERE site = ? AND visitor_id = ? AND day = ?`,
    );
    this.#visitEvents = db.prepare("SELECT name, pathname, ts FROM analytics_events WHERE visit_id = ?");
    this.#addHour = db.prepare(
      `INSERT INTO analytics_hourly (site, hour, visitors, pageviews, events, visits, bounces, duration_ms)
       VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (site, hour) DO UPDATE SET
        visitors = visitors + excluded.visitors, pageviews = pageviews + excluded.pageviews, events = events + excluded.events,
        visits = visits + excluded.visits, bounces = bounces + excluded.bounces,
        duration_ms = duration_ms + excluded.duration_ms`,
    );
    this.#addVisitorDay = db.prepare(
      "INSERT OR IGNORE INTO analytics_visitor_days (site, day, visitor_id) VALUES (?,?,?)",
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
    this.#insertBatch = db.prepare(
      "INSERT OR IGNORE INTO analytics_batches (site, batch_id, events, recorded_at) VALUES (?,?,?,?)",
    );
    this.#touchSite = db.prepare(
      `INSERT INTO analytics_sites (site, first_ts, last_ts, events) VALUES (?,?,?,?)
       ON CONFLICT (site) DO UPDATE SET first_ts = MIN(first_ts, excluded.first_ts),
        last_ts = MAX(last_ts, excluded.last_ts), events = events + excluded.events`,
    );
  }

  /**
   * Stores `events` for `site` in one transaction and updates visits and
   * rollups. Throws `TypeError` (nothing stored) when the domain or any event
   * is malformed.
   */
  recordEvents(
    site: string,
    events: readonly AnalyticsEvent[],
    options: RecordEventsOptions = {},
  ): RecordEventsResult {
    checkDomain(site);
    if (!Array.isArray(events)) throw new TypeError("Cannot record events: expected an array of events");
    events.forEach(checkEvent);
    if (options.batchId !== undefined && (typeof options.batchId !== "string" || options.batchId === "")) {
      throw new TypeError("Cannot record events: batchId must be a non-empty string");
    }
    // Sessions are built in time order; a stable sort keeps equal timestamps in arrival order.
    const sorted = [...events].sort((a, b) => a.ts - b.ts);
    /** Event values of visits read or written, remembered once the transaction has committed. */
    const seen: SeenVisits = new Map();
    const result = transaction(this.#db, () => {
      if (options.batchId !== undefined) {
        const { changes } = this.#insertBatch.run(site, options.batchId, events.length, Date.now());
        if (Number(changes) === 0) return { recorded: 0, duplicate: true };
      }
      if (sorted.length === 0) return { recorded: 0, duplicate: false };
      let nextVisitId = (this.#lastVisitId.get() as { id: number }).id;
      const visits = new Map<string, VisitState[]>();
      const visitorDays = new Map<string, VisitorDay>();
      const hours = new Map<number, HourDelta>();
      const breakdowns = new BreakdownDeltas();
      const hourOf = (h: number) => {
        let row = hours.get(h);
        if (!row) {
          hours.set(h, row = { visitors: 0, pageviews: 0, events: 0, visits: 0, bounces: 0, durationMs: 0 });
        }
        return row;
      };
      const contribute = (v: VisitState, sign: 1 | -1) => {
        const row = hourOf(floorTo(v.startTs, hour));
        row.visits += sign;
        if (v.pageviews === 1) row.bounces += sign;
        row.durationMs += sign * (v.endTs - v.startTs);
      };
      for (const e of sorted) {
        const isPageview = e.name === "pageview";
        let visit = this.#findVisitFor(site, e, visits, visitorDays, seen);
        if (visit) {
          contribute(visit, -1);
        } else {
          const start = e.ts;
          const dayIndex = Math.floor(start / day);
          // The first visit of a visitor on a day counts them once, in the hour it starts.
          const firstOfDay = Number(this.#addVisitorDay.run(site, dayIndex, e.visitorId).changes) === 1;
          if (firstOfDay) hourOf(floorTo(start, hour)).visitors += 1;
          visit = {
            id: ++nextVisitId,
            first: e,
            visitorId: e.visitorId,
            day: dayIndex,
            startTs: start,
            endTs: start,
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
            visitorDay: visitorDayOf(visitorDays, e.visitorId, dayIndex, !firstOfDay),
          };
          visit.visitorDay.visits.push(visit);
          seen.set(visit.id, { known: visit.known, added: visit.added, visit, events: 0 });
          const list = visits.get(e.visitorId) ?? [];
          list.push(visit);
          visits.set(e.visitorId, list);
        }
        const path = clip(e.pathname) ?? "/";
        const name = clip(e.name) ?? "";
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
        contribute(visit, 1);
        const eventHour = hourOf(floorTo(e.ts, hour));
        eventHour.events += 1;
        if (isPageview) eventHour.pageviews += 1;
        // Pageviews and events under the event's own values now, under the visit's fixed ones at the end.
        const eventDay = Math.floor(e.ts / day);
        const pv = isPageview ? 1 : 0;
        const v = visit;
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
        const counts = visit.counts.get(eventDay);
        if (counts) {
          counts.pageviews += pv;
          counts.events += 1;
        } else visit.counts.set(eventDay, { pageviews: pv, events: 1 });
        this.#insertEvent.run(
          site,
          e.ts,
          name,
          path,
          clip(e.hostname) ?? "",
          ...fixedColumns(e),
          e.visitorId,
          e.props && Object.keys(e.props).length > 0 ? JSON.stringify(e.props) : null,
          visit.id,
        );
      }
      for (const list of visits.values()) {
        for (const v of list) {
          if (v.first) {
            this.#insertVisit.run(
              v.id,
              site,
              v.visitorId,
              v.day,
              v.startTs,
              v.endTs,
              v.pageviews,
              v.events,
              v.entryPage,
              v.exitPage,
              v.exitTs,
              ...fixedColumns(v.first),
            );
          } else if (v.dirty) {
            this.#updateVisit.run(
              v.startTs,
              v.endTs,
              v.pageviews,
              v.events,
              v.entryPage,
              v.exitPage,
              v.exitTs,
              v.id,
            );
          }
          addVisitBreakdowns(breakdowns, v);
        }
      }
      for (const group of visitorDays.values()) {
        if (group.existed || group.visits.length > 1) this.#countVisitorDay(site, group, breakdowns, seen);
      }
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
      this.#touchSite.run(site, sorted[0].ts, sorted[sorted.length - 1].ts, sorted.length);
      return { recorded: sorted.length, duplicate: false };
    });
    if (result.recorded > 0) this.#remember(seen);
    return result;
  }

  /** Remembers the committed event values of the visits a batch read or wrote. */
  #remember(seen: SeenVisits): void {
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
  #findVisitFor(
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
      known: this.#storedValues(row, seen),
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
  #storedValues(row: StoredVisit, seen: SeenVisits): EventValues {
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

  /**
   * Counts a visitor once under each value any of their visits that day has,
   * when this batch adds a visit to a day they already had, or a second one,
   * or changes a stored visit.
   */
  #countVisitorDay(
    site: string,
    group: VisitorDay,
    breakdowns: BreakdownDeltas,
    seen: SeenVisits,
  ): void {
    const others: { fixed: string[]; figures: VisitFigures; values: EventValues }[] = [];
    if (group.existed) {
      const touched = new Set(group.visits.map((v) => v.id));
      const rows = this.#visitorDayVisits.all(site, group.visitorId, group.day) as unknown as StoredVisit[];
      for (const row of rows) {
        if (touched.has(row.id)) continue;
        others.push({
          fixed: storedLabels(row),
          figures: storedFigures(row),
          values: this.#storedValues(row, seen),
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
}

function visitorDayOf(
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

/**
 * The dimensions under which a visit has one value per event, not one per
 * visit. Their rows count visitors, visits, pageviews and events; only
 * `time:hour` rows also hold bounces and duration (a visit has few hours,
 * but may have many pages, and every batch that extends a visit changes
 * its duration). The last entry is a visit's pageview pages, counted in the
 * `pageview_*` columns of the `event:page` rows.
 */
const EVENT_DIMENSIONS = ["event:page", "event:name", "time:hour", "event:page"] as const;
const PAGE = 0;
const NAME = 1;
const HOUR = 2;
const PAGEVIEW = 3;

/** A visit's values under each of {@link EVENT_DIMENSIONS}, in order. */
type EventValues = Set<string>[];

function noEventValues(): EventValues {
  return EVENT_DIMENSIONS.map(() => new Set<string>());
}

/** Sums to add to `analytics_breakdowns`, by dimension, day and value. */
class BreakdownDeltas {
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

/** The day a visit's figures count on under `dim`: an hour's own day, else the visit's day. */
function visitDayOf(dim: string, value: string, visitDay: number): number {
  return dim === "time:hour" ? Math.floor(Number(value) / day) : visitDay;
}

/** A visit's figures: a visit of one pageview is a bounce; its duration runs from first to last event. */
function figuresOf(
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

function storedFigures(row: StoredVisit): VisitFigures {
  return figuresOf({
    pageviews: row.pageviews,
    events: row.events,
    startTs: row.start_ts,
    endTs: row.end_ts,
    entryPage: row.entry_page,
    exitPage: row.exit_page,
  });
}

/** The keys (`dimension \0 value`) of a visit's fixed dimensions, entry and exit pages. */
function addVisitKeys(into: Set<string>, fixed: readonly string[], f: VisitFigures): void {
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
function addVisitBreakdowns(breakdowns: BreakdownDeltas, v: VisitState): void {
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
 * The values of `e` in the columns of the {@link FIXED_DIMENSIONS}, in their
 * order, as stored: clipped, `null` where absent (browser and os `""`).
 */
function fixedColumns(e: AnalyticsEvent): (string | null)[] {
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
function fixedLabels(e: AnalyticsEvent): string[] {
  return fixedColumns(e).map((value, i) => value ?? FIXED_DIMENSIONS[i][2]);
}

/** The labels of the fixed dimensions of a stored visit. */
function storedLabels(row: StoredVisit): string[] {
  return FIXED_DIMENSIONS.map(([, column, none]) => row[column] ?? none);
}

function floorTo(ts: number, unit: number): number {
  return Math.floor(ts / unit) * unit;
}

function clip(value: string | null | undefined): string | null {
  if (value === undefined || value === null || value === "") return null;
  return value.length > MAX_FIELD_LENGTH ? value.slice(0, MAX_FIELD_LENGTH) : value;
}

/** Throws `TypeError` unless `domain` is a lower-case host name such as "example.com". */
export function checkDomain(domain: unknown): asserts domain is string {
  if (!isSiteDomain(domain)) {
    throw new TypeError(
      `Invalid site domain ${
        JSON.stringify(String(domain).slice(0, 80))
      }: expected a lower-case host name such as "example.com"`,
    );
  }
}

const DEVICES = new Set(["desktop", "mobile", "tablet", "other"]);

function checkEvent(e: AnalyticsEvent, index: number): void {
  const bad = (field: string) => {
    throw new TypeError(`Cannot record events: event ${index} has an invalid "${field}"`);
  };
  if (typeof e !== "object" || e === null) bad("event");
  if (!Number.isSafeInteger(e.ts) || e.ts < 0) bad("ts");
  for (const field of ["name", "pathname", "hostname", "browser", "os", "visitorId"] as const) {
    if (typeof e[field] !== "string") bad(field);
  }
  if (e.name === "") bad("name");
  if (e.visitorId === "") bad("visitorId");
  if (e.referrer !== null && e.referrer !== undefined && typeof e.referrer !== "string") bad("referrer");
  if (e.referrerSource !== null && e.referrerSource !== undefined && typeof e.referrerSource !== "string") {
    bad("referrerSource");
  }
  if (!DEVICES.has(e.device)) bad("device");
  if (e.utm !== undefined && (typeof e.utm !== "object" || e.utm === null)) bad("utm");
  for (const value of Object.values(e.utm ?? {})) {
    if (value !== undefined && typeof value !== "string") bad("utm");
  }
  if (e.props !== undefined && (typeof e.props !== "object" || e.props === null)) bad("props");
}
