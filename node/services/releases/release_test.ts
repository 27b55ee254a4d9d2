/**
 * Release tables: the bounded true counts (checked by hand on the shared
 * fixture), contribution bounding (one visitor id never moves a count by more
 * than its sensitivity, one person over D days by more than D times it),
 * noise calibrated to a person over the whole range, suppression below k on
 * the noisy count, the raised threshold of open dimensions, and a CSV without
 * visitor ids.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import { openDatabase } from "../db/mod.ts";
import { day, minute } from "../../constants.ts";
import { AnalyticsWriter } from "../analytics/store.ts";
import { migrateAnalytics } from "../analytics/schema.ts";
import { BATCH_1, BATCH_2, OTHER_EVENTS, OTHER_SITE, pageview, SITE } from "../analytics/fixtures_test.ts";
import {
  type BoundedTable,
  computeBoundedTable,
  getDefaultBounds,
  RELEASE_DIMENSIONS,
  type ReleaseDimension,
  type ReleaseRow,
} from "../analytics/bounded_table.ts";
import {
  addNoise,
  encodeReleaseCsv,
  getDiscreteLaplaceTail,
  getOpenDomainThreshold,
  getPersonSensitivity,
  getSensitivity,
  toRational,
} from "./noise.ts";
import { estimateRelease } from "../../../protocol/release_privacy.ts";
import { toMicroEpsilon } from "./store.ts";

function setUp(...batches: AnalyticsEvent[][]) {
  const db = openDatabase(":memory:");
  migrateAnalytics(db);
  const writer = new AnalyticsWriter(db);
  for (const events of batches) writer.recordEvents(SITE, events);
  return db;
}

const DAY0 = Date.parse("2024-03-10T00:00:00Z");

const row = (date: string, value: string | null, visitors: number, visits: number, pageviews: number) => ({
  date,
  value,
  visitors,
  visits,
  pageviews,
});

Deno.test("computeBoundedTable() counts visitors, visits and pageviews per day over the whole grid", () => {
  const db = setUp(BATCH_1, BATCH_2);
  new AnalyticsWriter(db).recordEvents(OTHER_SITE, OTHER_EVENTS);
  const table = computeBoundedTable(db, SITE, { from: "2024-03-12", to: "2024-03-15" });
  assert.equal(table.publicDomain, true);
  assert.deepEqual(table.rows, [
    row("2024-03-12", null, 0, 0, 0),
    row("2024-03-13", null, 0, 0, 0),
    row("2024-03-14", null, 1, 1, 1),
    row("2024-03-15", null, 3, 4, 7),
  ]);
  assert.deepEqual(table.dropped, { visits: 0, pageviews: 0 });
});

Deno.test("computeBoundedTable() breaks days down by page, and device over its fixed values", () => {
  const db = setUp(BATCH_1, BATCH_2);
  const pages = computeBoundedTable(db, SITE, { from: "2024-03-14", to: "2024-03-15", dimension: "page" });
  assert.equal(pages.publicDomain, false);
  assert.deepEqual(pages.rows, [
    row("2024-03-14", "/", 1, 1, 1),
    row("2024-03-15", "/", 2, 2, 2),
    row("2024-03-15", "/blog/hello", 1, 2, 2),
    row("2024-03-15", "/docs", 1, 1, 1),
    row("2024-03-15", "/pricing", 2, 2, 2),
  ]);
  const devices = computeBoundedTable(db, SITE, {
    from: "2024-03-15",
    to: "2024-03-15",
    dimension: "device",
  });
  assert.deepEqual(devices.rows, [
    row("2024-03-15", "desktop", 2, 3, 6),
    row("2024-03-15", "mobile", 1, 1, 1),
    row("2024-03-15", "other", 0, 0, 0),
    row("2024-03-15", "tablet", 0, 0, 0),
  ]);
  const sources = computeBoundedTable(db, SITE, {
    from: "2024-03-15",
    to: "2024-03-15",
    dimension: "source",
  });
  assert.deepEqual(sources.rows.map((r) => [r.value, r.visitors, r.visits]), [
    ["Direct / None", 1, 1],
    ["Google", 2, 2],
    ["news.ycombinator.com", 1, 1],
  ]);
});

Deno.test("computeBoundedTable() keeps only the first visits, pageviews and rows of a heavy visitor id", () => {
  // One visitor id: 6 visits an hour apart, 5 pageviews each on its own page; one light visitor.
  const heavy: AnalyticsEvent[] = [];
  for (let v = 0; v < 6; v++) {
    for (let p = 0; p < 5; p++) {
      heavy.push(pageview(DAY0 + v * 60 * minute + p * minute, "heavy", `/p${v}-${p}`));
    }
  }
  const db = setUp(heavy, [pageview(DAY0 + 5 * minute, "light", "/p0-0")]);
  const perDay = computeBoundedTable(db, SITE, { from: "2024-03-10", to: "2024-03-10" });
  // 3 visits with 5 + 5 + 5 pageviews, capped at 10 in total.
  assert.deepEqual(perDay.rows, [row("2024-03-10", null, 2, 4, 11)]);
  assert.deepEqual(perDay.dropped, { visits: 3, pageviews: 20 });

  const pages = computeBoundedTable(db, SITE, { from: "2024-03-10", to: "2024-03-10", dimension: "page" });
  // Three rows at most: the heavy visitor's first three pages, all in the first visit.
  assert.deepEqual(pages.rows, [
    row("2024-03-10", "/p0-0", 2, 2, 2),
    row("2024-03-10", "/p0-1", 1, 1, 1),
    row("2024-03-10", "/p0-2", 1, 1, 1),
  ]);
  const tight = computeBoundedTable(db, SITE, {
    from: "2024-03-10",
    to: "2024-03-10",
    bounds: { maxVisits: 1, maxPageviews: 2 },
  });
  assert.deepEqual(tight.rows, [row("2024-03-10", null, 2, 2, 3)]);
});

/** Σ |a - b| per count over the union of rows. */
function l1(a: ReleaseRow[], b: ReleaseRow[]) {
  const key = (r: ReleaseRow) => `${r.date}|${r.value}`;
  const byKey = new Map(b.map((r) => [key(r), r]));
  const out = { visitors: 0, visits: 0, pageviews: 0 };
  const zero = { visitors: 0, visits: 0, pageviews: 0 };
  for (const r of a) {
    const o = byKey.get(key(r)) ?? zero;
    byKey.delete(key(r));
    for (const m of ["visitors", "visits", "pageviews"] as const) out[m] += Math.abs(r[m] - o[m]);
  }
  for (const r of byKey.values()) {
    for (const m of ["visitors", "visits", "pageviews"] as const) out[m] += r[m];
  }
  return out;
}

