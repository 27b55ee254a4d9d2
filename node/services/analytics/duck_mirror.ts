/**
 * {@link DuckMirror}: a columnar copy of the raw analytics tables in an
 * embedded DuckDB database (`<dataDir>/analytics.duckdb`), on which the
 * queries the rollups cannot answer run (`engine.ts`). SQLite stays the
 * durable source of truth: the mirror follows it by event id. After each
 * batch the writer stores, {@link DuckMirror.sync} appends the new events
 * and engagement events and replaces the visits they touched; a missing or
 * emptied mirror is rebuilt the same way from id 0, in chunks (with
 * progress), and a mirror ahead of its SQLite file (a restored backup) is
 * dropped and rebuilt. Every query first awaits the sync, so it sees every
 * committed event. Besides copies of the tables, it keeps `solo` on visits
 * and events (the visit is its visitor-day's only one, so counting visitors
 * needs no distinct count for it) and `pages` (each site's distinct
 * pathnames, so page filters test each once); `docs/analytics-engine.md`.
 *
 * DuckDB runs statements on its own threads (`@duckdb/node-api` is async),
 * so neither the sync's appends nor a query stop the node's event loop,
 * except for the short synchronous reads of each chunk from SQLite.
 *
 * ```ts
 * const mirror = await DuckMirror.open(db, { path: "/data/analytics.duckdb" });
 * await mirror.sync();
 * const rows = await mirror.read("SELECT COUNT(*) AS n FROM events WHERE site = ?", ["example.com"]);
 * mirror.close();
 * ```
 */
import {
  BIGINT,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBType,
  type DuckDBValue,
  INTEGER,
  VARCHAR,
} from "@duckdb/node-api";
import type { Database } from "../db/mod.ts";
import type { Param } from "./engine_sql.ts";
import { EVENT_VISIT_COLUMNS } from "./dialects.ts";
import { readKeptSettings, swapInRetained, writeRetainedCopy } from "./duck_retention.ts";

/** Rows read from SQLite and appended per step. */
const CHUNK = 100_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id BIGINT, site VARCHAR, ts BIGINT, name VARCHAR, pathname VARCHAR, hostname VARCHAR, visit_id BIGINT,
  vkey UBIGINT, props MAP(VARCHAR, VARCHAR), revenue_amount DOUBLE, revenue_currency VARCHAR,
  ${EVENT_VISIT_COLUMNS.map((c) => `${c} VARCHAR`).join(", ")}, solo BOOLEAN);
CREATE TABLE IF NOT EXISTS visits (
  id BIGINT, site VARCHAR, vkey UBIGINT, day INTEGER, start_ts BIGINT, end_ts BIGINT, pageviews INTEGER, events INTEGER,
  entry_page VARCHAR, exit_page VARCHAR, entry_hostname VARCHAR, exit_hostname VARCHAR, source VARCHAR,
  referrer VARCHAR, utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR, utm_content VARCHAR,
  utm_term VARCHAR, device VARCHAR, browser VARCHAR, os VARCHAR, country VARCHAR, region VARCHAR, city VARCHAR,
  city_name VARCHAR, region_name VARCHAR, solo BOOLEAN);
CREATE TABLE IF NOT EXISTS engagement (
  id BIGINT, site VARCHAR, ts BIGINT, pathname VARCHAR, hostname VARCHAR, visit_id BIGINT,
  scroll_depth INTEGER, engaged_ms BIGINT, props MAP(VARCHAR, VARCHAR));
CREATE TABLE IF NOT EXISTS pages (site VARCHAR, pathname VARCHAR, ts BIGINT);
CREATE TABLE IF NOT EXISTS mirror_state (events_hwm BIGINT, engagement_hwm BIGINT);
CREATE TABLE IF NOT EXISTS events_stage (
  id BIGINT, site VARCHAR, ts BIGINT, name VARCHAR, pathname VARCHAR, hostname VARCHAR, visit_id BIGINT,
  props VARCHAR, revenue_amount VARCHAR, revenue_currency VARCHAR);
CREATE TABLE IF NOT EXISTS visits_stage (
  id BIGINT, site VARCHAR, vkey VARCHAR, day INTEGER, start_ts BIGINT, end_ts BIGINT, pageviews INTEGER,
  events INTEGER, entry_page VARCHAR, exit_page VARCHAR, entry_hostname VARCHAR, exit_hostname VARCHAR,
  source VARCHAR, referrer VARCHAR, utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR,
  utm_content VARCHAR, utm_term VARCHAR, device VARCHAR, browser VARCHAR, os VARCHAR, country VARCHAR,
  region VARCHAR, city VARCHAR, city_name VARCHAR, region_name VARCHAR);
