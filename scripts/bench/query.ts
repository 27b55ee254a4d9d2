/**
 * `deno task bench query [--events 10000000] [--runs 20] [--sqlite-runs 3]`:
 * the queries of one dashboard load (`web/routes/site.tsx`, period "30d")
 * over a site with N generated events in 30 days, in a SQLite file like a
 * node's, then the Stats API's raw-events queries on DuckDB against SQLite.
 *
 * Events are generated deterministically (`lib/analytics_gen.ts`: visits of
 * 1–6 pageviews, custom events with props and revenue, 200 pages, sources,
 * devices, browsers, 40 cities, engagement events) and stored through
 * `recordEvents` in batches of 10,000, which also measures ingestion.
 * Then the dashboard's queries run `--runs` times, interleaved with the
 * reference: each run times every query once and the reference once, the
 * order of the two alternating, after a warm-up run of both (not counted):
 *
 * - `headline`: the top figures of the last 30 days (every metric; hourly rollups);
 * - `graph`: every metric per day over 30 days (hourly rollups), and
 *   `graphHours`: per hour over one day (the "day" period's graph);
 * - `sources`, `referrers`, `pages` (pageviews only), `entryPages`,
 *   `exitPages`, `utmSources`, `utmMediums`, `utmCampaigns` (without
 *   "(none)"), `devices`, `browsers`, `os`, `customEvents` (everything but
 *   pageviews): the dashboard's tables, top 10 (daily breakdown rollups);
 * - `rawFallback`: one run of a breakdown the rollups cannot answer (top
 *   pages of desktop visits), which reads the raw events, as the node runs
 *   it: on the analytics reader's worker thread. `eventLoopMaxGapMs` is the
 *   longest the event loop went without running a 10 ms timer meanwhile.
 *
 * - `raw`: the DuckDB mirror is built from the SQLite file (`mirrorBuildMs`),
 *   then `lib/engine_compare.ts` runs its fixed raw-events queries through
 *   the executor on DuckDB (`--runs` times) and on SQLite (`--sqlite-runs`
 *   times), interleaved, and checks both answer the same (`agree`);
 *   `settings` are DuckDB's threads and memory limit in that run.
 *
 * Reference, same run, same connection and page cache: `SELECT COUNT(*)` over
 * the events table (a scan of its smallest index). Figures are p50 and p95
 * over the runs, with min and max.
 *
 * `--keep DIR` keeps the SQLite file and the mirror in DIR: a later run with
 * the same DIR and `--events` reuses them instead of generating the events
 * again (`insertPerSec` is then null, `reused` true, and `mirrorBuildMs` is
 * only the catch-up unless the mirror's file was removed or its layout changed).
 *
 * Prints one JSON line:
 * `{"bench":"query","events":…,"insertPerSec":…,"queries":{"headline":{"p50Ms":…,"p95Ms":…,"minMs":…,"maxMs":…},…},"slowestP95Ms":…,"rawFallback":{"ms":…,"eventLoopMaxGapMs":…},"raw":{"duckdb":{…,"slowestP95Ms":…},"sqlite":{…},"agree":…,"met":…},"target":{"p95Ms":300},"met":…,"reference":{"countP50Ms":…,"countP95Ms":…,…},"machine":{…}}`
 */
import { join } from "node:path";
import { openDatabase } from "../../node/services/db/mod.ts";
import { createAnalytics, EventsReader } from "../../node/services/analytics/mod.ts";
import { createLogger } from "../../node/log.ts";
import { numberFlag, percentile, progress } from "./net.ts";
import { interleave, machine } from "./lib/fair.ts";
import { generateEvents } from "./lib/analytics_gen.ts";
import { compareEngines } from "./lib/engine_compare.ts";
import { DuckMirror } from "../../node/services/analytics/duck_mirror.ts";
import { AnalyticsEngine } from "../../node/services/analytics/engine.ts";
import type { Goal } from "../../node/services/analytics/query_ast.ts";

const EVENTS = numberFlag("events", 10_000_000);
const RUNS = numberFlag("runs", 20);
const SQLITE_RUNS = numberFlag("sqlite-runs", 3);
const RAW_TARGET_MS = 500;
const GOALS: Goal[] = [
  { id: "signup", kind: "event", match: "Signup", name: "Signup", currency: "EUR" },
  { id: "docs", kind: "pageview", match: "/docs/**", name: "Visit /docs/**" },
  { id: "home", kind: "pageview", match: "/", name: "Visit /" },
];
const BATCH = 10_000;
const SITE = "bench.example";
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 31, 23, 0, 0);
const START = NOW - 30 * DAY + 3_600_000;

