/**
 * Visitors on DuckDB count a visit alone in its visitor-day without a
 * distinct count (`solo`, `engine_sql.ts` countVisitors): these tests give
 * visitor-days a second visit in a later batch (the mirror must take `solo`
 * back from the first visit and its events) and rebuild the mirror, and
 * check every statement shape against SQLite and hand-computed figures.
 */
import { deepStrictEqual } from "node:assert/strict";
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import { openDatabase } from "../db/mod.ts";
import { migrateAnalytics } from "./schema.ts";
import { AnalyticsWriter } from "./store.ts";
import { DuckMirror } from "./duck_mirror.ts";
import { AnalyticsEngine } from "./engine.ts";
import type { Goal, ResolvedQuery } from "./query_ast.ts";
import { pageview, resolvedQuery } from "./fixtures_test.ts";

const SITE = "example.com";
const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
const MIN = 60_000;
const GOALS: Goal[] = [{ id: "g", kind: "event", match: "Signup", name: "Signup" }];

function ev(visitorId: string, minutes: number, pathname: string, extra: Partial<AnalyticsEvent> = {}) {
  return pageview(T0 + minutes * MIN, visitorId, pathname, extra);
}

/** The queries: one of each statement shape (visits alone, events by visit, per-visit figures, visit join). */
const QUERIES: Record<string, Partial<ResolvedQuery>> = {
  visitsOnly: { metrics: ["visitors", "visits"], dimensions: ["visit:device"] },
  events: { metrics: ["visitors", "visits", "pageviews"], dimensions: ["event:page"] },
  total: { metrics: ["visitors", "visits", "events"], filters: ["is", "event:name", ["pageview", "Signup"]] },
  goal: { metrics: ["visitors", "events"], dimensions: ["event:goal"] },
  byVisit: { metrics: ["visitors", "bounce_rate", "visit_duration"], dimensions: ["time:day"] },
  visitFigures: { metrics: ["visitors", "bounce_rate"], filters: ["contains", "event:page", ["/"]] },
  entryJoin: { metrics: ["visitors", "pageviews"], filters: ["is", "visit:entry_page", ["/", "/b"]] },
  entryByVisit: { metrics: ["visitors", "bounce_rate"], dimensions: ["visit:entry_page"] },
};

const query = (overrides: Partial<ResolvedQuery>) =>
  resolvedQuery(Date.UTC(2026, 0, 5), Date.UTC(2026, 0, 7), overrides);

/** Every query on both engines (which must agree), as `name → [dimensions…, metrics…][]`. */
async function answers(engine: AnalyticsEngine): Promise<Record<string, unknown[][]>> {
  const out: Record<string, unknown[][]> = {};
  for (const [name, q] of Object.entries(QUERIES)) {
    const duck = await engine.executeQuery(query(q), GOALS, { engine: "duckdb" });
    const sqlite = await engine.executeQuery(query(q), GOALS, { engine: "sqlite" });
    deepStrictEqual(duck, sqlite, `DuckDB and SQLite disagree on ${name}`);
    out[name] = duck.results.map((r) => [...r.dimensions, ...r.metrics]);
  }
  return out;
}

Deno.test("DuckDB counts a visitor-day once when its second visit arrives in a later batch, and after a rebuild", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-solo-" });
  const db = openDatabase(`${dir}/kosmos.db`);
  let mirror = await DuckMirror.open(db, { path: `${dir}/analytics.duckdb`, threads: 1 });
  try {
    migrateAnalytics(db);
    const writer = new AnalyticsWriter(db);
    // a: one visit (/, /a); b: a bounce on /b; c: a visit on the next day.
    writer.recordEvents(SITE, [
      ev("a", 0, "/"),
      ev("a", 1, "/a", { device: "mobile" }),
      ev("b", 2, "/b"),
      ev("c", 24 * 60, "/"),
    ]);
    const engine = new AnalyticsEngine(db, { mirror });
    deepStrictEqual((await answers(engine)).total, [[3, 3, 4]]);
    // a comes back an hour later (a second visit, same day) and signs up; b comes back too, on the next day.
    writer.recordEvents(SITE, [
      ev("a", 60, "/b"),
      ev("a", 61, "/b", { name: "Signup" }),
      ev("b", 24 * 60 + 5, "/b"),
    ]);
    const before = await answers(engine);
    // Visitors: a (2 visits, one visitor-day), b on two days, c: 4 visitor-days, 5 visits, 6 pageviews + 1 signup.
    deepStrictEqual(before.total, [[4, 5, 7]]);
    deepStrictEqual(before.visitsOnly, [["desktop", 4, 5]]);
    deepStrictEqual(before.events, [["/b", 3, 3, 3], ["/", 2, 2, 2], ["/a", 1, 1, 1]]);
    deepStrictEqual(before.goal, [["Signup", 1, 1]]);
    // Day 1: a's visits (60 s; one pageview and a signup, 60 s, a bounce) are one visitor; b's bounce.
    deepStrictEqual(before.byVisit, [["2026-01-05", 2, 67, 40], ["2026-01-06", 2, 100, 0]]);
    deepStrictEqual(before.visitFigures, [[4, 80]]);
    // Both of a's visits are in (entered on / and on /b): one visitor.
    deepStrictEqual(before.entryJoin, [[4, 6]]);
    deepStrictEqual(before.entryByVisit, [["/b", 3, 100], ["/", 2, 50]]);
    const solo = await mirror.read(
      "SELECT visit_id, bool_and(solo) AS solo FROM events GROUP BY 1 ORDER BY 1",
    );
    deepStrictEqual(solo.map((r) => r.solo), [false, true, true, false, true]);
    // A new mirror file over the same SQLite rows (a rebuild) answers the same.
    mirror.close();
    await Deno.remove(`${dir}/analytics.duckdb`);
    mirror = await DuckMirror.open(db, { path: `${dir}/analytics.duckdb`, threads: 1 });
    deepStrictEqual(await answers(new AnalyticsEngine(db, { mirror })), before);
    deepStrictEqual(
      await mirror.read("SELECT visit_id, bool_and(solo) AS solo FROM events GROUP BY 1 ORDER BY 1"),
      solo,
    );
  } finally {
    mirror.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
