/**
 * The v2 query grammar: every date_range form resolved by hand from a fixed
 * clock, every metric, dimension, filter operator and include, and the error
 * cases with Plausible's messages (taken from its QueryParser/QueryBuilder).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Goal, METRICS, type ResolvedQuery } from "./query_ast.ts";
import { parseQueryV2, QueryError } from "./query_v2.ts";

/** 2026-03-15 12:34:56 UTC, a Sunday. */
const NOW = Date.UTC(2026, 2, 15, 12, 34, 56);
const DAY = 86_400_000;
const GOALS: Goal[] = [
  { id: "g1", kind: "event", match: "Signup", name: "Signup" },
  { id: "g2", kind: "pageview", match: "/blog/**", name: "Visit /blog/**" },
  { id: "g3", kind: "event", match: "Purchase", name: "Purchase", currency: "EUR" },
];
const ctx = { now: NOW, firstEventTs: Date.UTC(2025, 10, 3, 8), goals: GOALS };

function parse(body: Record<string, unknown>): ResolvedQuery {
  return parseQueryV2({ site_id: "example.com", metrics: ["visitors"], date_range: "day", ...body }, ctx)
    .query;
}

function refuses(body: Record<string, unknown>, message: string): void {
  assert.throws(
    () => parseQueryV2({ site_id: "example.com", metrics: ["visitors"], date_range: "day", ...body }, ctx),
    (err: unknown) => {
      assert.ok(err instanceof QueryError, String(err));
      assert.equal(err.message, message);
      assert.equal(err.status, 400);
      return true;
    },
  );
}

Deno.test("parseQueryV2() resolves every date_range form relative to now (UTC)", () => {
  const range = (date_range: unknown) => {
    const q = parse({ date_range });
    return [new Date(q.from).toISOString(), new Date(q.to).toISOString()];
  };
  assert.deepEqual(range("day"), ["2026-03-15T00:00:00.000Z", "2026-03-16T00:00:00.000Z"]);
  assert.deepEqual(range("24h"), ["2026-03-14T12:34:56.000Z", "2026-03-15T12:34:56.001Z"]);
  // N whole days before today (Plausible's current rule: today is not part of "7d").
  assert.deepEqual(range("7d"), ["2026-03-08T00:00:00.000Z", "2026-03-15T00:00:00.000Z"]);
  assert.deepEqual(range("28d"), ["2026-02-15T00:00:00.000Z", "2026-03-15T00:00:00.000Z"]);
  assert.deepEqual(range("30d"), ["2026-02-13T00:00:00.000Z", "2026-03-15T00:00:00.000Z"]);
  assert.deepEqual(range("91d"), ["2025-12-14T00:00:00.000Z", "2026-03-15T00:00:00.000Z"]);
  assert.deepEqual(range("month"), ["2026-03-01T00:00:00.000Z", "2026-04-01T00:00:00.000Z"]);
  // N whole months before this one.
  assert.deepEqual(range("6mo"), ["2025-09-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"]);
  assert.deepEqual(range("12mo"), ["2025-03-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"]);
  assert.deepEqual(range("year"), ["2026-01-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"]);
  assert.deepEqual(range("all"), ["2025-11-03T00:00:00.000Z", "2026-03-16T00:00:00.000Z"]);
  assert.deepEqual(range(["2026-01-01", "2026-01-31"]), [
    "2026-01-01T00:00:00.000Z",
    "2026-02-01T00:00:00.000Z",
  ]);
  assert.deepEqual(
    range(["2026-01-01T00:00:00+03:00", "2026-01-02T12:00:00Z"]),
    ["2025-12-31T21:00:00.000Z", "2026-01-02T12:00:00.001Z"],
  );
  // "all" for a site without events is today.
  const empty = parseQueryV2(
    { site_id: "example.com", metrics: ["visitors"], date_range: "all" },
    { ...ctx, firstEventTs: null },
  ).query;
  assert.deepEqual([empty.from, empty.to], [Date.UTC(2026, 2, 15), Date.UTC(2026, 2, 16)]);
});

