/**
 * The executor of resolved stats queries ({@link ResolvedQuery}, Plausible's
 * Stats API v2): {@link AnalyticsEngine.executeQuery} runs the statements of
 * `engine_sql.ts` on the columnar mirror (`duck_mirror.ts`, DuckDB) when the
 * node has one, else on SQLite, and turns their groups into Plausible's
 * rows: every metric (incl. `percentage`, `conversion_rate`,
 * `group_conversion_rate`, `scroll_depth`, `time_on_page`, revenue), labels
 * (times, goals, country names), imported data (`engine_imports.ts`),
 * order, pagination, `time_labels` and `total_rows`.
 *
 * Definitions (Plausible's, on Kosmos's tables):
 * - `visitors`: distinct (visitor id, day of the visit's start); `visits`: visits with a matching event;
 * - `pageviews`, `events`: matching `pageview` events and all matching events (engagement events are apart);
 * - `views_per_visit`: pageviews / visits (2 decimals); `bounce_rate`: % of those visits with one
 *   pageview (with an `event:page` filter, of the visits that entered on such a page), integer;
 *   `visit_duration`: mean seconds from a visit's first to its last event, integer;
 * - `percentage`: the row's visitors as % of all visitors under the same filters (1 decimal);
 * - `conversion_rate`: % of all visitors without the top-level goal and prop filters (2 decimals);
 *   `group_conversion_rate`: the same per row, against the row's own visitors without them;
 * - `scroll_depth`: mean over visits of the deepest scroll (engagement events), integer;
 *   `time_on_page`: engaged seconds per visit that engaged, integer;
 * - `total_revenue`, `average_revenue`: sum and mean of the revenue of matching events in the goals'
 *   currency (2 decimals); with several currencies (or no revenue goal) they are 0 with a
 *   `meta.metric_warnings` entry, as Plausible answers.
 *
 * ```ts
 * const engine = new AnalyticsEngine(db, { mirror });
 * const { results, meta } = await engine.executeQuery(query, goals);
 * ```
 */
import type { Database } from "../db/mod.ts";
import type { Logger } from "../../log.ts";
import type { DuckMirror } from "./duck_mirror.ts";
import {
  type Dimension,
  type FilterTree,
  type Goal,
  isTimeDimension,
  type Metric,
  propName,
  type QueryAnswer,
  type QueryMeta,
  type ResolvedQuery,
  type ResultRow,
  type TimeGrain,
  timeGrainOf,
  type ValueFilter,
} from "./query_ast.ts";
import {
  engagementStatement,
  MAX_VISIT_ID_SPAN,
  type Param,
  type Statement,
  type VisitIdSpan,
  visitIdSpanStatement,
} from "./engine_sql.ts";
import { statementsFor } from "./engine_visits.ts";
import { DUCKDB, registerRegexp, SQLITE } from "./dialects.ts";
import { countryName } from "./country_names.ts";
import { mergeImports } from "./engine_imports.ts";
import { type GroupTotals, metricValue, zeroTotals } from "./engine_metrics.ts";

export type EngineRow = Record<string, string | number | null>;

export type { GroupTotals } from "./engine_metrics.ts";
export { zeroTotals } from "./engine_metrics.ts";

export interface Group {
  /** The raw dimension values (as the statements return them). */
  raw: (string | number | null)[];
  totals: GroupTotals;
}

/** Which engine runs the raw statements. */
export type EngineName = "duckdb" | "sqlite";

export interface AnalyticsEngineOptions {
  /** The columnar mirror, already open; without one, queries run on SQLite. @default none */
  mirror?: DuckMirror;
  /**
   * Opens the mirror in {@link AnalyticsEngine.start}; until its first sync
   * is done (a rebuild takes minutes at millions of events), and if it
   * cannot open, queries run on SQLite. @default none
   */
  openMirror?: () => Promise<DuckMirror>;
  /** Where a mirror that cannot open or sync is reported. @default none */
  log?: Logger;
  /**
   * Runs a SQLite statement elsewhere (the node's reader worker). @default on `db`, this thread
   */
  readSqlite?: (sql: string, params: Param[]) => Promise<EngineRow[]>;
}

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

export class AnalyticsEngine {
  readonly #db: Database;
  readonly #options: AnalyticsEngineOptions;
  #mirror?: DuckMirror;
  /** The mirror has caught up once since it opened (DuckDB answers from then on). */
  #ready: boolean;
  #closed = false;
  #stopped = false;
  readonly #readSqlite: (sql: string, params: Param[]) => Promise<EngineRow[]>;