Deno.test("removing any one visitor id changes each count by at most its sensitivity, for every dimension", () => {
  const devices = ["desktop", "mobile", "tablet"] as const;
  const hit = fc.record({
    visitor: fc.nat(7),
    day: fc.nat(2),
    minute: fc.nat(23 * 60),
    page: fc.nat(6),
    source: fc.nat(4),
    device: fc.nat(2),
  });
  fc.assert(
    fc.property(fc.array(hit, { minLength: 1, maxLength: 150 }), (hits) => {
      const events = hits.map((h) =>
        pageview(DAY0 + h.day * day + h.minute * minute, `visitor-${h.visitor}`, `/page${h.page}`, {
          device: devices[h.device],
          ...(h.source > 0 ? { referrer: "https://x.example/", referrerSource: `src${h.source}` } : {}),
        })
      );
      const dimensions = [null, ...RELEASE_DIMENSIONS] as (ReleaseDimension | null)[];
      const tables = (db: ReturnType<typeof setUp>) =>
        dimensions.map((dimension) =>
          computeBoundedTable(db, SITE, { from: "2024-03-10", to: "2024-03-12", dimension }).rows
        );
      const full = tables(setUp(events));
      for (const id of new Set(events.map((e) => e.visitorId))) {
        const without = tables(setUp(events.filter((e) => e.visitorId !== id)));
        dimensions.forEach((dimension, i) => {
          const sensitivity = getSensitivity(dimension, getDefaultBounds(dimension));
          const diff = l1(full[i], without[i]);
          for (const m of ["visitors", "visits", "pageviews"] as const) {
            assert.ok(
              diff[m] <= sensitivity[m],
              `${dimension ?? "none"}: ${id} moves ${m} by ${diff[m]} > Δ = ${sensitivity[m]}`,
            );
          }
        });
      }
    }),
    { numRuns: 40 },
  );
});

