/**
 * Website analytics on the site owner's node: stores the events proxy nodes
 * deliver (already anonymized, decrypted by the caller), derives visits with a
 * 30-minute inactivity rule, keeps hourly rollups and daily per-dimension
 * rollups (the dashboard's breakdowns), answers Plausible-style stats queries,
 * realtime visitor counts and the list of sites with data, and computes the
 * bounded tables that `releases/` noises and sells (`bounded_table.ts`).
 *
 * The tables are `schema.ts`'s; visits are `sessions.ts`'s, the rollups
 * `rollups.ts`'s, and `store.ts` writes a batch through them.
 *
 * ```ts
 * const analytics = createAnalytics({ db, log });
 * analytics.recordEvents("example.com", events, { batchId: "b-1" });
 * const { results } = await analytics.queryStats({
 *   site_id: "example.com",
 *   date_range: "7d",
 *   metrics: ["visitors", "pageviews", "bounce_rate"],
 *   dimensions: ["event:page"],
 * });
 * const { visitors } = analytics.getRealtimeVisitors("example.com");
 * ```
 */
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import type { Database } from "../db/mod.ts";
import type { Logger } from "../../log.ts";
import { join } from "node:path";
import { NotFoundError } from "../../errors.ts";
import { day, minute } from "../../constants.ts";
import { AnalyticsWriter, type RecordEventsOptions, type RecordEventsResult } from "./store.ts";
import { checkDomain, migrateAnalytics } from "./schema.ts";
import { type ParsedStatsQuery, parseStatsQuery, type StatsResult } from "./query_parse.ts";
import { readsRawEvents, runStatsQuery, runStatsQueryWith } from "./query.ts";
import { EventsReader } from "./reader.ts";
import { AnalyticsImports } from "./imports.ts";
import { defineService } from "../../service.ts";
import { createGoalStore, type GoalStore } from "./goals.ts";
import { computeFunnel } from "./funnels.ts";
import type { FunnelStepResult } from "./query_ast.ts";
import { AnalyticsEngine, type EngineRow } from "./engine.ts";
import { DuckMirror } from "./duck_mirror.ts";
import { createStatsQueries, type QueryV2Answer } from "./stats_queries.ts";
import type { V1Endpoint } from "./query_v1.ts";
import { RawEventRetention, type RetentionResult } from "./retention.ts";

export type { AnalyticsEvent } from "../../../protocol/analytics.ts";
export type { RecordEventsOptions, RecordEventsResult } from "./store.ts";
export { VISIT_TIMEOUT } from "./sessions.ts";
export {
  DATE_RANGES,
  type DateRange,
  type Dimension,
  DIMENSIONS,
  type Filter,
  FILTER_OPS,
  type Metric,
  METRICS,
  type NormalizedStatsQuery,
  type OrderBy,
  type StatsQuery,
  type StatsResult,
  type StatsRow,
} from "./query_parse.ts";
export {
  type BoundedTable,
  computeBoundedTable,
  type ComputeBoundedTableOptions,
  type ContributionBounds,
  DEVICE_VALUES,
  formatDay,
  getDefaultBounds,
  parseDay,
  RELEASE_DIMENSIONS,
  type ReleaseDimension,
  type ReleaseRow,
} from "./bounded_table.ts";
export { checkDomain } from "./schema.ts";
export { EventsReader, EventsReaderError } from "./reader.ts";
export {
  AnalyticsImports,
  IMPORT_DIMENSIONS,
  IMPORT_SOURCES,
  ImportError,
  type ImportResult,
  type ImportSource,
  type ImportSummary,
  MAX_IMPORT_BYTES,
} from "./imports.ts";
export type { ApiKeyView, GoalInput, GoalStore } from "./goals.ts";
export type { Funnel, FunnelStepResult, Goal } from "./query_ast.ts";
export type { QueryV2Answer } from "./stats_queries.ts";
export type { V1Endpoint } from "./query_v1.ts";
export {
  checkRetentionDays,
  DEFAULT_RETENTION_DAYS,
  getRawEventsKept,
  MAX_RETENTION_DAYS,
  type RetentionResult,
} from "./retention.ts";

export interface AnalyticsComponents {
  db: Database;
  log: Logger;
  /** Sites this node owns answer queries (with zeros) before their first event. @default none */
  sites?: { ownsDomain(domain: string): boolean };
}

export interface AnalyticsInit {
  /** The clock, ms since the epoch. @default Date.now */
  now?: () => number;
  /** Window of the realtime visitor count, ms. @default 5 minutes */
  realtimeWindow?: number;
  /**
   * Where queries that read the raw events run, off the event loop (its
   * owner closes it). @default none: on the caller's thread
   */
  reader?: EventsReader;
  /** The executor of the Stats API's queries (v1, v2). @default an `AnalyticsEngine` on SQLite, this thread */
  engine?: AnalyticsEngine;
}

