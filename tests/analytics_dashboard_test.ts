/**
 * The analytics API and dashboard of a real node, through `app.request()`: the query
 * API's answers and error shapes, realtime visitors, the CSV export, the
 * Sites page and a site's dashboard; then the dashboard in headless
 * Chromium, where both islands hydrate and the graph shows a tooltip on hover.
 */
import assert from "node:assert/strict";
import { createApp } from "../web/app.ts";
import { createNode, type KosmosNode } from "../node/node.ts";
import type { AnalyticsEvent } from "../protocol/analytics.ts";
import {
  BATCH_1,
  BATCH_2,
  pageview as sitePageview,
  SITE,
} from "../node/services/analytics/fixtures_test.ts";
import { launchBrowser, logIn, waitFor } from "./browser/browser.ts";
import { ownerApp, type RequestableApp, testLogger } from "./helpers.ts";

const quietLog = { error: () => {}, debug: () => {} };
const minute = 60_000;
const day = 86_400_000;
const LIVE = "live.example";

async function withNode(fn: (node: KosmosNode, app: RequestableApp) => Promise<void>) {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-analytics-" });
  const node = await createNode({ dataDir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"] }, {
    logger: testLogger(),
  });
  try {
    await node.start();
    node.components.analytics.recordEvents(SITE, BATCH_1, { batchId: "b1" });
    node.components.analytics.recordEvents(SITE, BATCH_2, { batchId: "b2" });
    node.components.analytics.recordEvents(LIVE, liveEvents(Date.now()));
    await fn(node, ownerApp(createApp(node.facade, { log: quietLog, auth: node.auth }), node));
  } finally {
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

/** A pageview on the realtime test site. */
function pageview(ts: number, visitorId: string, pathname: string, extra: Partial<AnalyticsEvent> = {}) {
  return sitePageview(ts, visitorId, pathname, { hostname: LIVE, ...extra });
}

/**
 * Three visitors today (two of them in the last 5 minutes) and one 3 days ago:
 * - v1 2 min ago: / then /pricing 1 min later, from Google;
 * - v2 3 min ago: /blog on a phone, with utm_source=newsletter;
 * - v3 2 h ago: / and a "Signup" event;
 * - v4 3 days ago: /.
 */
function liveEvents(now: number): AnalyticsEvent[] {
  const google = { referrer: "https://www.google.com/", referrerSource: "Google" };
  // v3 stays today (and out of the realtime window) even just after midnight UTC.
  const v3 = Math.max(Math.floor(now / day) * day, now - 120 * minute);
  return [
    pageview(now - 2 * minute, "v1", "/", google),
    pageview(now - minute, "v1", "/pricing", google),
    pageview(now - 3 * minute, "v2", "/blog", {
      device: "mobile",
      browser: "Safari",
      os: "iOS",
      utm: { source: "newsletter" },
    }),
    pageview(v3, "v3", "/"),
    { ...pageview(v3 + minute, "v3", "/"), name: "Signup" },
    pageview(now - 3 * day, "v4", "/"),
  ];
}

async function assertError(response: Response, status: number, code: string, message?: RegExp) {
  assert.equal(response.status, status);
  const body = await response.json();
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.equal(body.error.code, code);
  if (message) assert.match(body.error.message, message);
}

function post(app: RequestableApp, body: unknown, type = "application/json") {
  return app.request("/api/v2/query", {
    method: "POST",
    headers: { "content-type": type },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

Deno.test("POST /api/v2/query answers and refuses in Plausible's shapes", async () => {
  await withNode(async (_node, app) => {
    // The fixture's 03-09…03-15 (see query_test.ts): visitors a, b, c, d; visits A, B, C1, C2, D.
    const response = await post(app, {
      site_id: SITE,
      date_range: ["2024-03-09", "2024-03-15"],
      metrics: [
        "visitors",
        "visits",
        "pageviews",
        "views_per_visit",
        "bounce_rate",
        "visit_duration",
        "events",
      ],
    });
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.deepEqual(body.results, [{ metrics: [4, 5, 8, 1.6, 60, 186, 10], dimensions: [] }]);
    assert.deepEqual(body.meta, {});
    assert.deepEqual(body.query.date_range, ["2024-03-09T00:00:00+00:00", "2024-03-15T23:59:59+00:00"]);

    const pages = await (await post(app, {
      site_id: SITE,
      date_range: ["2024-03-09", "2024-03-15"],
      metrics: ["visitors"],
      dimensions: ["event:page"],
      pagination: { limit: 2 },
    })).json();
    assert.deepEqual(pages.results, [{ metrics: [3], dimensions: ["/"] }, {
      metrics: [2],
      dimensions: ["/pricing"],
    }]);

    // Plausible's error shape, `{ "error": "…" }`, with its messages.
    const refused = async (response: Response, status: number, message: string | RegExp) => {
      assert.equal(response.status, status);
      const body = await response.json();
      assert.deepEqual(Object.keys(body), ["error"]);
      if (typeof message === "string") assert.equal(body.error, message);
      else assert.match(body.error, message);
    };
    await refused(await post(app, "{nope"), 400, /not valid JSON/);
    await refused(await post(app, { site_id: SITE }, "text/plain"), 415, /application\/json/);
    await refused(await post(app, { site_id: "x".repeat(70_000) }), 413, /larger than/);
    await refused(
      await post(app, { site_id: SITE, date_range: "7d", metrics: ["visitors", "revenue"] }),
      400,
      '#/metrics/1: Invalid metric "revenue"',
    );
    await refused(
      await post(app, { site_id: SITE, date_range: "fortnight", metrics: ["visitors"] }),
      400,
      '#/date_range: Invalid date range "fortnight"',
    );
    await refused(
      await post(app, {
        site_id: SITE,
        date_range: "7d",
        metrics: ["visitors"],
        filters: [["like", "event:page", ["/"]]],
      }),
      400,
      '#/filters/0: Invalid filter ["like", "event:page", ["/"]]',
    );
    await refused(
      await post(app, { site_id: "unknown.example", date_range: "7d", metrics: ["visitors"] }),
      404,
      /unknown\.example/,
    );
    await assertError(await app.request("/api/v2/query"), 405, "method_not_allowed");
  });
});

Deno.test("GET /api/v1/sites/:domain/realtime and export.csv", async () => {
  await withNode(async (_node, app) => {
    // v1 and v2 were active in the last 5 minutes; v3 two hours ago.
    const realtime = await app.request(`/api/v1/sites/${LIVE}/realtime`);
    assert.equal(realtime.status, 200);
    assert.deepEqual(await realtime.json(), { visitors: 2 });
    await assertError(await app.request("/api/v1/sites/unknown.example/realtime"), 404, "not_found");
    await assertError(await app.request("/api/v1/sites/Not%20A%20Domain/realtime"), 400, "bad_request");

    const csv = await app.request(`/api/v1/sites/${LIVE}/export.csv?period=7d`);
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get("content-type") ?? "", /^text\/csv/);
    assert.match(
      csv.headers.get("content-disposition") ?? "",
      /attachment; filename="live\.example-7d\.csv"/,
    );
    const lines = (await csv.text()).trim().split("\r\n");
    assert.equal(lines[0], "day,visitors,visits,pageviews,views_per_visit,bounce_rate,visit_duration,events");
    assert.equal(lines.length, 1 + 7, "a header and one row per day");
    const today = new Date().toISOString().slice(0, 10);
    const threeDaysAgo = new Date(Date.now() - 3 * day).toISOString().slice(0, 10);
    // Today: v1 (2 pageviews, 60 s), v2 (1, bounce), v3 (1 + Signup, 60 s): 3 visits, 4 pageviews, 5 events,
    // bounce 2/3 (v2, v3 have one pageview each) = 67, duration (60+0+60)/3 = 40, 4/3 = 1.33.
    assert.equal(lines[7], `${today},3,3,4,1.33,67,40,5`);
    assert.ok(lines.includes(`${threeDaysAgo},1,1,1,1,100,0,1`), `no row for ${threeDaysAgo}`);

    await assertError(
      await app.request(`/api/v1/sites/${LIVE}/export.csv?period=decade`),
      400,
      "bad_request",
      /period/,
    );
    await assertError(await app.request(`/api/v1/sites/${LIVE}/export.csv?format=xls`), 400, "bad_request");
    await assertError(await app.request("/api/v1/sites/unknown.example/export.csv"), 404, "not_found");
  });
});

Deno.test("the Sites page lists sites with events and a site's dashboard renders the graph and tables", async () => {
  await withNode(async (_node, app) => {
    const sites = await (await app.request("/sites")).text();
    assert.match(sites, /<table class="sites-table"/);
    assert.match(sites, /href="\/sites\/live\.example"/);
    assert.match(sites, /href="\/sites\/example\.com"/);

    const response = await app.request(`/sites/${LIVE}?period=7d&compare=previous`);
    assert.equal(response.status, 200);
    const html = await response.text();
    assert.match(html, /<svg class="chart"[^>]*data-testid="visitors-chart"/);
    assert.match(html, /<path class="chart-line" d="M/);
    assert.match(html, /<path class="chart-line chart-line-compare" d="M/);
    // Top stats: 4 unique visitors (v1…v4) over 7 days.
    assert.match(
      html,
      /data-metric="visitors"><span class="top-stat-label">Unique visitors<\/span><span class="top-stat-value">4</,
    );
    for (
      const id of [
        "sources",
        "pages",
        "entry-pages",
        "exit-pages",
        "utm-sources",
        "devices",
        "browsers",
        "os",
      ]
    ) {
      assert.match(html, new RegExp(`data-testid="breakdown-${id}"><h2>[^<]+</h2><table`), id);
    }
    assert.match(html, /<span class="bar-label" title="\/pricing">\/pricing<\/span>/);
    assert.match(html, /<span class="bar-label" title="newsletter">newsletter<\/span>/);
    assert.match(html, /<span class="bar-label" title="Signup">Signup<\/span>/);
    assert.match(html, /data-island="site_realtime"/);
    assert.match(
      html,
      /data-api=&quot;http:\/\/localhost&quot; src=&quot;http:\/\/localhost\/js\/kosmos\.js&quot;/,
    );

    const missing = await app.request("/sites/unknown.example", { headers: { accept: "text/html" } });
    assert.equal(missing.status, 404);
    const badPeriod = await app.request(`/sites/${LIVE}?period=decade`, { headers: { accept: "text/html" } });
    assert.equal(badPeriod.status, 400);
  });
});

Deno.test("the dashboard hydrates in Chromium: live counter and graph tooltips", async () => {
  await withNode(async (node) => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1800 } });
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(err.message));
      await logIn(page, node);
      await page.goto(`${node.url}/sites/${LIVE}?period=7d&compare=previous`);
      for (const island of ["site_graph", "site_realtime"]) {
        await waitFor(
          () => page.locator(`kosmos-island[data-island="${island}"][data-hydrated="true"]`).count(),
          {
            what: `the ${island} island to hydrate`,
          },
        );
      }
      assert.equal(await page.locator('[data-testid="realtime-count"]').textContent(), "2");
      const chart = page.locator('[data-testid="site-graph"]');
      const box = await chart.boundingBox();
      assert.ok(box);
      // The right edge of the plot is today: v1, v2 and v3.
      await page.mouse.move(box.x + box.width - 20, box.y + box.height / 2);
      const tooltip = page.locator('[data-testid="chart-tooltip"]');
      await tooltip.waitFor({ timeout: 5000 });
      assert.match(await tooltip.textContent() ?? "", /Visitors: 3/);
      const shot = Deno.env.get("KOSMOS_SCREENSHOT");
      if (shot) await page.screenshot({ path: shot, fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
