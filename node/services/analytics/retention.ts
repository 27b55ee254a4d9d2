/**
 * Raw-event retention: {@link RawEventRetention} deletes the raw analytics
 * rows (visits, their events and engagement events, and the visitor ids of
 * `analytics_visitor_days`) of every day older than `days` UTC days, a few
 * minutes after start (once the node is up) and then after each UTC
 * midnight; the rollups (`analytics_hourly`,
 * `analytics_breakdowns`) stay, so the dashboard keeps its history. A visit
 * goes whole: one that starts before the cutoff goes with all its events, as
 * the rollups count a visit on the day it starts.
 *
 * It deletes in bounded batches (one short transaction each, the event loop
 * free in between), with `secure_delete` on (`db/mod.ts`), then empties the
 * WAL into the file (`wal_checkpoint(TRUNCATE)`, waiting for the events
 * reader's worker), and has the DuckDB mirror rewrite itself into a new file
 * without those rows (`DuckMirror.rewriteRetained`): after a run the old
 * rows' visitor ids, props and hostnames are in no file of the data dir.
 * Rows whose ids SQLite would hand out again (the newest of a table) are
 * deleted last, while the mirror holds its syncs, so it never skips a new
 * row under a reused id.
 *
 * `analytics_retention` records, per site whose rows it deleted, the first
 * day whose raw events are kept; {@link checkRawEventsKept} refuses a
 * statistics release of that site that starts earlier (its bounded table
 * needs every visit), rather than count zeros.
 *
 * ```ts
 * const retention = new RawEventRetention(db, { days: 180, mirror: () => mirror, log });
 * retention.start();                 // a run after `startDelay`, then one after each UTC midnight
 * const result = await retention.prune();
 * await retention.stop();
 * ```
 */
import { type Database, migrate, transaction, truncateWal } from "../db/mod.ts";
import type { Logger } from "../../log.ts";
import { day, minute, second } from "../../constants.ts";
import type { DuckMirror } from "./duck_mirror.ts";
import { VISIT_TIMEOUT } from "./sessions.ts";

/** Days of raw events kept by default. */
export const DEFAULT_RETENTION_DAYS = 180;
/** The longest retention that can be set (about 100 years). */
export const MAX_RETENTION_DAYS = 36_500;

/** What one run deleted. */
export interface RetentionResult {
  /** The first UTC day (since the epoch) whose raw events are kept. */
  keptFromDay: number;
  visits: number;
  events: number;
  engagement: number;
  visitorDays: number;
  /** Whether the WAL was emptied into the file afterwards (a reader may hold it back for a while). */
  walTruncated: boolean;
  /** Rows the DuckDB mirror dropped when it rewrote itself; undefined when it did not. */
  mirrorRows?: number;
}

export interface RetentionInit {
  /** UTC days of raw events kept, today included; 1 to {@link MAX_RETENTION_DAYS}. @default 180 */
  days?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
  /** The DuckDB mirror, when the node has one open. @default none */
  mirror?: () => DuckMirror | undefined;
  /** Visits deleted per transaction. @default 500 */
  batchSize?: number;
  /** How long after start() the first run waits, ms. @default 5 minutes */
  startDelay?: number;
  log?: Logger;
}

const MIGRATIONS = [
  `CREATE TABLE analytics_retention (
    site TEXT PRIMARY KEY,
    kept_from_day INTEGER NOT NULL,
    days INTEGER NOT NULL
  ) WITHOUT ROWID;`,
];

/** Throws `RangeError` unless `days` is a whole number of days from 1 to {@link MAX_RETENTION_DAYS}. */
export function checkRetentionDays(days: unknown): asserts days is number {
  if (!Number.isSafeInteger(days) || (days as number) < 1 || (days as number) > MAX_RETENTION_DAYS) {
    throw new RangeError(
      `Invalid raw-event retention ${
        String(days)
      }: expected a whole number of days from 1 to ${MAX_RETENTION_DAYS}`,
    );
  }
}