/** A site with events on this node, for the Sites page. */
export interface SiteSummary {
  domain: string;
  /** Visitors and pageviews in the last 30 days (today included). */
  visitors: number;
  pageviews: number;
  /** Events ever recorded. */
  events: number;
  firstEventAt: number;
  lastEventAt: number;
}

export interface Analytics {
  /** The worker that reads whole ranges of events, when there is one (releases compute their tables on it). */
  readonly reader?: EventsReader;
  /**
   * Stores a batch of events for `siteDomain` in one transaction. With a
   * `batchId`, a batch already recorded for that site is ignored. Throws
   * `TypeError` (and stores nothing) on a malformed domain or event.
   */
  recordEvents(
    siteDomain: string,
    events: AnalyticsEvent[],
    options?: RecordEventsOptions,
  ): RecordEventsResult;
  /**
   * Answers a Plausible Stats API v2 query (see `query.ts`). Rejects with
   * `TypeError` naming the bad field, `NotFoundError` for a site this node
   * neither owns nor has events for, or the signal's reason. A query the
   * rollups cannot answer reads the raw events on the `reader`'s worker
   * thread, and an aborted one stops there.
   */
  queryStats(query: unknown, options?: { signal?: AbortSignal }): Promise<StatsResult>;
  /**
   * {@link Analytics.queryStats} on the caller's thread, throwing the same
   * errors; a raw-events query blocks it until answered.
   */
  queryStatsSync(query: unknown): StatsResult;
  /** Distinct visitors in the last 5 minutes. Throws like {@link Analytics.queryStats} for unknown sites. */
  getRealtimeVisitors(siteDomain: string): { visitors: number };
  /** Sites with events, most recently active first. */
  listSites(): SiteSummary[];
  /** Whether this node owns `domain` or has events for it. */
  hasSite(domain: string): boolean;
  /** The sites' goals, funnels and Stats API keys (`goals.ts`). */
  readonly goals: GoalStore;
  /**
   * Plausible's Stats API v2 over the raw events (every metric, dimension and filter; the
   * dashboard keeps to {@link Analytics.queryStats} and its rollups). Rejects with a
   * `QueryError` (Plausible's message and status) or `NotFoundError`.
   */
  queryStatsV2(body: unknown, options?: { signal?: AbortSignal }): Promise<QueryV2Answer>;
  /** A v1 stats route's answer (`query_v1.ts`); rejects like {@link Analytics.queryStatsV2}. */
  queryStatsV1(
    endpoint: V1Endpoint,
    params: Record<string, string>,
    options?: { signal?: AbortSignal },
  ): Promise<Record<string, unknown>>;
  /** Visitors of the last 5 minutes through the Stats API's executor (v1's realtime route). */
  countRealtimeVisitors(site: string, options?: { signal?: AbortSignal }): Promise<number>;
  /** A funnel's steps over `[from, to)` ms (`funnels.ts`); throws `NotFoundError` for an unknown funnel. */
  computeFunnel(
    site: string,
    funnelId: string,
    range: { from: number; to: number },
    options?: { signal?: AbortSignal },
  ): Promise<FunnelStepResult[]>;
  /** A site's history imported from a Plausible CSV export or a GA4 export (`imports.ts`). */
  readonly imports: AnalyticsImports;
}

