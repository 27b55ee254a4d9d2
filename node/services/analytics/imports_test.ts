import assert from "node:assert/strict";
import { strToU8, zipSync } from "fflate";
import { openDatabase } from "../db/mod.ts";
import { AnalyticsImports, ImportError, MAX_IMPORT_FILE_BYTES } from "./imports.ts";
import { parseCsv } from "./imports_plausible.ts";
import { countryCode } from "./imports_ga4.ts";

const SITE = "example.com";
const DAY_1 = Date.parse("2024-01-01T00:00:00Z") / 86_400_000;

/** A small Plausible export, in the current layout, by hand. */
const PLAUSIBLE = {
  "imported_visitors_20240101_20240102.csv": "date,visitors,pageviews,bounces,visits,visit_duration\n" +
    "2024-01-01,10,30,4,12,600\n2024-01-02,5,8,2,6,120\n",
  "imported_sources_20240101_20240102.csv":
    "date,source,referrer,utm_source,utm_medium,utm_campaign,utm_content,utm_term,pageviews,visitors,visits,visit_duration,bounces\n" +
    '2024-01-01,Google,,,,,,,20,6,7,400,2\n2024-01-01,,,,,,,,10,4,5,200,2\n2024-01-01,Google,,,"cpc","a,b",,,1,1,1,0,1\n',
  "imported_pages_20240101_20240102.csv":
    "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors\n" +
    "2024-01-01,example.com,/,9,8,20,,3\n2024-01-01,example.com,/pricing,3,3,10,,1\n",
  "imported_locations_20240101_20240102.csv":
    "date,country,region,city,visitors,visits,visit_duration,bounces,pageviews\n" +
    "2024-01-01,DE,DE-BE,2950159,3,3,100,1,9\n2024-01-01,DE,DE-HH,0,2,2,50,1,4\n2024-01-01,ZZ,,0,1,1,0,1,1\n",
  "imported_devices_20240101_20240102.csv":
    "date,device,visitors,visits,visit_duration,bounces,pageviews\n2024-01-01,Desktop,7,8,500,2,25\n",
  "imported_custom_events_20240101_20240102.csv":
    "date,name,link_url,path,visitors,events\n2024-01-01,Signup,,,2,3\n",
  "imported_unknown_table_20240101_20240102.csv": "date,x\n2024-01-01,1\n",
};

function zip(files: Record<string, string>): Uint8Array {
  return zipSync(
    Object.fromEntries(Object.entries(files).map(([name, text]) => [`export/${name}`, strToU8(text)])),
  );
}

function rows(db: ReturnType<typeof openDatabase>, dim: string) {
  return db.prepare(
    `SELECT day - ${DAY_1} AS d, value, visitors, visits, pageviews, bounces, visit_duration AS duration, events
     FROM analytics_imported WHERE site = ? AND dim = ? ORDER BY day, value`,
  ).all(SITE, dim).map((r) => ({ ...r }));
}

Deno.test("importFile() reads a Plausible CSV export zip into daily totals and breakdowns", () => {
  const db = openDatabase(":memory:");
  const imports = new AnalyticsImports(db, { now: () => 1_000 });
  const result = imports.importFile(SITE, { name: "plausible-export.zip", bytes: zip(PLAUSIBLE) });
  assert.equal(result.source, "plausible-csv");
  assert.equal(result.from, "2024-01-01");
  assert.equal(result.to, "2024-01-02");
  assert.equal(result.days, 2);
  assert.equal(result.files.length, 7);
  assert.deepEqual(rows(db, ""), [
    { d: 0, value: "", visitors: 10, visits: 12, pageviews: 30, bounces: 4, duration: 600, events: 33 },
    { d: 1, value: "", visitors: 5, visits: 6, pageviews: 8, bounces: 2, duration: 120, events: 8 },
  ]);
  assert.deepEqual(rows(db, "visit:source").map((r) => [r.value, r.visitors, r.visits, r.bounces]), [
    ["Direct / None", 4, 5, 2],
    ["Google", 7, 8, 3],
  ]);
  assert.deepEqual(rows(db, "event:page").map((r) => [r.value, r.visitors, r.pageviews]), [
    ["/", 8, 20],
    ["/pricing", 3, 10],
  ]);
  assert.deepEqual(rows(db, "visit:country").map((r) => [r.value, r.visitors]), [["DE", 5]]);
  assert.deepEqual(rows(db, "visit:region").map((r) => [r.value, r.visitors]), [["DE-BE", 3], ["DE-HH", 2]]);
  assert.deepEqual(rows(db, "visit:city").map((r) => [r.value, r.visitors]), [["2950159", 3]]);
  assert.deepEqual(rows(db, "visit:device").map((r) => [r.value, r.visitors]), [["desktop", 7]]);
  assert.deepEqual(rows(db, "event:goal").map((r) => [r.value, r.visitors, r.events]), [["Signup", 2, 3]]);
  assert.deepEqual(imports.listImports(SITE), [{
    source: "plausible-csv",
    from: "2024-01-01",
    to: "2024-01-02",
    days: 2,
    rows: result.rows,
    visitors: 15,
    pageviews: 38,
    importedAt: 1_000,
  }]);
});

