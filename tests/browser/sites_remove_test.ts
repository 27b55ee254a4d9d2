/**
 * Removing a site in a real browser: a verified site of this node has a
 * Remove button on the Sites page; pressing it drops the registration and the
 * site (the node owns it no more and takes none of its events), the page says
 * so, and removing it again through the API is a 404.
 */
import assert from "node:assert/strict";
import { startNetwork } from "../nodes.ts";
import { asOwner } from "../helpers.ts";
import { startProofServer } from "../site_proofs.ts";
import { launchBrowser, logIn } from "./browser.ts";

Deno.test("the Sites page removes a verified site with its Remove button", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(1, { siteProofOrigins: proofs.origins });
  const [node] = net.nodes;
  const browser = await launchBrowser();
  try {
    const site = await node.facade.registerSite("tides.example");
    proofs.publish("tides.example", site.proof);
    assert.equal((await node.facade.checkSite("tides.example")).status, "verified");
    await node.facade.registerSite("kept.example");
    assert.equal(node.components.sites.ownsDomain("tides.example"), true);

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, node);
    await page.goto(`${node.url}/sites`);
    await page.getByRole("button", { name: "Remove tides.example" }).click();
    await page.waitForURL(/\/sites\?removed=tides\.example$/);
    assert.match(
      (await page.locator('[data-testid="site-removed"]').textContent())!,
      /Removed tides\.example/,
    );
    assert.equal(await page.locator('.site-claim[data-domain="tides.example"]').count(), 0);
    assert.equal(await page.locator('.site-claim[data-domain="kept.example"]').count(), 1);

    assert.deepEqual((await node.facade.listSites()).map((s) => s.domain), ["kept.example"]);
    assert.equal(node.components.sites.ownsDomain("tides.example"), false);
    const again = await fetch(
      `${node.url}/api/v1/sites/tides.example/remove`,
      asOwner(node, { method: "POST" }),
    );
    assert.equal(again.status, 404);
    assert.match((await again.json()).error.message, /not registered here/);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
  }
});