export function createAnalytics(components: AnalyticsComponents, init: AnalyticsInit = {}): Analytics {
  const { db, log } = components;
  const now = init.now ?? Date.now;
  const realtimeWindow = init.realtimeWindow ?? 5 * minute;
  migrateAnalytics(db);
  const writer = new AnalyticsWriter(db);
  const siteRow = db.prepare("SELECT first_ts FROM analytics_sites WHERE site = ?");
  const realtime = db.prepare(
    "SELECT COUNT(DISTINCT visitor_id) AS n FROM analytics_events WHERE site = ? AND ts > ? AND ts <= ?",
  );

  const { reader } = init;
  const goals = createGoalStore(db, { now });
  const imports = new AnalyticsImports(db, { now });
  const engine = init.engine ?? new AnalyticsEngine(db);
  const firstEventTs = (site: string) =>
    (siteRow.get(site) as { first_ts: number } | undefined)?.first_ts ?? null;

  const parse = (input: unknown): ParsedStatsQuery => {
    const site = (input as { site_id?: unknown } | null)?.site_id;
    const first = typeof site === "string"
      ? (siteRow.get(site) as { first_ts: number } | undefined)?.first_ts ?? null
      : null;
    const parsed = parseStatsQuery(input, { now: now(), firstEventTs: first });
    requireSite(parsed.query.site_id);
    return parsed;
  };

  const hasSite = (domain: string) =>
    siteRow.get(domain) !== undefined || (components.sites?.ownsDomain(domain) ?? false);
  const stats = createStatsQueries({
    goals,
    execute: (q, g) => engine.executeQuery(q, g),
    now,
    firstEventTs,
    hasSite,
  });
  const requireSite = (domain: string) => {
    if (!hasSite(domain)) {
      throw new NotFoundError(
        `No site "${domain}" on this node: it owns no such site and has no events for it`,
      );
    }
  };

  return {
    reader,
    imports,

    recordEvents(siteDomain, events, options = {}) {
      const result = writer.recordEvents(siteDomain, events, options);
      if (result.recorded > 0) engine.noteWrite(); // the columnar mirror follows
      log.debug("recorded analytics events", { site: siteDomain, ...result });
      return result;
    },

    async queryStats(input, options = {}) {
      const parsed = parse(input);
      options.signal?.throwIfAborted();
      if (reader === undefined || !readsRawEvents(parsed)) return runStatsQuery(db, parsed);
      const started = performance.now();
      try {
        return await runStatsQueryWith(db, parsed, (sql, params) => reader.read(sql, params, options));
      } catch (err) {
        if ((err as Error)?.name !== "EventsReaderError") throw err;
        log.warn("failed to read events on the worker; reading them here", { error: err });
        return runStatsQuery(db, parsed);
      } finally {
        log.debug("answered a stats query from the raw events", {
          site: parsed.query.site_id,
          ms: Math.round(performance.now() - started),
        });
      }
    },

    queryStatsSync(input) {
      return runStatsQuery(db, parse(input));
    },

    getRealtimeVisitors(siteDomain) {
      checkDomain(siteDomain);
      requireSite(siteDomain);
      const t = now();
      const row = realtime.get(siteDomain, t - realtimeWindow, t) as { n: number };
      return { visitors: row.n };
    },

    listSites() {
      const today = Math.floor(now() / day) * day;
      const from = today - 29 * day;
      const rows = db.prepare(
        `SELECT s.site, s.first_ts, s.last_ts, s.events,
          (SELECT COALESCE(SUM(visitors), 0) FROM analytics_hourly h WHERE h.site = s.site AND h.hour >= ?)
            AS visitors,
          (SELECT COALESCE(SUM(pageviews), 0) FROM analytics_hourly h WHERE h.site = s.site AND h.hour >= ?)
            AS pageviews
         FROM analytics_sites s ORDER BY s.last_ts DESC, s.site`,
      ).all(from, from) as {
        site: string;
        first_ts: number;
        last_ts: number;
        events: number;
        visitors: number;
        pageviews: number;
      }[];
      return rows.map((r) => ({
        domain: r.site,
        visitors: r.visitors,
        pageviews: r.pageviews,
        events: r.events,
        firstEventAt: r.first_ts,
        lastEventAt: r.last_ts,
      }));
    },

    hasSite(domain) {
      return typeof domain === "string" && hasSite(domain);
    },

    goals,

    queryStatsV2: (body, options) => stats.queryV2(body, options),
    queryStatsV1: (endpoint, params, options) => stats.queryV1(endpoint, params, options),
    countRealtimeVisitors: (site, options) => stats.realtimeVisitors(site, options),

    // deno-lint-ignore require-await
    async computeFunnel(site, funnelId, range, options = {}) {
      const funnel = goals.listFunnels(site).find((f) => f.id === funnelId);
      if (!funnel) throw new NotFoundError(`No funnel ${JSON.stringify(String(funnelId).slice(0, 40))}`);
      // On the reader's worker when there is one: a funnel reads a whole range of events.
      const read = reader
        ? (sql: string, params: (string | number)[]) => reader.read(sql, params, options)
        : (sql: string, params: (string | number)[]) =>
          Promise.resolve(db.prepare(sql).all(...params) as Record<string, unknown>[]);
      return computeFunnel(read, site, funnel, goals.listGoals(site), range);
    },
  };
}

/** Settings of the `analytics` service besides {@link AnalyticsInit}'s. */
export interface AnalyticsServiceInit extends Omit<AnalyticsInit, "reader"> {
  /** Visits deleted per transaction by the raw-event retention (`retention.ts`). @default 500 */
  retentionBatchSize?: number;
}

/**
 * The `analytics` service: opens the events reader on the node's database file
 * (closed in `close()`), runs the migrations in `start()` (or at first use), and
 * deletes raw events older than `config.analyticsRetentionDays` (`retention.ts`)
 * at start and after each UTC midnight.
 */
