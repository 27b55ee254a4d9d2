import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import { openDatabase } from "../db/mod.ts";
import { migrateAnalytics } from "./schema.ts";
import { AnalyticsWriter } from "./store.ts";
import { DuckMirror } from "./duck_mirror.ts";
import { DuckDBInstance } from "@duckdb/node-api";

const SITE = "example.com";
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

function ev(
  visitorId: string,
  seconds: number,
  pathname: string,
  extra: Partial<AnalyticsEvent> = {},
): AnalyticsEvent {
  return {
    ts: T0 + seconds * 1000,
    name: "pageview",
    pathname,
    hostname: SITE,
    referrer: null,
    referrerSource: null,
    utm: {},
    device: "mobile",
    browser: "Safari",
    os: "iOS",
    visitorId,
    ...extra,
  };
}

async function withStore(
  fn: (s: { dir: string; db: ReturnType<typeof openDatabase>; writer: AnalyticsWriter }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-mirror-" });
  const db = openDatabase(`${dir}/kosmos.db`);
  try {
    migrateAnalytics(db);
    await fn({ dir, db, writer: new AnalyticsWriter(db) });
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("DuckMirror.sync() appends new events and replaces the visits they extend", async () => {
  await withStore(async ({ dir, db, writer }) => {
    const mirror = await DuckMirror.open(db, { path: `${dir}/analytics.duckdb`, threads: 1 });
    try {
      writer.recordEvents(SITE, [ev("a", 0, "/"), ev("b", 5, "/docs", { props: { plan: "pro" } })]);
      await mirror.sync();
      deepStrictEqual(await mirror.read("SELECT COUNT(*) AS n FROM events"), [{ n: 2 }]);
      // The next batch extends a's visit: its exit page, pageviews and end change.
      writer.recordEvents(SITE, [ev("a", 60, "/pricing", { revenue: { amount: "12.50", currency: "EUR" } })]);
      await mirror.sync();
      const visits = await mirror.read(
        "SELECT pageviews, exit_page, end_ts - start_ts AS dur FROM visits ORDER BY id",
      );
      deepStrictEqual(visits, [{ pageviews: 2, exit_page: "/pricing", dur: 60_000 }, {
        pageviews: 1,
        exit_page: "/docs",
        dur: 0,
      }]);
      deepStrictEqual(
        await mirror.read(
          "SELECT map_extract_value(props, 'plan') AS plan, revenue_amount FROM events ORDER BY id",
        ),
        [{ plan: null, revenue_amount: null }, { plan: "pro", revenue_amount: null }, {
          plan: null,
          revenue_amount: 12.5,
        }],
      );
    } finally {
      mirror.close();
    }
  });
});

Deno.test("DuckMirror rebuilds from SQLite when its file is new (owner-only), and keeps what it has on reopening", async () => {
  await withStore(async ({ dir, db, writer }) => {
    writer.recordEvents(SITE, [ev("a", 0, "/"), ev("a", 10, "/x"), ev("c", 20, "/")]);
    writer.recordEvents(SITE, [ev("c", 25, "/", { name: "engagement", scrollDepth: 40, engagedMs: 5000 })]);
    let mirror = await DuckMirror.open(db, { path: `${dir}/analytics.duckdb`, threads: 1 });
    // Visitor ids and paths, like kosmos.db: owner-only.
    strictEqual(Deno.statSync(`${dir}/analytics.duckdb`).mode! & 0o777, 0o600);
    const messages: string[] = [];
    mirror.close();
    mirror = await DuckMirror.open(db, {
      path: `${dir}/analytics.duckdb`,
      threads: 1,
      onProgress: (m) => messages.push(m),
    });
    try {
      await mirror.sync();
      strictEqual(messages[0], "rebuilding the analytics mirror: 3 events");
      deepStrictEqual(await mirror.read("SELECT COUNT(*) AS n FROM visits"), [{ n: 2 }]);
      deepStrictEqual(await mirror.read("SELECT scroll_depth, engaged_ms FROM engagement"), [{
        scroll_depth: 40,
        engaged_ms: 5000,
      }]);
    } finally {
      mirror.close();
    }
    // Reopened, it is up to date and copies nothing again.
    mirror = await DuckMirror.open(db, {
      path: `${dir}/analytics.duckdb`,
      threads: 1,
      onProgress: (m) => messages.push(m),
    });
    try {
      const before = messages.length;
      await mirror.sync();
      strictEqual(messages.length, before);
      deepStrictEqual(await mirror.read("SELECT COUNT(*) AS n FROM events"), [{ n: 3 }]);
    } finally {
      mirror.close();
    }
  });
});

Deno.test("DuckMirror starts again when SQLite holds fewer events than it (a restored backup)", async () => {
  await withStore(async ({ dir, db, writer }) => {
    writer.recordEvents(SITE, [ev("a", 0, "/"), ev("a", 10, "/x")]);
    const mirror = await DuckMirror.open(db, { path: `${dir}/analytics.duckdb`, threads: 1 });
    try {
      await mirror.sync();
      db.exec("DELETE FROM analytics_events WHERE id = 2");
      await mirror.sync();
      deepStrictEqual(await mirror.read("SELECT COUNT(*) AS n FROM events"), [{ n: 1 }]);
    } finally {
      mirror.close();
    }
    await throwsAsync(() => mirror.sync());
  });
});

Deno.test("DuckMirror copies each visit's first-event columns onto its events, and rebuilds an older layout", async () => {
  await withStore(async ({ dir, db, writer }) => {
    const berlin = {
      country: "DE",
      region: "DE-BE",
      city: "2950159",
      cityName: "Berlin",
      regionName: "Berlin",
    };
    writer.recordEvents(SITE, [
      ev("a", 0, "/", { ...berlin, referrer: "https://www.google.com/", referrerSource: "Google" }),
      ev("b", 5, "/docs", { device: "desktop", utm: { source: "newsletter" } }),
    ]);
    // A mirror written before events carried visit columns: same tables, events without them.
    const path = `${dir}/analytics.duckdb`;
    const old = await DuckDBInstance.create(path);
    const conn = await old.connect();
    await conn.run(`CREATE TABLE events (id BIGINT, site VARCHAR, ts BIGINT, name VARCHAR, pathname VARCHAR,
        hostname VARCHAR, visit_id BIGINT, vkey UBIGINT, props MAP(VARCHAR, VARCHAR), revenue_amount DOUBLE,
        revenue_currency VARCHAR);
      INSERT INTO events (id, site, ts, name) VALUES (1, 'example.com', 0, 'pageview'), (2, 'example.com', 0, 'x');
      CREATE TABLE visits (id BIGINT); CREATE TABLE engagement (id BIGINT);
      CREATE TABLE mirror_state (events_hwm BIGINT, engagement_hwm BIGINT); INSERT INTO mirror_state VALUES (2, 0);`);
    conn.closeSync();
    old.closeSync();
    const mirror = await DuckMirror.open(db, { path, threads: 1 });
    try {
      await mirror.sync();
      // A later event of a's visit carries the visit's columns too.
      writer.recordEvents(SITE, [ev("a", 30, "/pricing", { ...berlin, device: "tablet" })]);
      await mirror.sync();
      deepStrictEqual(
        await mirror.read(
          "SELECT id, name, source, utm_source, device, country, city_name FROM events ORDER BY id",
        ),
        [
          {
            id: 1,
            name: "pageview",
            source: "Google",
            utm_source: null,
            device: "mobile",
            country: "DE",
            city_name: "Berlin",
          },
          {
            id: 2,
            name: "pageview",
            source: null,
            utm_source: "newsletter",
            device: "desktop",
            country: null,
            city_name: null,
          },
          {
            id: 3,
            name: "pageview",
            source: "Google",
            utm_source: null,
            device: "mobile",
            country: "DE",
            city_name: "Berlin",
          },
        ],
      );
    } finally {
      mirror.close();
    }
  });
});

async function throwsAsync(fn: () => Promise<unknown>): Promise<void> {
  let failed = false;
  try {
    await fn();
  } catch {
    failed = true;
  }
  strictEqual(failed, true, "expected a rejection");
}

Deno.test("recordEvents() stores revenue, geo and consent, and engagement apart with its visit", async () => {
  await withStore(({ db, writer }) => {
    const berlin = {
      country: "DE",
      region: "DE-BE",
      city: "2950159",
      cityName: "Berlin",
      regionName: "Berlin",
    };
    const result = writer.recordEvents(SITE, [
      ev("a", 0, "/", { ...berlin, consented: true, interactive: true }),
      ev("a", 30, "/", { name: "engagement", scrollDepth: 70, engagedMs: 30_000 }),
      ev("a", 40, "/buy", {
        name: "Purchase",
        revenue: { amount: "9.99", currency: "USD" },
        interactive: false,
      }),
      ev("z", 50, "/", { name: "engagement", scrollDepth: 10, engagedMs: 100 }),
    ]);
    deepStrictEqual(result, { recorded: 4, duplicate: false });
    deepStrictEqual(
      db.prepare(
        `SELECT name, revenue_amount, revenue_currency, country, city_name, interactive, consented
         FROM analytics_events ORDER BY id`,
      ).all().map((r) => ({ ...r })),
      [
        {
          name: "pageview",
          revenue_amount: null,
          revenue_currency: null,
          country: "DE",
          city_name: "Berlin",
          interactive: 1,
          consented: 1,
        },
        {
          name: "Purchase",
          revenue_amount: "9.99",
          revenue_currency: "USD",
          country: null,
          city_name: null,
          interactive: 0,
          consented: null,
        },
      ],
    );
    const visit = db.prepare(
      "SELECT id, country, region, city, entry_hostname, consented, events FROM analytics_visits",
    )
      .all().map((r) => ({ ...r }));
    deepStrictEqual(visit, [{
      id: 1,
      country: "DE",
      region: "DE-BE",
      city: "2950159",
      entry_hostname: SITE,
      consented: 1,
      events: 2,
    }]);
    // Engagement is kept apart: in its visit when there is one, in none otherwise.
    deepStrictEqual(
      db.prepare("SELECT visit_id, scroll_depth, engaged_ms FROM analytics_engagement ORDER BY id").all().map(
        (
          r,
        ) => ({ ...r }),
      ),
      [{ visit_id: 1, scroll_depth: 70, engaged_ms: 30_000 }, {
        visit_id: null,
        scroll_depth: 10,
        engaged_ms: 100,
      }],
    );
    return Promise.resolve();
  });
});

Deno.test("recordEvents() refuses a batch with a malformed new field and stores nothing", async () => {
  await withStore(({ db, writer }) => {
    const bad: Partial<AnalyticsEvent>[] = [
      { country: "de" },
      { region: "Berlin" },
      { city: "Berlin" },
      { revenue: { amount: "ten", currency: "EUR" } },
      { revenue: { amount: "10", currency: "euro" } },
      { scrollDepth: 101 },
      { engagedMs: -1 },
      { consented: "yes" as unknown as boolean },
      { props: { n: 1 as unknown as string } },
    ];
    for (const extra of bad) {
      throws(() => writer.recordEvents(SITE, [ev("a", 0, "/"), ev("a", 1, "/", extra)]), TypeError);
    }
    deepStrictEqual({ ...db.prepare("SELECT COUNT(*) AS n FROM analytics_events").get() }, { n: 0 });
    return Promise.resolve();
  });
});
