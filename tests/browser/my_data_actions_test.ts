/**
 * The actions that used to exist only in the API, driven in a real browser
 * against real nodes and one anvil, each checked on the chain or through the
 * API afterwards:
 *
 * - My data: request a stake withdrawal, then withdraw it once the delay is
 *   over, each after the fee is shown and confirmed (Cancel sends nothing);
 * - My data: add a sale delegate by peer id (a bad id is refused before
 *   anything is sent) and remove it again;
 * - My purchases: export a purchase as CSV, and deliver its rows to a
 *   directory (a relative path is refused in the form, a directory the node
 *   may not write to shows the node's message).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { getListing, getTokenBalance, isSaleDelegate } from "../../node/services/chain/mod.ts";
import { listForSale, startMarketCluster } from "../market_cluster.ts";
import { asOwner, waitFor } from "../helpers.ts";
import { launchBrowser, logIn } from "./browser.ts";

const ONE = 10n ** 18n;
const csv = ["id,depth", ...Array.from({ length: 400 }, (_, i) => `${i},${(i * 7) % 13}`)].join("\n") + "\n";

async function hydrated(page: Page, island: string): Promise<void> {
  await waitFor(
    `the ${island} island to hydrate`,
    () => page.locator(`kosmos-island[data-island="${island}"][data-hydrated="true"]`).count(),
  );
}

/** Waits for the fee confirmation, checks it shows an ETH fee, and presses Confirm or Cancel. */
async function answerFee(page: Page, answer: "confirm" | "cancel"): Promise<void> {
  const box = page.locator('[data-testid="fee-confirm"]');
  await box.waitFor({ timeout: 15_000 });
  assert.match((await box.locator('[data-testid="fee-amount"]').textContent())!, /^[\d.]+ ETH$/);
  assert.ok(BigInt((await box.locator('[data-testid="fee-amount"]').getAttribute("data-wei"))!) > 0n);
  await page.click(
    answer === "confirm" ? '[data-testid="fee-confirm-button"]' : '[data-testid="fee-cancel"]',
  );
}

Deno.test("My data requests a stake withdrawal, then withdraws the stake when due, after confirming the fee", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-browser-withdraw-" });
  const browser = await launchBrowser();
  try {
    const seller = await cluster.start();
    const chain = seller.components.chain;
    const { listingId } = await listForSale(seller, new TextEncoder().encode(csv), { price: ONE });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, seller);
    await page.goto(`${seller.url}/data`);
    await hydrated(page, "stake_withdraw");
    const row = page.locator(`[data-testid="stake-row"][data-listing-id="${listingId}"]`);

    // Cancel sends nothing.
    const block = await chain.publicClient.getBlockNumber({ cacheTime: 0 });
    await row.locator('[data-testid="request-withdrawal"]').click();
    await answerFee(page, "cancel");
    await waitFor(
      "the confirmation to close",
      async () => await page.locator('[data-testid="fee-confirm"]').count() === 0,
    );
    assert.equal(await chain.publicClient.getBlockNumber({ cacheTime: 0 }), block);
    assert.equal((await getListing(chain.client, { listingId }))!.withdrawableAt, 0);

    await row.locator('[data-testid="request-withdrawal"]').click();
    await answerFee(page, "confirm");
    const status = page.locator('[data-testid="withdraw-stake-status"]');
    await waitFor(
      "the request to be mined",
      () => page.locator('[data-testid="withdraw-stake-status"][data-state="done"]').count(),
      { timeout: 20_000 },
    );
    assert.match((await status.textContent())!, new RegExp(`Withdrawal of listing #${listingId} requested`));
    const requested = (await getListing(chain.client, { listingId }))!;
    assert.ok(requested.withdrawableAt > 0, "the registry holds the request");
    assert.equal(requested.stake, 100n * ONE);

    // After the delay, the page offers the withdrawal itself.
    const now = Number((await chain.publicClient.getBlock({ blockTag: "latest" })).timestamp);
    await cluster.increaseTime(requested.withdrawableAt - now + 1);
    await page.reload();
    await hydrated(page, "stake_withdraw");
    assert.match(
      (await row.locator('[data-testid="withdrawal-state"]').textContent())!,
      /withdrawal requested/,
    );
    const before = await getTokenBalance(chain.client);
    await row.locator('[data-testid="withdraw-stake"]').click();
    await answerFee(page, "confirm");
    await waitFor(
      "the withdrawal to be mined",
      () => page.locator('[data-testid="withdraw-stake-status"][data-state="done"]').count(),
      { timeout: 20_000 },
    );
    assert.match((await status.textContent())!, new RegExp(`Withdrew 100 KOS from listing #${listingId}`));
    assert.equal(await getTokenBalance(chain.client), before + 100n * ONE);
    assert.equal((await getListing(chain.client, { listingId }))?.stake ?? 0n, 0n);
    const mine = await (await fetch(`${seller.url}/api/v1/me/listings`, asOwner(seller))).json();
    assert.deepEqual(mine.listings[0].stakes, []);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
  }
});