/** ms one call of `fn` took. */
function time(fn: () => unknown): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

function describe(samples: number[]): { p50Ms: number; p95Ms: number; minMs: number; maxMs: number } {
  return {
    p50Ms: round(percentile(samples, 50)),
    p95Ms: round(percentile(samples, 95)),
    minMs: round(Math.min(...samples)),
    maxMs: round(Math.max(...samples)),
  };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

const keepAt = Deno.args.indexOf("--keep");
const KEEP = keepAt >= 0 ? Deno.args[keepAt + 1] : undefined;
if (keepAt >= 0 && !KEEP) throw new RangeError("--keep needs a directory");
if (KEEP) await Deno.mkdir(KEEP, { recursive: true });
const dir = KEEP ?? await Deno.makeTempDir({ prefix: "kosmos-bench-query-" });
/** Written once the events are stored, so that a kept directory is reused only when complete. */
const done = join(dir, "generated.json");
const reused = KEEP !== undefined && await Deno.readTextFile(done).then(
  (text) => JSON.parse(text).events === EVENTS,
  () => false,
);
try {
  if (KEEP && !reused) {
    for (
      const f of ["kosmos.db", "kosmos.db-wal", "kosmos.db-shm", "analytics.duckdb", "analytics.duckdb.wal"]
    ) {
      await Deno.remove(join(dir, f)).catch(() => {});
    }
  }
  const db = openDatabase(join(dir, "kosmos.db"));
  const reader = new EventsReader(join(dir, "kosmos.db"));
  const analytics = createAnalytics(
    { db, log: createLogger({ level: "warn" }).forComponent("kosmos:analytics") },
    { now: () => NOW, reader },
  );
  const started = performance.now();
  let stored = 0;
  let engagement = 0;
  let reported = 0;
  let insertPerSec: number | null = null;
  if (reused) {
    stored = (db.prepare("SELECT COUNT(*) AS n FROM analytics_events").get() as { n: number }).n;
    engagement = (db.prepare("SELECT COUNT(*) AS n FROM analytics_engagement").get() as { n: number }).n;
    progress(`reusing ${stored} events in ${dir}`);
  } else {
    for (const batch of generateEvents(EVENTS, { site: SITE, start: START, batch: BATCH })) {
      const n = batch.filter((e) => e.name === "engagement").length;
      engagement += n;
      stored += analytics.recordEvents(SITE, batch).recorded - n;
      if (stored - reported >= 1_000_000) {
        reported = stored;
        progress(`stored ${stored} events`);
      }
    }
    insertPerSec = Math.round((stored + engagement) / ((performance.now() - started) / 1000));
    db.exec("ANALYZE");
    if (KEEP) await Deno.writeTextFile(done, JSON.stringify({ events: EVENTS }));
  }

  const metrics = [
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
    "events",
  ];
  const ask = (query: Record<string, unknown>) =>
    analytics.queryStatsSync({ site_id: SITE, date_range: "30d", ...query });
  const top = (dimension: string, columns: string[], filters: unknown[] = []) => () =>
    ask({ metrics: columns, dimensions: [dimension], filters, pagination: { limit: 10 } });
  const notNone = (dimension: string) => [["is_not", dimension, ["(none)"]]];
  // The same queries, in the same shapes, as one load of the dashboard.
  const dashboard: Record<string, () => unknown> = {
    headline: () => ask({ metrics }),
    graph: () => ask({ metrics, dimensions: ["time:day"] }),
    graphHours: () => ask({ date_range: "day", metrics, dimensions: ["time:hour"] }),
    sources: top("visit:source", ["visitors", "visits"]),
    referrers: top("visit:referrer", ["visitors", "visits"]),
    pages: top("event:page", ["visitors", "pageviews"], [["is", "event:name", ["pageview"]]]),
    entryPages: top("visit:entry_page", ["visitors", "visits"]),
    exitPages: top("visit:exit_page", ["visitors", "visits"]),
    utmSources: top("visit:utm_source", ["visitors"], notNone("visit:utm_source")),
    utmMediums: top("visit:utm_medium", ["visitors"], notNone("visit:utm_medium")),
    utmCampaigns: top("visit:utm_campaign", ["visitors"], notNone("visit:utm_campaign")),
    devices: top("visit:device", ["visitors"]),
    browsers: top("visit:browser", ["visitors"]),
    os: top("visit:os", ["visitors"]),
    customEvents: top("event:name", ["visitors", "events"], [["is_not", "event:name", ["pageview"]]]),
  };
  const count = db.prepare("SELECT COUNT(*) AS n FROM analytics_events");
  const runs = await interleave(RUNS, {
    dashboard: () =>
      Promise.resolve(Object.fromEntries(Object.entries(dashboard).map(([n, fn]) => [n, time(fn)]))),
    reference: () => Promise.resolve(time(() => count.get())),
  }, { onRound: (r) => progress(`query: ${r < 0 ? "warm-up" : `run ${r + 1}/${RUNS}`}`) });
  const queries = Object.fromEntries(
    Object.keys(dashboard).map((name) => [name, describe(runs.dashboard.map((run) => run[name]))]),
  );
  const reference = describe(runs.reference);
  const slowestP95Ms = Math.max(...Object.values(queries).map((q) => q.p95Ms));
  // The raw-events query as the node runs it (on its reader worker), while a
  // 10 ms timer measures how long the event loop goes unanswered.
  const fallbackQuery = {
    site_id: SITE,
    date_range: "30d",
    metrics: ["visitors", "pageviews"],
    dimensions: ["event:page"],
    filters: [["is", "visit:device", ["desktop"]]],
    pagination: { limit: 10 },
  };
  let lastTick = performance.now();
  let maxGapMs = 0;
  const ticker = setInterval(() => {
    const t = performance.now();
    maxGapMs = Math.max(maxGapMs, t - lastTick);
    lastTick = t;
  }, 10);
  const fallbackStarted = performance.now();
  await analytics.queryStats(fallbackQuery);
  const fallbackMs = performance.now() - fallbackStarted;
  clearInterval(ticker);
  const rawFallback = { ms: round(fallbackMs), eventLoopMaxGapMs: round(maxGapMs) };
  reader.close();

  // The raw-events engines: the DuckDB mirror, built from the SQLite file, against SQLite itself.
  const buildStarted = performance.now();
  const mirror = await DuckMirror.open(db, { path: join(dir, "analytics.duckdb"), onProgress: progress });
  await mirror.sync();
  const mirrorBuildMs = Math.round(performance.now() - buildStarted);
  // What DuckDB runs with: its threads (one per core unless set) and memory limit (its default: 80 % of RAM).
  const [setting] = await mirror.read(
    "SELECT current_setting('threads') AS threads, current_setting('memory_limit') AS memory_limit",
  );
  const engine = new AnalyticsEngine(db, { mirror });
  const compared = await compareEngines(engine, {
    site: SITE,
    // Every generated event: whole UTC days from the first to the last.
    from: Math.floor(START / DAY) * DAY,
    to: Math.floor(NOW / DAY) * DAY + DAY,
    goals: GOALS,
    duckRuns: RUNS,
    sqliteRuns: SQLITE_RUNS,
  });
  mirror.close();
  db.close();
  console.log(JSON.stringify({
    bench: "query",
    events: stored,
    insertPerSec,
    reused,
    queries,
    slowestP95Ms,
    rawFallback,
    raw: {
      engine: "duckdb",
      engagementEvents: engagement,
      mirrorBuildMs,
      settings: { threads: setting.threads, memoryLimit: setting.memory_limit },
      duckdb: compared.duckdb,
      sqlite: compared.sqlite,
      agree: compared.agree,
      disagreeing: compared.disagreeing,
      target: { p95Ms: RAW_TARGET_MS },
      met: compared.agree && compared.duckdb.slowestP95Ms <= RAW_TARGET_MS,
      requiredMet: compared.agree && compared.duckdb.requiredSlowestP95Ms <= RAW_TARGET_MS,
      speedup: Math.round((compared.sqlite.slowestP95Ms / compared.duckdb.slowestP95Ms) * 10) / 10,
    },
    target: { p95Ms: 300 },
    met: slowestP95Ms <= 300,
    reference: {
      countP50Ms: reference.p50Ms,
      countP95Ms: reference.p95Ms,
      countMinMs: reference.minMs,
      countMaxMs: reference.maxMs,
    },
    machine: machine(),
  }));
} finally {
  if (!KEEP) await Deno.remove(dir, { recursive: true }).catch(() => {});
}
