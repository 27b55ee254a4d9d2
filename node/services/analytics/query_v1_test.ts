/** v1's parameters translated to resolved queries, and v1's refusals with Plausible's messages. */
import assert from "node:assert/strict";
import type { Goal } from "./query_ast.ts";
import { parseQueryV1, parseV1Filters, resolvePeriod, shapeV1 } from "./query_v1.ts";
import { QueryError } from "./query_error.ts";

const NOW = Date.UTC(2026, 2, 15, 12);
const DAY = 86_400_000;
const GOALS: Goal[] = [
  { id: "g1", kind: "event", match: "Signup", name: "Signup" },
  { id: "g2", kind: "pageview", match: "/blog/**", name: "Visit /blog/**" },
];
const ctx = { now: NOW, goals: GOALS };

function refuses(
  endpoint: "aggregate" | "timeseries" | "breakdown",
  params: Record<string, string>,
  message: string | RegExp,
) {
  assert.throws(() => parseQueryV1(endpoint, { site_id: "s.example", ...params }, ctx), (err: unknown) => {
    assert.ok(err instanceof QueryError, String(err));
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

Deno.test("v1 periods include `date` (default today)", () => {
  const range = (period: string, date?: string) => {
    const { from, to } = resolvePeriod(period, date, NOW);
    return [new Date(from).toISOString().slice(0, 10), new Date(to - DAY).toISOString().slice(0, 10)];
  };
  assert.deepEqual(range("day"), ["2026-03-15", "2026-03-15"]);
  assert.deepEqual(range("7d"), ["2026-03-09", "2026-03-15"]);
  assert.deepEqual(range("30d"), ["2026-02-13", "2026-03-15"]);
  assert.deepEqual(range("month", "2026-02-10"), ["2026-02-01", "2026-02-28"]);
  assert.deepEqual(range("6mo"), ["2025-10-01", "2026-03-31"]);
  assert.deepEqual(range("12mo"), ["2025-04-01", "2026-03-31"]);
  assert.deepEqual(range("custom", "2026-01-01,2026-01-31"), ["2026-01-01", "2026-01-31"]);
});

Deno.test("v1 filters: ==, != and ~, lists, escaped pipes, wildcards, goals", () => {
  assert.deepEqual(parseV1Filters("visit:country==DE|FR;event:page!=/;visit:source~goo", GOALS), [
    ["is", "visit:country", ["DE", "FR"]],
    ["is_not", "event:page", ["/"]],
    ["contains", "visit:source", ["goo"]],
  ]);
  assert.deepEqual(parseV1Filters("event:props:plan==a\\|b|c", GOALS), [["is", "event:props:plan", [
    "a|b",
    "c",
  ]]]);
  assert.deepEqual(parseV1Filters("event:page==/blog/**|/docs/*", GOALS), [
    ["matches", "event:page", ["^\\/blog\\/.*$", "^\\/docs\\/[^/]*$"]],
  ]);
  assert.deepEqual(parseV1Filters("visit:entry_page!=/a*", GOALS), [["matches_not", "visit:entry_page", [
    "^\\/a[^/]*$",
  ]]]);
  assert.deepEqual(parseV1Filters("event:goal==Signup|Visit /blog/**", GOALS), [
    ["is", "event:goal", ["Signup", "Visit /blog/**"]],
  ]);
  assert.throws(() => parseV1Filters("event:goal==Visit /x", GOALS), {
    message:
      "The pageview goal for the pathname `/x` is not configured for this site. Find out how to configure " +
      "goals here: https://plausible.io/docs/stats-api#filtering-by-goals",
  });
  assert.throws(() => parseV1Filters("event:goal==Nope", GOALS), {
    message: /^The goal `Nope` is not configured/,
  });
  assert.throws(() => parseV1Filters("visit:nope==x", GOALS), {
    message:
      "Invalid filter property 'visit:nope'. Please provide a valid filter property: https://plausible.io/docs/stats-api#properties",
  });
});

Deno.test("v1 queries resolve to the executor's query", () => {
  const { query } = parseQueryV1("breakdown", {
    site_id: "s.example",
    period: "custom",
    date: "2026-03-01,2026-03-07",
    property: "event:page",
    metrics: "visitors,pageviews",
    filters: "visit:country==DE",
    limit: "5",
    page: "3",
    with_imported: "true",
  }, ctx);
  assert.deepEqual(query, {
    site: "s.example",
    from: Date.UTC(2026, 2, 1),
    to: Date.UTC(2026, 2, 8),
    timezone: "UTC",
    metrics: ["visitors", "pageviews"],
    dimensions: ["event:page"],
    filters: ["and", [["is", "visit:country", ["DE"]]]],
    orderBy: [["visitors", "desc"]],
    include: { imports: true, timeLabels: false, totalRows: false },
    pagination: { limit: 5, offset: 10 },
  });
  const series = parseQueryV1("timeseries", { site_id: "s.example", period: "day" }, ctx).query;
  assert.deepEqual([series.dimensions, series.timeGrain, series.include.timeLabels], [
    ["time:hour"],
    "hour",
    true,
  ]);
  const months = parseQueryV1("timeseries", { site_id: "s.example", period: "12mo" }, ctx).query;
  assert.deepEqual(months.dimensions, ["time:month"]);
  const previous = parseQueryV1("aggregate", {
    site_id: "s.example",
    period: "7d",
    compare: "previous_period",
  }, ctx).previous!;
  assert.deepEqual([previous.from, previous.to], [Date.UTC(2026, 2, 2), Date.UTC(2026, 2, 9)]);
}); // deno-fmt-ignore

Deno.test("v1 refusals carry Plausible's messages", () => {
  refuses("aggregate", { period: "week" }, /^Error parsing `period` parameter: invalid period `week`\. Please find accepted values/);
  refuses("aggregate", { period: "custom" }, /^The `date` parameter is required when using a custom period/);
  refuses("aggregate", { period: "custom", date: "2026-01-01" }, /^Invalid format for `date` parameter/);
  refuses("aggregate", { date: "03/15/2026" }, /^Error parsing `date` parameter/);
  refuses("aggregate", { metrics: "visitors,visitors" }, "Metrics cannot be queried multiple times.");
  refuses("aggregate", { metrics: "visitors,revenue" }, /^The metric `revenue` is not recognized/);
  refuses("aggregate", { metrics: "time_on_page" }, "Metric `time_on_page` can only be queried in a page breakdown or with a page filter.");
  refuses("aggregate", { metrics: "conversion_rate" }, "Metric `conversion_rate` can only be queried in a goal breakdown or with a goal filter");
  refuses("aggregate", { metrics: "views_per_visit", filters: "event:page==/" }, "Metric `views_per_visit` cannot be queried with a filter on `event:page`.");
  refuses("aggregate", { metrics: "bounce_rate", filters: "event:name==Signup" }, "Session metric `bounce_rate` cannot be queried when using a filter on `event:name`.");
  refuses("breakdown", {}, "The `property` parameter is required. Please provide at least one property to show a breakdown by.");
  refuses("breakdown", { property: "visit:nope" }, /^Invalid property 'visit:nope'/);
  refuses("breakdown", { property: "event:hostname" }, /^Property 'event:hostname' is currently not supported/);
  refuses("breakdown", { property: "event:page", limit: "0" }, "Please provide limit as a number between 1 and 1000.");
  refuses("breakdown", { property: "event:page", page: "x" }, "Please provide page as a positive number.");
  refuses("breakdown", { property: "event:page", metrics: "views_per_visit" }, "Metric `views_per_visit` is not supported in breakdown queries.");
  refuses("timeseries", { interval: "week" }, "Error parsing `interval` parameter: invalid interval `week`. Valid intervals are `day`, `month`");
  assert.throws(() => parseQueryV1("aggregate", {}, ctx), { message: "Missing site ID. Please provide the required site_id parameter with your request." });
}); // deno-fmt-ignore

Deno.test("v1 answers: aggregate with changes, timeseries filled from time_labels, breakdown keys", () => {
  const agg = parseQueryV1("aggregate", { site_id: "s.example", metrics: "visitors,bounce_rate", compare: "previous_period" }, ctx);
  assert.deepEqual(
    shapeV1(agg, { results: [{ dimensions: [], metrics: [30, 40] }], meta: {} }, { results: [{ dimensions: [], metrics: [20, 50] }], meta: {} }),
    { results: { visitors: { value: 30, change: 50 }, bounce_rate: { value: 40, change: -10 } } },
  );
  const ts = parseQueryV1("timeseries", { site_id: "s.example", period: "day" }, ctx);
  assert.deepEqual(
    shapeV1(ts, { results: [{ dimensions: ["2026-03-15 01:00:00"], metrics: [2] }], meta: { time_labels: ["2026-03-15 00:00:00", "2026-03-15 01:00:00"] } }),
    { results: [{ date: "2026-03-15 00:00:00", visitors: 0 }, { date: "2026-03-15 01:00:00", visitors: 2 }] },
  );
  const bd = parseQueryV1("breakdown", { site_id: "s.example", property: "event:props:plan" }, ctx);
  assert.deepEqual(shapeV1(bd, { results: [{ dimensions: ["pro"], metrics: [3] }], meta: { imports_skip_reason: "unsupported_query" } }), {
    results: [{ plan: "pro", visitors: 3 }],
    warning: "Imported stats are not included in the results because query parameters are not supported. For more information, see: https://plausible.io/docs/stats-api#filtering-imported-stats",
  });
});