Deno.test("parseQueryV2() echoes the query as Plausible does", () => {
  const { query, echo } = parseQueryV2({
    site_id: "example.com",
    metrics: ["visitors", "events"],
    date_range: ["2026-01-01", "2026-01-31"],
    dimensions: ["time"],
    filters: [["is", "visit:country", ["DE"]]],
    include: { time_labels: true },
  }, ctx);
  assert.deepEqual(echo, {
    site_id: "example.com",
    metrics: ["visitors", "events"],
    date_range: ["2026-01-01T00:00:00+00:00", "2026-01-31T23:59:59+00:00"],
    filters: [["is", "visit:country", ["DE"]]],
    // 31 days: `time` is days.
    dimensions: ["time:day"],
    order_by: [["time:day", "asc"], ["visitors", "desc"]],
    include: { imports: false, time_labels: true, total_rows: false },
    pagination: { limit: 10000, offset: 0 },
  });
  assert.equal(query.timeGrain, "day");
  assert.deepEqual(query.filters, ["and", [["is", "visit:country", ["DE"]]]]);
});

Deno.test("parseQueryV2() resolves `time` by the range's length", () => {
  const grain = (date_range: unknown) => parse({ date_range, dimensions: ["time"] }).dimensions[0];
  assert.equal(grain("day"), "time:hour");
  assert.equal(grain("24h"), "time:hour");
  assert.equal(grain(["2026-01-01", "2026-01-02"]), "time:hour"); // 47:59:59
  assert.equal(grain(["2026-01-01", "2026-01-03"]), "time:day");
  assert.equal(grain("28d"), "time:day");
  assert.equal(grain("91d"), "time:week");
  assert.equal(grain("12mo"), "time:week"); // 365 days: 52 weeks and a day
  assert.equal(grain(["2024-01-01", "2025-12-31"]), "time:month");
  assert.equal(grain("all"), "time:week");
});

Deno.test("parseQueryV2() accepts every metric, dimension and filter operator", () => {
  for (const metric of METRICS) {
    const body: Record<string, unknown> = { metrics: [metric] };
    if (["conversion_rate", "group_conversion_rate", "total_revenue", "average_revenue"].includes(metric)) {
      body.dimensions = ["event:goal"];
    }
    if (metric === "scroll_depth" || metric === "time_on_page") body.dimensions = ["event:page"];
    assert.deepEqual(parse(body).metrics, [metric]);
  }
  const dims = [
    "event:name",
    "event:page",
    "event:goal",
    "event:hostname",
    "event:props:plan",
    "visit:entry_page",
    "visit:exit_page",
    "visit:entry_page_hostname",
    "visit:exit_page_hostname",
    "visit:source",
    "visit:channel",
    "visit:referrer",
    "visit:utm_source",
    "visit:utm_medium",
    "visit:utm_campaign",
    "visit:utm_content",
    "visit:utm_term",
    "visit:device",
    "visit:browser",
    "visit:browser_version",
    "visit:os",
    "visit:os_version",
    "visit:country",
    "visit:region",
    "visit:city",
    "visit:country_name",
    "visit:region_name",
    "visit:city_name",
  ]; // deno-fmt-ignore
  assert.deepEqual(parse({ dimensions: dims }).dimensions, dims);
  for (const t of ["time:hour", "time:day", "time:week", "time:month"]) {
    assert.deepEqual(parse({ dimensions: [t] }).dimensions, [t]);
  }
  const tree = [
    ["is", "event:goal", ["Signup"]],
    ["or", [
      ["contains", "event:page", ["/Blog"], { case_sensitive: false }],
      ["not", ["matches", "visit:source", ["^Goo+gle$"]]],
      ["and", [["is_not", "visit:device", ["Mobile"]], ["contains_not", "event:props:plan", ["free"]]]],
    ]],
    ["matches_not", "visit:city_name", ["^Ber"]],
    ["is", "visit:city", [2950159, 2643743]],
    ["has_done", ["and", [["is", "event:name", ["Signup"]], ["is", "event:props:plan", ["pro"]]]]],
    ["has_not_done", ["contains", "event:page", ["/pricing"]]],
  ];
  assert.deepEqual(parse({ filters: tree }).filters, ["and", [
    ["is", "event:goal", ["Signup"]],
    ["or", [
      ["contains", "event:page", ["/Blog"], { case_sensitive: false }],
      ["not", ["matches", "visit:source", ["^Goo+gle$"]]],
      ["and", [["is_not", "visit:device", ["Mobile"]], ["contains_not", "event:props:plan", ["free"]]]],
    ]],
    ["matches_not", "visit:city_name", ["^Ber"]],
    // City ids may be numbers, as in Plausible; resolved to strings.
    ["is", "visit:city", ["2950159", "2643743"]],
    ["has_done", ["and", [["is", "event:name", ["Signup"]], ["is", "event:props:plan", ["pro"]]]]],
    ["has_not_done", ["contains", "event:page", ["/pricing"]]],
  ]]);
  assert.deepEqual(parse({}).filters, ["and", []]);
});

