/**
 * A release of only the visitors who agreed (`kosmos.consent(true)`): the
 * bounded table counts their pageviews and visits and no one else's, and the
 * description a buyer reads says which visitors a release holds.
 */
import assert from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { AnalyticsWriter } from "../analytics/store.ts";
import { migrateAnalytics } from "../analytics/schema.ts";
import { pageview, SITE } from "../analytics/fixtures_test.ts";
import { computeBoundedTable, getDefaultBounds } from "../analytics/bounded_table.ts";
import { MAX_DESCRIPTION_LENGTH } from "../../../protocol/manifest.ts";
import { checkParams, describe } from "./params.ts";
import { addNoise, toRational } from "./noise.ts";

const DAY = Date.parse("2024-03-15T00:00:00Z");
const hour = 3600_000;

function setUp() {
  const db = openDatabase(":memory:");
  migrateAnalytics(db);
  new AnalyticsWriter(db).recordEvents(SITE, [
    pageview(DAY + hour, "aa01", "/", { consented: true }),
    pageview(DAY + hour + 60_000, "aa01", "/pricing", { consented: true }),
    pageview(DAY + 2 * hour, "bb02", "/"),
    pageview(DAY + 3 * hour, "cc03", "/pricing", { consented: true }),
    pageview(DAY + 4 * hour, "dd04", "/docs"),
  ]);
  return db;
}

Deno.test("computeBoundedTable() with consentedOnly counts only visitors who agreed", () => {
  const db = setUp();
  const all = computeBoundedTable(db, SITE, { from: "2024-03-15", to: "2024-03-15" });
  assert.deepEqual(all.rows.map((r) => [r.visitors, r.visits, r.pageviews]), [[4, 4, 5]]);
  const agreed = computeBoundedTable(db, SITE, { from: "2024-03-15", to: "2024-03-15", consentedOnly: true });
  assert.deepEqual(agreed.rows.map((r) => [r.visitors, r.visits, r.pageviews]), [[2, 2, 3]]);
  const pages = computeBoundedTable(db, SITE, {
    from: "2024-03-15",
    to: "2024-03-15",
    dimension: "page",
    consentedOnly: true,
  });
  assert.deepEqual(pages.rows.map((r) => [r.value, r.visitors, r.pageviews]), [["/", 1, 1], [
    "/pricing",
    2,
    2,
  ]]);
});

Deno.test("describe() says whether a release holds only the visitors who agreed", () => {
  const db = setUp();
  const base = {
    from: "2024-03-15",
    to: "2024-03-15",
    epsilon: 1,
    title: "March",
    price: "0",
    licence: "CC0-1.0",
  };
  const now = DAY + 2 * 24 * hour;
  const table = addNoise(computeBoundedTable(db, SITE, { from: "2024-03-15", to: "2024-03-15" }), {
    epsilon: toRational(1, 1),
    k: 2,
  });
  const only = checkParams({ ...base, consentedOnly: true }, { now });
  assert.equal(only.consentedOnly, true);
  assert.match(describe(SITE, only, table), /Only visitors who agreed to it on the site are counted\./);
  const everyone = checkParams(base, { now });
  assert.equal(everyone.consentedOnly, false);
  assert.match(describe(SITE, everyone, table), /whether or not they agreed/);
});

Deno.test("describe() states the person-level ε over the whole range, and fits beside the longest description the owner may write", () => {
  const site = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.example`;
  const params = checkParams({
    from: "2024-01-01",
    to: "2024-12-31",
    dimension: "entry_page",
    epsilon: 0.123456,
    k: 10_000,
    title: "Year",
    price: "0",
    licence: "CC0-1.0",
    description: "x".repeat(MAX_DESCRIPTION_LENGTH - 1000),
    consentedOnly: true,
  }, { now: Date.parse("2025-01-02T00:00:00Z") });
  const table = addNoise({
    dimension: "entry_page",
    from: "2024-01-01",
    to: "2024-12-31",
    bounds: getDefaultBounds("entry_page"),
    rows: [],
    publicDomain: false,
    dropped: { visits: 0, pageviews: 0 },
  }, { epsilon: toRational(123_456, 1_000_000), k: 10_000 });
  const text = describe(site, params, table);
  assert.ok(text.length <= MAX_DESCRIPTION_LENGTH, `${text.length} characters`);
  assert.match(
    text,
    /per person: ε = 0\.123456 for anyone in the data over all 366 days together \(δ = 0\.000001\)/,
  );
  assert.match(text, /Someone seen as m ids on one day gets m·ε/);
});