CREATE TABLE IF NOT EXISTS engagement_stage (
  id BIGINT, site VARCHAR, ts BIGINT, pathname VARCHAR, hostname VARCHAR, visit_id BIGINT,
  scroll_depth INTEGER, engaged_ms BIGINT, props VARCHAR);
DELETE FROM events_stage;
DELETE FROM visits_stage;
DELETE FROM engagement_stage;`;

/**
 * Adds the pathnames of a staging table to `pages` (each site's distinct pathnames, with the last time
 * one was seen, `ts`, so that a retention rewrite drops those only pruned events had).
 */
const pagesFrom = (stage: string) =>
  `UPDATE pages SET ts = n.ts FROM (SELECT site, pathname, MAX(ts) AS ts FROM ${stage} GROUP BY site, pathname) n
   WHERE pages.site = n.site AND pages.pathname = n.pathname AND n.ts > pages.ts;
   INSERT INTO pages SELECT s.site, s.pathname, MAX(s.ts) FROM ${stage} s WHERE s.pathname IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.site = s.site AND p.pathname = s.pathname)
   GROUP BY s.site, s.pathname;`;

/** The column types of the staging tables, in order (the rows read from SQLite have the same keys in order). */
const S = VARCHAR;
const STAGE_TYPES: Record<string, DuckDBType[]> = {
  events_stage: [BIGINT, S, BIGINT, S, S, S, BIGINT, S, S, S],
  visits_stage: [BIGINT, S, S, INTEGER, BIGINT, BIGINT, INTEGER, INTEGER, ...Array(19).fill(S)],
  engagement_stage: [BIGINT, S, BIGINT, S, S, BIGINT, INTEGER, BIGINT, S],
};

/**
 * Moves the visits stage into `visits`, hashing the visitor-day key; `solo` (the visit is the only one of its
 * visitor-day) is set by {@link MARK_SHARED} or, in a rebuild, {@link MARK_ALL_SHARED}.
 */
const VISITS_FROM_STAGE = `INSERT INTO visits SELECT id, site, hash(vkey), day, start_ts, end_ts, pageviews,
  events, entry_page, exit_page, entry_hostname, exit_hostname, source, referrer, utm_source, utm_medium,
  utm_campaign, utm_content, utm_term, device, browser, os, country, region, city, city_name, region_name, true
  FROM visits_stage;`;

/** After a rebuild's visits: those whose visitor-day has several are not `solo`. */
const MARK_ALL_SHARED = `UPDATE visits SET solo = false FROM (
  SELECT site, vkey FROM visits GROUP BY site, vkey HAVING COUNT(*) > 1) m
  WHERE visits.site = m.site AND visits.vkey = m.vkey`;

/** The visits of the staged visitor-days that are no longer alone in them (their ids come back). */
const MARK_SHARED = `UPDATE visits SET solo = false FROM (
  SELECT w.site, w.vkey FROM visits w
  WHERE w.day IN (SELECT day FROM visits_stage) AND w.vkey IN (SELECT hash(vkey) FROM visits_stage)
  GROUP BY w.site, w.vkey HAVING COUNT(*) > 1) m
  WHERE visits.site = m.site AND visits.vkey = m.vkey AND visits.solo RETURNING visits.id`;

const VISIT_SELECT =
  `SELECT v.id, v.site, v.visitor_id || ':' || v.day AS vkey, v.day, v.start_ts, v.end_ts, v.pageviews, v.events, v.entry_page,
  v.exit_page, v.entry_hostname,
  (SELECT x.hostname FROM analytics_events x WHERE x.visit_id = v.id AND x.ts = v.exit_ts AND x.name = 'pageview'
   LIMIT 1) AS exit_hostname,
  v.source, v.referrer, v.utm_source, v.utm_medium, v.utm_campaign, v.utm_content, v.utm_term, v.device,
  v.browser, v.os, v.country, v.region, v.city, v.city_name, v.region_name
  FROM analytics_visits v`;

type Row = Record<string, string | number | bigint | null>;

export interface DuckMirrorOptions {
  /** The DuckDB file; `:memory:` keeps the mirror in memory (rebuilt at each open). @default ":memory:" */
  path?: string;
  /** Reports progress of a long sync (a rebuild). @default none */
  onProgress?: (message: string) => void;
  /** DuckDB's threads. @default the machine's cores */
  threads?: number;
}

export class DuckMirror {
  readonly #db: Database;
  #instance: DuckDBInstance;
  #write: DuckDBConnection;
  #readConn: DuckDBConnection;
  readonly #onProgress?: (message: string) => void;
  #syncing?: Promise<void>;
  #again = false;
  #closed = false;
  #stopping = false;
  /** Set while {@link rewriteRetained} swaps the file: reads wait for it. */
  #swapping?: Promise<void>;
  #reading = 0;

  private constructor(
    db: Database,
    instance: DuckDBInstance,
    write: DuckDBConnection,
    read: DuckDBConnection,
    options: DuckMirrorOptions,
  ) {
    this.#db = db;
    this.#instance = instance;
    this.#write = write;
    this.#readConn = read;
    this.#onProgress = options.onProgress;
  }

  /** Opens (or creates) the mirror of `db`'s analytics tables; call {@link sync} to bring it up to date. */
  static async open(db: Database, options: DuckMirrorOptions = {}): Promise<DuckMirror> {
    // Answers are aggregates, so row order never matters; not keeping it lets scans run fully in parallel.
    const settings: Record<string, string> = { preserve_insertion_order: "false" };
    if (options.threads !== undefined) settings.threads = String(options.threads);
    const instance = await DuckDBInstance.create(options.path ?? ":memory:", settings);
    if (options.path && options.path !== ":memory:") restrictPermissions(options.path);
    try {
      const write = await instance.connect();
      // A mirror of an older layout (events without their visit's columns or `solo`) is dropped and rebuilt.
      const old = await write.runAndReadAll(
        `SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'events'
         AND column_name = 'solo'`,
      );
      const tables = await write.runAndReadAll(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'events'",
      );
      if (Number(tables.getRowsJS()[0][0]) > 0 && Number(old.getRowsJS()[0][0]) === 0) {
        await write.run(
          `DROP TABLE events; DROP TABLE visits; DROP TABLE engagement; DROP TABLE IF EXISTS pages;
           DROP TABLE mirror_state`,
        );
      }
      await write.run(SCHEMA);
      const read = await instance.connect();
      return new DuckMirror(db, instance, write, read, options);
    } catch (err) {
      instance.closeSync();
      throw err;
    }
  }

  /**
   * Brings the mirror up to every event committed to SQLite. Concurrent
   * calls share one run; a call made while one runs waits for the next.
   */
  sync(): Promise<void> {
    if (this.#closed || this.#stopping) {
      return Promise.reject(new Error("Cannot sync the analytics mirror: it is stopped"));
    }
    if (this.#syncing) {
      this.#again = true;
      return this.#syncing;
    }
    const run = async () => {
      try {
        do {
          this.#again = false;
          await this.#catchUp();
        } while (this.#again && !this.#closed && !this.#stopping);
      } finally {
        this.#syncing = undefined;
      }
    };
    return this.#syncing = run();
  }

  /** The rows of `sql` (DuckDB's dialect) with `params`; integers come back as numbers. */
  async read(sql: string, params: Param[] = []): Promise<Row[]> {
    const values: DuckDBValue[] = params.map((
      p,
    ) => (typeof p === "number" && Number.isSafeInteger(p) ? BigInt(p) : p));
    while (this.#swapping) await this.#swapping;
    this.#reading++;
    let reader;
    try {
      reader = await this.#readConn.runAndReadAll(sql, values);
    } finally {
      this.#reading--;
    }
    return reader.getRowObjectsJS().map((row) => {
      const out: Row = {};
      for (const [k, v] of Object.entries(row)) {
        out[k] = typeof v === "bigint" ? Number(v) : (v as string | number | null);
      }
      return out;
    });
  }

  /**
   * Rewrites the mirror into a new file without the raw rows a retention
   * prune deleted from SQLite (those of visits that start before `cutoff` ms,
   * `duck_retention.ts`) and swaps it in, so their bytes leave the disk.
   * `before` runs first, while no sync can run: the prune's last deletions
   * (rows whose ids SQLite would hand out again) go there. Syncs and reads
   * wait meanwhile. Resolves with the number of rows dropped.
   */
  async rewriteRetained(cutoff: number, options: { before?: () => void } = {}): Promise<number> {
    while (this.#syncing) await this.#syncing.catch(() => {});
    if (this.#closed || this.#stopping) throw new Error("Cannot rewrite the analytics mirror: it is stopped");
    const { promise: done, resolve } = Promise.withResolvers<void>();
    this.#syncing = done;
    try {
      options.before?.();
      const max = this.#db.prepare(
        `SELECT (SELECT COALESCE(MAX(id), 0) FROM analytics_events) AS events,
          (SELECT COALESCE(MAX(id), 0) FROM analytics_engagement) AS engagement`,
      ).get() as { events: number; engagement: number };
      const copy = await writeRetainedCopy(this.#write, cutoff, max);
      if (copy.path !== null && copy.target) {
        this.#swapping = done;
        while (this.#reading > 0) await new Promise((r) => setTimeout(r, 5));
        const settings = await readKeptSettings(this.#write);
        this.#readConn.closeSync();
        this.#write.closeSync();
        this.#instance.closeSync();
        try {
          swapInRetained(copy.path, copy.target);
          this.#instance = await DuckDBInstance.create(copy.path, settings);
          restrictPermissions(copy.path);
          this.#write = await this.#instance.connect();
          this.#readConn = await this.#instance.connect();
        } catch (err) {
          this.#closed = true; // nothing left open: the engine answers from SQLite
          throw err;
        }
      }
      do {
        this.#again = false;
        await this.#catchUp();
      } while (this.#again && !this.#closed && !this.#stopping);
      return copy.dropped;
    } finally {
      this.#syncing = undefined;
      this.#swapping = undefined;
      resolve();
    }
  }

  /** Stops syncing: a running sync ends after its current step; resolves when it has. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#syncing?.catch(() => {});
  }

  /** Closes the DuckDB database (call {@link stop} first when a sync may be running). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#readConn.closeSync();
    this.#write.closeSync();
    this.#instance.closeSync();
  }

  async #state(): Promise<{ events: number; engagement: number }> {
    const reader = await this.#write.runAndReadAll("SELECT events_hwm, engagement_hwm FROM mirror_state");
    const row = reader.getRowsJS()[0];
    return row ? { events: Number(row[0]), engagement: Number(row[1]) } : { events: 0, engagement: 0 };
  }

  async #catchUp(): Promise<void> {
    let { events, engagement } = await this.#state();
    const max = this.#db.prepare(
      `SELECT (SELECT COALESCE(MAX(id), 0) FROM analytics_events) AS e,
        (SELECT COALESCE(MAX(id), 0) FROM analytics_engagement) AS g`,
    ).get() as { e: number; g: number };
    if (max.e < events || max.g < engagement) {
      // The SQLite file is older than the mirror (restored from a backup): start again.
      await this.#write.run(
        `DELETE FROM events; DELETE FROM visits; DELETE FROM engagement; DELETE FROM pages;
         DELETE FROM mirror_state`,
      );
      events = engagement = 0;
    }
    const rebuild = events === 0 && max.e > 0;
    if (rebuild) {
      this.#onProgress?.(`rebuilding the analytics mirror: ${max.e} events`);
      await this.#copyAllVisits();
    }
    const eventsStmt = this.#db.prepare(
      `SELECT id, site, ts, name, pathname, hostname, visit_id, props, revenue_amount, revenue_currency
       FROM analytics_events WHERE id > ? ORDER BY id LIMIT ?`,
    );
    while (!this.#closed && !this.#stopping && events < max.e) {
      const rows = eventsStmt.all(events, CHUNK) as Row[];
      if (rows.length === 0) break;
      events = Number(rows[rows.length - 1].id);
      await this.#append("events_stage", rows);
      const touched = rebuild ? [] : [...new Set(rows.map((r) => Number(r.visit_id)))];
      await this.#replaceVisits(touched);
      await this.#write.run(
        `BEGIN;
         INSERT INTO events SELECT s.id, s.site, s.ts, s.name, s.pathname, s.hostname, s.visit_id, v.vkey,
           CAST(CAST(s.props AS JSON) AS MAP(VARCHAR, VARCHAR)), CAST(s.revenue_amount AS DOUBLE),
           s.revenue_currency, ${EVENT_VISIT_COLUMNS.map((c) => `v.${c}`).join(", ")}, COALESCE(v.solo, false)
           FROM events_stage s LEFT JOIN visits v ON v.id = s.visit_id ORDER BY s.id;
         ${pagesFrom("events_stage")}
         DELETE FROM events_stage;
         DELETE FROM mirror_state;
         INSERT INTO mirror_state VALUES (${events}, ${engagement});
         COMMIT;`,
      );
      if (rebuild) this.#onProgress?.(`rebuilding the analytics mirror: ${events} of ${max.e} events`);
    }
    const engagementStmt = this.#db.prepare(
      `SELECT id, site, ts, pathname, hostname, visit_id, scroll_depth, engaged_ms, props
       FROM analytics_engagement WHERE id > ? ORDER BY id LIMIT ?`,
    );
    while (!this.#closed && !this.#stopping && engagement < max.g) {
      const rows = engagementStmt.all(engagement, CHUNK) as Row[];
      if (rows.length === 0) break;
      engagement = Number(rows[rows.length - 1].id);
      await this.#append("engagement_stage", rows);
      await this.#write.run(
        `BEGIN;
         INSERT INTO engagement SELECT id, site, ts, pathname, hostname, visit_id, scroll_depth, engaged_ms,
           CAST(CAST(props AS JSON) AS MAP(VARCHAR, VARCHAR)) FROM engagement_stage;
         ${pagesFrom("engagement_stage")}
         DELETE FROM engagement_stage;
         DELETE FROM mirror_state;
         INSERT INTO mirror_state VALUES (${events}, ${engagement});
         COMMIT;`,
      );
    }
  }

  /** Copies every visit (a rebuild), in id order. */
  async #copyAllVisits(): Promise<void> {
    await this.#write.run("DELETE FROM visits");
    const stmt = this.#db.prepare(`${VISIT_SELECT} WHERE v.id > ? ORDER BY v.id LIMIT ?`);
    let last = 0;
    while (!this.#closed && !this.#stopping) {
      const rows = stmt.all(last, CHUNK) as Row[];
      if (rows.length === 0) break;
      last = Number(rows[rows.length - 1].id);
      await this.#append("visits_stage", rows);
      await this.#write.run(`${VISITS_FROM_STAGE} DELETE FROM visits_stage;`);
    }
    await this.#write.run(MARK_ALL_SHARED);
  }

  /** Replaces the mirror's copy of the given visits with SQLite's. */
  async #replaceVisits(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      const rows = this.#db.prepare(`${VISIT_SELECT} WHERE v.id IN (${part.map(() => "?").join(",")})`)
        .all(...part) as Row[];
      await this.#append("visits_stage", rows);
    }
    try {
      await this.#write.run(
        `BEGIN; DELETE FROM visits WHERE id IN (SELECT id FROM visits_stage); ${VISITS_FROM_STAGE}`,
      );
      // A new visit of a visitor-day seen before: the earlier visits' events are no longer `solo` either.
      const shared = (await this.#write.runAndReadAll(MARK_SHARED)).getRowsJS().map((r) => Number(r[0]));
      for (let i = 0; i < shared.length; i += 1000) {
        await this.#write.run(
          `UPDATE events SET solo = false WHERE solo AND visit_id IN (${
            shared.slice(i, i + 1000).join(",")
          })`,
        );
      }
      await this.#write.run("DELETE FROM visits_stage; COMMIT;");
    } catch (err) {
      await this.#write.run("ROLLBACK").catch(() => {});
      await this.#write.run("DELETE FROM visits_stage");
      throw err;
    }
  }

  /** Appends SQLite rows to a staging table (columns in the rows' key order), in data chunks. */
  async #append(table: string, rows: Row[]): Promise<void> {
    const types = STAGE_TYPES[table];
    const appender = await this.#write.createAppender(table);
    try {
      for (let start = 0; start < rows.length; start += 2048) {
        const part = rows.slice(start, start + 2048).map((row) => Object.values(row));
        const chunk = DuckDBDataChunk.create(types, part.length);
        chunk.setColumns(types.map((type, k) =>
          part.map((row) => {
            const value = row[k];
            if (value === null || value === undefined) return null;
            if (type === VARCHAR) return String(value);
            return type === BIGINT ? BigInt(value) : Number(value);
          })
        ));
        appender.appendDataChunk(chunk);
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }
}

/**
 * The copy holds what `kosmos.db` holds (visitor ids, paths): owner-only, like it. DuckDB recreates its WAL
 * after a checkpoint with the process umask; the data dir (0700) is what guards that file.
 */
function restrictPermissions(path: string): void {
  for (const file of [path, `${path}.wal`]) {
    try {
      Deno.chmodSync(file, 0o600);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}
