/**
 * Plausible's presentation of Stats API answers on the fixed fixture of
 * `stats_fixture_test.ts`: money objects, dimension labels (and filters by
 * them), nulls where Plausible has no value, and v1's answers to the same.
 * Expected values are worked out by hand from the fixture's table, or are
 * those of Plausible's own tests (money formatting).
 */
import assert from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import { type Analytics, createAnalytics } from "./mod.ts";
import { EVENTS, GOALS, NOW, SITE } from "./stats_fixture_test.ts";
import { formatMoney, toStoredFilters } from "./query_present.ts";

const log = createLogger({ level: "silent" }).forComponent("kosmos:analytics");

function setUp(): Analytics {
  const analytics = createAnalytics({ db: openDatabase(":memory:"), log }, { now: () => NOW });
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

Deno.test("formatMoney() writes money as Plausible's tests show it", () => {
  // Plausible's breakdown tests: $600.00, $1,500.00, €500,200,700.25, €166,733,566.75, €112.00.
  assert.deepEqual(formatMoney(600, "USD"), {
    short: "$600.0",
    long: "$600.00",
    value: 600,
    currency: "USD",
  });
  assert.deepEqual(formatMoney(1500, "USD"), {
    short: "$1.5K",
    long: "$1,500.00",
    value: 1500,
    currency: "USD",
  });
  assert.deepEqual(formatMoney(3000, "USD").short, "$3.0K");
  assert.deepEqual(formatMoney(500_200_700.25, "EUR"), {
    short: "€500.2M",
    long: "€500,200,700.25",
    value: 500_200_700.25,
    currency: "EUR",
  });
  assert.equal(formatMoney(166_733_566.75, "EUR").short, "€166.7M");
  assert.equal(formatMoney(112, "EUR").short, "€112.0");
});

Deno.test("v2: revenue is money in the row's currency, null without a revenue goal", async () => {
  // All time, by goal: Signup 20 + 5 EUR over 2 conversions; Purchase 100 USD once; the page goal has no currency.
  assert.deepEqual(
    await rows({
      date_range: "all",
      metrics: ["visitors", "total_revenue", "average_revenue"],
      dimensions: ["event:goal"],
      order_by: [["event:goal", "asc"]],
    }),
    [
      ["Purchase", 1, formatMoney(100, "USD"), formatMoney(100, "USD")],
      ["Signup", 2, formatMoney(25, "EUR"), formatMoney(12.5, "EUR")],
      ["Visit /blog/**", 2, null, null],
    ],
  );
  assert.deepEqual(formatMoney(100, "USD"), {
    short: "$100.0",
    long: "$100.00",
    value: 100,
    currency: "USD",
  });
  // A goal filter on a goal without a currency: Plausible's null with its warning.
  const none = await analytics.queryStatsV2({
    site_id: SITE,
    date_range: "all",
    metrics: ["visitors", "total_revenue"],
    filters: [["is", "event:goal", ["Visit /blog/**"]]],
  });
  assert.deepEqual(none.results, [{ dimensions: [], metrics: [2, null] }]);
  assert.equal(none.meta.metric_warnings?.total_revenue.code, "no_revenue_goals_matching");
  assert.equal("revenue_currency" in none.meta, false);
  // Goals in two currencies without a goal dimension: null, Plausible's warning.
  const mixed = await analytics.queryStatsV2({
    site_id: SITE,
    date_range: "all",
    metrics: ["total_revenue"],
    filters: [["is", "event:goal", ["Signup", "Purchase"]]],
  });
  assert.deepEqual(mixed.results, [{ dimensions: [], metrics: [null] }]);
  assert.equal(mixed.meta.metric_warnings?.total_revenue.code, "no_single_revenue_currency");
  // A revenue goal with no conversion in the range: money of 0 (Plausible's `value || 0`). 03-10 has only S.
  assert.deepEqual(
    await rows({
      date_range: ["2026-03-10", "2026-03-10"],
      metrics: ["total_revenue"],
      filters: [["is", "event:goal", ["Signup"]]],
    }),
    [[{ short: "€0.0", long: "€0.00", value: 0, currency: "EUR" }]],
  );
});

Deno.test("v2: devices and empty UTM values carry Plausible's labels, in results and filters", async () => {
  // All time: desktop p (03-14, 03-10), r, u; mobile q; tablet t.
  assert.deepEqual(
    await rows({ date_range: "all", dimensions: ["visit:device"], order_by: [["visit:device", "asc"]] }),
    [["Desktop", 4], ["Mobile", 1], ["Tablet", 1]],
  );
  const visitors = async (filter: unknown) => (await rows({ date_range: "all", filters: [filter] }))[0][0];
  assert.equal(await visitors(["is", "visit:device", ["Desktop"]]), 4);
  assert.equal(await visitors(["is", "visit:device", ["Mobile", "Tablet"]]), 2);
  assert.equal(await visitors(["is_not", "visit:device", ["Desktop"]]), 2);
  // Case-sensitive by default, as Plausible's `is`: the stored spelling is not a label.
  assert.equal(await visitors(["is", "visit:device", ["desktop"]]), 0);
  assert.equal(await visitors(["is", "visit:device", ["desktop"], { case_sensitive: false }]), 4);
  assert.equal(await visitors(["contains", "visit:device", ["let"]]), 1); // Tablet: t
  assert.equal(await visitors(["matches", "visit:device", ["^(Mobile|Tablet)$"]]), 2);
  assert.equal(await visitors(["contains_not", "visit:device", ["top"]]), 2);
  assert.equal(await visitors(["is", "visit:device", ["(not set)"]]), 0);
  assert.equal(await visitors(["not", ["is", "visit:device", ["Desktop"]]]), 2);
  // The echo keeps the labels as asked.
  const echo = await analytics.queryStatsV2({
    site_id: SITE,
    date_range: "all",
    metrics: ["visitors"],
    filters: [["is", "visit:device", ["Desktop"]]],
  });
  assert.deepEqual(echo.query.filters, [["is", "visit:device", ["Desktop"]]]);

  // 7d: utm_source hn for r; p, q, s without (Plausible's "(not set)").
  assert.deepEqual(await rows({ dimensions: ["visit:utm_source"] }), [["(not set)", 3], ["hn", 1]]);
  assert.equal((await rows({ filters: [["is", "visit:utm_source", ["(not set)"]]] }))[0][0], 3);
  assert.equal((await rows({ filters: [["is_not", "visit:utm_source", ["(not set)"]]] }))[0][0], 1);
  // Direct visits are "Direct / None" as a source, and filter by it.
  assert.deepEqual(
    await rows({ dimensions: ["visit:source"], filters: [["is", "visit:source", ["Direct / None"]]] }),
    [[
      "Direct / None",
      2,
    ]],
  );
});

Deno.test("toStoredFilters() maps labels inside trees and leaves other leaves alone", () => {
  assert.deepEqual(
    toStoredFilters([
      "and",
      [
        ["not", ["is", "visit:device", ["(not set)"]]],
        ["has_done", ["contains", "visit:device", ["o"], { case_sensitive: false }]],
        ["is", "event:page", ["/"]],
      ],
    ]),
    [
      "and",
      [
        ["not", ["is", "visit:device", ["other", "(not set)"]]],
        // "o" is in Desktop and Mobile (and "(not set)"), not in Tablet.
        ["has_done", ["is", "visit:device", ["desktop", "mobile", "other", "(not set)"]]],
        ["is", "event:page", ["/"]],
      ],
    ],
  );
});

Deno.test("v2: nulls where Plausible has no value", async () => {
  // "/" has pageviews but no engagement: scroll depth and time on page are null; /pricing 50 % and 30 s (P).
  assert.deepEqual(
    await rows({
      metrics: ["visitors", "scroll_depth", "time_on_page"],
      dimensions: ["event:page"],
      filters: [["is", "event:page", ["/", "/pricing"]]],
      order_by: [["event:page", "asc"]],
    }),
    [["/", 2, null, null], ["/pricing", 2, 50, 30]],
  );
  // A day without visits (02-01): percentage is null, the session metrics 0 (Plausible's ifNotFinite(…, 0)).
  assert.deepEqual(
    await rows({
      date_range: ["2026-02-01", "2026-02-01"],
      metrics: ["visitors", "percentage", "bounce_rate", "visit_duration", "views_per_visit", "pageviews"],
    }),
    [[0, null, 0, 0, 0, 0]],
  );
  // With visits, percentage of the whole is 100.
  assert.deepEqual(await rows({ metrics: ["visitors", "percentage"] }), [[4, 100]]);
  assert.deepEqual(
    await rows({
      date_range: ["2026-02-01", "2026-02-01"],
      metrics: ["time_on_page"],
      filters: [["is", "event:page", ["/"]]],
    }),
    [[null]],
  );
});

Deno.test("v1: device labels in breakdowns and filters; revenue metrics refused as v1 refuses them", async () => {
  const v1 = (endpoint: "aggregate" | "breakdown", params: Record<string, string>) =>
    analytics.queryStatsV1(endpoint, {
      site_id: SITE,
      period: "custom",
      date: "2026-01-01,2026-03-15",
      ...params,
    });
  assert.deepEqual(await v1("breakdown", { property: "visit:device" }), {
    results: [{ device: "Desktop", visitors: 4 }, { device: "Mobile", visitors: 1 }, {
      device: "Tablet",
      visitors: 1,
    }],
  });
  assert.deepEqual(await v1("aggregate", { filters: "visit:device==Mobile|Tablet" }), {
    results: { visitors: { value: 2 } },
  });
  assert.deepEqual(
    await v1("breakdown", { property: "visit:utm_source", filters: "visit:utm_source==(not set)" }),
    {
      results: [{ utm_source: "(not set)", visitors: 5 }],
    },
  );
  for (const metric of ["total_revenue", "average_revenue"]) {
    await assert.rejects(v1("aggregate", { metrics: metric }), {
      name: "QueryError",
      message: `The metric \`${metric}\` is not recognized. Find valid metrics from the documentation: ` +
        "https://plausible.io/docs/stats-api#metrics",
    });
  }
});