/**
 * The first UTC day whose raw events of `site` are kept, and the retention
 * that pruned before it; null when none of its rows was ever deleted. Reads
 * only (the events reader's worker calls it).
 */
export function getRawEventsKept(db: Database, site: string): { keptFromDay: number; days: number } | null {
  const table = db.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'analytics_retention'",
  )
    .get();
  if (!table) return null;
  const row = db.prepare("SELECT kept_from_day, days FROM analytics_retention WHERE site = ?").get(site) as
    | { kept_from_day: number; days: number }
    | undefined;
  return row ? { keptFromDay: row.kept_from_day, days: row.days } : null;
}

/** Throws `RangeError` when raw events of `site` on `fromDay` (UTC days since the epoch) were deleted by the retention. */
export function checkRawEventsKept(db: Database, site: string, fromDay: number): void {
  const kept = getRawEventsKept(db, site);
  if (kept && fromDay < kept.keptFromDay) {
    const iso = (d: number) => new Date(d * day).toISOString().slice(0, 10);
    throw new RangeError(
      `Cannot release statistics from ${iso(fromDay)}: this node keeps raw events for ${kept.days} days ` +
        `(--analytics-retention-days), and those before ${iso(kept.keptFromDay)} are deleted; ` +
        "a release bounds each visitor's contribution from the raw events, so it must start on or after that day",
    );
  }
}

export class RawEventRetention {
  readonly #db: Database;
  readonly #days: number;
  readonly #now: () => number;
  readonly #mirror: () => DuckMirror | undefined;
  readonly #batchSize: number;
  readonly #log?: Logger;
  readonly #startDelay: number;
  #timer?: ReturnType<typeof setTimeout>;
  #running?: Promise<RetentionResult>;
  #stopped = false;

  constructor(db: Database, init: RetentionInit = {}) {
    const days = init.days ?? DEFAULT_RETENTION_DAYS;
    checkRetentionDays(days);
    this.#db = db;
    this.#days = days;
    this.#now = init.now ?? Date.now;
    this.#mirror = init.mirror ?? (() => undefined);
    this.#batchSize = init.batchSize ?? 500;
    this.#log = init.log;
    this.#startDelay = init.startDelay ?? 5 * minute;
    migrate(db, "analytics_retention", MIGRATIONS);
  }

  /**
   * Runs a prune after `startDelay` (the node's start, and the mirror's first
   * sync, go first), then one after each UTC midnight.
   */
  start(): void {
    this.#stopped = false;
    this.#schedule(this.#startDelay);
  }

  /** Stops the timer; a running prune ends after its current batch. Resolves when it has. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
  }

  /**
   * Deletes the raw rows of the days before the retention (see the module
   * doc); concurrent calls share one run. Resolves with what it deleted.
   */
  prune(): Promise<RetentionResult> {
    return this.#running ??= this.#prune().finally(() => this.#running = undefined);
  }

