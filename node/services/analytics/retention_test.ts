/**
 * Raw-event retention on real SQLite files and a real DuckDB mirror file:
 * what is deleted (whole visits that start before the cutoff, their events
 * and engagement, the visitor-days), that their bytes leave every file of the
 * directory, what stays (newer rows, the rollups' answers), the releases it
 * refuses, and that the mirror follows SQLite afterwards even where SQLite
 * hands out ids again.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import { day, hour, minute } from "../../constants.ts";
import { createAnalytics } from "./mod.ts";
import { DuckMirror } from "./duck_mirror.ts";
import { computeBoundedTable, formatDay } from "./bounded_table.ts";
import { checkRetentionDays, getRawEventsKept, RawEventRetention } from "./retention.ts";
import { pageview, SITE } from "./fixtures_test.ts";

const log = createLogger({ level: "silent" }).forComponent("kosmos:analytics");
const TODAY = Math.floor(Date.parse("2024-06-30T12:00:00Z") / day);
const NOW = TODAY * day + 12 * hour;
const DAYS = 30;
const CUTOFF = (TODAY - DAYS + 1) * day;

/** The names of the files under `dir` (recursively) whose bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) found.push(...filesContaining(path, needle).map((f) => join(entry.name, f)));
    else if (entry.isFile && new TextDecoder("latin1").decode(Deno.readFileSync(path)).includes(needle)) {
      found.push(entry.name);
    }
  }
  return found;
}

const engagement = (ts: number, visitorId: string, props: Record<string, string>): AnalyticsEvent => ({
  ...pageview(ts, visitorId, "/"),
  name: "engagement",
  scrollDepth: 40,
  engagedMs: 5000,
  props,
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-retention-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("prune() deletes old visits whole from SQLite and the DuckDB mirror, and their bytes from every file; rollups still answer", async () => {
  await withDir(async (dir) => {
    const db = openDatabase(join(dir, "kosmos.db"));
    const analytics = createAnalytics({ db, log }, { now: () => NOW });
    const tag = crypto.randomUUID().slice(0, 8);
    const oldIds = [`oldvisitor-a-${tag}`, `oldvisitor-b-${tag}`, `crossing-${tag}`];
    const oldProp = `oldprop-${tag}`;
    const oldHost = `oldhost-${tag}.example`;
    const lateProp = `lateprop-${tag}`;
    const newId = `newvisitor-${tag}`;
    const newProp = `newprop-${tag}`;
    const oldDay = CUTOFF - 10 * day + 9 * hour;
    const old = { hostname: oldHost, props: { canary: oldProp } };
    analytics.recordEvents(SITE, [
      pageview(oldDay, oldIds[0], "/pricing", old),
      pageview(oldDay + minute, oldIds[0], "/docs", old),
      pageview(oldDay + 2 * hour, oldIds[1], "/pricing", old),
      engagement(oldDay + 2 * minute, oldIds[0], { canary: oldProp }),
      // A visit that starts before the cutoff and goes on after it goes whole.
      pageview(CUTOFF - 10 * minute, oldIds[2], "/pricing", old),
      pageview(CUTOFF + 5 * minute, oldIds[2], "/after", { props: { canary: lateProp } }),
      engagement(CUTOFF + 6 * minute, oldIds[2], { canary: lateProp }),
      pageview(NOW - 2 * day, newId, "/pricing", { props: { canary: newProp } }),
      pageview(NOW - 2 * day + minute, newId, "/docs", { props: { canary: newProp } }),
    ]);
    const oldRange = [formatDay(Math.floor(oldDay / day)), formatDay(Math.floor(oldDay / day))];
    const dashboard = () => [
      analytics.queryStatsSync({
        site_id: SITE,
        date_range: oldRange,
        metrics: ["visitors", "visits", "pageviews", "bounce_rate"],
      }).results,
      analytics.queryStatsSync({
        site_id: SITE,
        date_range: oldRange,
        metrics: ["visitors", "pageviews"],
        dimensions: ["event:page"],
      }).results,
    ];
    const before = dashboard();
    assert.equal((before[0][0] as { metrics: number[] }).metrics[0], 2, "two visitors on the old day");

    const mirror = await DuckMirror.open(db, { path: join(dir, "analytics.duckdb"), threads: 1 });
    try {
      await mirror.sync();
      for (const canary of [...oldIds, oldProp, oldHost, lateProp]) {
        assert.notDeepEqual(filesContaining(dir, canary), [], `the scan finds ${canary} before the prune`);
      }
      assert.ok(
        filesContaining(dir, oldProp).some((f) => f.startsWith("analytics.duckdb")),
        "the mirror holds it",
      );

      const retention = new RawEventRetention(db, { days: DAYS, now: () => NOW, mirror: () => mirror, log });
      // Reads go on while the mirror swaps its file: each sees the old or the new rows, none fails.
      let reading = true;
      const counts = new Set<number>();
      const reads = (async () => {
        while (reading) counts.add(Number((await mirror.read("SELECT COUNT(*) AS n FROM events"))[0].n));
      })();
      const result = await retention.prune();
      reading = false;
      await reads;
      assert.ok([...counts].every((n) => n === 7 || n === 2) && counts.size > 0, `${[...counts]}`);
      assert.deepEqual(
        { ...result, mirrorRows: result.mirrorRows! > 0 },
        {
          keptFromDay: TODAY - DAYS + 1,
          visits: 3,
          events: 5,
          engagement: 2,
          visitorDays: 3,
          walTruncated: true,
          mirrorRows: true,
        },
      );
      for (const canary of [...oldIds, oldProp, oldHost, lateProp]) {
        assert.deepEqual(filesContaining(dir, canary), [], `${canary} is in no file after the prune`);
      }
      assert.deepEqual(dashboard(), before, "the rollups answer the old day as before");
      assert.deepEqual(
        (db.prepare("SELECT visitor_id FROM analytics_visits").all() as { visitor_id: string }[]).map((r) =>
          r.visitor_id
        ),
        [newId],
      );
      assert.deepEqual(await mirror.read("SELECT COUNT(*) AS n FROM events"), [{ n: 2 }]);
      assert.deepEqual(await mirror.read("SELECT COUNT(*) AS n FROM visits"), [{ n: 1 }]);
      assert.deepEqual(await mirror.read("SELECT COUNT(*) AS n FROM engagement"), [{ n: 0 }]);
      assert.ok(filesContaining(dir, newProp).includes("kosmos.db"), "newer events stay");

      // The mirror goes on following SQLite in its new file.
      analytics.recordEvents(SITE, [pageview(NOW - hour, `later-${tag}`, "/later")]);
      await mirror.sync();
      assert.deepEqual(await mirror.read("SELECT COUNT(*) AS n FROM events"), [{ n: 3 }]);

      // A release of deleted days is refused; one after the cutoff is computed.
      assert.deepEqual(getRawEventsKept(db, SITE), { keptFromDay: TODAY - DAYS + 1, days: DAYS });
      assert.throws(
        () => computeBoundedTable(db, SITE, { from: oldRange[0], to: formatDay(TODAY) }),
        {
          name: "RangeError",
          message: new RegExp(
            `Cannot release statistics from ${oldRange[0]}: this node keeps raw events for 30 days .*before ${
              formatDay(TODAY - DAYS + 1)
            } are deleted`,
          ),
        },
      );
      assert.equal(
        computeBoundedTable(db, SITE, { from: formatDay(TODAY - DAYS + 1), to: formatDay(TODAY) }).rows
          .length > 0,
        true,
      );
      assert.equal(getRawEventsKept(db, "other.org"), null, "a site without deleted rows is not marked");
      assert.equal((await retention.prune()).visits, 0, "a second run finds nothing");
    } finally {
      mirror.close();
      db.close();
    }
  });
});

Deno.test("prune() lowers the mirror's high-water marks, so events under ids SQLite hands out again are mirrored", async () => {
  await withDir(async (dir) => {
    const db = openDatabase(join(dir, "kosmos.db"));
    const analytics = createAnalytics({ db, log }, { now: () => NOW });
    const old = Array.from(
      { length: 5 },
      (_, i) => pageview(CUTOFF - 3 * day + i * hour, `old-${i}`, "/old"),
    );
    old.push(engagement(CUTOFF - 3 * day + 10 * minute, "old-0", {}));
    analytics.recordEvents(SITE, old);
    const mirror = await DuckMirror.open(db, { path: join(dir, "analytics.duckdb"), threads: 1 });
    try {
      await mirror.sync();
      const retention = new RawEventRetention(db, { days: DAYS, now: () => NOW, mirror: () => mirror, log });
      const result = await retention.prune();
      assert.deepEqual([result.visits, result.events, result.engagement], [5, 5, 1]);
      assert.equal((db.prepare("SELECT COUNT(*) AS n FROM analytics_events").get() as { n: number }).n, 0);
      // Every id was deleted: SQLite starts again at 1, under the mirror's old marks.
      const fresh = Array.from(
        { length: 8 },
        (_, i) => pageview(NOW - 5 * hour + i * minute, `new-${i}`, "/new"),
      );
      fresh.push(engagement(NOW - 5 * hour + 30_000, "new-0", {}));
      analytics.recordEvents(SITE, fresh);
      assert.equal((db.prepare("SELECT MIN(id) AS n FROM analytics_events").get() as { n: number }).n, 1);
      await mirror.sync();
      assert.deepEqual(await mirror.read("SELECT pathname, COUNT(*) AS n FROM events GROUP BY pathname"), [
        { pathname: "/new", n: 8 },
      ]);
      assert.deepEqual(await mirror.read("SELECT COUNT(*) AS n FROM engagement"), [{ n: 1 }]);
    } finally {
      mirror.close();
      db.close();
    }
  });
});

Deno.test("prune() without a mirror deletes in small batches and keeps every day inside the retention", async () => {
  const db = openDatabase(":memory:");
  const analytics = createAnalytics({ db, log }, { now: () => NOW });
  const events: AnalyticsEvent[] = [];
  for (let d = 0; d < 40; d++) {
    for (let v = 0; v < 6; v++) events.push(pageview((TODAY - d) * day + v * hour, `v${d}-${v}`, `/p${v}`));
  }
  analytics.recordEvents(SITE, events);
  const retention = new RawEventRetention(db, { days: DAYS, now: () => NOW, batchSize: 4 });
  const result = await retention.prune();
  assert.deepEqual([result.visits, result.events, result.visitorDays], [60, 60, 60]);
  const days = db.prepare("SELECT DISTINCT day FROM analytics_visits ORDER BY day").all() as {
    day: number;
  }[];
  assert.deepEqual(days.map((r) => r.day), Array.from({ length: DAYS }, (_, i) => TODAY - DAYS + 1 + i));
  db.close();
});

Deno.test("RawEventRetention takes 1 to 36500 days and nothing else", () => {
  const db = openDatabase(":memory:");
  for (const bad of [0, -3, 2.5, 36_501, Infinity, NaN]) {
    assert.throws(() => new RawEventRetention(db, { days: bad }), {
      name: "RangeError",
      message: /Invalid raw-event retention .*: expected a whole number of days from 1 to 36500/,
    });
  }
  assert.throws(() => checkRetentionDays("forever"), RangeError);
  checkRetentionDays(1);
  db.close();
});