  constructor(db: Database, options: AnalyticsEngineOptions = {}) {
    this.#db = db;
    this.#options = options;
    this.#mirror = options.mirror;
    this.#ready = options.mirror !== undefined;
    if (options.readSqlite) {
      this.#readSqlite = options.readSqlite;
    } else {
      registerRegexp(db);
      this.#readSqlite = (sql, params) => Promise.resolve(db.prepare(sql).all(...params) as EngineRow[]);
    }
  }

  /** The engine raw statements run on now. */
  get engine(): EngineName {
    return this.#mirror && this.#ready ? "duckdb" : "sqlite";
  }

  /** Opens the mirror (`openMirror`) and starts its first sync in the background. */
  async start(): Promise<void> {
    const { openMirror, log } = this.#options;
    if (!openMirror || this.#mirror) return;
    try {
      const mirror = await openMirror();
      if (this.#closed) return mirror.close();
      this.#mirror = mirror;
    } catch (err) {
      log?.warn("failed to open the analytics mirror; raw queries run on SQLite", { error: err });
      return;
    }
    this.#mirror.sync().then(
      () => this.#ready = true,
      (err) => log?.warn("failed to sync the analytics mirror; raw queries run on SQLite", { error: err }),
    );
  }

  /** Lets the mirror follow a committed write (called after each stored batch). */
  noteWrite(): void {
    // During the first sync too: a sync asked for while one runs makes it go round once more.
    if (!this.#mirror || this.#stopped || this.#closed) return;
    this.#mirror.sync().catch((err) =>
      this.#options.log?.warn("failed to sync the analytics mirror", { error: err })
    );
  }

  /** Stops the mirror's syncing (waits for the current step). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#ready = false; // from now on SQLite answers
    await this.#mirror?.stop();
  }

  /** Closes the mirror. */
  close(): void {
    this.#closed = true;
    this.#ready = false;
    this.#mirror?.close();
  }

  /** Answers a resolved query; `engine` forces one engine (the benchmark compares them). */
  async executeQuery(
    q: ResolvedQuery,
    goals: readonly Goal[],
    options: { engine?: EngineName } = {},
  ): Promise<QueryAnswer> {
    const engine = options.engine ?? this.engine;
    const duck = engine === "duckdb" ? this.#mirror : undefined;
    if (engine === "duckdb" && !duck) {
      throw new TypeError("Cannot query DuckDB: this node has no analytics mirror");
    }
    if (duck) await duck.sync();
    if (this.#closed && duck) throw new TypeError("Cannot query DuckDB: the analytics engine is closed");
    const run = (
      s: Statement,
    ) => (duck ? duck.read(s.sql, s.params) as Promise<EngineRow[]> : this.#readSqlite(s.sql, s.params));
    const dialect = duck ? DUCKDB : SQLITE;
    const meta: QueryMeta = {};
    const metrics = new Set(q.metrics);
    const currency = revenueCurrency(q, goals, meta);
    // Only scroll depth and time on page: the engagement events answer alone.
    const engagementOnly = q.metrics.every((m) => m === "scroll_depth" || m === "time_on_page");
    // Ungrouped visit counts (by goal, without dimensions, the totals of rates) use a bitmap of visit ids.
    // (With bounce rate or visit duration and no dimensions, the matching visits are counted as visit rows.)
    const visitFigures = metrics.has("bounce_rate") || metrics.has("visit_duration");
    const ungrouped = (!visitFigures && q.dimensions.every((d) => d === "event:goal")) ||
      metrics.has("percentage") || metrics.has("conversion_rate");
    const visitIds = duck && !engagementOnly && ungrouped
      ? await visitIdSpan(run(visitIdSpanStatement(q, dialect)))
      : undefined;
    const options2 = {
      goals,
      visitFigures,
      currency,
      metrics: q.metrics,
      visitIds,
    };
    const main = engagementOnly
      ? []
      : (await Promise.all(statementsFor(q, dialect, options2).map(run))).flat();
    const groups = new Map<string, Group>();
    const groupOf = (row: EngineRow) => {
      const raw = q.dimensions.map((_, i) => row[`d${i}`] ?? null);
      const key = JSON.stringify(raw);
      let g = groups.get(key);
      if (!g) groups.set(key, g = { raw, totals: zeroTotals() });
      return g;
    };
    for (const row of main) {
      const t = groupOf(row).totals;
      t.visitors += num(row.visitors);
      t.visits += num(row.visits);
      t.pageviews += num(row.pageviews);
      t.events += num(row.events);
      t.bounces += num(row.bounces);
      t.bounceVisits += num(row.bounce_visits);
      t.durationMs += num(row.duration_ms);
      t.revenue += num(row.revenue);
      t.revenueEvents += num(row.revenue_events);
    }
    if (metrics.has("scroll_depth") || metrics.has("time_on_page")) {
      for (const row of await run(engagementStatement(q, dialect, options2))) {
        const t = groupOf(row).totals;
        t.scrollTotal += num(row.scroll_total);
        t.scrollVisits += num(row.scroll_visits);
        t.engagedMs += num(row.engaged_ms);
        t.engagedVisits += num(row.engaged_visits);
      }
    }
    if (q.include.imports) mergeImports(this.#db, q, goals, groups, meta);
    const visitorsOf = async (query: ResolvedQuery) => {
      const statements = statementsFor(query, dialect, {
        goals,
        visitFigures: false,
        currency: null,
        metrics: ["visitors"],
        visitIds,
      });
      const rows = (await Promise.all(statements.map(run))).flat();
      const out = new Map<string, number>();
      for (const row of rows) {
        const raw = query.dimensions.map((_, i) => row[`d${i}`] ?? null);
        out.set(JSON.stringify(raw), num(row.visitors));
      }
      return out;
    };
    let total: number | undefined;
    if (metrics.has("percentage")) total = (await visitorsOf({ ...q, dimensions: [] })).get("[]") ?? 0;
    let converted: number | undefined;
    if (metrics.has("conversion_rate")) {
      converted =
        (await visitorsOf({ ...q, dimensions: [], filters: withoutGoalFilters(q.filters) })).get("[]") ?? 0;
    }
    let groupTotals: { map: Map<string, number>; keep: number[] } | undefined;
    if (metrics.has("group_conversion_rate")) {
      const keep = q.dimensions.flatMap((d, i) => (d === "event:goal" ? [] : [i]));
      const map = await visitorsOf({
        ...q,
        dimensions: keep.map((i) => q.dimensions[i]),
        filters: withoutGoalFilters(q.filters),
      });
      groupTotals = { map, keep };
    }
    const grain = timeGrainOf(q);
    let rows: ResultRow[] = [...groups.values()]
      .filter((g) =>
        q.dimensions.length === 0 || g.totals.visits > 0 || g.totals.events > 0 ||
        g.totals.scrollVisits > 0 || g.totals.engagedVisits > 0
      )
      .map((g) => ({
        dimensions: g.raw.map((v, i) => label(q.dimensions[i], v, goals, grain)),
        metrics: q.metrics.map((m) =>
          metricValue(m, g.totals, {
            total,
            converted,
            group: groupTotals?.map.get(JSON.stringify(groupTotals.keep.map((i) => g.raw[i]))),
          })
        ),
      }));
    if (rows.length === 0 && q.dimensions.length === 0) {
      rows = [{
        dimensions: [],
        metrics: q.metrics.map((m) => metricValue(m, zeroTotals(), { total, converted })),
      }];
    }
    sortRows(rows, q);
    if (q.include.totalRows) meta.total_rows = rows.length;
    if (q.include.timeLabels && grain) meta.time_labels = timeLabels(q.from, q.to, grain);
    const { limit, offset } = q.pagination;
    return { results: rows.slice(offset, offset + limit), meta };
  }
}

/** The span of visit ids a {@link visitIdSpanStatement} found, if a bitmap of it is small enough. */
async function visitIdSpan(rows: Promise<EngineRow[]>): Promise<VisitIdSpan | undefined> {
  const [row] = await rows;
  const [min, max] = [row?.min, row?.max];
  if (typeof min !== "number" || typeof max !== "number" || max - min >= MAX_VISIT_ID_SPAN) return undefined;
  return { min, max };
}

/** The filter tree without its top-level `event:goal` and `event:props:*` leaves (conversion denominators). */
export function withoutGoalFilters(tree: FilterTree): FilterTree {
  const dropped = (t: FilterTree) =>
    !["and", "or", "not", "has_done", "has_not_done"].includes(t[0]) &&
    ((t as ValueFilter)[1] === "event:goal" || propName((t as ValueFilter)[1]) !== null);
  if (tree[0] === "and") return ["and", (tree[1] as FilterTree[]).filter((t) => !dropped(t))];
  return dropped(tree) ? ["and", []] : tree;
}

/** The one currency revenue metrics are answered in, or null (with Plausible's warning in `meta`). */
function revenueCurrency(q: ResolvedQuery, goals: readonly Goal[], meta: QueryMeta): string | null {
  const asked = q.metrics.filter((m) => m === "total_revenue" || m === "average_revenue");
  if (asked.length === 0) return null;
  let chosen: readonly Goal[] = [];
  if (q.dimensions.includes("event:goal")) chosen = goals;
  else {
    const names = new Set<string>();
    const tree = q.filters;
    const leaves = tree[0] === "and" ? tree[1] as FilterTree[] : [tree];
    for (const t of leaves) {
      const leaf = t as ValueFilter;
      if (leaf[0] === "is" && leaf[1] === "event:goal") leaf[2].forEach((n) => names.add(n));
    }
    chosen = goals.filter((g) => names.has(g.name));
  }
  const currencies = new Set(chosen.flatMap((g) => (g.currency ? [g.currency] : [])));
  if (currencies.size === 1) {
    const [currency] = currencies;
    meta.revenue_currency = currency;
    return currency;
  }
  if (q.dimensions.includes("event:goal") && currencies.size > 1) return null;
  const code = currencies.size === 0 ? "no_revenue_goals_matching" : "no_single_revenue_currency";
  const warning = currencies.size === 0
    ? "Revenue metrics are null as there are no matching revenue goals."
    : "Revenue metrics are null as there are multiple currencies for the goals being queried.";
  meta.metric_warnings = Object.fromEntries(asked.map((m) => [m, { code, warning }]));
  return null;
}

/** "2026-01-02 13:00:00" for an hour, "2026-01-02" for a day, week or month. */
export function timeLabel(ms: number, grain: TimeGrain): string {
  const iso = new Date(ms).toISOString();
  return grain === "hour" ? `${iso.slice(0, 10)} ${iso.slice(11, 13)}:00:00` : iso.slice(0, 10);
}

function label(
  d: Dimension,
  v: string | number | null,
  goals: readonly Goal[],
  grain: TimeGrain | null,
): string {
  if (isTimeDimension(d)) return timeLabel(Number(v), grain as TimeGrain);
  if (d === "event:goal") return goals[Number(v)]?.name ?? "";
  if (d === "visit:country_name") return countryName(String(v));
  return String(v ?? "");
}

/** Every bucket of `[from, to)` for `grain`, as {@link timeLabel} names them. */
export function timeLabels(from: number, to: number, grain: TimeGrain): string[] {
  const out: string[] = [];
  const DAY = 86_400_000;
  let t: number;
  if (grain === "hour") t = Math.floor(from / 3_600_000) * 3_600_000;
  else t = Math.floor(from / DAY) * DAY;
  if (grain === "month") {
    const d = new Date(t);
    t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
  while (t < to && out.length < 100_000) {
    out.push(timeLabel(t, grain));
    if (grain === "hour") t += 3_600_000;
    else if (grain === "day") t += DAY;
    else if (grain === "week") {
      const day = Math.floor(t / DAY);
      t = (day - ((day + 3) % 7) + 7) * DAY;
    } else {
      const d = new Date(t);
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    }
  }
  return out;
}

function sortRows(rows: ResultRow[], q: ResolvedQuery): void {
  rows.sort((a, b) => {
    for (const [field, dir] of q.orderBy) {
      const mi = q.metrics.indexOf(field as Metric);
      const di = q.dimensions.indexOf(field as Dimension);
      const x = mi >= 0 ? a.metrics[mi] : a.dimensions[di];
      const y = mi >= 0 ? b.metrics[mi] : b.dimensions[di];
      const c = x < y ? -1 : x > y ? 1 : 0;
      if (c !== 0) return dir === "asc" ? c : -c;
    }
    for (let i = 0; i < a.dimensions.length; i++) {
      if (a.dimensions[i] !== b.dimensions[i]) return a.dimensions[i] < b.dimensions[i] ? -1 : 1;
    }
    return 0;
  });
}
