import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { migrateAnalytics } from "./schema.ts";
import { migrateImports } from "./imports.ts";
import { AnalyticsWriter } from "./store.ts";
import { AnalyticsEngine } from "./engine.ts";
import type { ResolvedQuery } from "./query_ast.ts";

const SITE = "example.com";
const DAY = 86_400_000;
const D0 = Date.UTC(2026, 0, 5);

function query(overrides: Partial<ResolvedQuery>): ResolvedQuery {
  return {
    site: SITE,
    from: D0 - 2 * DAY,
    to: D0 + DAY,
    timezone: "UTC",
    metrics: ["visitors", "pageviews"],
    dimensions: [],
    filters: ["and", []],
    orderBy: [["visitors", "desc"]],
    include: { imports: true, timeLabels: false, totalRows: false },
    pagination: { limit: 100, offset: 0 },
    ...overrides,
  };
}

async function withImports(fn: (engine: AnalyticsEngine) => Promise<void>): Promise<void> {
  const db = openDatabase(":memory:");
  try {
    migrateAnalytics(db);
    migrateImports(db);
    new AnalyticsWriter(db).recordEvents(SITE, [{
      ts: D0 + 3_600_000,
      name: "pageview",
      pathname: "/",
      hostname: SITE,
      referrer: "https://www.google.com/",
      referrerSource: "Google",
      utm: {},
      device: "desktop",
      browser: "Firefox",
      os: "Linux",
      visitorId: "a",
    }]);
    const insert = db.prepare(
      `INSERT INTO analytics_imported (site, day, source, dim, value, visitors, visits, pageviews, bounces,
        visit_duration, events) VALUES (?, ?, 'plausible-csv', ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const day = D0 / DAY - 1; // the day before the native event
    insert.run(SITE, day, "", "", 10, 12, 30, 6, 600, 30);
    insert.run(SITE, day, "visit:source", "Google", 4, 5, 10, 2, 100, 10);
    insert.run(SITE, day, "visit:source", "Direct / None", 6, 7, 20, 4, 500, 20);
    await fn(new AnalyticsEngine(db));
  } finally {
    db.close();
  }
}

const rows = (a: { results: { dimensions: string[]; metrics: number[] }[] }) =>
  a.results.map((r) => [...r.dimensions, ...r.metrics]);

Deno.test("executeQuery() adds imported totals and breakdowns when include.imports is set", async () => {
  await withImports(async (engine) => {
    const totals = await engine.executeQuery(query({}), []);
    deepStrictEqual(rows(totals), [[11, 31]]);
    strictEqual(totals.meta.imports_included, true);
    const bySource = await engine.executeQuery(query({ dimensions: ["visit:source"] }), []);
    deepStrictEqual(rows(bySource), [["Direct / None", 6, 20], ["Google", 5, 11]]);
    const filtered = await engine.executeQuery(
      query({ metrics: ["visitors", "bounce_rate"], filters: ["is", "visit:source", ["Google"]] }),
      [],
    );
    // 1 native visit (a bounce) + 5 imported visits with 2 bounces: 3 of 6.
    deepStrictEqual(rows(filtered), [[5, 50]]);
  });
});

Deno.test("executeQuery() leaves imports out of queries they cannot answer, saying why", async () => {
  await withImports(async (engine) => {
    const answer = await engine.executeQuery(query({ dimensions: ["visit:city"] }), []);
    strictEqual(answer.meta.imports_included, false);
    strictEqual(answer.meta.imports_skip_reason, "unsupported_query");
    strictEqual(typeof answer.meta.imports_warning, "string");
    const none = await engine.executeQuery(query({ from: D0 + 10 * DAY, to: D0 + 11 * DAY }), []);
    strictEqual(none.meta.imports_skip_reason, "no_imported_data");
    const without = await engine.executeQuery(
      query({ include: { imports: false, timeLabels: false, totalRows: false } }),
      [],
    );
    deepStrictEqual(rows(without), [[1, 1]]);
    strictEqual(without.meta.imports_included, undefined);
  });
});