Deno.test("parseQueryV2() fills include, pagination and order_by", () => {
  const q = parse({
    metrics: ["visitors", "pageviews"],
    dimensions: ["event:page"],
    order_by: [["pageviews", "asc"], ["event:page", "desc"]],
    include: { imports: true, total_rows: true },
    pagination: { limit: 5, offset: 10 },
  });
  assert.deepEqual(q.orderBy, [["pageviews", "asc"], ["event:page", "desc"]]);
  assert.deepEqual(q.include, { imports: true, timeLabels: false, totalRows: true });
  assert.deepEqual(q.pagination, { limit: 5, offset: 10 });
  assert.deepEqual(parse({ metrics: ["events", "visitors"] }).orderBy, [["events", "desc"]]);
  assert.deepEqual(parse({ dimensions: ["time"], order_by: [["time", "desc"]] }).orderBy, [[
    "time:hour",
    "desc",
  ]]);
});

Deno.test("parseQueryV2() refuses bad shapes with Plausible's schema messages", () => {
  assert.throws(() => parseQueryV2([], ctx), { message: "#: Type mismatch. Expected Object but got Array." });
  assert.throws(
    () => parseQueryV2({ site_id: "example.com" }, ctx),
    { message: "#: Required properties metrics, date_range were not present." },
  );
  assert.throws(
    () => parseQueryV2({ site_id: "example.com", metrics: ["visitors"] }, ctx),
    { message: "#: Required property date_range was not present." },
  );
  refuses({ foo: 1 }, "#/foo: Schema does not allow additional properties.");
  refuses({ metrics: "visitors" }, "#/metrics: Type mismatch. Expected Array but got String.");
  refuses({ metrics: [] }, "#/metrics: Expected a minimum of 1 items but got 0.");
  refuses({ metrics: ["visitors", "foo"] }, '#/metrics/1: Invalid metric "foo"');
  refuses({ metrics: ["visitors", "visitors"] }, "#/metrics: Expected items to be unique but they were not.");
  refuses({ dimensions: ["visit:foo"] }, '#/dimensions/0: Invalid dimension "visit:foo"');
  refuses({ dimensions: ["event:props:"] }, '#/dimensions/0: Invalid dimension "event:props:"');
  refuses({ date_range: "3y" }, '#/date_range: Invalid date range "3y"');
  refuses({ date_range: "5001d" }, 'Invalid date_range "5001d"');
  refuses({ date_range: "0mo" }, 'Invalid date_range "0mo"');
  refuses({ date_range: ["2026-01-01"] }, '#/date_range: Invalid date range ["2026-01-01"]');
  refuses({ date_range: ["2026-02-30", "2026-03-01"] }, `Invalid date_range '["2026-02-30", "2026-03-01"]'.`);
  refuses(
    { date_range: ["2026-01-01", "2026-01-02T00:00:00Z"] },
    `Invalid date_range '["2026-01-01", "2026-01-02T00:00:00Z"]'.`,
  );
  refuses(
    { date_range: ["2026-01-01T00:00:00", "2026-01-02T00:00:00"] },
    `Invalid date_range '["2026-01-01T00:00:00", "2026-01-02T00:00:00"]'.`,
  );
  refuses(
    { date_range: ["2026-02-01", "2026-01-01"] },
    `Invalid date_range '["2026-02-01", "2026-01-01"]'. The end is before the start.`,
  );
  refuses({ filters: {} }, "#/filters: Type mismatch. Expected Array but got Object.");
  refuses(
    { filters: [["is", "visit:foo", ["x"]]] },
    '#/filters/0: Invalid filter ["is", "visit:foo", ["x"]]',
  );
  refuses(
    { filters: [["equals", "visit:os", ["x"]]] },
    '#/filters/0: Invalid filter ["equals", "visit:os", ["x"]]',
  );
  refuses({ filters: [["is", "time:day", ["x"]]] }, '#/filters/0: Invalid filter ["is", "time:day", ["x"]]');
  refuses(
    { filters: [["is_not", "event:goal", ["Signup"]]] },
    '#/filters/0: Invalid filter ["is_not", "event:goal", ["Signup"]]',
  );
  refuses({ filters: [["and", []]] }, '#/filters/0: Invalid filter ["and", []]');
  refuses(
    { filters: [["is", "visit:os", ["x"], { case_insensitive: true }]] },
    '#/filters/0: Invalid filter ["is", "visit:os", ["x"], %{"case_insensitive" => true}]',
  );
  refuses({ filters: [["is", "visit:os", [1]]] }, `Invalid filter '["is", "visit:os", [1]]'.`);
  refuses({ order_by: [["visitors"]] }, "#/order_by/0: Expected a minimum of 2 items but got 1.");
  refuses(
    { order_by: [["foo", "asc"]] },
    "#/order_by/0/0: Expected exactly one of the schemata to match, but none of them did.",
  );
  refuses({ order_by: [["visitors", "up"]] }, "#/order_by/0/1: Value is not allowed in enum.");
  refuses(
    { include: { comparisons: true } },
    "#/include/comparisons: Schema does not allow additional properties.",
  );
  refuses(
    { include: { imports: "yes" } },
    "#/include/imports: Type mismatch. Expected Boolean but got String.",
  );
  refuses({ pagination: { limit: 0 } }, "#/pagination/limit: Expected the value to be >= 1");
  refuses({ pagination: { limit: 10001 } }, "#/pagination/limit: Expected the value to be <= 10000");
  refuses({ pagination: { offset: -1 } }, "#/pagination/offset: Expected the value to be >= 0");
  refuses(
    { pagination: { limit: 1.5 } },
    "#/pagination/limit: Type mismatch. Expected Number but got Number.".replace(
      "Expected Number",
      "Expected Integer",
    ),
  );
}); // deno-fmt-ignore