Deno.test("removing one person, one visitor id on each of D days, changes each count by at most D times a visitor id's sensitivity", () => {
  const hit = fc.record({ person: fc.nat(5), day: fc.nat(3), minute: fc.nat(23 * 60), page: fc.nat(6) });
  fc.assert(
    fc.property(fc.array(hit, { minLength: 1, maxLength: 120 }), (hits) => {
      // A person's visitor id changes every day, as the daily salt makes it.
      const events = hits.map((h) =>
        pageview(DAY0 + h.day * day + h.minute * minute, `person-${h.person}-day-${h.day}`, `/page${h.page}`)
      );
      const range = { from: "2024-03-10", to: "2024-03-13" };
      for (const dimension of [null, "page", "device"] as const) {
        const full = computeBoundedTable(setUp(events), SITE, { ...range, dimension }).rows;
        const bound = getPersonSensitivity(dimension, getDefaultBounds(dimension), 4);
        for (const person of new Set(hits.map((h) => h.person))) {
          const rest = events.filter((e) => !e.visitorId.startsWith(`person-${person}-`));
          const diff = l1(full, computeBoundedTable(setUp(rest), SITE, { ...range, dimension }).rows);
          for (const m of ["visitors", "visits", "pageviews"] as const) {
            assert.ok(
              diff[m] <= bound[m],
              `${dimension ?? "none"}: person ${person} moves ${m} by ${diff[m]}`,
            );
          }
        }
      }
    }),
    { numRuns: 25 },
  );
});

function tableOf(rows: ReleaseRow[], dimension: ReleaseDimension | null = null): BoundedTable {
  return {
    dimension,
    from: rows[0].date,
    to: rows.at(-1)!.date,
    bounds: getDefaultBounds(dimension),
    rows,
    publicDomain: dimension === null || dimension === "device",
    dropped: { visits: 0, pageviews: 0 },
  };
}

Deno.test("addNoise() suppresses every row whose noisy visitor count is below k, and keeps the big ones", () => {
  const rows = [
    row("2024-03-10", null, 0, 0, 0),
    row("2024-03-11", null, 3, 4, 9),
    row("2024-03-12", null, 9, 12, 30),
    row("2024-03-13", null, 400, 520, 1500),
    row("2024-03-14", null, 1000, 1300, 4000),
  ];
  // A huge ε: the noise is almost always 0, so the true counts decide.
  const sharp = addNoise(tableOf(rows), { epsilon: toRational(1000, 1), k: 10 });
  assert.equal(sharp.threshold, 10);
  assert.deepEqual(sharp.rows.map((r) => r.date), ["2024-03-13", "2024-03-14"]);
  assert.equal(sharp.suppressed, 3);
  assert.deepEqual(sharp.rows[0], row("2024-03-13", null, 400, 520, 1500));
  // A small ε: rows move, but no released row ever shows fewer than k visitors.
  for (let i = 0; i < 200; i++) {
    const noisy = addNoise(tableOf(rows), { epsilon: toRational(1, 2), k: 10 });
    for (const r of noisy.rows) {
      assert.ok(r.visitors >= 10 && r.visits >= r.visitors && r.pageviews >= 0, JSON.stringify(r));
    }
    assert.equal(noisy.rows.length + noisy.suppressed, rows.length);
  }
  // Five days: a person is five visitor ids of Δ = 1, 3 and 10.
  assert.equal(sharp.days, 5);
  assert.deepEqual(sharp.sensitivity, { visitors: 5, visits: 15, pageviews: 50 });
});