export function analytics(init: AnalyticsServiceInit = {}) {
  return defineService(
    "analytics",
    ["db", "sites", "config"],
    (
      c: Required<AnalyticsComponents> & { config: { dataDir: string; analyticsRetentionDays?: number } },
    ) => {
      const reader = new EventsReader(join(c.config.dataDir, "kosmos.db"));
      let mirror: DuckMirror | undefined;
      // Raw-events queries run on the DuckDB mirror once it has caught up, on the reader's SQLite worker before.
      const engine = init.engine ?? new AnalyticsEngine(c.db, {
        log: c.log,
        openMirror: async () =>
          mirror = await DuckMirror.open(c.db, {
            path: join(c.config.dataDir, "analytics.duckdb"),
            onProgress: (message) => c.log.info(message),
          }),
        readSqlite: (sql, params) => reader.read(sql, params as (string | number)[]) as Promise<EngineRow[]>,
      });
      const retention = () =>
        new RawEventRetention(c.db, {
          days: c.config.analyticsRetentionDays,
          now: init.now,
          mirror: () => mirror,
          batchSize: init.retentionBatchSize,
          log: c.log,
        });
      return new AnalyticsService(
        { db: c.db, log: c.log, sites: c.sites },
        { ...init, reader, engine },
        retention,
      );
    },
  );
}

/** {@link createAnalytics} created at start (its migrations) or at first use, and the reader's owner. */
class AnalyticsService implements Analytics {
  readonly reader: EventsReader;
  /** The Stats API's executor (DuckDB mirror once caught up, else SQLite). */
  readonly engine?: AnalyticsEngine;
  readonly #components: AnalyticsComponents;
  readonly #init: AnalyticsInit;
  readonly #createRetention: () => RawEventRetention;
  #analytics?: Analytics;
  #retention?: RawEventRetention;

  constructor(
    components: AnalyticsComponents,
    init: AnalyticsInit & { reader: EventsReader },
    createRetention: () => RawEventRetention,
  ) {
    this.#components = components;
    this.#init = init;
    this.reader = init.reader;
    this.engine = init.engine;
    this.#createRetention = createRetention;
  }

  async start(): Promise<void> {
    this.#open();
    await this.#init.engine?.start(); // opens the mirror; its first sync goes on in the background
    this.#retention ??= this.#createRetention();
    this.#retention.start(); // a first run now, in the background
  }

  async stop(): Promise<void> {
    await this.#retention?.stop();
    await this.#init.engine?.stop();
  }

  /**
   * Deletes the raw events older than the retention now (the service does it
   * at start and after each UTC midnight); resolves with what it deleted.
   */
  pruneRawEvents(): Promise<RetentionResult> {
    this.#open();
    this.#retention ??= this.#createRetention();
    return this.#retention.prune();
  }

  close(): void {
    this.#init.engine?.close();
    this.reader.close(); // its worker thread
  }

  #open(): Analytics {
    return this.#analytics ??= createAnalytics(this.#components, this.#init);
  }

  recordEvents(...args: Parameters<Analytics["recordEvents"]>): RecordEventsResult {
    return this.#open().recordEvents(...args);
  }

  queryStats(...args: Parameters<Analytics["queryStats"]>): Promise<StatsResult> {
    return this.#open().queryStats(...args);
  }

  queryStatsSync(query: unknown): StatsResult {
    return this.#open().queryStatsSync(query);
  }

  getRealtimeVisitors(siteDomain: string): { visitors: number } {
    return this.#open().getRealtimeVisitors(siteDomain);
  }

  listSites(): SiteSummary[] {
    return this.#open().listSites();
  }

  hasSite(domain: string): boolean {
    return this.#open().hasSite(domain);
  }

  get goals(): GoalStore {
    return this.#open().goals;
  }

  get imports(): AnalyticsImports {
    return this.#open().imports;
  }

  queryStatsV2(...args: Parameters<Analytics["queryStatsV2"]>): Promise<QueryV2Answer> {
    return this.#open().queryStatsV2(...args);
  }

  queryStatsV1(...args: Parameters<Analytics["queryStatsV1"]>): Promise<Record<string, unknown>> {
    return this.#open().queryStatsV1(...args);
  }

  countRealtimeVisitors(...args: Parameters<Analytics["countRealtimeVisitors"]>): Promise<number> {
    return this.#open().countRealtimeVisitors(...args);
  }

  computeFunnel(...args: Parameters<Analytics["computeFunnel"]>): Promise<FunnelStepResult[]> {
    return this.#open().computeFunnel(...args);
  }
}