  #schedule(wait: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      try {
        const result = await this.prune();
        if (result.visits + result.engagement + result.visitorDays > 0) {
          this.#log?.info("deleted raw analytics events past their retention", { ...result });
        }
      } catch (err) {
        this.#log?.warn("failed to delete raw analytics events past their retention", { error: err });
      }
      // A minute past the next UTC midnight, when a new day falls out of the retention.
      const now = this.#now();
      this.#schedule(Math.min(day, Math.max(second, (Math.floor(now / day) + 1) * day + 60 * second - now)));
    }, wait);
  }

  async #prune(): Promise<RetentionResult> {
    const db = this.#db;
    const keptFromDay = Math.floor(this.#now() / day) - this.#days + 1;
    const cutoff = keptFromDay * day;
    const result: RetentionResult = {
      keptFromDay,
      visits: 0,
      events: 0,
      engagement: 0,
      visitorDays: 0,
      walTruncated: false,
    };
    const sites = (db.prepare("SELECT site FROM analytics_sites ORDER BY site").all() as { site: string }[])
      .map((r) => r.site);
    const mirror = this.#mirror();
    /** Visits (and engagement rows) holding a table's largest id: deleted last (see the module doc). */
    const deferred = { visits: new Set<number>(), engagement: new Set<number>() };
    for (const site of sites) {
      await this.#pruneSite(site, cutoff, result, mirror ? deferred : undefined);
      if (this.#stopped) return result;
    }
    const finish = () => this.#deleteDeferred(cutoff, deferred, result);
    if (mirror) {
      try {
        result.mirrorRows = await mirror.rewriteRetained(cutoff, { before: finish });
      } catch (err) {
        if (deferred.visits.size + deferred.engagement.size > 0) finish(); // not run if the mirror was stopped
        this.#log?.warn("failed to rewrite the analytics mirror without deleted events", { error: err });
      }
    }
    result.walTruncated = await truncateWal(db);
    if (!result.walTruncated) {
      this.#log?.warn(
        "failed to empty the WAL after deleting raw analytics events: a reader held it; next run retries",
      );
    }
    return result;
  }

  async #pruneSite(
    site: string,
    cutoff: number,
    result: RetentionResult,
    deferred?: { visits: Set<number>; engagement: Set<number> },
  ): Promise<void> {
    const db = this.#db;
    const old = db.prepare(
      `SELECT EXISTS (SELECT 1 FROM analytics_events WHERE site = ? AND ts < ?)
        OR EXISTS (SELECT 1 FROM analytics_engagement WHERE site = ? AND ts < ?)
        OR EXISTS (SELECT 1 FROM analytics_visitor_days WHERE site = ? AND day < ?) AS old`,
    ).get(site, cutoff, site, cutoff, site, Math.floor(cutoff / day)) as { old: number };
    if (!old.old) return;
    // Recorded first: a release of days being deleted is refused from now on.
    db.prepare(
      `INSERT INTO analytics_retention (site, kept_from_day, days) VALUES (?, ?, ?) ON CONFLICT (site)
       DO UPDATE SET kept_from_day = MAX(kept_from_day, excluded.kept_from_day), days = excluded.days`,
    ).run(site, Math.floor(cutoff / day), this.#days);
    const findVisits = db.prepare(
      `SELECT DISTINCT visit_id AS id FROM analytics_events WHERE site = ? AND ts < ? LIMIT ?`,
    );
    const maxIds = db.prepare(
      `SELECT (SELECT MAX(id) FROM analytics_visits) AS visit,
        (SELECT visit_id FROM analytics_events WHERE id = (SELECT MAX(id) FROM analytics_events)) AS eventVisit,
        (SELECT MAX(id) FROM analytics_engagement) AS engagement`,
    );
    for (;;) {
      const top = maxIds.get() as {
        visit: number | null;
        eventVisit: number | null;
        engagement: number | null;
      };
      const skip = deferred ? [...deferred.visits] : [];
      const ids = (findVisits.all(site, cutoff, this.#batchSize + skip.length + 2) as { id: number }[])
        .map((r) => r.id).filter((id) => !skip.includes(id));
      if (deferred) {
        for (const id of ids) if (id === top.visit || id === top.eventVisit) deferred.visits.add(id);
      }
      const batch = ids.filter((id) => !deferred?.visits.has(id)).slice(0, this.#batchSize);
      if (batch.length === 0) break;
      transaction(db, () => this.#deleteVisits(site, batch, result, deferred?.engagement, top.engagement));
      await yieldToEventLoop();
      if (this.#stopped) return;
    }
    const engagement = db.prepare(
      `DELETE FROM analytics_engagement WHERE id IN (
        SELECT id FROM analytics_engagement WHERE site = ? AND ts < ? AND id IS NOT ? LIMIT ?)`,
    );
    const visitorDays = db.prepare(
      `DELETE FROM analytics_visitor_days WHERE (site, day, visitor_id) IN (
        SELECT site, day, visitor_id FROM analytics_visitor_days WHERE site = ? AND day < ? LIMIT ?)`,
    );
    for (;;) {
      const top = deferred ? (maxIds.get() as { engagement: number | null }).engagement : null;
      if (top !== null && deferred) deferred.engagement.add(top);
      const a = Number(engagement.run(site, cutoff, top, this.#batchSize * 4).changes);
      const b = Number(visitorDays.run(site, Math.floor(cutoff / day), this.#batchSize * 4).changes);
      result.engagement += a;
      result.visitorDays += b;
      if (a + b === 0) break;
      await yieldToEventLoop();
      if (this.#stopped) return;
    }
  }

  /** Deletes visits, their events, and their engagement events (by time, through the `(site, ts)` index). */
  #deleteVisits(
    site: string,
    ids: number[],
    result: RetentionResult,
    keepEngagement?: Set<number>,
    topEngagement?: number | null,
  ): void {
    const db = this.#db;
    const list = ids.map(() => "?").join(",");
    const { last } = db.prepare(`SELECT MAX(end_ts) AS last FROM analytics_visits WHERE id IN (${list})`)
      .get(...ids) as { last: number | null };
    if (last !== null) {
      // Engagement of these visits, up to a visit timeout after their last event; the newest row waits.
      const top = keepEngagement ? topEngagement ?? null : null;
      if (top !== null) keepEngagement!.add(top);
      result.engagement += Number(
        db.prepare(
          `DELETE FROM analytics_engagement WHERE id IN (SELECT id FROM analytics_engagement
           WHERE site = ? AND ts <= ? AND visit_id IN (${list}) AND id IS NOT ?)`,
        ).run(site, last + VISIT_TIMEOUT, ...ids, top).changes,
      );
    }
    result.events += Number(
      db.prepare(`DELETE FROM analytics_events WHERE visit_id IN (${list})`).run(...ids).changes,
    );
    result.visits += Number(
      db.prepare(`DELETE FROM analytics_visits WHERE id IN (${list})`).run(...ids).changes,
    );
  }

  /** The last deletions: the visits and engagement rows held back because they hold a table's largest id. */
  #deleteDeferred(
    cutoff: number,
    deferred: { visits: Set<number>; engagement: Set<number> },
    result: RetentionResult,
  ): void {
    const db = this.#db;
    transaction(db, () => {
      const visits = [...deferred.visits];
      if (visits.length > 0) {
        const list = visits.map(() => "?").join(",");
        // Only those that still start before the cutoff (a visit cannot start later than it did).
        const old = (db.prepare(`SELECT id FROM analytics_visits WHERE id IN (${list}) AND start_ts < ?`)
          .all(...visits, cutoff) as { id: number }[]).map((r) => r.id);
        if (old.length > 0) {
          const oldList = old.map(() => "?").join(",");
          result.engagement += Number(
            db.prepare(`DELETE FROM analytics_engagement WHERE visit_id IN (${oldList})`).run(...old).changes,
          );
          result.events += Number(
            db.prepare(`DELETE FROM analytics_events WHERE visit_id IN (${oldList})`).run(...old).changes,
          );
          result.visits += Number(
            db.prepare(`DELETE FROM analytics_visits WHERE id IN (${oldList})`).run(...old).changes,
          );
        }
      }
      // Old, or of a visit deleted above or in a batch.
      const engagement = db.prepare(
        `DELETE FROM analytics_engagement WHERE id = ? AND (ts < ? OR (visit_id IS NOT NULL AND
         NOT EXISTS (SELECT 1 FROM analytics_visits v WHERE v.id = analytics_engagement.visit_id)))`,
      );
      for (const id of deferred.engagement) result.engagement += Number(engagement.run(id, cutoff).changes);
    });
    deferred.visits.clear();
    deferred.engagement.clear();
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