Deno.test("importFile() replaces the days an import covers and keeps the rest", () => {
  const db = openDatabase(":memory:");
  const imports = new AnalyticsImports(db);
  imports.importFile(SITE, { name: "export.zip", bytes: zip(PLAUSIBLE) });
  const again = "date,visitors,pageviews,bounces,visits,visit_duration\n2024-01-02,50,80,20,60,1200\n";
  imports.importFile(SITE, { name: "imported_visitors_20240102_20240102.csv", bytes: strToU8(again) });
  assert.deepEqual(rows(db, "").map((r) => [r.d, r.visitors]), [[0, 10], [1, 50]]);
  assert.equal(imports.removeImports(SITE, "ga4"), 0);
  assert.ok(imports.removeImports(SITE) > 0);
  assert.deepEqual(imports.listImports(SITE), []);
});

Deno.test("importFile() refuses a bad export and changes nothing", () => {
  const db = openDatabase(":memory:");
  const imports = new AnalyticsImports(db);
  imports.importFile(SITE, { name: "export.zip", bytes: zip(PLAUSIBLE) });
  const before = rows(db, "");
  const bad: [string, Uint8Array, RegExp][] = [
    ["notes.txt", strToU8("hello"), /Expected a Plausible CSV export/],
    ["export.zip", strToU8("PK\u0003\u0004 broken"), /not a readable zip/],
    ["holiday.csv", strToU8("a,b\n"), /not a file of a Plausible export/],
    [
      "imported_visitors_20240101_20240101.csv",
      strToU8("date,visitors\n2024-01-01,1\n"),
      /no "pageviews" column/,
    ],
    [
      "imported_visitors_20240101_20240101.csv",
      strToU8("date,visitors,pageviews,bounces,visits,visit_duration\n2024-01-01,-1,1,1,1,1\n"),
      /line 2: "visitors" is not a count/,
    ],
    [
      "imported_visitors_20240101_20240101.csv",
      strToU8("date,visitors,pageviews,bounces,visits,visit_duration\n2024-02-01,1,1,1,1,1\n"),
      /not a day of the file's range/,
    ],
    ["imported_pages_20240101_20240101.csv", strToU8('date,page\n"2024-01-01,/\n'), /inside a quoted field/],
    ["imported_visitors_20241301_20240101.csv", strToU8("date\n"), /not a date/],
    ["events.ndjson", strToU8('{"event_date":"x"}\n'), /"event_date" must be YYYYMMDD/],
    ["events.ndjson", strToU8("[1]\n"), /not a GA4 event object/],
    ["mixed.zip", zip({ "a.csv": "x", "b.ndjson": "{}" }), /mixes CSV and JSON/],
  ];
  for (const [name, bytes, message] of bad) {
    assert.throws(() => imports.importFile(SITE, { name, bytes }), (err: Error) => {
      assert.ok(err instanceof ImportError, `${name}: ${err}`);
      assert.match(err.message, message);
      return true;
    });
  }
  assert.throws(
    () => imports.importFile("not a domain", { name: "x.csv", bytes: new Uint8Array() }),
    TypeError,
  );
  assert.deepEqual(rows(db, ""), before);
});

Deno.test("importFile() refuses a zip that claims to unpack beyond the limit", () => {
  const imports = new AnalyticsImports(openDatabase(":memory:"));
  const bytes = zip({ "imported_visitors_20240101_20240101.csv": "date\n" });
  // Patch the central directory's uncompressed size of the one entry to just over the limit.
  const view = new DataView(bytes.buffer);
  for (let i = bytes.length - 22; i >= 0; i--) {
    if (view.getUint32(i, true) === 0x02014b50) {
      view.setUint32(i + 24, MAX_IMPORT_FILE_BYTES + 1, true);
      break;
    }
  }
  assert.throws(() => imports.importFile(SITE, { name: "bomb.zip", bytes }), /unpacks to more than/);
});

