/**
 * Stats queries that read the raw events run on the reader's worker thread
 * (`reader.ts`), over its own read-only connection, and so do the bounded
 * tables of statistics releases: the same answers as on the caller's thread,
 * aborts and closes that stop them, and a fallback to the caller's thread
 * when the worker cannot read the database.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import { type Analytics, createAnalytics, type StatsQuery } from "./mod.ts";
import { BATCH_1, BATCH_2, NOW, OTHER_EVENTS, OTHER_SITE, SITE } from "./fixtures_test.ts";
import { EventsReader } from "./reader.ts";
import { computeBoundedTable, RELEASE_DIMENSIONS } from "./bounded_table.ts";

const log = createLogger({ level: "silent" }).forComponent("kosmos:analytics");

/** Queries only the raw events answer: filters on another dimension, two dimensions. */
const RAW_QUERIES: Partial<StatsQuery>[] = [
  { dimensions: ["event:page"], filters: [["is", "visit:device", ["desktop"]]] },
  { dimensions: ["visit:source", "visit:device"] },
  { filters: [["contains", "event:page", ["/pri"]]] },
  { dimensions: ["time:day"], filters: [["is_not", "visit:browser", ["Safari"]]] },
];
const METRICS = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "events"] as const;

async function withAnalytics(
  fn: (analytics: Analytics, dir: string) => Promise<void>,
  dbPath?: (dir: string) => string,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-analytics-reader-" });
  const db = openDatabase(join(dir, "kosmos.db"));
  const reader = new EventsReader(dbPath ? dbPath(dir) : join(dir, "kosmos.db"));
  const analytics = createAnalytics({ db, log }, { now: () => NOW, reader });
  try {
    analytics.recordEvents(SITE, BATCH_1, { batchId: "b1" });
    analytics.recordEvents(OTHER_SITE, OTHER_EVENTS);
    await fn(analytics, dir);
  } finally {
    reader.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const ask = (query: Partial<StatsQuery>) => ({
  site_id: SITE,
  date_range: "7d",
  metrics: [...METRICS],
  ...query,
});

Deno.test("queryStats() answers raw-event queries on the worker as on the caller's thread", async () => {
  await withAnalytics(async (analytics) => {
    for (const query of RAW_QUERIES) {
      assert.deepEqual(await analytics.queryStats(ask(query)), analytics.queryStatsSync(ask(query)));
    }
    // The worker's connection sees writes committed after it opened.
    const before = (await analytics.queryStats(ask(RAW_QUERIES[2]))).results[0].metrics;
    analytics.recordEvents(SITE, BATCH_2, { batchId: "b2" });
    const after = await analytics.queryStats(ask(RAW_QUERIES[2]));
    assert.deepEqual(after, analytics.queryStatsSync(ask(RAW_QUERIES[2])));
    assert.ok(after.results[0].metrics[5] > before[5], "events recorded later are counted");
  });
});

Deno.test("queryStats() reads raw events on the worker's connection, rollups on the caller's", async () => {
  // The worker is pointed at another database holding both batches, while
  // the caller's holds the first only: which answer comes back shows where
  // each query ran.
  const dir = await Deno.makeTempDir({ prefix: "kosmos-analytics-reader-" });
  const both = openDatabase(join(dir, "both.db"));
  const reference = createAnalytics({ db: both, log }, { now: () => NOW });
  reference.recordEvents(SITE, BATCH_1, { batchId: "b1" });
  reference.recordEvents(SITE, BATCH_2, { batchId: "b2" });
  try {
    await withAnalytics(async (analytics) => {
      for (const query of RAW_QUERIES) {
        const answer = await analytics.queryStats(ask(query));
        assert.deepEqual(answer, reference.queryStatsSync(ask(query)), JSON.stringify(query));
        assert.notDeepEqual(answer, analytics.queryStatsSync(ask(query)), JSON.stringify(query));
      }
      const rollupQueries: Partial<StatsQuery>[] = [
        {},
        { dimensions: ["visit:source"] },
        { dimensions: ["time:day"] },
        { dimensions: ["event:page"], metrics: ["visitors", "pageviews"] },
      ];
      for (const query of rollupQueries) {
        assert.deepEqual(await analytics.queryStats(ask(query)), analytics.queryStatsSync(ask(query)));
      }
    }, () => join(dir, "both.db"));
  } finally {
    both.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("queryStats() stops an aborted raw-event query and answers the next one", async () => {
  await withAnalytics(async (analytics) => {
    const controller = new AbortController();
    const answer = analytics.queryStats(ask(RAW_QUERIES[0]), { signal: controller.signal });
    controller.abort(new DOMException("gave up", "AbortError"));
    await assert.rejects(answer, { name: "AbortError", message: "gave up" });
    await assert.rejects(
      analytics.queryStats(ask(RAW_QUERIES[0]), { signal: controller.signal }),
      { name: "AbortError" },
    );
    assert.deepEqual(
      await analytics.queryStats(ask(RAW_QUERIES[0])),
      analytics.queryStatsSync(ask(RAW_QUERIES[0])),
    );
  });
});

Deno.test("queryStats() rejects bad input and unknown sites before reading anything", async () => {
  await withAnalytics(async (analytics) => {
    await assert.rejects(analytics.queryStats({ ...ask(RAW_QUERIES[0]), metrics: ["nope"] }), {
      name: "TypeError",
    });
    await assert.rejects(analytics.queryStats({ ...ask(RAW_QUERIES[0]), site_id: "unknown.example" }), {
      name: "NotFoundError",
    });
  });
});

Deno.test("queryStats() reads on the caller's thread when the worker cannot open the database", async () => {
  await withAnalytics(async (analytics) => {
    for (const query of RAW_QUERIES) {
      assert.deepEqual(await analytics.queryStats(ask(query)), analytics.queryStatsSync(ask(query)));
    }
  }, (dir) => join(dir, "missing", "kosmos.db"));
});

Deno.test("EventsReader runs statements in order, drops aborted queued ones and fails pending ones on close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-analytics-reader-" });
  const path = join(dir, "t.db");
  const db = openDatabase(path);
  db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);");
  const reader = new EventsReader(path);
  try {
    const controller = new AbortController();
    const first = reader.read("SELECT SUM(x) AS s FROM t WHERE x >= ?", [2]);
    const dropped = reader.read("SELECT 1 AS one", [], { signal: controller.signal });
    const third = reader.read("SELECT COUNT(*) AS n FROM t", []);
    controller.abort(new Error("not needed"));
    await assert.rejects(dropped, { message: "not needed" });
    assert.deepEqual((await first).map((r) => ({ ...r })), [{ s: 5 }]);
    assert.deepEqual((await third).map((r) => ({ ...r })), [{ n: 3 }]);
    await assert.rejects(reader.read("SELECT nope FROM t", []), {
      name: "EventsReaderError",
      message: /nope/,
    });
    await assert.rejects(reader.read("INSERT INTO t VALUES (4)", []), { name: "EventsReaderError" });
    assert.equal(
      (db.prepare("SELECT COUNT(*) AS n FROM t").get() as { n: number }).n,
      3,
      "the worker cannot write",
    );
    const pending = reader.read("SELECT COUNT(*) AS n FROM t", []);
    reader.close();
    await assert.rejects(pending, { name: "EventsReaderError" });
    await assert.rejects(reader.read("SELECT 1", []), { name: "EventsReaderError" });
  } finally {
    reader.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EventsReader computes a release's bounded table on the worker as computeBoundedTable() does here", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-analytics-reader-" });
  const path = join(dir, "kosmos.db");
  const db = openDatabase(path);
  const analytics = createAnalytics({ db, log }, { now: () => NOW });
  analytics.recordEvents(SITE, BATCH_1, { batchId: "b1" });
  analytics.recordEvents(SITE, BATCH_2, { batchId: "b2" });
  const reader = new EventsReader(path);
  try {
    for (const dimension of [null, ...RELEASE_DIMENSIONS]) {
      const options = { from: "2024-02-01", to: "2024-03-15", dimension };
      const table = await reader.boundedTable(SITE, options);
      assert.deepEqual(table, computeBoundedTable(db, SITE, options), String(dimension));
      assert.ok(table.rows.some((r) => r.visitors > 0), `${dimension}: the fixture's visitors are counted`);
    }
    await assert.rejects(reader.boundedTable(SITE, { from: "2024-03-15", to: "2024-03-01" }), {
      name: "EventsReaderError",
      message: /before "from"/,
    });
  } finally {
    reader.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
