/**
 * The write path of website analytics: {@link AnalyticsWriter} stores a batch
 * of events for a site in one transaction, derives and extends its visits
 * (`sessions.ts`) and adds the batch's deltas to the rollups (`rollups.ts`).
 * The tables are `schema.ts`'s.
 *
 * A batch goes through four steps: `#check` (nothing is stored when a field
 * is bad), then in one transaction `#assignVisits` (each event, in time
 * order, joins a visit of the batch, a stored visit or a new one),
 * `#accumulate` (each event's breakdown counts) and `#write` (events, visits,
 * visitor-days, rollups, the site's totals).
 *
 * ```ts
 * migrateAnalytics(db);
 * const writer = new AnalyticsWriter(db);
 * writer.recordEvents("example.com", events, { batchId: "b-1" }); // { recorded, duplicate }
 * ```
 */
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import { type Database, transaction } from "../db/mod.ts";
import { day, hour } from "../../constants.ts";
import { checkDomain, checkEvent, clip, ENGAGEMENT, flag, floorTo } from "./schema.ts";
import {
  extendVisit,
  fixedColumns,
  newVisit,
  type SeenVisits,
  Sessions,
  VISIT_TIMEOUT,
  type VisitorDay,
  visitorDayOf,
  type VisitState,
} from "./sessions.ts";
import {
  addEventBreakdowns,
  addVisitBreakdowns,
  BreakdownDeltas,
  countVisitorDay,
  HourDeltas,
  Rollups,
} from "./rollups.ts";

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

/** One event of a batch, with its visit and its clipped page and name. */
interface Placed {
  e: AnalyticsEvent;
  visit: VisitState;
  path: string;
  name: string;
}

/** What one batch builds up before it is written. */
interface Batch {
  site: string;
  events: Placed[];
  /** Its visits by visitor id, in the order they were found or started. */
  visits: Map<string, VisitState[]>;
  visitorDays: Map<string, VisitorDay>;
  hours: HourDeltas;
  breakdowns: BreakdownDeltas;
  /** Event values of visits read or written, remembered once the transaction has committed. */
  seen: SeenVisits;
}

/** The prepared statements of the write path, made once per database. */
export class AnalyticsWriter {
  readonly #db: Database;
  readonly #sessions: Sessions;
  readonly #rollups: Rollups;
  readonly #insertEvent;
  readonly #insertVisit;
  readonly #lastVisitId;
  readonly #updateVisit;
  readonly #addVisitorDay;
  readonly #insertBatch;
  readonly #touchSite;
  readonly #insertEngagement;
  readonly #engagedVisit;
  /** Called with the site after each batch that stored events commits (the columnar mirror follows). */
  onRecorded?: (site: string) => void;