Deno.test("My data adds a sale delegate by peer id and removes it, each after confirming the fee", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-browser-delegate-" });
  const browser = await launchBrowser();
  try {
    const seller = await cluster.start();
    const delegate = await cluster.start();
    const chain = seller.components.chain;
    const { manifestCid, listingId } = await listForSale(seller, new TextEncoder().encode(csv), {
      price: ONE,
      viewers: [delegate],
    });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, seller);
    await page.goto(`${seller.url}/data`);
    await hydrated(page, "listing_delegates");
    const delegates = page.locator('[data-testid="delegates"]');
    assert.equal(await delegates.locator('[data-testid="no-delegates"]').count(), 1);

    // A bad peer id is refused in the form; nothing is sent.
    const block = await chain.publicClient.getBlockNumber({ cacheTime: 0 });
    await page.fill('[data-testid="delegate-form"] input[name="peerId"]', "not-a-peer");
    await page.click('[data-testid="delegate-form"] button[type="submit"]');
    assert.match((await page.locator('[data-testid="delegate-invalid"]').textContent())!, /is not a peer id/);
    assert.equal(await page.locator('[data-testid="fee-confirm"]').count(), 0);

    await page.fill('[data-testid="delegate-form"] input[name="peerId"]', delegate.peerId);
    await page.click('[data-testid="delegate-form"] button[type="submit"]');
    await answerFee(page, "confirm");
    await waitFor(
      "the delegate to be approved",
      () => page.locator('[data-testid="delegate-status"][data-state="done"]').count(),
      { timeout: 20_000 },
    );
    assert.ok(await chain.publicClient.getBlockNumber({ cacheTime: 0 }) > block);
    assert.equal(await isSaleDelegate(chain.client, { listingId, delegate: delegate.address }), true);
    assert.ok(delegate.components.delegation.getDelegatedKey(manifestCid), "the delegate holds the key");
    await page.reload();
    await hydrated(page, "listing_delegates");
    const entry = page.locator(`[data-testid="delegate"][data-delegate="${delegate.address}"]`);
    assert.equal(await entry.count(), 1);

    await entry.getByRole("button", { name: `Remove delegate ${delegate.address}` }).click();
    await answerFee(page, "confirm");
    await waitFor(
      "the delegate to be removed",
      () => page.locator('[data-testid="delegate-status"][data-state="done"]').count(),
      { timeout: 20_000 },
    );
    assert.equal(await isSaleDelegate(chain.client, { listingId, delegate: delegate.address }), false);
    assert.equal(await page.locator('[data-testid="delegate"]').count(), 0);
    const mine = await (await fetch(`${seller.url}/api/v1/me/listings`, asOwner(seller))).json();
    assert.deepEqual(mine.listings[0].delegates, []);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
  }
});

Deno.test("My purchases exports a purchase as CSV and delivers its rows to a directory", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-browser-deliver-" });
  const browser = await launchBrowser();
  try {
    const seller = await cluster.start();
    const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
    const { manifestCid } = await listForSale(seller, new TextEncoder().encode(csv), {
      price: ONE,
      filename: "depths.csv",
      viewers: [buyer],
    });
    const purchase = await buyer.facade.buyListing(manifestCid);
    await waitFor(
      "the purchase to complete",
      async () => (await buyer.facade.getPurchase(purchase.id)).status === "complete",
      { timeout: 60_000 },
    );

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, buyer);
    await page.goto(`${buyer.url}/purchases`);
    const href = await page.locator('[data-testid="purchase-export-csv"]').getAttribute("href");
    assert.equal(href, `/api/v1/purchases/${purchase.id}/export?format=csv`);
    const exported = await page.request.get(`${buyer.url}${href}`);
    assert.equal(exported.status(), 200);
    assert.equal(await exported.text(), csv.replaceAll("\n", "\r\n"), "the rows, re-encoded as RFC 4180 CSV");
    assert.match(exported.headers()["content-disposition"] ?? "", /^attachment/);

    await hydrated(page, "purchase_delivery");
    const form = page.locator('[data-testid="delivery-form"]');
    await form.locator('input[name="target"]').fill("relative/dir");
    await form.locator('button[type="submit"]').click();
    assert.match(
      (await page.locator('[data-testid="delivery-invalid"]').textContent())!,
      /not an absolute path/,
    );
    assert.deepEqual(await buyer.facade.listDeliveries(), []);

    // A directory the node may not write to: the node's message.
    await form.locator('input[name="target"]').fill("/etc/kosmos-nope");
    await form.locator('button[type="submit"]').click();
    const refused = await waitFor(
      "the node's refusal",
      () => page.locator('[data-testid="delivery-error"]').textContent(),
    );
    assert.match(refused, /deliveries|not allowed|outside/i);
    assert.deepEqual(await buyer.facade.listDeliveries(), []);

    const dir = join(buyer.config.dataDir, "deliveries", "depths");
    await form.locator('input[name="target"]').fill(dir);
    await form.locator('select[name="format"]').selectOption("ndjson");
    await form.locator('button[type="submit"]').click();
    await waitFor(
      "the delivery to finish",
      () => page.locator('[data-testid="delivery"][data-status="delivered"]').count(),
      { timeout: 20_000 },
    );
    const [delivery] = await buyer.facade.listDeliveries();
    assert.equal(delivery.status, "delivered");
    assert.equal(delivery.format, "ndjson");
    assert.equal(delivery.rows, 400);
    assert.match((await page.locator('[data-testid="delivery"]').textContent())!, /Delivered 400 rows/);
    const lines: string[] = [];
    for await (const entry of Deno.readDir(dir)) {
      lines.push(...(await Deno.readTextFile(join(dir, entry.name))).split("\n").filter(Boolean));
    }
    assert.equal(lines.length, 400);
    assert.ok(lines.map((l) => JSON.parse(l)).some((r) => String(r.id) === "399"));
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
  }
});