Deno.test("addNoise() calibrates a 30-day table to a person: sensitivity 30 times a day's, rates a 30th, as the form estimates", () => {
  const days = Array.from({ length: 30 }, (_, d) => new Date(DAY0 + d * day).toISOString().slice(0, 10));
  const epsilon = toRational(1, 1);
  for (const dimension of [null, "page", "source", "device"] as const) {
    const rows = days.map((date) => row(date, dimension === null ? null : "desktop", 500, 700, 2000));
    const month = addNoise(tableOf(rows, dimension), { epsilon, k: 10 });
    const oneDay = addNoise(tableOf(rows.slice(0, 1), dimension), { epsilon, k: 10 });
    assert.equal(month.days, 30);
    assert.equal(oneDay.days, 1);
    for (const m of ["visitors", "visits", "pageviews"] as const) {
      assert.equal(month.sensitivity[m], 30 * oneDay.sensitivity[m], `${dimension}: Δ ${m}`);
      assert.equal(month.sensitivity[m], 30 * getSensitivity(dimension, getDefaultBounds(dimension))[m]);
      // ε/(3Δ): the month's rate is the day's divided by 30, as exact fractions.
      assert.equal(
        month.rates[m].numerator * oneDay.rates[m].denominator * 30,
        oneDay.rates[m].numerator * month.rates[m].denominator,
        `${dimension}: rate of ${m}`,
      );
    }
    // The form's estimate is the same arithmetic: same threshold, same sensitivity.
    const estimate = estimateRelease({
      days: 30,
      epsilon: 1,
      k: 10,
      dimension,
      bounds: getDefaultBounds(dimension),
      fixedGrid: month.delta === 0,
      delta: 1e-6,
    });
    assert.equal(estimate.threshold, month.threshold, `${dimension}: threshold`);
    assert.deepEqual(estimate.sensitivity, month.sensitivity);
  }
  // The open-domain threshold covers the 30 × 3 rows a person can be in.
  const pages = addNoise(tableOf(days.map((date) => row(date, "/", 9000, 9000, 9000)), "page"), {
    epsilon,
    k: 10,
  });
  assert.equal(pages.threshold, getOpenDomainThreshold(toRational(1, 270), 90, 1e-6));
});

Deno.test("addNoise() noise over 30 days has the variance of a 30-times larger sensitivity", () => {
  const days = Array.from({ length: 30 }, (_, d) => new Date(DAY0 + d * day).toISOString().slice(0, 10));
  const rows = days.map((date) => row(date, null, 100_000, 200_000, 800_000));
  const draws: number[] = [];
  for (let i = 0; i < 40; i++) {
    for (const r of addNoise(tableOf(rows), { epsilon: toRational(1, 1), k: 10 }).rows) {
      draws.push(r.visitors - 100_000);
    }
  }
  // Visitors: rate (1/3)/30 = 1/90, variance 2α/(1-α)² ≈ 16,200 (sd ≈ 127); a day's would be 18 (sd ≈ 4.2).
  const variance = draws.reduce((a, z) => a + z * z, 0) / draws.length;
  const alpha = Math.exp(-1 / 90);
  const expected = (2 * alpha) / (1 - alpha) ** 2;
  assert.ok(Math.abs(variance / expected - 1) < 0.25, `variance ${variance}, expected ${expected}`);
});

