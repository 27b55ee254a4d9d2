/**
 * Plausible's own tracker, the npm release `@plausible-analytics/tracker`
 * 0.4.6, unchanged, on a test page in headless Chromium, with only its
 * `endpoint` pointed at proxy node A: page views (an SPA navigation too),
 * custom events with props, revenue, a non-interactive event and the
 * engagement events it sends on its own reach the site owner's node B,
 * decrypted, with every field. The page is served as `http://shop.example/`
 * (Playwright answers for that host), so the tracker's localhost check does
 * not apply; a reverse proxy in front of A is played by adding
 * `X-Forwarded-For` with a public IP, which A trusts from 127.0.0.1 and looks
 * up in its geo database.
 */
import assert from "node:assert/strict";
import type { AnalyticsEvent } from "../../protocol/analytics.ts";
import { startNetwork } from "../nodes.ts";
import { launchBrowser, waitFor } from "./browser.ts";
import { registerVerifiedSite, startProofServer } from "../site_proofs.ts";

const userAgent =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
const domain = "shop.example";
/** A public address of Gamlingay, England, in the GeoLite2 City database. */
const visitorIp = "81.2.69.142";
const trackerPath = new URL("../../node_modules/@plausible-analytics/tracker/plausible.js", import.meta.url);

function page(endpoint: string): string {
  return `<!doctype html><html><head><title>Shop</title>
<script type="module">
  import { init, track } from "/plausible.js";
  init({ domain: "${domain}", endpoint: "${endpoint}" });
  window.shop = { track };
</script>
</head><body style="margin:0"><h1>Shop</h1><div style="height:4000px">long page</div></body></html>`;
}

Deno.test("the stock Plausible tracker records pageviews, custom events with props, revenue and engagement on the owner's node", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(2, {
    siteProofOrigins: proofs.origins,
    trustedProxies: ["127.0.0.1"],
  });
  await net.waitForMesh();
  const [a, b] = net.nodes;
  const received: AnalyticsEvent[] = [];
  b.components.ingest.onEvents((site, events) => {
    if (site === domain) received.push(...events);
  });
  await registerVerifiedSite(b, proofs, domain);
  await waitFor(() => a.components.sites.getSite(domain), { what: "node A to learn the site" });
  const tracker = await Deno.readTextFile(trackerPath);
  const endpoint = `${a.url}/api/event`;
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ userAgent, viewport: { width: 800, height: 600 } });
    // Plausible's tracker skips automated browsers unless the page opts in, as its own tests do.
    await context.addInitScript(() => {
      (globalThis as { __plausible?: boolean }).__plausible = true;
    });
    await context.route(`http://${domain}/**`, (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path === "/plausible.js") {
        return route.fulfill({ body: tracker, contentType: "text/javascript" });
      }
      return route.fulfill({ body: page(endpoint), contentType: "text/html; charset=utf-8" });
    });
    const sent: { status: number; dropped: string | null }[] = [];
    await context.route(endpoint, async (route) => {
      const headers = { ...route.request().headers(), "x-forwarded-for": visitorIp };
      const response = await route.fetch({ headers });
      sent.push({ status: response.status(), dropped: response.headers()["x-plausible-dropped"] ?? null });
      await route.fulfill({ response });
    });
    const tab = await context.newPage();
    const pageErrors: string[] = [];
    tab.on("pageerror", (err) => pageErrors.push(err.message));
    await tab.goto(`http://${domain}/landing?utm_source=newsletter`, {
      referer: "https://news.example/item",
    });
    await waitFor(() => tab.evaluate(() => typeof (globalThis as { shop?: unknown }).shop === "object"), {
      what: "the tracker to load",
    });
    await waitFor(() => received.some((e) => e.name === "pageview"), { what: "the first pageview at B" });
    await tab.evaluate(() => scrollTo(0, document.body.scrollHeight));
    await tab.evaluate(() => {
      type Track = (name: string, options?: Record<string, unknown>) => void;
      const { track } = (globalThis as unknown as { shop: { track: Track } }).shop;
      track("Signup", { props: { plan: "pro", seats: "3" } });
      track("Purchase", { revenue: { amount: 15.99, currency: "EUR" }, props: { sku: "A-1" } });
      track("Autoplay", { interactive: false });
      history.pushState({}, "", "/checkout");
    });
    await waitFor(() => received.length >= 6, { timeoutMs: 15_000, what: "six events at node B" });
    assert.deepEqual(sent.filter((s) => s.status !== 202 || s.dropped !== null), [], "every event was taken");

    const named = (name: string) => received.filter((e) => e.name === name);
    assert.deepEqual(named("pageview").map((e) => e.pathname).sort(), ["/checkout", "/landing"]);
    const landing = named("pageview").find((e) => e.pathname === "/landing")!;
    assert.equal(landing.hostname, domain);
    assert.equal(landing.referrerSource, "newsletter");
    assert.equal(landing.browser, "Chrome");
    assert.deepEqual(named("Signup")[0].props, { plan: "pro", seats: "3" });
    const purchase = named("Purchase")[0];
    assert.deepEqual(purchase.revenue, { amount: "15.99", currency: "EUR" });
    assert.deepEqual(purchase.props, { sku: "A-1" });
    assert.equal(named("Autoplay")[0].interactive, false);
    assert.equal(named("Signup")[0].interactive, undefined, "interactive unless the tracker says otherwise");

    const [engagement] = named("engagement");
    assert.ok(engagement, "the tracker's engagement event for /landing arrived");
    assert.equal(engagement.pathname, "/landing");
    assert.equal(engagement.scrollDepth, 100, "the page was scrolled to its end");
    assert.ok(engagement.engagedMs !== undefined && engagement.engagedMs >= 0);

    for (const event of received) {
      assert.equal(event.country, "GB");
      assert.equal(event.region, "GB-ENG");
      assert.equal(event.city, "2648899");
      assert.equal(event.consented, undefined, "the stock tracker asks no consent");
    }
    assert.equal(new Set(received.map((e) => e.visitorId)).size, 1);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
  }
});
