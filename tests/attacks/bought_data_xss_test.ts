/**
 * Attack (finding 5): stored XSS through bought data.
 *
 * A seller lists an HTML "dataset" (`report.html`, content type `text/html`)
 * whose script, run on the buyer's node origin, would use the owner's
 * session to call the API (here: it logs a marker, requests `/xss-ran` with
 * whatever it can read, and tries `POST /api/v1/wallet/withdraw`). The buyer
 * buys it and opens the download link in the node's UI.
 *
 * On the old code `/api/v1/purchases/:id/data` answered with the seller's
 * `text/html` and no `Content-Disposition`, so the browser rendered the page
 * on the node's origin and the script ran with full API access. Now the
 * answer is always `attachment` with a safe type, `nosniff` and
 * `Content-Security-Policy: sandbox`: real Chromium downloads it, and the
 * script never runs (no marker, no request it would make).
 */
import assert from "node:assert/strict";
import { launchBrowser, logIn } from "../browser/browser.ts";
import { ownerFetch } from "../helpers.ts";
import { startMarketCluster, waitForListing } from "../market_cluster.ts";

const ONE = 10n ** 18n;

const payload = `<!doctype html><html><head><title>Quarterly report</title></head><body>
<h1>Quarterly report</h1>
<script>
  console.log("xss-ran");
  document.title = "xss-ran";
  fetch("/xss-ran?cookie=" + encodeURIComponent(document.cookie));
  fetch("/api/v1/wallet/withdraw", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
</script>
<img src="/xss-ran-img" onerror="console.log('xss-ran-onerror')">
</body></html>
`;

Deno.test("attack: a seller's HTML bought and opened in the buyer's UI is downloaded, never run on the node's origin", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-attack-xss-" });
  const seller = await cluster.start();
  const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
  const { manifestCid } = await seller.components.datasets.publishDataset(
    ReadableStream.from([new TextEncoder().encode(payload)]),
    {
      title: "Quarterly report",
      category: "finance",
      price: 2n * ONE,
      licence: "kosmos-research-1",
      filename: "report.html",
      contentType: "text/html",
      gateway: seller.address,
    },
  );
  await seller.facade.stakeListing({ manifestCid, amount: 100n * ONE });
  await waitForListing(buyer, manifestCid);
  const started = await ownerFetch(buyer, "/api/v1/purchases", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ listingId: manifestCid }),
  });
  assert.equal(started.status, 202);
  const { id } = await started.json();
  assert.equal((await buyer.components.market.waitForPurchase(id, { timeout: 30_000 })).status, "complete");
  const dataPath = `/api/v1/purchases/${id}/data`;

  // The response itself: a download the browser may neither render nor sniff.
  const response = await ownerFetch(buyer, dataPath);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/octet-stream");
  assert.equal(response.headers.get("content-disposition"), 'attachment; filename="report.html"');
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  assert.equal(response.headers.get("content-security-policy"), "sandbox");
  assert.equal(await response.text(), payload, "the buyer still gets exactly what it bought");

  const payoutsBefore = (await buyer.facade.getWallet()).payouts;
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const ran: string[] = [];
    page.on("console", (message) => {
      if (message.text().includes("xss-ran")) ran.push(`console: ${message.text()}`);
    });
    context.on("request", (request) => {
      const url = new URL(request.url());
      if (url.pathname.startsWith("/xss-ran") || url.pathname === "/api/v1/wallet/withdraw") {
        ran.push(`request: ${request.method()} ${url.pathname}`);
      }
    });
    await logIn(page, buyer);
    // Opened the way the UI's download link opens it: a navigation on the node's origin.
    const downloaded = page.waitForEvent("download", { timeout: 10_000 });
    await page.goto(`${buyer.url}${dataPath}`).catch(() => {/* a download ends the navigation */});
    const download = await downloaded;
    assert.equal(download.suggestedFilename(), "report.html");
    // Give a script that was going to run every chance to.
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(ran, [], "the seller's script never ran");
    assert.notEqual(await page.title(), "xss-ran");
    // Nor when a page of the node's origin frames it.
    await page.goto(`${buyer.url}/purchases`);
    await page.evaluate((src) => {
      const frame = document.createElement("iframe");
      frame.src = src;
      document.body.append(frame);
    }, dataPath);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(ran, [], "the seller's script never ran in a frame either");
  } finally {
    await browser.close();
  }
  assert.equal((await buyer.facade.getWallet()).payouts, payoutsBefore);
});
