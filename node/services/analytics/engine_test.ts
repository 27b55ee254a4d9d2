import { deepStrictEqual, strictEqual } from "node:assert/strict";
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import { openDatabase } from "../db/mod.ts";
import { migrateAnalytics } from "./schema.ts";
import { AnalyticsWriter } from "./store.ts";
import { DuckMirror } from "./duck_mirror.ts";
import { AnalyticsEngine, type EngineName, timeLabels } from "./engine.ts";
import type { Goal, ResolvedQuery } from "./query_ast.ts";
import { analytics } from "./mod.ts";
import { resolvedQuery } from "./fixtures_test.ts";
import { createLogger } from "../../log.ts";

const SITE = "example.com";
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0); // a Monday, 10:00 UTC
const MIN = 60_000;

function ev(
  visitorId: string,
  minutes: number,
  pathname: string,
  extra: Partial<AnalyticsEvent> = {},
): AnalyticsEvent {
  return {
    ts: T0 + minutes * MIN,
    name: "pageview",
    pathname,
    hostname: SITE,
    referrer: null,
    referrerSource: null,
    utm: {},
    device: "desktop",
    browser: "Firefox",
    os: "Linux",
    visitorId,
    ...extra,
  };
}

const berlin = { country: "DE", region: "DE-BE", city: "2950159", cityName: "Berlin", regionName: "Berlin" };
const newYork = {
  country: "US",
  region: "US-NY",
  city: "5128581",
  cityName: "New York",
  regionName: "New York",
};

/** Three visits: A (from Google: 2 pageviews and a paid signup), B (a bounce), C (2 pageviews, a paid signup). */
const FIXTURE: AnalyticsEvent[] = [
  ev("a", 0, "/", { ...berlin, referrer: "https://www.google.com/", referrerSource: "Google" }),
  ev("a", 1, "/pricing", berlin),
  ev("a", 2, "/pricing", {
    ...berlin,
    name: "Signup",
    props: { plan: "pro" },
    revenue: { amount: "10.50", currency: "EUR" },
  }),
  ev("b", 60, "/blog/post-1", newYork),
  ev("b", 60.5, "/blog/post-1", { ...newYork, name: "engagement", scrollDepth: 60, engagedMs: 20_000 }),
  ev("c", 120, "/", berlin),
  ev("c", 125, "/blog/post-2", berlin),
  ev("c", 125.5, "/blog/post-2", { ...berlin, name: "engagement", scrollDepth: 80, engagedMs: 10_000 }),
  ev("c", 126, "/blog/post-2", {
    ...berlin,
    name: "Signup",
    props: { plan: "free" },
    revenue: { amount: "5", currency: "EUR" },
  }),
];

const GOALS: Goal[] = [
  { id: "g1", kind: "event", match: "Signup", name: "Signup", currency: "EUR" },
  { id: "g2", kind: "pageview", match: "/blog/**", name: "Visit /blog/**" },
];

const query = (overrides: Partial<ResolvedQuery>) =>
  resolvedQuery(Date.UTC(2026, 0, 5), Date.UTC(2026, 0, 6), overrides);

