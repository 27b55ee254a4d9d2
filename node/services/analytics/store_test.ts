/**
 * The write path: visits across batches and out of order, batch idempotency,
 * malformed input (nothing stored), realtime visitors, the site list,
 * throughput, and the daily breakdowns (against a rebuild, across a restart
 * and an upgrade).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import { type Database, openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import { minute, second } from "../../constants.ts";
import { createAnalytics } from "./mod.ts";
import { rebuildBreakdowns } from "./rollups.ts";
import { arbitraryEventBatches, BATCH_1, BATCH_2, NOW, pageview, SITE } from "./fixtures_test.ts";

const log = createLogger({ level: "silent" }).forComponent("kosmos:analytics");

function setUp(now = NOW) {
  const db = openDatabase(":memory:");
  return { db, analytics: createAnalytics({ db, log }, { now: () => now }) };
}

function visitsOf(db: Database) {
  return db.prepare(
    `SELECT visitor_id, start_ts, end_ts, pageviews, events, entry_page, exit_page
     FROM analytics_visits ORDER BY start_ts`,
  ).all().map((row: Record<string, unknown>) => ({ ...row }));
}

Deno.test("recordEvents() joins a visit across batches and splits it after 30 minutes of inactivity", () => {
  const { db, analytics } = setUp();
  const t = NOW - 3 * 60 * minute;
  analytics.recordEvents(SITE, [pageview(t, "v1", "/a")]);
  // 29 min later: the same visit; 30 min 1 s after that: a new one.
  analytics.recordEvents(SITE, [pageview(t + 29 * minute, "v1", "/b")]);
  analytics.recordEvents(SITE, [pageview(t + 59 * minute + second, "v1", "/c")]);
  assert.deepEqual(visitsOf(db), [
    {
      visitor_id: "v1",
      start_ts: t,
      end_ts: t + 29 * minute,
      pageviews: 2,
      events: 2,
      entry_page: "/a",
      exit_page: "/b",
    },
    {
      visitor_id: "v1",
      start_ts: t + 59 * minute + second,
      end_ts: t + 59 * minute + second,
      pageviews: 1,
      events: 1,
      entry_page: "/c",
      exit_page: "/c",
    },
  ]);
});

Deno.test("recordEvents() puts a late event at the start of its visit", () => {
  const { db, analytics } = setUp();
  const t = NOW - 60 * minute;
  analytics.recordEvents(SITE, [pageview(t, "v1", "/second"), pageview(t + minute, "v1", "/third")]);
  analytics.recordEvents(SITE, [pageview(t - 5 * minute, "v1", "/first")]);
  assert.deepEqual(visitsOf(db), [{
    visitor_id: "v1",
    start_ts: t - 5 * minute,
    end_ts: t + minute,
    pageviews: 3,
    events: 3,
    entry_page: "/first",
    exit_page: "/third",
  }]);
  const { results } = analytics.queryStatsSync({
    site_id: SITE,
    date_range: "day",
    metrics: ["visits", "visit_duration"],
  });
  assert.deepEqual(results[0].metrics, [1, 360]);
});

Deno.test("recordEvents() stores a batch id once per site", () => {
  const { analytics } = setUp();
  assert.deepEqual(analytics.recordEvents(SITE, BATCH_1, { batchId: "b1" }), {
    recorded: 9,
    duplicate: false,
  });
  assert.deepEqual(analytics.recordEvents(SITE, BATCH_1, { batchId: "b1" }), {
    recorded: 0,
    duplicate: true,
  });
  analytics.recordEvents(SITE, BATCH_2, { batchId: "b2" });
  const totals = analytics.queryStatsSync({
    site_id: SITE,
    date_range: "all",
    metrics: ["pageviews", "events"],
  });
  assert.deepEqual(totals.results[0].metrics, [10, 12]);
  // The same id for another site is another batch.
  assert.equal(analytics.recordEvents("other.org", [pageview(NOW, "x")], { batchId: "b1" }).recorded, 1);
});

Deno.test("recordEvents() rejects a malformed domain or event and stores nothing", () => {
  const { db, analytics } = setUp();
  const good = pageview(NOW - minute, "v1");
  const bad: [string, unknown[], RegExp][] = [
    ["Example.COM", [good], /Invalid site domain/],
    ["", [good], /Invalid site domain/],
    ["a b", [good], /Invalid site domain/],
    [SITE, [good, { ...good, ts: "yesterday" }], /event 1 has an invalid "ts"/],
    [SITE, [good, { ...good, device: "fridge" }], /event 1 has an invalid "device"/],
    [SITE, [{ ...good, visitorId: "" }], /event 0 has an invalid "visitorId"/],
    [SITE, [{ ...good, utm: { source: 3 } }], /event 0 has an invalid "utm"/],
    [SITE, [null], /event 0 has an invalid "event"/],
  ];
  for (const [site, events, message] of bad) {
    assert.throws(() => analytics.recordEvents(site, events as AnalyticsEvent[]), {
      name: "TypeError",
      message,
    });
  }
  assert.deepEqual({ ...db.prepare("SELECT COUNT(*) AS n FROM analytics_events").get() }, { n: 0 });
  assert.deepEqual(analytics.listSites(), []);
});

Deno.test("getRealtimeVisitors() counts distinct visitors of the last 5 minutes", () => {
  const { analytics } = setUp();
  analytics.recordEvents(SITE, [
    pageview(NOW - 6 * minute, "old"),
    pageview(NOW - 4 * minute, "v1"),
    pageview(NOW - 2 * minute, "v1"),
    pageview(NOW - 10 * second, "v2"),
  ]);
  assert.deepEqual(analytics.getRealtimeVisitors(SITE), { visitors: 2 });
  assert.throws(() => analytics.getRealtimeVisitors("nobody.example"), { name: "NotFoundError" });
});

Deno.test("listSites() lists sites with events, most recent first, with 30-day figures", () => {
  const { analytics } = setUp();
  analytics.recordEvents(SITE, BATCH_1);
  analytics.recordEvents("blog.example", [
    pageview(NOW - minute, "v1"),
    pageview(NOW - 40 * 86_400_000, "v2"),
  ]);
  assert.deepEqual(analytics.listSites(), [
    // blog.example: the 40-day-old pageview is outside the 30 days.
    {
      domain: "blog.example",
      visitors: 1,
      pageviews: 1,
      events: 2,
      firstEventAt: NOW - 40 * 86_400_000,
      lastEventAt: NOW - minute,
    },
    // BATCH_1 in the last 30 days: visitors a (×2 days), b, c, d; pageviews 2+1+2+1+2.
    {
      domain: SITE,
      visitors: 5,
      pageviews: 8,
      events: 9,
      firstEventAt: Date.parse("2024-02-20T08:00:00Z"),
      lastEventAt: Date.parse("2024-03-15T11:00:00Z"),
    },
  ]);
  assert.equal(analytics.hasSite("blog.example"), true);
  assert.equal(analytics.hasSite("nobody.example"), false);
});

// Throughput is measured by `deno task bench query` (insert rate), not asserted here.
Deno.test("recordEvents() stores 50,000 events in batches and counts every one", () => {
  const { analytics } = setUp();
  const events: AnalyticsEvent[] = [];
  for (let i = 0; i < 50_000; i++) {
    // 10,000 visitors with five events each, a few seconds apart, interleaved by ten.
    const visitor = Math.floor(i / 50) * 10 + (i % 10);
    const e = pageview(NOW - 86_400_000 + i * 1000, `visitor${visitor}`, `/page/${i % 200}`);
    events.push(i % 10 === 0 ? { ...e, name: "Signup", props: { plan: "pro" } } : e);
  }
  for (let i = 0; i < events.length; i += 5000) analytics.recordEvents(SITE, events.slice(i, i + 5000));
  const { results } = analytics.queryStatsSync({
    site_id: SITE,
    date_range: "all",
    metrics: ["events", "pageviews"],
  });
  assert.deepEqual(results[0].metrics, [50_000, 45_000]);
});

/** The non-zero rows of `analytics_breakdowns`, in key order. */
function breakdownsOf(db: Database) {
  return db.prepare(
    `SELECT site, dim, day, value, visitors, visits, pageviews, events, bounces, duration_ms, pageview_visitors,
       pageview_visits
     FROM analytics_breakdowns
     WHERE visitors != 0 OR visits != 0 OR pageviews != 0 OR events != 0 OR bounces != 0 OR duration_ms != 0
       OR pageview_visitors != 0 OR pageview_visits != 0
     ORDER BY site, dim, day, value`,
  ).all().map((row: Record<string, unknown>) => ({ ...row }));
}

