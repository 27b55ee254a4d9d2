/**
 * Behavioural queries answered from visit rows (`engine_visits.ts`), and
 * ungrouped visit counts through a bitmap of visit ids (`engine_sql.ts`
 * countVisits): hand-computed answers on both engines, with visits that
 * cross the range's ends, events that arrive later, goals that change, and
 * visit ids outside the bitmap's span.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import { openDatabase } from "../db/mod.ts";
import { migrateAnalytics } from "./schema.ts";
import { AnalyticsWriter } from "./store.ts";
import { DuckMirror } from "./duck_mirror.ts";
import { AnalyticsEngine } from "./engine.ts";
import { answersFromVisitRows, statementsFor } from "./engine_visits.ts";
import { visitIdSpanStatement } from "./engine_sql.ts";
import { DUCKDB } from "./dialects.ts";
import type { Goal, ResolvedQuery } from "./query_ast.ts";
import { pageview, resolvedQuery } from "./fixtures_test.ts";

const SITE = "example.com";
const FROM = Date.UTC(2026, 0, 5);
const TO = Date.UTC(2026, 0, 6);
const MIN = 60_000;

/** A pageview (or, with `name`, a custom event) `minutes` after the range's start. */
function ev(visitorId: string, minutes: number, pathname = "/", extra: Partial<AnalyticsEvent> = {}) {
  return pageview(FROM + minutes * MIN, visitorId, pathname, extra);
}

const google = { referrerSource: "Google" };
const signup = { name: "Signup" };

const query = (overrides: Partial<ResolvedQuery>) => resolvedQuery(FROM, TO, overrides);