async function withEngines(fn: (ask: (q: Partial<ResolvedQuery>) => Promise<unknown>) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-engine-" });
  const db = openDatabase(`${dir}/kosmos.db`);
  const mirror = await DuckMirror.open(db, { threads: 1 });
  try {
    migrateAnalytics(db);
    const writer = new AnalyticsWriter(db);
    writer.recordEvents(SITE, FIXTURE.slice(0, 4));
    writer.recordEvents(SITE, FIXTURE.slice(4));
    const engine = new AnalyticsEngine(db, { mirror });
    const run = (engineName: EngineName, q: Partial<ResolvedQuery>) =>
      engine.executeQuery(query(q), GOALS, { engine: engineName });
    // Both engines must give the same answer; the test then checks it by hand.
    await fn(async (q) => {
      const [duck, sqlite] = [await run("duckdb", q), await run("sqlite", q)];
      deepStrictEqual(duck, sqlite, `DuckDB and SQLite disagree on ${JSON.stringify(q)}`);
      return duck;
    });
  } finally {
    mirror.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const rows = (answer: unknown) =>
  (answer as { results: { dimensions: string[]; metrics: number[] }[] }).results.map((r) => [
    ...r.dimensions,
    ...r.metrics,
  ]);

Deno.test("executeQuery() answers the session metrics over raw events on both engines", async () => {
  await withEngines(async (ask) => {
    const all = await ask({
      metrics: [
        "visitors",
        "visits",
        "pageviews",
        "events",
        "views_per_visit",
        "bounce_rate",
        "visit_duration",
      ],
    });
    // 3 visitors and visits; 5 pageviews + 2 signups; B bounced; durations 120 s, 0 s, 360 s.
    deepStrictEqual(rows(all), [[3, 3, 5, 7, 1.67, 33, 160]]);
  });
});

Deno.test("executeQuery() filters by props, contains, has_done and goals", async () => {
  await withEngines(async (ask) => {
    deepStrictEqual(rows(await ask({ filters: ["is", "event:props:plan", ["pro"]] })), [[1]]);
    deepStrictEqual(
      rows(await ask({ filters: ["is", "event:props:plan", ["(none)"]], metrics: ["events"] })),
      [[5]],
    );
    deepStrictEqual(
      rows(
        await ask({
          metrics: ["visitors", "pageviews"],
          filters: ["contains", "event:page", ["BLOG"], { case_sensitive: false }],
        }),
      ),
      [[2, 2]],
    );
    deepStrictEqual(
      rows(await ask({ metrics: ["pageviews"], filters: ["has_done", ["is", "event:goal", ["Signup"]]] })),
      [[4]],
    );
    deepStrictEqual(
      rows(
        await ask({ metrics: ["pageviews"], filters: ["has_not_done", ["is", "event:name", ["Signup"]]] }),
      ),
      [[1]],
    );
    deepStrictEqual(
      rows(
        await ask({
          filters: ["or", [["matches", "event:page", ["^/pri"]], ["is", "visit:country", ["US"]]]],
        }),
      ),
      [[2]],
    );
    deepStrictEqual(rows(await ask({ filters: ["not", ["is", "visit:city_name", ["Berlin"]]] })), [[1]]);
  });
});

Deno.test("executeQuery() breaks down by goal with conversion rate and revenue", async () => {
  await withEngines(async (ask) => {
    const answer = await ask({
      metrics: ["visitors", "conversion_rate", "total_revenue", "average_revenue"],
      dimensions: ["event:goal"],
    });
    deepStrictEqual(rows(answer), [["Signup", 2, 66.67, 15.5, 7.75], ["Visit /blog/**", 2, 66.67, 0, 0]]);
    const mixed = await ask({ metrics: ["total_revenue"], filters: ["is", "event:goal", ["Signup"]] });
    deepStrictEqual(rows(mixed), [[15.5]]);
    const none = (await ask({ metrics: ["total_revenue"] })) as { meta: Record<string, unknown> };
    deepStrictEqual(Object.keys(none.meta.metric_warnings as object), ["total_revenue"]);
  });
});

Deno.test("executeQuery() answers geo, channel, percentage and group conversion rate", async () => {
  await withEngines(async (ask) => {
    deepStrictEqual(
      rows(await ask({ metrics: ["visitors", "percentage"], dimensions: ["visit:country_name"] })),
      [["Germany", 2, 66.7], ["United States", 1, 33.3]],
    );
    deepStrictEqual(rows(await ask({ dimensions: ["visit:city"] })), [["2950159", 2], ["5128581", 1]]);
    deepStrictEqual(rows(await ask({ dimensions: ["visit:channel"] })), [["Direct", 2], [
      "Organic Search",
      1,
    ]]);
    deepStrictEqual(
      rows(
        await ask({
          metrics: ["visitors", "group_conversion_rate"],
          dimensions: ["visit:country"],
          filters: ["is", "event:goal", ["Signup"]],
        }),
      ),
      [["DE", 2, 100]],
    );
  });
});

Deno.test("executeQuery() answers scroll depth and time on page from engagement events", async () => {
  await withEngines(async (ask) => {
    deepStrictEqual(
      rows(
        await ask({
          metrics: ["scroll_depth", "time_on_page"],
          dimensions: ["event:page"],
          filters: ["contains", "event:page", ["/blog"]],
          orderBy: [["event:page", "asc"]],
        }),
      ),
      [["/blog/post-1", 60, 20], ["/blog/post-2", 80, 10]],
    );
  });
});

Deno.test("executeQuery() buckets time, paginates and reports total rows and time labels", async () => {
  await withEngines(async (ask) => {
    const answer = await ask({
      dimensions: ["time:hour"],
      orderBy: [["time:hour", "asc"]],
      include: { imports: false, timeLabels: true, totalRows: true },
      pagination: { limit: 2, offset: 1 },
    }) as { results: unknown; meta: { total_rows: number; time_labels: string[] } };
    deepStrictEqual(rows(answer), [["2026-01-05 11:00:00", 1], ["2026-01-05 12:00:00", 1]]);
    strictEqual(answer.meta.total_rows, 3);
    strictEqual(answer.meta.time_labels.length, 24);
  });
});

Deno.test("timeLabels() starts weeks at the range start, then on Mondays", () => {
  deepStrictEqual(timeLabels(Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 15), "week"), [
    "2026-01-01",
    "2026-01-05",
    "2026-01-12",
  ]);
  deepStrictEqual(timeLabels(Date.UTC(2026, 0, 20), Date.UTC(2026, 2, 2), "month"), [
    "2026-01-01",
    "2026-02-01",
    "2026-03-01",
  ]);
});

Deno.test("the analytics service answers from its DuckDB mirror, which follows what it records", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-engine-service-" });
  const db = openDatabase(`${dir}/kosmos.db`);
  const log = createLogger({ level: "error" }).forComponent("kosmos:analytics");
  const service = await analytics().create({
    db,
    log,
    sites: { ownsDomain: () => false },
    config: { dataDir: dir },
  });
  try {
    await service.start();
    service.recordEvents(SITE, FIXTURE.slice(0, 4));
    service.recordEvents(SITE, FIXTURE.slice(4));
    const engine = service.engine as AnalyticsEngine;
    const answer = await engine.executeQuery(query({ metrics: ["visitors", "events"] }), GOALS, {
      engine: "duckdb",
    });
    deepStrictEqual(answer.results, [{ dimensions: [], metrics: [3, 7] }]);
    for (let i = 0; i < 200 && engine.engine !== "duckdb"; i++) await new Promise((r) => setTimeout(r, 10));
    strictEqual(engine.engine, "duckdb");
    await service.stop();
    strictEqual(engine.engine, "sqlite");
  } finally {
    await service.stop();
    service.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
