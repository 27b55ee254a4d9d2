/**
 * The buying pages against real nodes on loopback and one anvil: after a
 * completed key sale, the buyer's `/purchases` lists it with its licence and
 * a re-download link, its dataset page says "Owned", and the seller's
 * `/sales` lists the buyer and the payout.
 */
import assert from "node:assert/strict";
import type { KosmosNode } from "../node/node.ts";
import { ownerFetch, waitFor } from "./helpers.ts";
import { listForSale, startMarketCluster } from "./market_cluster.ts";

const ONE = 10n ** 18n;
const PRICE = 10n * ONE;

/** Publishes and stakes a small CSV on `seller`; waits until `buyer` has the listing in its catalog. */
async function listDataset(seller: KosmosNode, buyer: KosmosNode, title: string): Promise<string> {
  const lines = ["id,value", ...Array.from({ length: 2000 }, (_, i) => `${i},${(i * 37) % 1000}`)];
  const data = new TextEncoder().encode(lines.join("\n") + "\n");
  const { manifestCid } = await listForSale(seller, data, { title, price: PRICE, viewers: [buyer] });
  return manifestCid;
}

async function getPage(node: KosmosNode, path: string): Promise<string> {
  const response = await ownerFetch(node, path, { headers: { accept: "text/html" } });
  assert.equal(response.status, 200, `GET ${path}`);
  return await response.text();
}

Deno.test("/purchases and /sales list a completed key sale on the buyer's and the seller's nodes", async (t) => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-pages-" });
  const seller = await cluster.start();
  const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
  const manifestCid = await listDataset(seller, buyer, "Balcony sensors");

  await t.step("before buying: the dataset page offers Buy, /purchases and /sales are empty", async () => {
    const dataset = await getPage(buyer, `/datasets/${manifestCid}`);
    assert.match(dataset, /data-island="buy_listing"/);
    assert.match(dataset, /data-testid="buy-button"/);
    assert.match(await getPage(buyer, `/purchases`), /No purchases yet/);
    assert.match(await getPage(seller, `/sales`), /No sales yet/);
    // The seller's own dataset page has nothing to buy.
    assert.doesNotMatch(await getPage(seller, `/datasets/${manifestCid}`), /data-island="buy_listing"/);
  });

  const response = await ownerFetch(buyer, `/api/v1/purchases`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ listingId: manifestCid }),
  });
  assert.equal(response.status, 202);
  const { id } = await response.json();
  const done = await buyer.components.market.waitForPurchase(id, { timeout: 30_000 });
  assert.equal(done.status, "complete");

  await t.step(
    "the buyer's /purchases lists it with price, status, licence and a re-download link",
    async () => {
      const html = await getPage(buyer, `/purchases`);
      const row = html.match(new RegExp(`<tr[^>]*data-purchase-id="${id}"[\\s\\S]*?</tr>`))?.[0];
      assert.ok(row, "a row for the purchase");
      assert.match(row, /Balcony sensors/);
      assert.match(row, /10 KOS/);
      assert.match(row, /Complete/);
      assert.match(row, /kosmos-research-1/);
      assert.match(row, new RegExp(`href="/api/v1/purchases/${id}/data"`));
      assert.match(html, /<a href="\/purchases" class="active" aria-current="page">/);
      const data = await ownerFetch(buyer, `/api/v1/purchases/${id}/data`);
      assert.equal(data.status, 200);
      assert.match(await data.text(), /^id,value\n0,0\n/);
    },
  );

  await t.step("the buyer's dataset page shows Owned with the download link", async () => {
    const html = await getPage(buyer, `/datasets/${manifestCid}`);
    assert.match(html, /Owned/);
    assert.match(html, new RegExp(`data-testid="buy-download"`));
    assert.doesNotMatch(html, /data-testid="buy-button"/);
  });

  await t.step("the seller's /sales lists the buyer, price, status and payout", async () => {
    await waitFor("the seller to mark its sale complete", () => {
      return seller.components.market.listSales()[0]?.status === "complete";
    }, { timeout: 20_000 });
    const html = await getPage(seller, `/sales`);
    const row = html.match(/<tr[^>]*data-sale-id="0x[0-9a-f]+"[\s\S]*?<\/tr>/)?.[0];
    assert.ok(row, "a row for the sale");
    assert.match(row, /Balcony sensors/);
    assert.match(row, new RegExp(`title="${buyer.address}"`));
    assert.match(row, /Complete/);
    // 80 % as the seller plus 10 % as the gateway: a node brokers its own listings.
    assert.match(row, /data-testid="sale-payout">9 KOS</);
    assert.match(await getPage(buyer, `/sales`), /No sales yet/);
  });
});