/** Runs `body` with a SQLite file, its writer and mirror, and an engine over both. */
async function withEngine(
  body: (writer: AnalyticsWriter, engine: AnalyticsEngine, mirror: DuckMirror) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-engine-visits-" });
  const db = openDatabase(`${dir}/kosmos.db`);
  const mirror = await DuckMirror.open(db, { path: `${dir}/analytics.duckdb`, threads: 1 });
  try {
    migrateAnalytics(db);
    await body(new AnalyticsWriter(db), new AnalyticsEngine(db, { mirror }), mirror);
  } finally {
    mirror.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The answer on both engines (which must agree), as `[dimensions…, metrics…][]`. */
async function both(engine: AnalyticsEngine, q: ResolvedQuery, goals: Goal[] = []): Promise<unknown[][]> {
  const duck = await engine.executeQuery(q, goals, { engine: "duckdb" });
  const sqlite = await engine.executeQuery(q, goals, { engine: "sqlite" });
  deepStrictEqual(duck, sqlite, "DuckDB and SQLite disagree");
  return duck.results.map((r) => [...r.dimensions, ...r.metrics]);
}

Deno.test("has_done and has_not_done by visit dimensions count the range's events of visits that cross its ends", async () => {
  await withEngine(async (writer, engine) => {
    writer.recordEvents(SITE, [
      // a: from 10 minutes before the range, signs up inside it (2 pageviews and 3 events inside).
      ev("a", -10),
      ev("a", 5, "/b"),
      ev("a", 10, "/b", signup),
      ev("a", 15, "/c"),
      // b: inside, from Google, signs up.
      ev("b", 60, "/", google),
      ev("b", 61, "/", signup),
      ev("b", 62, "/c"),
      // c: inside, from Google, no signup.
      ev("c", 120, "/", google),
      ev("c", 121, "/b"),
      // d: from Google, signs up 3 minutes before the range ends and goes on after it (1 pageview, 2 events inside).
      ev("d", 24 * 60 - 5, "/", google),
      ev("d", 24 * 60 - 3, "/", signup),
      ev("d", 24 * 60 + 5, "/b"),
      ev("d", 24 * 60 + 10, "/c"),
      // e: wholly before the range, signs up there.
      ev("e", -100),
      ev("e", -99, "/", signup),
      // f: signs up before the range, then one pageview inside it.
      ev("f", -5, "/", signup),
      ev("f", 3),
    ]);
    const metrics: ResolvedQuery["metrics"] = [
      "visitors",
      "visits",
      "pageviews",
      "events",
      "views_per_visit",
      "bounce_rate",
      "visit_duration",
      "percentage",
    ];
    const done = query({
      metrics,
      dimensions: ["visit:source"],
      filters: ["has_done", ["is", "event:name", ["Signup"]]],
    });
    ok(answersFromVisitRows(done, metrics), "the query takes the visit rows' path");
    // Google: b (2 pageviews, 3 events, 2 min) and d (1 and 2 inside; 3 pageviews in all, 15 min);
    // Direct: a (2 and 3 inside, 25 min). Bounce rate and duration are of whole visits.
    deepStrictEqual(await both(engine, done), [
      ["Google", 2, 2, 3, 5, 1.5, 0, 510, 66.7],
      ["Direct / None", 1, 1, 2, 3, 2, 0, 1500, 33.3],
    ]);
    // Not done in the range: f (1 pageview inside; its signup is before the range) and c.
    const notDone = query({
      metrics: ["visitors", "visits", "pageviews", "events"],
      dimensions: ["visit:source"],
      filters: ["has_not_done", ["is", "event:name", ["Signup"]]],
    });
    deepStrictEqual(await both(engine, notDone), [["Direct / None", 1, 1, 1, 1], ["Google", 1, 1, 2, 2]]);
    const googleDone = query({
      metrics: ["visitors", "pageviews", "events"],
      filters: ["and", [["is", "visit:source", ["Google"]], ["has_done", ["is", "event:name", ["Signup"]]]]],
    });
    deepStrictEqual(await both(engine, googleDone), [[2, 3, 5]]);
    // Events that arrive later count: b views one more page, d one more inside the range.
    writer.recordEvents(SITE, [ev("b", 63, "/d"), ev("d", 24 * 60 - 1, "/e")]);
    deepStrictEqual(await both(engine, googleDone), [[2, 5, 7]]);
    // A range of one hour that cuts b's visit in the middle: only its events inside count.
    const hour = query({ ...googleDone, from: FROM + 61 * MIN, to: FROM + 121 * MIN });
    deepStrictEqual(await both(engine, hour), [[1, 2, 3]]);
  });
});

Deno.test("ungrouped visit counts from a bitmap of visit ids equal distinct counts as events arrive and goals change", async () => {
  await withEngine(async (writer, engine, mirror) => {
    writer.recordEvents(SITE, [
      ev("p", 0),
      ev("p", 1, "/docs/a"),
      ev("p", 2, "/docs/a", signup),
      ev("q", 10, "/docs/b"),
      // r: two visits on one day (one visitor): "/" in both, "/docs/c" in the second.
      ev("r", 20),
      ev("r", 80, "/docs/c"),
      ev("r", 81),
      ev("s", 30, "/x"),
    ]);
    const goals: Goal[] = [
      { id: "s", kind: "event", match: "Signup", name: "Signup" },
      { id: "d", kind: "pageview", match: "/docs/**", name: "Docs" },
      { id: "h", kind: "pageview", match: "/", name: "Home" },
    ];
    const q = query({
      metrics: ["visitors", "visits", "events", "conversion_rate"],
      dimensions: ["event:goal"],
    });
    // Of 4 visitors: Signup p; Docs p, q, r; Home p and r (3 visits).
    deepStrictEqual(await both(engine, q, goals), [
      ["Docs", 3, 3, 3, 75],
      ["Home", 2, 3, 3, 50],
      ["Signup", 1, 1, 1, 25],
    ]);
    // The DuckDB statements count visits in a bitmap.
    const span =
      (await mirror.read(visitIdSpanStatement(q, DUCKDB).sql, visitIdSpanStatement(q, DUCKDB).params))[0];
    const options = { goals, visitFigures: false, currency: null, metrics: q.metrics };
    const visitIds = { min: Number(span.min), max: Number(span.max) };
    const bitmap = statementsFor(q, DUCKDB, { ...options, visitIds });
    // One statement per goal, each counting its visits in a bitmap.
    deepStrictEqual(bitmap.length, goals.length);
    ok(bitmap.every((s) => s.sql.includes("bitstring_agg")), "every goal's statement counts in a bitmap");
    // Ids outside the span are counted too: a span of the middle visit ids answers the same.
    const sum = async (statements: typeof bitmap) =>
      (await Promise.all(statements.map((s) => mirror.read(s.sql, s.params)))).flat()
        .map((r) => [r.d0, r.visitors, r.visits, r.events]).sort();
    const narrow = statementsFor(q, DUCKDB, {
      ...options,
      visitIds: { min: visitIds.min + 1, max: visitIds.max - 1 },
    });
    deepStrictEqual(await sum(narrow), await sum(statementsFor(q, DUCKDB, options)));
    deepStrictEqual(await sum(bitmap), await sum(statementsFor(q, DUCKDB, options)));
    // A new visitor arrives (a visit id past the old span) and converts on Home and Signup.
    writer.recordEvents(SITE, [ev("t", 200), ev("t", 201, "/", signup)]);
    deepStrictEqual(await both(engine, q, goals), [
      ["Docs", 3, 3, 3, 60],
      ["Home", 3, 4, 4, 60],
      ["Signup", 2, 2, 2, 40],
    ]);
    // Goals change: the answer follows the goals of the query, nothing is kept from before.
    const changed: Goal[] = [
      { id: "x", kind: "pageview", match: "/x", name: "X" },
      { id: "d", kind: "pageview", match: "/docs/*", name: "Docs" },
      { id: "a", kind: "pageview", match: "/docs/a", name: "A" },
    ];
    // p's view of /docs/a completes two goals and counts for both.
    deepStrictEqual(await both(engine, q, changed), [
      ["Docs", 3, 3, 3, 60],
      ["A", 1, 1, 1, 20],
      ["X", 1, 1, 1, 20],
    ]);
    // Without dimensions, the totals count visits in the bitmap too.
    const total = query({
      metrics: ["visitors", "visits", "pageviews"],
      filters: ["contains", "event:page", ["docs"]],
    });
    deepStrictEqual(await both(engine, total), [[3, 3, 3]]);
  });
});
