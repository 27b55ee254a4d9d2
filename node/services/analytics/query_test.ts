/**
 * The stats query against the hand-written fixture in `fixtures_test.ts`.
 * Every expected number below is worked out by hand from the fixture's table
 * (the comments show the arithmetic), never by running the same SQL.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import { type Analytics, createAnalytics, type Dimension, DIMENSIONS, type StatsQuery } from "./mod.ts";
import {
  arbitraryEventBatches,
  BATCH_1,
  BATCH_2,
  NOW,
  OTHER_EVENTS,
  OTHER_SITE,
  SITE,
} from "./fixtures_test.ts";

const log = createLogger({ level: "silent" }).forComponent("kosmos:analytics");

function setUp(): Analytics {
  const db = openDatabase(":memory:");
  const analytics = createAnalytics({ db, log, sites: { ownsDomain: (d) => d === "empty.example" } }, {
    now: () => NOW,
  });
  analytics.recordEvents(SITE, BATCH_1, { batchId: "b1" });
  analytics.recordEvents(SITE, BATCH_2, { batchId: "b2" });
  analytics.recordEvents(OTHER_SITE, OTHER_EVENTS);
  return analytics;
}

const analytics = setUp();
const ALL = [
  "visitors",
  "visits",
  "pageviews",
  "views_per_visit",
  "bounce_rate",
  "visit_duration",
  "events",
] as const;

function run(query: Partial<StatsQuery>) {
  return analytics.queryStatsSync({ site_id: SITE, date_range: "7d", metrics: [...ALL], ...query });
}
function rows(query: Partial<StatsQuery>) {
  return run(query).results.map((r) => [...r.dimensions, ...r.metrics]);
}

Deno.test("queryStats() counts every metric over each date range", () => {
  //                visitors visits pageviews vpv bounce duration events
  // day (03-15): visits A, B, C1, C2; visitors a, b, c; pageviews 3+1+2+1; events 4+1+2+1;
  // bounces B, C2 = 2/4; duration (600+0+30+0)/4 = 157.5 → 158.
  assert.deepEqual(run({ date_range: "day" }).results, [{
    dimensions: [],
    metrics: [3, 4, 7, 1.75, 50, 158, 8],
  }]);
  // 7d adds D (03-14): visitors +d, visits 5, pageviews 8, events 10, bounces 3/5,
  // duration (630+300)/5 = 186, 8/5 = 1.6.
  assert.deepEqual(run({ date_range: "7d" }).results[0].metrics, [4, 5, 8, 1.6, 60, 186, 10]);
  assert.deepEqual(run({ date_range: "month" }).results[0].metrics, [4, 5, 8, 1.6, 60, 186, 10]);
  // 30d (02-15…03-15) and all add E: visitor a on 02-20 is another (id, day), visits 6,
  // pageviews 10, events 12, bounces 3/6, duration (930+1200)/6 = 355, 10/6 = 1.67.
  assert.deepEqual(run({ date_range: "30d" }).results[0].metrics, [5, 6, 10, 1.67, 50, 355, 12]);
  assert.deepEqual(run({ date_range: "all" }).results[0].metrics, [5, 6, 10, 1.67, 50, 355, 12]);
  // One whole day: D alone.
  assert.deepEqual(run({ date_range: ["2024-03-14", "2024-03-14"] }).results[0].metrics, [
    1,
    1,
    1,
    1,
    100,
    300,
    2,
  ]);
  // 10:00:00–10:59:59 on 03-15 (raw path): A's four events and C2; B (11:00) and C1 (09:00) fall out.
  // visitors a, c; pageviews 3+1; events 4+1; bounce C2 1/2; duration (600+0)/2.
  assert.deepEqual(
    run({ date_range: ["2024-03-15T10:00:00Z", "2024-03-15T10:59:59Z"] }).results[0].metrics,
    [2, 2, 4, 2, 50, 300, 5],
  );
  // A range without events answers one row of zeros.
  assert.deepEqual(run({ date_range: ["2023-01-01", "2023-01-31"] }).results[0].metrics, [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
});

Deno.test("queryStats() answers the same from raw events as from rollups", () => {
  // A filter every visit passes forces the raw-event path.
  const everything: StatsQuery["filters"] = [["is_not", "visit:device", ["other"]]];
  for (const date_range of ["day", "7d", "30d"] as const) {
    assert.deepEqual(
      run({ date_range, filters: everything }).results,
      run({ date_range }).results,
      `date_range ${date_range}`,
    );
  }
  assert.deepEqual(
    run({ dimensions: ["time:day"], filters: everything }).results,
    run({ dimensions: ["time:day"] }).results,
  );
});

Deno.test("queryStats() breaks down by event:page with every metric", () => {
  assert.deepEqual(rows({ dimensions: ["event:page"] }), [
    // "/": A 10:00, C1 09:00, D 23:50 + its custom event. Visits A, C1, D; bounce D 1/3 = 33;
    // duration (600+30+300)/3 = 310; 3 pageviews / 3 visits.
    ["/", 3, 3, 3, 1, 33, 310, 4],
    // "/pricing": A (pageview + Signup), B. Bounce B 1/2; duration (600+0)/2.
    ["/pricing", 2, 2, 2, 1, 50, 300, 3],
    // "/blog/hello": C1 and C2, one visitor c on one day. Bounce C2; duration (30+0)/2.
    ["/blog/hello", 1, 2, 2, 1, 50, 15, 2],
    ["/docs", 1, 1, 1, 1, 0, 600, 1],
  ]);
});

Deno.test("queryStats() breaks down by visit:source with every metric", () => {
  assert.deepEqual(rows({ dimensions: ["visit:source"] }), [
    // Google: A, C2, D. Pageviews 3+1+1, events 4+1+2, bounces C2, D → 2/3 = 67,
    // duration (600+0+300)/3 = 300, 5/3 = 1.67.
    ["Google", 3, 3, 5, 1.67, 67, 300, 7],
    ["Direct / None", 1, 1, 2, 2, 0, 30, 2], // C1
    ["news.ycombinator.com", 1, 1, 1, 1, 100, 0, 1], // B
  ]);
});

Deno.test("queryStats() breaks down by every other event and visit dimension", () => {
  const by = (dimension: StatsQuery["dimensions"] & object, metrics: StatsQuery["metrics"]) =>
    rows({ dimensions: dimension, metrics });
  // pageview: a, b, c, d and 8 pageviews; each custom event once.
  assert.deepEqual(by(["event:name"], ["visitors", "events"]), [
    ["pageview", 4, 8],
    ["Outbound Link: Click", 1, 1],
    ["Signup", 1, 1],
  ]);
  // Entry pages: A, C1, D enter on "/", C2 on /blog/hello, B on /pricing.
  assert.deepEqual(by(["visit:entry_page"], ["visits", "visitors"]), [
    ["/", 3, 3],
    ["/blog/hello", 1, 1],
    ["/pricing", 1, 1],
  ]);
  // Exit pages: C1 and C2 leave from /blog/hello, D from "/", A from /docs, B from /pricing.
  assert.deepEqual(by(["visit:exit_page"], ["visits"]), [
    ["/blog/hello", 2],
    ["/", 1],
    ["/docs", 1],
    ["/pricing", 1],
  ]);
  assert.deepEqual(by(["visit:referrer"], ["visits"]), [
    ["https://www.google.com/", 3],
    ["Direct / None", 1],
    ["https://news.ycombinator.com/item?id=1", 1],
  ]);
  // UTM: A newsletter/email/spring/hero/shoes, D google/cpc/spring; B, C1, C2 none (visitors b, c).
  assert.deepEqual(by(["visit:utm_source"], ["visitors"]), [["(none)", 2], ["google", 1], ["newsletter", 1]]);
  assert.deepEqual(by(["visit:utm_medium"], ["visits"]), [["(none)", 3], ["cpc", 1], ["email", 1]]);
  assert.deepEqual(by(["visit:utm_campaign"], ["visits"]), [["(none)", 3], ["spring", 2]]);
  assert.deepEqual(by(["visit:utm_content"], ["visits"]), [["(none)", 4], ["hero", 1]]);
  assert.deepEqual(by(["visit:utm_term"], ["visits"]), [["(none)", 4], ["shoes", 1]]);
  assert.deepEqual(by(["visit:device"], ["visitors"]), [["desktop", 2], ["mobile", 1], ["tablet", 1]]);
  // Chrome: A and D (two visitors); Firefox: c's two visits.
  assert.deepEqual(by(["visit:browser"], ["visitors", "visits"]), [
    ["Chrome", 2, 2],
    ["Firefox", 1, 2],
    ["Safari", 1, 1],
  ]);
  // Linux: A's 3; Windows: C1's 2 + C2's 1; Android: D's 1; iOS: B's 1.
  assert.deepEqual(by(["visit:os"], ["pageviews"]), [["Linux", 3], ["Windows", 3], ["Android", 1], [
    "iOS",
    1,
  ]]);
  // Two dimensions at once.
  assert.deepEqual(by(["visit:device", "event:name"], ["events"]), [
    ["desktop", "pageview", 6],
    ["desktop", "Signup", 1],
    ["mobile", "pageview", 1],
    ["tablet", "Outbound Link: Click", 1],
    ["tablet", "pageview", 1],
  ]);
});

Deno.test("queryStats() breaks down by time:hour, time:day and time:month", () => {
  // 09:00 C1 (2 pageviews); 10:00 A (3) and C2 (1), visitors a, c; 11:00 B.
  assert.deepEqual(
    rows({ date_range: "day", dimensions: ["time:hour"], metrics: ["visitors", "pageviews"] }),
    [
      ["2024-03-15 09:00:00", 1, 2],
      ["2024-03-15 10:00:00", 2, 4],
      ["2024-03-15 11:00:00", 1, 1],
    ],
  );
  assert.deepEqual(
    rows({ dimensions: ["time:day"], metrics: ["visitors", "visits", "pageviews", "bounce_rate"] }),
    [["2024-03-14", 1, 1, 1, 100], ["2024-03-15", 3, 4, 7, 50]],
  );
  // February: E. March: A, B, C1, C2, D with duration (600+0+30+0+300)/5 = 186.
  assert.deepEqual(
    rows({
      date_range: "all",
      dimensions: ["time:month"],
      metrics: ["visitors", "pageviews", "visits", "visit_duration"],
    }),
    [["2024-02-01", 1, 2, 1, 1200], ["2024-03-01", 4, 8, 5, 186]],
  );
});

Deno.test("queryStats() applies is, is_not and contains filters, joined by AND", () => {
  const m = ["visitors", "visits", "pageviews", "events"] as StatsQuery["metrics"];
  const total = (filters: StatsQuery["filters"]) => run({ metrics: m, filters }).results[0].metrics;
  // Desktop: A, C1, C2 → visitors a, c; pageviews 3+2+1; events 4+2+1.
  assert.deepEqual(total([["is", "visit:device", ["desktop"]]]), [2, 3, 6, 7]);
  // Not Google: B, C1.
  assert.deepEqual(total([["is_not", "visit:source", ["Google"]]]), [2, 2, 3, 3]);
  // Pages containing "blog": the two /blog/hello pageviews of c, in C1 and C2.
  assert.deepEqual(total([["contains", "event:page", ["blog"]]]), [1, 2, 2, 2]);
  // "contains" is case-sensitive.
  assert.deepEqual(total([["contains", "event:page", ["BLOG"]]]), [0, 0, 0, 0]);
  // The Signup event: one visit, no pageview.
  assert.deepEqual(total([["is", "event:name", ["Signup"]]]), [1, 1, 0, 1]);
  // Chrome or Firefox AND page "/": A's, C1's, and D's pageview + custom event on "/".
  assert.deepEqual(
    total([["is", "visit:browser", ["Chrome", "Firefox"]], ["is", "event:page", ["/"]]]),
    [3, 3, 3, 4],
  );
  // Visits without UTM tags: B, C1, C2.
  assert.deepEqual(total([["is", "visit:utm_source", ["(none)"]]]), [2, 3, 4, 4]);
  // Entry page filter keeps whole visits: A (entry "/") has 4 events, C1 2, D 2.
  assert.deepEqual(total([["is", "visit:entry_page", ["/"]]]), [3, 3, 6, 8]);
  // Filters combine with dimensions.
  assert.deepEqual(
    rows({
      dimensions: ["event:page"],
      metrics: ["pageviews"],
      filters: [["is", "visit:device", ["desktop"]]],
    }),
    [["/", 2], ["/blog/hello", 2], ["/docs", 1], ["/pricing", 1]],
  );
});

Deno.test("queryStats() orders by order_by, then by dimension values, and paginates", () => {
  const pages = { dimensions: ["event:page"], metrics: ["visitors"] } as Partial<StatsQuery>;
  assert.deepEqual(rows({ ...pages, order_by: [["event:page", "asc"]] }).map((r) => r[0]), [
    "/",
    "/blog/hello",
    "/docs",
    "/pricing",
  ]);
  assert.deepEqual(rows({ ...pages, order_by: [["visitors", "asc"]] }), [
    ["/blog/hello", 1],
    ["/docs", 1],
    ["/pricing", 2],
    ["/", 3],
  ]);
  assert.deepEqual(
    rows({ ...pages, order_by: [["visitors", "asc"], ["event:page", "desc"]] }).map((r) => r[0]),
    [
      "/docs",
      "/blog/hello",
      "/pricing",
      "/",
    ],
  );
  assert.deepEqual(rows({ ...pages, pagination: { limit: 2, offset: 1 } }), [["/pricing", 2], [
    "/blog/hello",
    1,
  ]]);
  assert.deepEqual(rows({ ...pages, pagination: { limit: 2, offset: 4 } }), []);
  assert.deepEqual(
    rows({ dimensions: ["time:day"], metrics: ["pageviews"], order_by: [["time:day", "desc"]] }),
    [["2024-03-15", 7], ["2024-03-14", 1]],
  );
});

Deno.test("queryStats() echoes the normalized query", () => {
  const { query, meta } = analytics.queryStatsSync({
    site_id: SITE,
    date_range: "7d",
    metrics: ["pageviews"],
    dimensions: ["event:page"],
  });
  assert.deepEqual(meta, {});
  assert.deepEqual(query, {
    site_id: SITE,
    date_range: ["2024-03-09T00:00:00.000Z", "2024-03-15T23:59:59.999Z"],
    metrics: ["pageviews"],
    dimensions: ["event:page"],
    filters: [],
    order_by: [["pageviews", "desc"]],
    pagination: { limit: 10000, offset: 0 },
  });
});

Deno.test("queryStats() keeps sites apart, answers zeros for an owned site and refuses unknown ones", () => {
  // other.org: one pageview from the same visitor id as B.
  assert.deepEqual(
    analytics.queryStatsSync({ site_id: OTHER_SITE, date_range: "day", metrics: ["visitors", "pageviews"] })
      .results,
    [{ dimensions: [], metrics: [1, 1] }],
  );
  assert.deepEqual(
    analytics.queryStatsSync({
      site_id: "empty.example",
      date_range: "day",
      metrics: ["visitors", "bounce_rate"],
    })
      .results,
    [{ dimensions: [], metrics: [0, 0] }],
  );
  assert.deepEqual(
    analytics.queryStatsSync({
      site_id: "empty.example",
      date_range: "day",
      metrics: ["visitors"],
      dimensions: ["event:page"],
    }).results,
    [],
  );
  assert.throws(
    () => analytics.queryStatsSync({ site_id: "unknown.example", date_range: "day", metrics: ["visitors"] }),
    { name: "NotFoundError", message: /unknown\.example/ },
  );
});

Deno.test("queryStats() rejects bad input with a TypeError naming the field", () => {
  const base = { site_id: SITE, date_range: "7d", metrics: ["visitors"] };
  const cases: [Record<string, unknown> | unknown, RegExp][] = [
    [null, /JSON object/],
    [[], /JSON object/],
    [{ ...base, site_id: undefined }, /"site_id": required/],
    [{ ...base, site_id: "Not A Domain" }, /"site_id"/],
    [{ ...base, date_range: undefined }, /"date_range": required/],
    [{ ...base, date_range: "yesterday" }, /"date_range"/],
    [{ ...base, date_range: ["2024-02-30", "2024-03-01"] }, /"date_range\[0\]": .* not a calendar date/],
    [{ ...base, date_range: ["2024-03-01", "soon"] }, /"date_range\[1\]"/],
    [{ ...base, date_range: ["2024-03-02", "2024-03-01"] }, /"date_range": the end is before the start/],
    [{ ...base, metrics: [] }, /"metrics"/],
    [{ ...base, metrics: ["visitors", "revenue"] }, /"metrics\[1\]": unknown "revenue"/],
    [{ ...base, metrics: ["visitors", "visitors"] }, /"metrics\[1\]": .*twice/],
    [{ ...base, dimensions: "event:page" }, /"dimensions"/],
    [{ ...base, dimensions: ["event:props:plan"] }, /"dimensions\[0\]"/],
    [{ ...base, filters: [["equals", "event:page", ["/"]]] }, /"filters\[0\]\[0\]": unknown operator/],
    [{ ...base, filters: [["is", "time:day", ["2024-03-01"]]] }, /"filters\[0\]\[1\]"/],
    [{ ...base, filters: [["is", "event:page", []]] }, /"filters\[0\]\[2\]"/],
    [{ ...base, filters: [["is", "event:page", [3]]] }, /"filters\[0\]\[2\]\[0\]"/],
    [{ ...base, filters: [["is", "event:page"]] }, /"filters\[0\]"/],
    [{ ...base, order_by: [["pageviews", "desc"]] }, /"order_by\[0\]\[0\]": "pageviews" is not one of/],
    [{ ...base, order_by: [["visitors", "up"]] }, /"order_by\[0\]\[1\]"/],
    [{ ...base, pagination: { limit: 0 } }, /"pagination.limit"/],
    [{ ...base, pagination: { limit: 10001 } }, /"pagination.limit"/],
    [{ ...base, pagination: { offset: -1 } }, /"pagination.offset"/],
    [{ ...base, pagination: { page: 2 } }, /"pagination.page"/],
    [{ ...base, interval: "date" }, /"interval": unknown field/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => analytics.queryStatsSync(input),
      { name: "TypeError", message },
      JSON.stringify(input),
    );
  }
});

Deno.test("queryStats() answers each breakdown from the daily rollups exactly as from the raw events", () => {
  const dimensions = DIMENSIONS.filter((d) => d !== "time:day" && d !== "time:month");
  // The filters the dashboard adds to its tables, all answered by the rollups.
  const dashboardFilters = (d: Dimension): StatsQuery["filters"][] => {
    if (d === "event:page") return [[["is", "event:name", ["pageview"]]]];
    if (d === "event:name") return [[["is_not", "event:name", ["pageview"]]]];
    if (d.startsWith("visit:utm_")) return [[["is_not", d, ["(none)"]]]];
    if (d === "visit:entry_page") return [[["contains", d, ["/b"]]]];
    if (d === "visit:source") return [[["is", d, ["Google", "Direct / None"]]]];
    return [];
  };
  // Pages and names have no bounce rate or visit duration in the rollups.
  const metricsOf = (d: Dimension): StatsQuery["metrics"] =>
    d.startsWith("event:") ? ["visitors", "visits", "pageviews", "views_per_visit", "events"] : [...ALL];
  // A filter every event passes, on another dimension, sends a query to the raw events.
  const rawOnly = (d: Dimension): NonNullable<StatsQuery["filters"]> => [[
    "is_not",
    d === "visit:device" ? "visit:os" : "visit:device",
    ["none"],
  ]];
  fc.assert(
    fc.property(arbitraryEventBatches({ awayFromMidnight: true }), (batches) => {
      const db = openDatabase(":memory:");
      const generated = createAnalytics({ db, log }, { now: () => NOW });
      batches.forEach((events, i) => generated.recordEvents(SITE, events, { batchId: `b${i}` }));
      const queries: StatsQuery[] = [];
      for (const date_range of [["2024-03-13", "2024-03-15"], ["2024-03-14", "2024-03-14"]] as const) {
        for (const d of dimensions) {
          for (const filters of [[], ...dashboardFilters(d)]) {
            queries.push({
              site_id: SITE,
              date_range: [...date_range],
              metrics: metricsOf(d),
              dimensions: [d],
              filters,
            });
          }
        }
      }
      const answers = queries.map((q) => generated.queryStatsSync(q).results);
      queries.forEach((q, i) => {
        const raw = generated.queryStatsSync({
          ...q,
          filters: [...q.filters!, ...rawOnly(q.dimensions![0])],
        });
        assert.deepEqual(answers[i], raw.results, JSON.stringify(q));
      });
      // Without the raw events the rollups still answer every one of them.
      db.exec("DELETE FROM analytics_events");
      queries.forEach((q, i) =>
        assert.deepEqual(generated.queryStatsSync(q).results, answers[i], JSON.stringify(q))
      );
    }),
    { numRuns: 40 },
  );
});
