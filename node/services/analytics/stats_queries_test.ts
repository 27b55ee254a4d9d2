/**
 * Plausible's Stats API v2 end to end (parse → execute → answer) on the fixed
 * fixture of `stats_fixture_test.ts`: every date_range form, metric,
 * dimension and filter operator, with answers worked out by hand from the
 * fixture's table (the comments show the arithmetic), and v1's endpoints.
 */
import assert from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import { type Analytics, createAnalytics } from "./mod.ts";
import { EVENTS, GOALS, NOW, SITE } from "./stats_fixture_test.ts";

const log = createLogger({ level: "silent" }).forComponent("kosmos:analytics");

function setUp(now = NOW): Analytics {
  const analytics = createAnalytics({ db: openDatabase(":memory:"), log }, { now: () => now });
  analytics.recordEvents(SITE, EVENTS, { batchId: "fixture" });
  for (const goal of GOALS) analytics.goals.addGoal(SITE, goal);
  return analytics;
}
const analytics = setUp();

async function rows(body: Record<string, unknown>): Promise<unknown[][]> {
  const answer = await analytics.queryStatsV2({
    site_id: SITE,
    metrics: ["visitors"],
    date_range: "7d",
    ...body,
  });
  return answer.results.map((r) => [...r.dimensions, ...r.metrics]);
}

Deno.test("v2: every date_range form counts the right visits", async () => {
  const count = (date_range: unknown) => rows({ date_range, metrics: ["visitors", "pageviews"] });
  // day = 03-15: U.
  assert.deepEqual(await count("day"), [[1, 1]]);
  // 24h = 03-14 12:00 … 03-15 12:00: Q, R (2 pageviews), U.
  assert.deepEqual(await count("24h"), [[3, 4]]);
  // 7d = 03-08 … 03-14: P (p), Q, R, S (p again, another day) → 4 visitors, 2+1+2+1 pageviews.
  assert.deepEqual(await count("7d"), [[4, 6]]);
  assert.deepEqual(await count("28d"), [[4, 6]]);
  assert.deepEqual(await count("30d"), [[4, 6]]);
  // 91d = 2025-12-14 … 03-14: + T.
  assert.deepEqual(await count("91d"), [[5, 7]]);
  // month = March: P, Q, R, S, U.
  assert.deepEqual(await count("month"), [[5, 7]]);
  // 6mo and 12mo = whole months before March: T only.
  assert.deepEqual(await count("6mo"), [[1, 1]]);
  assert.deepEqual(await count("12mo"), [[1, 1]]);
  // year and all (from T's day): every visit.
  assert.deepEqual(await count("year"), [[6, 8]]);
  assert.deepEqual(await count("all"), [[6, 8]]);
  assert.deepEqual(await count(["2026-03-10", "2026-03-10"]), [[1, 1]]);
  // 13:00Z … 18:00:00Z, both included: Q's pageview and R's first.
  assert.deepEqual(await count(["2026-03-14T14:00:00+01:00", "2026-03-14T18:00:00Z"]), [[2, 2]]);
});

Deno.test("v2: every metric", async () => {
  // 7d: visits P, Q, R, S; pageviews 6; events 3+1+3+1 = 8; bounces Q, S = 50 %; (180+0+360+0)/4 = 135 s.
  assert.deepEqual(
    await rows({
      metrics: [
        "visitors",
        "visits",
        "pageviews",
        "views_per_visit",
        "bounce_rate",
        "visit_duration",
        "events",
      ],
    }),
    [[4, 4, 6, 1.5, 50, 135, 8]],
  );
  // percentage: DE has p@14, r, p@10 = 3 of 4 visitors; US q.
  assert.deepEqual(await rows({ metrics: ["visitors", "percentage"], dimensions: ["visit:country"] }), [
    ["DE", 3, 75],
    ["US", 1, 25],
  ]);
  // conversion_rate: Signup by p and r, 2 of 4; "Visit /blog/**" by q and r, 2 of 4.
  assert.deepEqual(
    await rows({
      metrics: ["visitors", "events", "conversion_rate"],
      dimensions: ["event:goal"],
      order_by: [["event:goal", "asc"]],
    }),
    [["Signup", 2, 2, 50], ["Visit /blog/**", 2, 2, 50]],
  );
  // group_conversion_rate: in DE, p@14 and r of its 3 visitors signed up (66.67 %).
  assert.deepEqual(
    await rows({
      metrics: ["visitors", "group_conversion_rate"],
      dimensions: ["visit:country"],
      filters: [["is", "event:goal", ["Signup"]]],
    }),
    [["DE", 2, 66.67]],
  );
  // Revenue of the Signup goal (EUR): 20.00 + 5 = 25, 12.5 per conversion, as Plausible's money objects.
  assert.deepEqual(
    await rows({
      metrics: ["total_revenue", "average_revenue"],
      filters: [["is", "event:goal", ["Signup"]]],
    }),
    [[
      { short: "€25.0", long: "€25.00", value: 25, currency: "EUR" },
      { short: "€12.5", long: "€12.50", value: 12.5, currency: "EUR" },
    ]],
  );
  // scroll_depth and time_on_page from engagement: /pricing 50 % and 30 s (P), /blog/post-2 90 % and 60 s (R).
  assert.deepEqual(
    await rows({
      metrics: ["scroll_depth", "time_on_page"],
      dimensions: ["event:page"],
      filters: [["is", "event:page", ["/pricing", "/blog/post-2"]]],
      order_by: [["event:page", "asc"]],
    }),
    [["/blog/post-2", 90, 60], ["/pricing", 50, 30]],
  );
});