Deno.test("parseQueryV2() refuses what Plausible's rules refuse, with its messages", () => {
  refuses(
    { filters: [["is", "visit:country", ["Germany"]]] },
    "Invalid visit:country filter, visit:country needs to be a valid 2-letter country code.",
  );
  refuses(
    { order_by: [["pageviews", "desc"]] },
    "Invalid order_by entry '{:pageviews, :desc}'. Entry is not a queried metric or dimension.",
  );
  refuses(
    { order_by: [["event:page", "asc"]] },
    `Invalid order_by entry '{"event:page", :asc}'. Entry is not a queried metric or dimension.`,
  );
  refuses(
    { filters: [["or", [["is", "event:goal", ["Signup"]], ["is", "visit:os", ["Linux"]]]]] },
    "Invalid filters. Dimension `event:goal` can only be filtered at the top level.",
  );
  refuses(
    { filters: [["not", ["is", "event:hostname", ["a.com"]]]] },
    "Invalid filters. Dimension `event:hostname` can only be filtered at the top level.",
  );
  refuses(
    {
      metrics: ["conversion_rate"],
      filters: [["is", "event:goal", ["Signup"]], ["or", [["is", "event:props:plan", ["a"]], ["is", "visit:os", ["b"]]]]],
    },
    "Invalid filters. When `conversion_rate` or `group_conversion_rate` metrics are used, custom property filters " +
      "can only be used on top level.",
  );
  refuses(
    { filters: [["has_done", ["has_not_done", ["is", "event:name", ["a"]]]]] },
    "Invalid filters. Behavioral filters (has_done, has_not_done) cannot be nested.",
  );
  refuses(
    { filters: [["has_done", ["is", "visit:country", ["DE"]]]] },
    "Invalid filters. Behavioral filters (has_done, has_not_done) can only be used with event dimension filters.",
  );
  refuses(
    { filters: [["is", "event:goal", ["Signup", "Newsletter"]]] },
    "Invalid filters. The goal `Newsletter` is not configured for this site. Find out how to configure goals " +
      "here: https://plausible.io/docs/stats-api#filtering-by-goals",
  );
  refuses({ filters: [["is", "segment", [1]]] }, "Invalid filters. Some segments don't exist or aren't accessible.");
  refuses(
    { metrics: ["conversion_rate"] },
    "Metric `conversion_rate` can only be queried with event:goal filters or dimensions.",
  );
  refuses(
    { metrics: ["group_conversion_rate"], filters: [["has_done", ["is", "event:goal", ["Signup"]]]] },
    "Metric `group_conversion_rate` can only be queried with event:goal filters or dimensions.",
  );
  refuses(
    { metrics: ["scroll_depth"], filters: [["or", [["is", "event:page", ["/"]], ["is", "visit:os", ["x"]]]]] },
    "Metric `scroll_depth` can only be queried with event:page filters or dimensions.",
  );
  refuses({ metrics: ["time_on_page"] }, "Metric `time_on_page` can only be queried with event:page filters or dimensions.");
  refuses(
    { metrics: ["views_per_visit"], filters: [["is", "event:page", ["/"]]] },
    "Metric `views_per_visit` cannot be queried with a filter on `event:page`.",
  );
  refuses(
    { metrics: ["views_per_visit"], dimensions: ["visit:os"] },
    "Metric `views_per_visit` cannot be queried with `dimensions`.",
  );
  refuses(
    { metrics: ["bounce_rate", "visit_duration"], dimensions: ["event:name"] },
    "Session metric(s) `bounce_rate, visit_duration` cannot be queried along with event dimensions.",
  );
  refuses({ include: { time_labels: true } }, "Invalid include.time_labels: requires a time dimension.");
  refuses(
    { filters: [["matches", "event:page", ["(unclosed"]]] },
    `Invalid filter '["matches", "event:page", ["(unclosed"]]'. "(unclosed" is not a valid regular expression.`,
  );
  // Allowed: bounce_rate by page, scroll_depth with a top-level page filter, conversion_rate under has_done + goal.
  parse({ metrics: ["bounce_rate"], dimensions: ["event:page"] });
  parse({ metrics: ["scroll_depth"], filters: [["is", "event:page", ["/"]]] });
  parse({ metrics: ["conversion_rate"], filters: [["contains", "event:goal", ["Sign"]]] });
}); // deno-fmt-ignore