Deno.test("addNoise() raises the threshold of open dimensions until one visitor id shows with probability ≤ δ", () => {
  const rows = [row("2024-03-10", "/secret", 1, 1, 1), row("2024-03-10", "/", 5000, 6000, 9000)];
  const noisy = addNoise(tableOf(rows, "page"), { epsilon: toRational(1, 1), k: 10, delta: 1e-6 });
  // ε/3 over Δ = 3 rows: rate 1/9.
  const rate = toRational(1, 9);
  assert.equal(noisy.threshold, getOpenDomainThreshold(rate, 3, 1e-6));
  assert.ok(noisy.threshold > 100, `threshold ${noisy.threshold}`);
  assert.ok(3 * getDiscreteLaplaceTail(rate, noisy.threshold - 1) <= 1e-6);
  assert.ok(3 * getDiscreteLaplaceTail(rate, noisy.threshold - 2) > 1e-6, "the least such threshold");
  assert.equal(noisy.delta, 1e-6);
  assert.deepEqual(noisy.rows.map((r) => r.value), ["/"]);
  // A fixed grid needs no δ: the threshold is k.
  const grid = addNoise(tableOf([row("2024-03-10", null, 5, 5, 5)]), { epsilon: toRational(1, 1), k: 10 });
  assert.equal(grid.threshold, 10);
  assert.equal(grid.delta, 0);
});

Deno.test("encodeReleaseCsv() writes aggregates only: no visitor id, no row below k", () => {
  const events: AnalyticsEvent[] = [];
  for (let v = 0; v < 40; v++) {
    events.push(
      pageview(DAY0 + v * minute, `vid-${v.toString(16).padStart(8, "0")}`, v < 31 ? "/" : '/rare,"x"'),
    );
  }
  const db = setUp(events);
  const table = addNoise(
    computeBoundedTable(db, SITE, { from: "2024-03-10", to: "2024-03-10", dimension: "page" }),
    {
      epsilon: toRational(1000, 1),
      k: 10,
    },
  );
  const csv = encodeReleaseCsv(table);
  assert.equal(csv, "date,page,visitors,visits,pageviews\r\n2024-03-10,/,31,31,31\r\n");
  assert.doesNotMatch(csv, /vid-/);
  const quoted = encodeReleaseCsv({ dimension: "page", rows: [row("2024-03-10", '/a,"b"', 12, 12, 12)] });
  assert.equal(quoted.split("\r\n")[1], '2024-03-10,"/a,""b""",12,12,12');
  assert.equal(encodeReleaseCsv({ dimension: null, rows: [] }), "date,visitors,visits,pageviews\r\n");
});

Deno.test("computeBoundedTable() rejects bad dates, ranges and dimensions", () => {
  const db = setUp();
  assert.throws(
    () => computeBoundedTable(db, SITE, { from: "2024-02-30", to: "2024-03-01" }),
    /calendar date/,
  );
  assert.throws(() => computeBoundedTable(db, SITE, { from: "2024-03-02", to: "2024-03-01" }), /before/);
  assert.throws(
    () =>
      computeBoundedTable(db, SITE, {
        from: "2024-03-01",
        to: "2024-03-01",
        dimension: "visitor_id" as ReleaseDimension,
      }),
    /dimension/,
  );
  assert.throws(
    () => computeBoundedTable(db, "Not A Domain", { from: "2024-03-01", to: "2024-03-01" }),
    TypeError,
  );
});

Deno.test("toMicroEpsilon() keeps ε exact in millionths and refuses a 7th decimal", () => {
  assert.equal(toMicroEpsilon(0.1), 100_000);
  assert.equal(toMicroEpsilon(1), 1_000_000);
  assert.equal(toMicroEpsilon(999.999999), 999_999_999);
  assert.equal(toMicroEpsilon(0.3) * 3, toMicroEpsilon(0.9));
  for (const bad of [0.1234567, 10.1234567, 0.001, 0, -1, 1001, Number.NaN, "1"]) {
    assert.throws(() => toMicroEpsilon(bad), TypeError, String(bad));
  }
});
