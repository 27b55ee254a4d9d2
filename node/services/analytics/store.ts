/**
 * Storage of website analytics on the site owner's node: raw events, visits
 * (sessions) derived per visitor, and the rollups the dashboard reads.
 *
 * - `analytics_events`: every event, indexed by (site, ts), pointing at its visit.
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
];

/** Creates or upgrades the analytics tables. */
export function migrateAnalytics(db: Database): void {
  migrate(db, "analytics", MIGRATIONS);
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
}

interface HourDelta {
  visitors: number;
  pageviews: number;
  events: number;
  visits: number;
  bounces: number;
  durationMs: number;
}

/** The prepared statements of the write path, made once per database. */
export class AnalyticsWriter {
  readonly #db: Database;
  readonly #insertEvent;
  readonly #insertVisit;
  readonly #lastVisitId;
  readonly #updateVisit;
  readonly #findVisit;
  readonly #addHour;
  readonly #addVisitorDay;
  readonly #insertBatch;
  readonly #touchSite;

  constructor(db: Database) {
    this.#db = db;
    this.#insertEvent = db.prepare(
      `INSERT INTO analytics_events (site, ts, name, pathname, hostname, referrer, referrer_source,
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
      `SELECT id, day, start_ts, end_ts, pageviews, events, entry_page, exit_page, exit_ts
       FROM analytics_visits WHERE site = ? AND visitor_id = ? AND end_ts >= ? AND start_ts <= ?
       ORDER BY end_ts DESC LIMIT 1`,
    );
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
    return transaction(this.#db, () => {
      if (options.batchId !== undefined) {
        const { changes } = this.#insertBatch.run(site, options.batchId, events.length, Date.now());
        if (Number(changes) === 0) return { recorded: 0, duplicate: true };
      }
      if (sorted.length === 0) return { recorded: 0, duplicate: false };
      let nextVisitId = (this.#lastVisitId.get() as { id: number }).id;
      const visits = new Map<string, VisitState[]>();
      const hours = new Map<number, HourDelta>();
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
        let visit = this.#findVisitFor(site, e, visits);
        if (visit) {
          contribute(visit, -1);
        } else {
          const start = e.ts;
          const dayIndex = Math.floor(start / day);
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
          };
          const list = visits.get(e.visitorId) ?? [];
          list.push(visit);
          visits.set(e.visitorId, list);
          // The first visit of a visitor on a day counts them once, in the hour it starts.
          if (Number(this.#addVisitorDay.run(site, dayIndex, e.visitorId).changes) === 1) {
            hourOf(floorTo(start, hour)).visitors += 1;
          }
        }
        const path = clip(e.pathname) ?? "/";
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
        const utm = e.utm ?? {};
        this.#insertEvent.run(
          site,
          e.ts,
          clip(e.name) ?? "",
          path,
          clip(e.hostname) ?? "",
          clip(e.referrer),
          clip(e.referrerSource),
          clip(utm.source),
          clip(utm.medium),
          clip(utm.campaign),
          clip(utm.content),
          clip(utm.term),
          e.device,
          clip(e.browser) ?? "",
          clip(e.os) ?? "",
          e.visitorId,
          e.props && Object.keys(e.props).length > 0 ? JSON.stringify(e.props) : null,
          visit.id,
        );
      }
      for (const list of visits.values()) {
        for (const v of list) {
          if (v.first) {
            const e = v.first;
            const utm = e.utm ?? {};
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
        }
      }
      for (const [h, d] of hours) {
        if (Object.values(d).every((v) => v === 0)) continue;
        this.#addHour.run(site, h, d.visitors, d.pageviews, d.events, d.visits, d.bounces, d.durationMs);
      }
      this.#touchSite.run(site, sorted[0].ts, sorted[sorted.length - 1].ts, sorted.length);
      return { recorded: sorted.length, duplicate: false };
    });
  }

  /** The visit `e` belongs to: one seen earlier in this batch, else one in the database, else none. */
  #findVisitFor(site: string, e: AnalyticsEvent, cache: Map<string, VisitState[]>): VisitState | undefined {
    const fits = (v: VisitState) => e.ts <= v.endTs + VISIT_TIMEOUT && e.ts >= v.startTs - VISIT_TIMEOUT;
    const list = cache.get(e.visitorId);
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) if (fits(list[i])) return list[i];
    }
    const row = this.#findVisit.get(site, e.visitorId, e.ts - VISIT_TIMEOUT, e.ts + VISIT_TIMEOUT) as
      | {
        id: number;
        day: number;
        start_ts: number;
        end_ts: number;
        pageviews: number;
        events: number;
        entry_page: string | null;
        exit_page: string | null;
        exit_ts: number | null;
      }
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
    };
    cache.set(e.visitorId, [...(list ?? []), visit]);
    return visit;
  }
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
