/**
 * Visitors' choice in Kosmos's tracker: without a call no visitor has agreed;
 * `kosmos.consent(true)` marks the visitor's events (and is remembered across
 * page loads), `kosmos.consent(false)` withdraws it. One node owns the site
 * and receives the events itself.
 */
import assert from "node:assert/strict";
import type { AnalyticsEvent } from "../../protocol/analytics.ts";
import { startNetwork } from "../nodes.ts";
import { launchBrowser, waitFor } from "./browser.ts";
import { registerVerifiedSite, startProofServer } from "../site_proofs.ts";

const userAgent =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
const domain = "consent-test.example";

type Kosmos = ((name: string) => void) & { consent: (agreed: boolean) => void };

Deno.test("kosmos.consent() marks a visitor's events as agreed, across page loads, until withdrawn", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(1, { siteProofOrigins: proofs.origins });
  const [node] = net.nodes;
  const received: AnalyticsEvent[] = [];
  node.components.ingest.onEvents((site, events) => {
    if (site === domain) received.push(...events);
  });
  await registerVerifiedSite(node, proofs, domain);
  const html = `<!doctype html><html><head><title>Consent</title>
<script defer data-domain="${domain}" src="${node.url}/js/kosmos.js"></script></head><body></body></html>`;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(html, { headers: { "Content-Type": "text/html; charset=utf-8" } }),
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const browser = await launchBrowser();
  try {
    const page = await (await browser.newContext({ userAgent })).newPage();
    const loaded = () =>
      waitFor(() => page.evaluate(() => typeof (globalThis as { kosmos?: unknown }).kosmos === "function"), {
        what: "the tracker to load",
      });
    const track = async (name: string) => {
      const before = received.length;
      await page.evaluate((n) => (globalThis as unknown as { kosmos: Kosmos }).kosmos(n), name);
      await node.components.ingest.flush();
      await waitFor(() => received.length > before, { what: `the ${name} event` });
    };
    await page.goto(`${origin}/first`);
    await loaded();
    await track("Before");
    await page.evaluate(() => (globalThis as unknown as { kosmos: Kosmos }).kosmos.consent(true));
    await track("Agreed");
    await page.goto(`${origin}/second`);
    await loaded();
    await track("AfterReload");
    await page.evaluate(() => (globalThis as unknown as { kosmos: Kosmos }).kosmos.consent(false));
    await track("Withdrawn");
    assert.equal(await page.evaluate(() => localStorage.getItem("kosmos_consent")), null);

    const consentOf = (name: string) => received.find((e) => e.name === name)?.consented;
    assert.equal(
      received.find((e) => e.name === "pageview" && e.pathname === "/first")?.consented,
      undefined,
    );
    assert.equal(received.find((e) => e.name === "pageview" && e.pathname === "/second")?.consented, true);
    assert.equal(consentOf("Before"), undefined);
    assert.equal(consentOf("Agreed"), true);
    assert.equal(consentOf("AfterReload"), true);
    assert.equal(consentOf("Withdrawn"), undefined);
  } finally {
    await browser.close();
    await server.shutdown();
  }
});