Deno.test("v2: revenue in several currencies answers with Plausible's warning", async () => {
  const answer = await analytics.queryStatsV2({
    site_id: SITE,
    date_range: "year",
    metrics: ["total_revenue"],
    filters: [["is", "event:goal", ["Signup", "Purchase"]]],
  });
  assert.ok(answer.meta.metric_warnings?.total_revenue, JSON.stringify(answer.meta));
});

Deno.test("v2: every dimension", async () => {
  const by = (dimension: string, extra: Record<string, unknown> = {}) =>
    rows({ dimensions: [dimension], order_by: [["visitors", "desc"], [dimension, "asc"]], ...extra });
  // Pages: / by p@14 and p@10; /pricing by p and r (pageview and Signup); the blog posts by q and r.
  assert.deepEqual(await by("event:page"), [["/", 2], ["/pricing", 2], ["/blog/post-1", 1], [
    "/blog/post-2",
    1,
  ]]);
  assert.deepEqual(await by("event:name"), [["pageview", 4], ["Signup", 2]]);
  assert.deepEqual(await by("event:hostname"), [["shop.example", 3], ["blog.shop.example", 1]]);
  assert.deepEqual(await by("event:props:plan", { filters: [["is", "event:name", ["Signup"]]] }), [
    ["free", 1],
    ["pro", 1],
  ]);
  assert.deepEqual(await by("visit:entry_page"), [["/", 2], ["/blog/post-1", 1], ["/blog/post-2", 1]]);
  assert.deepEqual(await by("visit:exit_page"), [["/pricing", 2], ["/", 1], ["/blog/post-1", 1]]);
  assert.deepEqual(await by("visit:entry_page_hostname"), [["shop.example", 3], ["blog.shop.example", 1]]);
  assert.deepEqual(await by("visit:source"), [["Direct / None", 2], ["Google", 1], ["Hacker News", 1]]);
  assert.deepEqual(await by("visit:referrer"), [
    ["Direct / None", 2],
    ["https://news.ycombinator.com/item?id=1", 1],
    ["https://www.google.com/", 1],
  ]);
  assert.deepEqual(await by("visit:utm_source"), [["(not set)", 3], ["hn", 1]]);
  assert.deepEqual(await by("visit:device"), [["Desktop", 3], ["Mobile", 1]]);
  assert.deepEqual(await by("visit:browser"), [["Chrome", 2], ["Firefox", 1], ["Safari", 1]]);
  assert.deepEqual(await by("visit:os"), [["Linux", 2], ["Windows", 1], ["iOS", 1]]);
  assert.deepEqual(await by("visit:country"), [["DE", 3], ["US", 1]]);
  assert.deepEqual(await by("visit:country_name"), [["Germany", 3], ["United States", 1]]);
  assert.deepEqual(await by("visit:region"), [["DE-BE", 3], ["US-NY", 1]]);
  assert.deepEqual(await by("visit:region_name"), [["Berlin", 3], ["New York", 1]]);
  assert.deepEqual(await by("visit:city"), [["2950159", 3], ["5128581", 1]]);
  assert.deepEqual(await by("visit:city_name"), [["Berlin", 3], ["New York", 1]]);
  // Channels: Google organic search (P), direct (Q, S), Hacker News social (R, GA4's source categories).
  assert.deepEqual(await by("visit:channel"), [["Direct", 2], ["Organic Search", 1], ["Organic Social", 1]]);
  // Time: S on 03-10, P, Q, R on 03-14; both in the week of Monday 03-09; all in March.
  assert.deepEqual(await by("time:day", { order_by: [["time:day", "asc"]] }), [["2026-03-10", 1], [
    "2026-03-14",
    3,
  ]]);
  assert.deepEqual(await by("time:week", { order_by: [["time:week", "asc"]] }), [["2026-03-09", 4]]);
  assert.deepEqual(await by("time:month", { order_by: [["time:month", "asc"]] }), [["2026-03-01", 4]]);
  assert.deepEqual(
    await by("time:hour", { date_range: ["2026-03-14", "2026-03-14"], order_by: [["time:hour", "asc"]] }),
    [["2026-03-14 10:00:00", 1], ["2026-03-14 15:00:00", 1], ["2026-03-14 18:00:00", 1]],
  );
  // `time` over 7 days is days.
  const time = await analytics.queryStatsV2({
    site_id: SITE,
    date_range: "7d",
    metrics: ["visitors"],
    dimensions: ["time"],
  });
  assert.deepEqual(time.query.dimensions, ["time:day"]);
  assert.deepEqual(time.results.map((r) => r.dimensions[0]), ["2026-03-10", "2026-03-14"]);
}); // deno-fmt-ignore

