/**
 * "My data" in a real browser against two real nodes and one anvil: the
 * seller publishes two datasets (one in the browser, naming a gateway: a bad
 * address is refused before anything is sent) and stakes one; its My data page lists both
 * with their stake, replication and sales as the node counts them, and after
 * the buyer's purchase completes it shows the sale and its revenue, as
 * `GET /api/v1/me/listings` does.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { MyListingView } from "../../protocol/api/mod.ts";
import { formatEther } from "../../web/format.ts";
import { listForSale, startMarketCluster } from "../market_cluster.ts";
import { asOwner, waitFor } from "../helpers.ts";
import { launchBrowser, logIn } from "./browser.ts";

const ONE = 10n ** 18n;

async function myListings(node: { url: string; apiToken: string }): Promise<MyListingView[]> {
  const response = await fetch(`${node.url}/api/v1/me/listings`, asOwner(node));
  assert.equal(response.status, 200);
  return (await response.json()).listings;
}

Deno.test("My data shows the node's listings with stake, replication and a sale after a buy", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-browser-my-data-" });
  const browser = await launchBrowser();
  try {
    const seller = await cluster.start();
    const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
    const csv = ["id,level", ...Array.from({ length: 500 }, (_, i) => `${i},${i % 11}`)].join("\n") + "\n";
    const { manifestCid, listingId } = await listForSale(seller, new TextEncoder().encode(csv), {
      title: "Harbour tides",
      price: 10n * ONE,
      filename: "tides.csv",
      viewers: [buyer],
    });
    // The buyer's node has the listing and the seller counted its replicas once.
    const counted = await waitFor("the seller to count the replicas", async () => {
      const mine = (await myListings(seller)).find((l) => l.manifestCid === manifestCid);
      return mine?.replication && mine.replication.checkedAt > 0 ? mine.replication : undefined;
    });

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, seller);

    // A second dataset, published in the browser with another gateway, and not staked.
    await page.goto(`${seller.url}/publish`);
    await waitFor(
      "the PublishForm island to hydrate",
      () => page.locator('kosmos-island[data-island="publish_form"][data-hydrated="true"]').count(),
    );
    await page.fill('input[name="title"]', "Draft readings");
    await page.selectOption('select[name="category"]', "sensors");
    await page.fill('input[name="price"]', "1");
    await page.fill('input[name="license"]', "CC-BY-4.0");
    await page.setInputFiles('[data-testid="file-input"]', {
      name: "draft.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("id,x\n1,2\n2,3\n"),
    });
    await page.fill('[data-testid="gateway-input"]', "0x1234");
    await page.click('[data-testid="publish-button"]');
    assert.equal(
      await page.locator('[data-testid="gateway-input"]:invalid').count(),
      1,
      "a bad gateway is refused",
    );
    assert.equal((await myListings(seller)).length, 1, "nothing was published");
    await page.fill('[data-testid="gateway-input"]', buyer.address);
    await page.click('[data-testid="publish-button"]');
    const draftCid = await waitFor(
      "the publish to finish",
      () => page.locator('[data-testid="published-cid"]').textContent(),
      { timeout: 20_000 },
    );

    await page.goto(`${seller.url}/data`);
    const card = page.locator(`[data-testid="my-listing"][data-manifest-cid="${manifestCid}"]`);
    assert.equal(await page.locator('[data-testid="my-listing"]').count(), 2);
    assert.match((await card.locator("h2").textContent())!, /Harbour tides/);
    assert.equal((await card.locator('[data-testid="my-stake"]').textContent())?.trim(), "100 KOS");
    assert.equal((await card.locator('[data-testid="my-challenges"]').textContent())?.trim(), "0");
    assert.equal((await card.locator('[data-testid="my-sales"]').textContent())?.trim(), "0");
    assert.match(
      (await card.locator('[data-testid="my-replication"]').textContent())!,
      new RegExp(`^\\d+ / ${counted.target}$`),
    );
    const stakeRow = card.locator(`[data-testid="stake-row"][data-listing-id="${listingId}"]`);
    assert.match((await stakeRow.textContent())!, /100 KOS/);
    assert.equal(await stakeRow.locator('[data-testid="request-withdrawal"]').count(), 1);
    assert.equal((await card.locator('[data-testid="my-gateway"]').textContent())?.trim(), seller.address);
    const draft = page.locator(`[data-testid="my-listing"][data-manifest-cid="${draftCid.trim()}"]`);
    assert.equal((await draft.locator('[data-testid="my-stake"]').textContent())?.trim(), "0 KOS");
    assert.match((await draft.textContent())!, /Stake it to make it buyable/);
    assert.equal((await draft.locator('[data-testid="my-gateway"]').textContent())?.trim(), buyer.address);
    assert.equal(await draft.locator('[data-testid="delegate-form"]').count(), 0);

    const purchase = await buyer.facade.buyListing(manifestCid);
    await waitFor(
      "the purchase to complete",
      async () => (await buyer.facade.getPurchase(purchase.id)).status === "complete",
      { timeout: 60_000 },
    );
    const sale = await waitFor(
      "the seller to see the sale complete",
      async () =>
        (await seller.facade.listSales()).find((s) => s.listingId === manifestCid && s.status === "complete"),
      {
        timeout: 30_000,
      },
    );
    // The seller is also the gateway: 80 % + 10 % of 10 KOS.
    assert.equal(sale.payout, (9n * ONE).toString());

    const mine = (await myListings(seller)).find((l) => l.manifestCid === manifestCid)!;
    assert.deepEqual(mine.sales, { count: 1, complete: 1, open: 0, revenue: sale.payout });
    assert.equal(mine.stake, (100n * ONE).toString());
    assert.deepEqual(mine.stakes.map((s) => [s.listingId, s.withdrawableAt]), [[listingId.toString(), null]]);

    await page.reload();
    assert.equal((await card.locator('[data-testid="my-sales"]').textContent())?.trim(), "1");
    assert.equal((await card.locator('[data-testid="my-revenue"]').textContent())?.trim(), "9 KOS");
    assert.match(
      (await page.locator('[data-testid="my-data-totals"]').textContent())!,
      new RegExp(`Revenue${formatEther(9n * ONE)} KOS`),
    );
    assert.equal((await draft.locator('[data-testid="my-sales"]').textContent())?.trim(), "0");
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
  }
});