  constructor(db: Database) {
    this.#db = db;
    this.#sessions = new Sessions(db);
    this.#rollups = new Rollups(db);
    this.#insertEvent = db.prepare(
      `INSERT INTO analytics_events (site, ts, name, pathname, hostname, referrer_source, referrer,
        utm_source, utm_medium, utm_campaign, utm_content, utm_term, device, browser, os, visitor_id,
        props, visit_id, revenue_amount, revenue_currency, country, region, city, city_name, region_name,
        interactive, consented) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    this.#insertEngagement = db.prepare(
      `INSERT INTO analytics_engagement (site, ts, pathname, hostname, visitor_id, visit_id, scroll_depth,
        engaged_ms, props) VALUES (?,?,?,?,?,?,?,?,?)`,
    );
    this.#engagedVisit = db.prepare(
      `SELECT id FROM analytics_visits WHERE site = ? AND visitor_id = ? AND end_ts >= ? AND start_ts <= ?
       ORDER BY end_ts DESC LIMIT 1`,
    );
    this.#insertVisit = db.prepare(
      `INSERT INTO analytics_visits (id, site, visitor_id, day, start_ts, end_ts, pageviews, events,
        entry_page, exit_page, exit_ts, source, referrer, utm_source, utm_medium, utm_campaign,
        utm_content, utm_term, device, browser, os, country, region, city, city_name, region_name,
        entry_hostname, consented)
       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    this.#lastVisitId = db.prepare("SELECT COALESCE(MAX(id), 0) AS id FROM analytics_visits");
    this.#updateVisit = db.prepare(
      `UPDATE analytics_visits SET start_ts = ?, end_ts = ?, pageviews = ?, events = ?,
        entry_page = ?, exit_page = ?, exit_ts = ? WHERE id = ?`,
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
    this.#check(site, events, options);
    // Sessions are built in time order; a stable sort keeps equal timestamps in arrival order.
    const all = [...events].sort((a, b) => a.ts - b.ts);
    const sorted = all.filter((e) => e.name !== ENGAGEMENT);
    const engagement = all.filter((e) => e.name === ENGAGEMENT);
    const seen: SeenVisits = new Map();
    const result = transaction(this.#db, () => {
      if (options.batchId !== undefined) {
        const { changes } = this.#insertBatch.run(site, options.batchId, events.length, Date.now());
        if (Number(changes) === 0) return { recorded: 0, duplicate: true };
      }
      if (all.length === 0) return { recorded: 0, duplicate: false };
      if (sorted.length === 0) {
        this.#writeEngagement(site, engagement);
        return { recorded: all.length, duplicate: false };
      }
      const batch: Batch = {
        site,
        events: [],
        visits: new Map(),
        visitorDays: new Map(),
        hours: new HourDeltas(),
        breakdowns: new BreakdownDeltas(),
        seen,
      };
      this.#assignVisits(batch, sorted);
      this.#accumulate(batch);
      this.#write(batch);
      this.#writeEngagement(site, engagement);
      return { recorded: all.length, duplicate: false };
    });
    if (result.recorded > 0) {
      this.#sessions.remember(seen);
      this.onRecorded?.(site);
    }
    return result;
  }

  /**
   * Stores engagement events, each with the visit of its visitor it falls in
   * (after this batch's own visits are written); they change no visit or rollup.
   */
  #writeEngagement(site: string, events: readonly AnalyticsEvent[]): void {
    for (const e of events) {
      const visit = this.#engagedVisit.get(site, e.visitorId, e.ts - VISIT_TIMEOUT, e.ts + VISIT_TIMEOUT) as
        | { id: number }
        | undefined;
      this.#insertEngagement.run(
        site,
        e.ts,
        clip(e.pathname) ?? "/",
        clip(e.hostname) ?? "",
        e.visitorId,
        visit?.id ?? null,
        e.scrollDepth ?? null,
        e.engagedMs ?? null,
        propsJson(e),
      );
    }
  }

  /** Throws `TypeError` for a malformed domain, event list, event or batch id. */
  #check(site: string, events: readonly AnalyticsEvent[], options: RecordEventsOptions): void {
    checkDomain(site);
    if (!Array.isArray(events)) throw new TypeError("Cannot record events: expected an array of events");
    events.forEach(checkEvent);
    if (options.batchId !== undefined && (typeof options.batchId !== "string" || options.batchId === "")) {
      throw new TypeError("Cannot record events: batchId must be a non-empty string");
    }
  }

  /**
   * Puts each event (in time order) into its visit: one of the batch, a
   * stored one, or a new one, which counts its visitor in its first hour
   * when it is their first visit that day. Keeps the hourly visit figures.
   */
  #assignVisits(batch: Batch, sorted: readonly AnalyticsEvent[]): void {
    const { site, hours } = batch;
    let nextVisitId = (this.#lastVisitId.get() as { id: number }).id;
    for (const e of sorted) {
      let visit = this.#sessions.findVisitFor(site, e, batch.visits, batch.visitorDays, batch.seen);
      if (visit) {
        hours.contribute(visit, -1);
      } else {
        const dayIndex = Math.floor(e.ts / day);
        // The first visit of a visitor on a day counts them once, in the hour it starts.
        const firstOfDay = Number(this.#addVisitorDay.run(site, dayIndex, e.visitorId).changes) === 1;
        if (firstOfDay) hours.get(floorTo(e.ts, hour)).visitors += 1;
        visit = newVisit(
          ++nextVisitId,
          e,
          visitorDayOf(batch.visitorDays, e.visitorId, dayIndex, !firstOfDay),
        );
        visit.visitorDay.visits.push(visit);
        batch.seen.set(visit.id, { known: visit.known, added: visit.added, visit, events: 0 });
        const list = batch.visits.get(e.visitorId) ?? [];
        list.push(visit);
        batch.visits.set(e.visitorId, list);
      }
      const path = clip(e.pathname) ?? "/";
      extendVisit(visit, e, path);
      hours.contribute(visit, 1);
      hours.addEvent(e);
      batch.events.push({ e, visit, path, name: clip(e.name) ?? "" });
    }
  }

  /** Counts each event under its own values now, and under its visit's fixed ones in {@link #write}. */
  #accumulate(batch: Batch): void {
    for (const { e, visit, path, name } of batch.events) {
      addEventBreakdowns(batch.breakdowns, visit, e, path, name);
    }
  }

  /** Stores the events and visits, and adds the visits' and visitor-days' deltas to the rollups. */
  #write(batch: Batch): void {
    const { site, events, breakdowns } = batch;
    for (const { e, visit, path, name } of events) {
      this.#insertEvent.run(
        site,
        e.ts,
        name,
        path,
        clip(e.hostname) ?? "",
        ...fixedColumns(e),
        e.visitorId,
        propsJson(e),
        visit.id,
        e.revenue?.amount ?? null,
        e.revenue?.currency ?? null,
        e.country ?? null,
        e.region ?? null,
        e.city ?? null,
        clip(e.cityName),
        clip(e.regionName),
        flag(e.interactive),
        flag(e.consented),
      );
    }
    for (const list of batch.visits.values()) {
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
            v.first.country ?? null,
            v.first.region ?? null,
            v.first.city ?? null,
            clip(v.first.cityName),
            clip(v.first.regionName),
            clip(v.first.hostname) ?? "",
            flag(v.first.consented),
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
    for (const group of batch.visitorDays.values()) {
      if (group.existed || group.visits.length > 1) {
        countVisitorDay(this.#sessions, site, group, breakdowns, batch.seen);
      }
    }
    this.#rollups.write(site, batch.hours, breakdowns);
    this.#touchSite.run(site, events[0].e.ts, events[events.length - 1].e.ts, events.length);
  }
}

/** An event's props as stored: a JSON object, or null when it has none. */
function propsJson(e: AnalyticsEvent): string | null {
  return e.props && Object.keys(e.props).length > 0 ? JSON.stringify(e.props) : null;
}