function ga4Event(
  date: string,
  seconds: number,
  name: string,
  user: string,
  session: number,
  extra: Record<string, unknown> = {},
) {
  const params = [{ key: "ga_session_id", value: { int_value: String(session) } }];
  if (extra.page) {
    params.push({ key: "page_location", value: { string_value: extra.page as string } } as never);
  }
  if (extra.engaged) params.push({ key: "session_engaged", value: { string_value: "1" } } as never);
  return JSON.stringify({
    event_date: date,
    event_timestamp: String(
      Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}T00:00:00Z`) * 1000 +
        seconds * 1_000_000,
    ),
    event_name: name,
    user_pseudo_id: user,
    event_params: params,
    device: {
      category: extra.mobile ? "mobile" : "desktop",
      operating_system: "Linux",
      web_info: { browser: "Firefox" },
    },
    geo: { country: "Germany" },
    traffic_source: { source: extra.source ?? "(direct)" },
  });
}

Deno.test("importFile() turns a GA4 BigQuery export into visits, pages, sources and goals", () => {
  const db = openDatabase(":memory:");
  const imports = new AnalyticsImports(db);
  const lines = [
    // u1: an engaged visit from Google with two page views and a goal.
    ga4Event("20240101", 0, "session_start", "u1", 1, { source: "google" }),
    ga4Event("20240101", 0, "page_view", "u1", 1, { page: "https://example.com/", source: "google" }),
    ga4Event("20240101", 30, "page_view", "u1", 1, {
      page: "https://example.com/pricing?x=1",
      engaged: true,
    }),
    ga4Event("20240101", 40, "sign_up", "u1", 1),
    // u2: a bounce, direct, one page view.
    ga4Event("20240101", 100, "page_view", "u2", 7, { page: "https://example.com/pricing", mobile: true }),
    // u1 again the next day.
    ga4Event("20240102", 5, "page_view", "u1", 2, { page: "https://example.com/" }),
    "",
  ];
  const result = imports.importFile(SITE, {
    name: "events_20240101.ndjson",
    bytes: strToU8(lines.join("\n")),
  });
  assert.equal(result.source, "ga4");
  assert.deepEqual(rows(db, ""), [
    { d: 0, value: "", visitors: 2, visits: 2, pageviews: 3, bounces: 1, duration: 40, events: 4 },
    { d: 1, value: "", visitors: 1, visits: 1, pageviews: 1, bounces: 1, duration: 0, events: 1 },
  ]);
  assert.deepEqual(rows(db, "visit:source").filter((r) => r.d === 0).map((r) => [r.value, r.visits]), [
    ["Direct / None", 1],
    ["google", 1],
  ]);
  assert.deepEqual(
    rows(db, "event:page").filter((r) => r.d === 0).map((r) => [r.value, r.visitors, r.pageviews]),
    [
      ["/", 1, 1],
      ["/pricing", 2, 2],
    ],
  );
  assert.deepEqual(rows(db, "visit:entry_page").filter((r) => r.d === 0).map((r) => [r.value, r.visits]), [
    ["/", 1],
    ["/pricing", 1],
  ]);
  assert.deepEqual(rows(db, "visit:device").filter((r) => r.d === 0).map((r) => [r.value, r.visitors]), [
    ["desktop", 1],
    ["mobile", 1],
  ]);
  assert.deepEqual(rows(db, "visit:country").map((r) => [r.d, r.value, r.visitors]), [[0, "DE", 2], [
    1,
    "DE",
    1,
  ]]);
  assert.deepEqual(rows(db, "event:goal").map((r) => [r.value, r.visitors, r.events]), [["sign_up", 1, 1]]);
});

Deno.test("parseCsv() and countryCode() read what the exports write", () => {
  assert.deepEqual(parseCsv('\ufeffa,"b ""q"", c"\r\n1,\n', "x.csv"), [["a", 'b "q", c'], ["1", ""]]);
  assert.equal(countryCode("Germany"), "DE");
  assert.equal(countryCode("united states"), "US");
  assert.equal(countryCode("(not set)"), undefined);
});