Deno.test("v2: every filter operator, filter trees and behavioural filters", async () => {
  const visitors = async (...filters: unknown[]) => (await rows({ filters }))[0][0];
  assert.equal(await visitors(["is", "event:page", ["/pricing"]]), 2); // p, r
  assert.equal(await visitors(["is_not", "visit:country", ["DE"]]), 1); // q
  assert.equal(await visitors(["contains", "event:page", ["blog"]]), 2); // q, r
  assert.equal(await visitors(["contains", "event:page", ["BLOG"]]), 0);
  assert.equal(await visitors(["contains", "event:page", ["BLOG"], { case_sensitive: false }]), 2);
  // Events on other pages: P's and R's on / and /pricing, S's /.
  assert.equal(await visitors(["contains_not", "event:page", ["blog"]]), 3);
  assert.equal(await visitors(["matches", "event:page", ["^/blog/post-[0-9]$"]]), 2);
  assert.equal(await visitors(["matches_not", "visit:city_name", ["^Ber"]]), 1); // q
  assert.equal(await visitors(["is", "visit:city", [2950159]]), 3);
  assert.equal(await visitors(["is", "event:goal", ["Signup"]]), 2);
  assert.equal(await visitors(["contains", "event:goal", ["blog"]]), 2); // "Visit /blog/**": q, r
  assert.equal(await visitors(["is", "event:props:plan", ["pro"]]), 1);
  assert.equal(await visitors(["is", "event:hostname", ["blog.shop.example"]]), 1);
  // or: q (US), p and r (Signup).
  assert.equal(await visitors(["or", [["is", "visit:country", ["US"]], ["is", "event:name", ["Signup"]]]]), 3);
  assert.equal(await visitors(["and", [["is", "visit:country", ["DE"]], ["contains", "event:page", ["pric"]]]]), 2);
  assert.equal(await visitors(["not", ["is", "visit:device", ["Desktop"]]]), 1);
  // has_done keeps whole visits: P and R (2 pageviews each); has_not_done Q and S.
  assert.deepEqual(
    await rows({ metrics: ["visitors", "pageviews"], filters: [["has_done", ["is", "event:name", ["Signup"]]]] }),
    [[2, 4]],
  );
  assert.deepEqual(
    await rows({ metrics: ["visitors", "pageviews"], filters: [["has_not_done", ["is", "event:name", ["Signup"]]]] }),
    [[2, 2]],
  );
});

Deno.test("v2: include, pagination and the echo", async () => {
  const answer = await analytics.queryStatsV2({
    site_id: SITE,
    date_range: "7d",
    metrics: ["visitors"],
    dimensions: ["event:page"],
    order_by: [["event:page", "asc"]],
    include: { total_rows: true },
    pagination: { limit: 2, offset: 1 },
  });
  // Pages in order: /, /blog/post-1, /blog/post-2, /pricing; rows 2–3.
  assert.deepEqual(answer.results, [
    { dimensions: ["/blog/post-1"], metrics: [1] },
    { dimensions: ["/blog/post-2"], metrics: [1] },
  ]);
  assert.equal(answer.meta.total_rows, 4);
  assert.deepEqual(answer.query.date_range, ["2026-03-08T00:00:00+00:00", "2026-03-14T23:59:59+00:00"]);
  assert.deepEqual(answer.query.pagination, { limit: 2, offset: 1 });
  const labels = await analytics.queryStatsV2({
    site_id: SITE,
    date_range: "7d",
    metrics: ["visitors"],
    dimensions: ["time:day"],
    include: { time_labels: true },
  });
  assert.deepEqual(labels.meta.time_labels, [
    "2026-03-08",
    "2026-03-09",
    "2026-03-10",
    "2026-03-11",
    "2026-03-12",
    "2026-03-13",
    "2026-03-14",
  ]);
});

