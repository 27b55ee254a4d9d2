/**
 * Buying in a real browser against two real nodes and one anvil: on the
 * buyer's dataset page the Buy island shows the quote (price, 80/10/10 split,
 * gas), the Buy button shows the fee estimated on the chain for the seller's
 * quote and signs nothing (Cancel signs nothing either), Confirm runs the key
 * sale step by step to "Complete", and the download link serves the data. After a reload the page says "Owned".
 */
import assert from "node:assert/strict";
import { listForSale, startMarketCluster } from "../market_cluster.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";
import { asOwner } from "../helpers.ts";
import { getTokenBalance } from "../../node/services/chain/mod.ts";

const ONE = 10n ** 18n;

Deno.test("the Buy button on a dataset page runs the key sale to complete and offers the data", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-browser-buy-" });
  const browser = await launchBrowser();
  try {
    const seller = await cluster.start();
    const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
    const csv = ["id,value", ...Array.from({ length: 3000 }, (_, i) => `${i},${i % 17}`)].join("\n") + "\n";
    const { manifestCid } = await listForSale(seller, new TextEncoder().encode(csv), {
      title: "Rooftop wind",
      price: 10n * ONE,
      filename: "wind.csv",
      viewers: [buyer],
    });

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, buyer);
    await page.goto(`${buyer.url}/datasets/${manifestCid}`);
    await waitFor(
      () => page.locator('kosmos-island[data-island="buy_listing"][data-hydrated="true"]').count(),
      { what: "the BuyListing island to hydrate" },
    );
    const quote = page.locator('[data-testid="buy-quote"]');
    await quote.waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('[data-testid="buy-price"]').textContent(), "10 KOS");
    const quoteText = (await quote.textContent())!;
    assert.match(quoteText, /Seller \(80 %\)8 KOS/);
    assert.match(quoteText, /Gateway \(10 %\)1 KOS/);
    assert.match(quoteText, /Treasury \(10 %\)1 KOS/);
    assert.match(quoteText, /Typical gas/);

    // Buy asks the seller for a quote and shows the fee estimated for it; nothing is signed yet.
    const client = buyer.components.chain.client;
    const chainState = async () => [
      await client.publicClient.getTransactionCount({ address: buyer.address, blockTag: "pending" }),
      await getTokenBalance(client),
      buyer.components.market.listPurchases().length,
    ];
    const before = await chainState();
    await page.click('[data-testid="buy-button"]');
    const fee = page.locator('[data-testid="fee-amount"]');
    await fee.waitFor({ timeout: 10_000 });
    assert.match((await fee.textContent())!, /^at most 0\.\d+ ETH$|^0\.\d+ ETH$/);
    assert.ok(BigInt((await fee.getAttribute("data-wei"))!) > 0n);
    assert.deepEqual(await chainState(), before, "showing the fee signed nothing");
    await page.click('[data-testid="fee-cancel"]');
    await waitFor(async () => (await page.locator('[data-testid="fee-confirm"]').count()) === 0, {
      what: "Cancel to close the confirmation",
    });
    assert.deepEqual(await chainState(), before, "Cancel signed nothing");
    assert.equal(await page.locator('[data-testid="buy-status"]').count(), 0);

    await page.click('[data-testid="buy-button"]');
    await page.locator('[data-testid="fee-confirm-button"]').click({ timeout: 10_000 });
    await waitFor(
      async () =>
        (await page.locator('[data-testid="buy-status"]').getAttribute("data-status")) === "complete",
      { timeoutMs: 30_000, what: "the purchase to complete" },
    );
    assert.equal((await page.locator('[data-testid="buy-status"]').textContent())?.trim(), "Owned");
    assert.equal(await page.locator('[data-testid="buy-percent"]').textContent(), "100 %");
    assert.equal(await page.locator(".buy-step-done").count(), 6);
    const href = await page.locator('[data-testid="buy-download"]').getAttribute("href");
    const data = await fetch(`${buyer.url}${href}`, asOwner(buyer));
    assert.equal(data.status, 200);
    assert.equal(await data.text(), csv);

    await page.reload();
    assert.equal((await page.locator('[data-testid="buy-status"]').textContent())?.trim(), "Owned");
    assert.equal(await page.locator('[data-testid="buy-button"]').count(), 0);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
  }
});