Deno.test("recordEvents() keeps the breakdowns equal to a rebuild from the stored events", () => {
  // Visits here may span midnight, continue across batches and gain events before their start.
  fc.assert(
    fc.property(arbitraryEventBatches(), (batches) => {
      const { db, analytics } = setUp();
      // Every other batch through a new writer, which remembers no visit and reads them back.
      batches.forEach((events, i) =>
        (i % 2 === 0 ? analytics : createAnalytics({ db, log }, { now: () => NOW })).recordEvents(
          SITE,
          events,
        )
      );
      const incremental = breakdownsOf(db);
      rebuildBreakdowns(db);
      assert.deepEqual(incremental, breakdownsOf(db));
    }),
    { numRuns: 60 },
  );
});

Deno.test("recordEvents() keeps the breakdowns across a restart, for a visit that continues after it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-analytics-test-" });
  try {
    const path = `${dir}/kosmos.db`;
    let db = openDatabase(path);
    createAnalytics({ db, log }, { now: () => NOW }).recordEvents(SITE, BATCH_1, { batchId: "b1" });
    db.close();
    // Reopened: BATCH_2 continues visit A from before the restart.
    db = openDatabase(path);
    const analytics = createAnalytics({ db, log }, { now: () => NOW });
    analytics.recordEvents(SITE, BATCH_2, { batchId: "b2" });
    const reference = setUp();
    reference.analytics.recordEvents(SITE, BATCH_1, { batchId: "b1" });
    reference.analytics.recordEvents(SITE, BATCH_2, { batchId: "b2" });
    assert.deepEqual(breakdownsOf(db), breakdownsOf(reference.db));
    // Top pages by visitors and pageviews, as the dashboard asks (see query_test.ts for the arithmetic).
    const { results } = analytics.queryStatsSync({
      site_id: SITE,
      date_range: "7d",
      metrics: ["visitors", "pageviews"],
      dimensions: ["event:page"],
      filters: [["is", "event:name", ["pageview"]]],
    });
    assert.deepEqual(results.map((r) => [...r.dimensions, ...r.metrics]), [
      ["/", 3, 3],
      ["/pricing", 2, 2],
      ["/blog/hello", 1, 2],
      ["/docs", 1, 1],
    ]);
    db.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createAnalytics() fills the breakdowns from events stored before they existed", () => {
  const { db, analytics } = setUp();
  analytics.recordEvents(SITE, BATCH_1);
  analytics.recordEvents(SITE, BATCH_2);
  const expected = breakdownsOf(db);
  assert.ok(expected.length > 0);
  // Back to the first version of the schema, as a node upgraded from it has.
  const added = {
    analytics_events: [
      "revenue_amount",
      "revenue_currency",
      "country",
      "region",
      "city",
      "city_name",
      "region_name",
      "interactive",
      "consented",
    ],
    analytics_visits: [
      "country",
      "region",
      "city",
      "city_name",
      "region_name",
      "entry_hostname",
      "consented",
    ],
  };
  const dropColumns = Object.entries(added).flatMap(([table, columns]) =>
    columns.map((c) => `ALTER TABLE ${table} DROP COLUMN ${c};`)
  );
  db.exec(
    `DROP TABLE analytics_breakdowns; DROP INDEX analytics_events_by_visit; DROP TABLE analytics_engagement;
    ${dropColumns.join("\n")}
    DELETE FROM schema_migrations WHERE component = 'analytics' AND version > 1`,
  );
  createAnalytics({ db, log }, { now: () => NOW });
  assert.deepEqual(breakdownsOf(db), expected);
});