Deno.test("parseQueryV2() never throws anything but QueryError, and what it returns is consistent", () => {
  const atom = fc.oneof(
    fc.constantFrom("is", "not", "and", "or", "has_done", "contains", "event:page", "visit:os", "event:goal"),
    fc.string({ maxLength: 8 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
  );
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: "small" }, atom, fc.array(tie("v"), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), tie("v"), { maxKeys: 3 })),
  })).v; // deno-fmt-ignore
  fc.assert(
    fc.property(value, value, value, value, (filters, dimensions, date_range, metrics) => {
      for (
        const body of [
          { site_id: "example.com", metrics, date_range, filters, dimensions },
          { site_id: "example.com", metrics: ["visitors"], date_range: "7d", filters: [filters] },
        ]
      ) {
        try {
          const { query } = parseQueryV2(body, ctx);
          assert.ok(query.to > query.from);
          assert.ok(query.metrics.length > 0);
          assert.equal(query.filters[0], "and");
        } catch (err) {
          if (!(err instanceof QueryError)) throw err;
        }
      }
    }),
    { numRuns: 400 },
  );
});

Deno.test("parseQueryV2() keeps `from`/`to` in whole days for day ranges", () => {
  for (const r of ["day", "7d", "28d", "30d", "91d", "month", "6mo", "12mo", "year", "all"]) {
    const q = parse({ date_range: r });
    assert.equal(q.from % DAY, 0, r);
    assert.equal(q.to % DAY, 0, r);
  }
});
