/**
 * The Sites page's registration form in a real browser: a domain that is not
 * one comes back with the reason next to the field and the text kept; a
 * valid one shows the snippet to paste and the site as pending with the
 * proof to publish; once published, "Check now" verifies it, and the list
 * links to its dashboard. Proofs are served by a local web server.
 */
import assert from "node:assert/strict";
import { startNetwork } from "../nodes.ts";
import { launchBrowser, logIn } from "./browser.ts";
import { startProofServer } from "../site_proofs.ts";

Deno.test("the Sites form shows a bad domain's error inline, then registers a site and lists it", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(1, { siteProofOrigins: proofs.origins });
  const [node] = net.nodes;
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, node);
    await page.goto(`${node.url}/sites`);
    const input = page.locator('[data-testid="site-domain-input"]');

    await input.fill("shop example");
    await page.locator('[data-testid="site-register"]').click();
    await page.waitForURL(/\/sites\?error=invalid/);
    const error = page.locator('[data-testid="site-form-error"]');
    assert.match((await error.textContent())!, /"shop example" is not a domain name/);
    assert.equal(await input.inputValue(), "shop example");
    assert.equal(await input.getAttribute("aria-invalid"), "true");

    await input.fill("shop.example");
    await page.locator('[data-testid="site-register"]').click();
    await page.waitForURL(/\/sites\?registered=shop\.example$/);
    assert.equal(await error.count(), 0);
    const snippet = await page.locator('[data-testid="site-registered"] .snippet-code').textContent();
    assert.equal(
      snippet,
      `<script defer data-domain="shop.example" data-api="${node.url}" src="${node.url}/js/kosmos.js"></script>`,
    );
    const claim = page.locator('.site-claim[data-domain="shop.example"]');
    assert.equal(await claim.getAttribute("data-status"), "pending");
    const proof = (await claim.locator('[data-testid="site-proof"]').textContent())!;
    assert.equal(JSON.parse(proof).domain, "shop.example");
    assert.equal(
      await claim.locator('[data-testid="site-proof-url"]').textContent(),
      `${proofs.url}/shop.example/.well-known/kosmos-site.json`,
    );
    proofs.publish("shop.example", proof);
    await claim.locator('[data-testid="site-check"]').click();
    await page.waitForURL(/\/sites\?checked=shop\.example$/);
    assert.equal(await claim.getAttribute("data-status"), "verified");
    assert.equal(await page.locator('[data-testid="site-checked"]').count(), 1);
    await page.locator('tr[data-domain="shop.example"] [data-testid="snippet-link"]').click();
    await page.waitForURL(/\/sites\/shop\.example$/);
    assert.match(
      (await page.locator('[data-testid="snippet"]').textContent())!,
      /data-domain="shop\.example"/,
    );
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
  }
});