Deno.test("v2: refusals are QueryErrors with Plausible's messages; unknown sites NotFoundError", async () => {
  await assert.rejects(
    analytics.queryStatsV2({
      site_id: SITE,
      date_range: "7d",
      metrics: ["visitors"],
      filters: [["is", "event:goal", ["Nope"]]],
    }),
    { name: "QueryError", message: /The goal `Nope` is not configured for this site/ },
  );
  await assert.rejects(
    analytics.queryStatsV2({ site_id: "nowhere.example", date_range: "7d", metrics: ["visitors"] }),
    { name: "NotFoundError" },
  );
}); // deno-fmt-ignore

Deno.test("v1: aggregate, timeseries, breakdown and realtime", async () => {
  // period=7d in v1 ends today: 03-09 … 03-15 = P, Q, R, S, U; compared with 03-02 … 03-08 (nothing).
  assert.deepEqual(
    await analytics.queryStatsV1("aggregate", { site_id: SITE, period: "7d", metrics: "visitors,pageviews", compare: "previous_period" }),
    { results: { visitors: { value: 5, change: 100 }, pageviews: { value: 7, change: 100 } } },
  );
  const series = await analytics.queryStatsV1("timeseries", { site_id: SITE, period: "7d" });
  assert.deepEqual(series.results, [
    { date: "2026-03-09", visitors: 0 }, { date: "2026-03-10", visitors: 1 }, { date: "2026-03-11", visitors: 0 },
    { date: "2026-03-12", visitors: 0 }, { date: "2026-03-13", visitors: 0 }, { date: "2026-03-14", visitors: 3 },
    { date: "2026-03-15", visitors: 1 },
  ]);
  // Wildcards: /blog/** and /pricing; 1-row pages. On 03-14, /pricing has p and r.
  assert.deepEqual(
    await analytics.queryStatsV1("breakdown", {
      site_id: SITE, period: "custom", date: "2026-03-14,2026-03-14", property: "event:page",
      metrics: "visitors,pageviews", filters: "event:page==/blog/**|/pricing", limit: "1",
    }),
    { results: [{ page: "/pricing", visitors: 2, pageviews: 2 }] },
  );
  // Berlin (P, R: no bounce) then New York (Q, a bounce); page 2 of 1-row pages.
  assert.deepEqual(
    await analytics.queryStatsV1("breakdown", {
      site_id: SITE, period: "custom", date: "2026-03-14,2026-03-14", property: "visit:city",
      metrics: "visitors,bounce_rate", limit: "1", page: "2",
    }),
    { results: [{ city: 5128581, visitors: 1, bounce_rate: 100 }] },
  );
  // March: 5 visitors; 2 signed up, 2 read the blog.
  assert.deepEqual(
    await analytics.queryStatsV1("breakdown", { site_id: SITE, period: "month", property: "event:goal", metrics: "visitors,conversion_rate" }),
    { results: [{ goal: "Signup", visitors: 2, conversion_rate: 40 }, { goal: "Visit /blog/**", visitors: 2, conversion_rate: 40 }] },
  );
  await assert.rejects(
    analytics.queryStatsV1("breakdown", { site_id: SITE, property: "event:name", metrics: "bounce_rate" }),
    { name: "QueryError", message: "Session metric `bounce_rate` cannot be queried for breakdown by `event:name`." },
  );
  // U was 2 minutes before "now".
  assert.equal(await analytics.countRealtimeVisitors(SITE), 1);
}); // deno-fmt-ignore

Deno.test("funnels count visitors who reach each step in order within a visit", async () => {
  const [signup, blog] = analytics.goals.listGoals(SITE);
  const funnel = analytics.goals.addFunnel(SITE, { name: "Blog to signup", steps: [blog.id, signup.id] });
  // Blog visits: Q (no signup), R (blog then Signup) → 2, then 1; P signed up without the blog.
  assert.deepEqual(await analytics.computeFunnel(SITE, funnel.id, { from: Date.UTC(2026, 2, 8), to: Date.UTC(2026, 2, 15) }), [
    { goal: "Visit /blog/**", visitors: 2, conversionRate: 100, dropoff: 0 },
    { goal: "Signup", visitors: 1, conversionRate: 50, dropoff: 1 },
  ]);
  const reversed = analytics.goals.addFunnel(SITE, { name: "Signup to blog", steps: [signup.id, blog.id] });
  // R's Signup comes after its blog pageview, so nobody reaches step 2.
  assert.deepEqual(
    (await analytics.computeFunnel(SITE, reversed.id, { from: Date.UTC(2026, 2, 8), to: Date.UTC(2026, 2, 15) })).map((s) => s.visitors),
    [2, 0],
  );
});
