/**
 * The tracker in a real browser: a test page on 127.0.0.1 loads
 * `/js/kosmos.js` from node A (a proxy) for a site owned by node B. A page
 * view, an SPA navigation and a custom event reach B within 10 s, sealed in
 * transit. With Global Privacy Control or Do-Not-Track on, the tracker sends
 * nothing: only a sentinel beacon the test sends itself ever arrives.
 */
import assert from "node:assert/strict";
import type { AnalyticsEvent } from "../../protocol/analytics.ts";
import { startNetwork } from "../nodes.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";
import { ownerFetch } from "../helpers.ts";
import { registerVerifiedSite, startProofServer } from "../site_proofs.ts";

const userAgent =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
const domain = "analytics-test.example";

function servePage(api: string): Deno.HttpServer<Deno.NetAddr> {
  const html = `<!doctype html><html><head><title>Test site</title>
<script defer data-domain="${domain}" data-api="${api}" src="${api}/js/kosmos.js"></script>
</head><body><h1>Test site</h1></body></html>`;
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(html, { headers: { "Content-Type": "text/html; charset=utf-8" } }),
  );
}

Deno.test("the tracker on a page sends a pageview, an SPA navigation and a custom event through node A to node B", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(2, { siteProofOrigins: proofs.origins });
  await net.waitForMesh();
  const [a, b] = net.nodes;
  const received: AnalyticsEvent[] = [];
  b.components.ingest.onEvents((site, events) => {
    if (site === domain) received.push(...events);
  });
  await registerVerifiedSite(b, proofs, domain);
  await waitFor(() => a.components.sites.getSite(domain), { what: "node A to learn the site" });
  const server = servePage(a.url);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ userAgent });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    const started = Date.now();
    await page.goto(`${origin}/landing`);
    await waitFor(
      () => page.evaluate(() => typeof (globalThis as { kosmos?: unknown }).kosmos === "function"),
      {
        what: "the tracker to load",
      },
    );
    await page.evaluate(() => history.pushState({}, "", "/spa-page"));
    await page.evaluate(() =>
      (globalThis as unknown as { kosmos: (n: string, o: unknown) => void }).kosmos("Signup", {
        props: { plan: "pro" },
      })
    );
    await waitFor(() => received.length >= 3, { timeoutMs: 10_000, what: "three events at node B" });
    assert.ok(Date.now() - started < 10_000);
    // Separate beacons may arrive in any order.
    const summary = received.map((e) => `${e.name} ${e.pathname}`).sort();
    assert.deepEqual(summary, ["Signup /spa-page", "pageview /landing", "pageview /spa-page"]);
    assert.deepEqual(received.find((e) => e.name === "Signup")?.props, { plan: "pro" });
    assert.equal(received[0].browser, "Chrome");
    assert.equal(received[0].hostname, "127.0.0.1");
    assert.equal(new Set(received.map((e) => e.visitorId)).size, 1);

    // B's query API counts them too.
    const query = await ownerFetch(b, `/api/v2/query`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ site_id: domain, date_range: "day", metrics: ["pageviews", "events"] }),
    });
    assert.equal(query.status, 200);
    const { results } = await query.json();
    assert.deepEqual(results[0].metrics, [2, 3]);

    // B's dashboard shows the events by proxy (A signed the batches); its owner blocks A with one click.
    const owner = await (await browser.newContext()).newPage();
    owner.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(owner, b);
    await owner.goto(`${b.url}/sites/${domain}`);
    const row = owner.locator(`#proxies tr[data-proxy="${a.peerId}"]`);
    assert.equal(await row.getAttribute("data-blocked"), "false");
    assert.equal(await row.locator("td.num").first().textContent(), "3");
    await row.locator('[data-testid="proxy-block"]').click();
    await waitFor(
      async () =>
        (await owner.locator(`#proxies tr[data-proxy="${a.peerId}"]`).getAttribute("data-blocked")) ===
          "true",
      { what: "the page to show A blocked" },
    );
    assert.ok(b.components.ingest.proxies.isBlocked(domain, a.peerId));
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await server.shutdown();
  }
});

Deno.test("the tracker sends nothing with Global Privacy Control or Do-Not-Track on", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(2, { siteProofOrigins: proofs.origins });
  await net.waitForMesh();
  const [a, b] = net.nodes;
  const received: AnalyticsEvent[] = [];
  b.components.ingest.onEvents((site, events) => {
    if (site === domain) received.push(...events);
  });
  await registerVerifiedSite(b, proofs, domain);
  await waitFor(() => a.components.sites.getSite(domain), { what: "node A to learn the site" });
  const server = servePage(a.url);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const browser = await launchBrowser();
  try {
    for (const signal of ["globalPrivacyControl", "doNotTrack"] as const) {
      const context = await browser.newContext({ userAgent });
      await context.addInitScript((name: string) => {
        Object.defineProperty(Navigator.prototype, name, {
          get: () => name === "doNotTrack" ? "1" : true,
          configurable: true,
        });
      }, signal);
      const page = await context.newPage();
      const beacons: string[] = [];
      page.on("request", (request) => {
        if (request.url().endsWith("/api/event")) beacons.push(request.postData() ?? "");
      });
      await page.goto(`${origin}/${signal}`);
      await waitFor(
        () => page.evaluate(() => typeof (globalThis as { kosmos?: unknown }).kosmos === "function"),
        {
          what: "the tracker to load",
        },
      );
      await page.evaluate(() => {
        history.pushState({}, "", "/opted-out-spa");
        (globalThis as unknown as { kosmos: (n: string) => void }).kosmos("Signup");
      });
      // A sentinel sent by hand after the tracker's chances: once it arrives, anything the tracker sent would have too.
      const sentinel = `/sentinel-${signal}`;
      await page.evaluate(({ api, d, path }) => {
        const body = JSON.stringify({ n: "pageview", u: location.origin + path, d, r: null });
        navigator.sendBeacon(`${api}/api/event`, new Blob([body], { type: "text/plain" }));
      }, { api: a.url, d: domain, path: sentinel });
      await waitFor(() => received.some((e) => e.pathname === sentinel), {
        timeoutMs: 10_000,
        what: `the ${signal} sentinel at node B`,
      });
      assert.equal(beacons.length, 1, `the tracker sent ${beacons.length - 1} requests with ${signal} on`);
      assert.deepEqual(received.filter((e) => !e.pathname.startsWith("/sentinel-")), []);
      await context.close();
    }
  } finally {
    await browser.close();
    await server.shutdown();
  }
});
