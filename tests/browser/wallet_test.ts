/**
 * The Wallet page in a real browser against a real node on its embedded
 * chain: after a sale of the node's listing the page shows the payout, the
 * Withdraw island shows the estimated fee, sends the withdrawal once it is
 * confirmed and shows its result, and the token
 * balance shown after a reload includes the withdrawn amount.
 */
import assert from "node:assert/strict";
import { createNode } from "../../node/node.ts";
import {
  getPayoutBalance,
  getTokenBalance,
  listDataset,
  transferToken,
} from "../../node/services/chain/mod.ts";
import {
  completeSale,
  createDevClient,
  makeDekCommit,
  makeManifestCid,
  ONE,
} from "../../node/services/chain/testing.ts";
import { formatEther } from "../../web/format.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";

Deno.test("Wallet page withdraws the payouts with the Withdraw button and shows the result", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-browser-" });
  const node = await createNode({ dataDir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"], logLevel: "warn" });
  const browser = await launchBrowser();
  try {
    await node.start();
    const chain = node.components.chain;
    const buyer = createDevClient(chain.rpcUrl, chain.contracts!, 1);
    await transferToken(chain.client, { to: buyer.walletClient.account.address, amount: 100n * ONE });
    const { listingId } = await listDataset(chain.client, {
      manifestCid: await makeManifestCid("browser"),
      dekCommit: makeDekCommit("browser"),
      stake: 100n * ONE,
    });
    await completeSale(chain.client, buyer, listingId, 10n * ONE);

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, node);
    await page.goto(`${node.url}/wallet`);
    assert.equal((await page.locator('[data-testid="payouts"]').textContent())?.trim(), "10 KOS");
    await waitFor(
      () => page.locator('kosmos-island[data-island="wallet_withdraw"][data-hydrated="true"]').count(),
      { what: "the WalletWithdraw island to hydrate" },
    );
    await page.locator('[data-testid="withdraw"]').click();
    // Nothing is signed before the estimated fee is confirmed.
    await page.locator('[data-testid="fee-amount"]').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('[data-testid="fee-confirm"]').textContent() ?? "", /Withdraw 10 KOS/);
    assert.equal(await getPayoutBalance(chain.client), 10n * ONE, "the fee preview withdrew nothing");
    await page.locator('[data-testid="fee-confirm-button"]').click();
    await waitFor(() => page.locator('[data-testid="withdraw-status"][data-state="done"]').count(), {
      what: "the withdrawal to complete",
    });
    assert.match(
      await page.locator('[data-testid="withdraw-status"]').textContent() ?? "",
      /Withdrew 10 KOS/,
    );
    assert.equal((await page.locator('[data-testid="payouts"]').textContent())?.trim(), "0 KOS");
    assert.equal(await page.locator('[data-testid="withdraw"]').isDisabled(), true);

    await page.reload();
    const balance = await getTokenBalance(chain.client);
    assert.equal(
      (await page.locator('[data-testid="token-balance"]').textContent())?.trim(),
      `${formatEther(balance)} KOS`,
    );
    assert.equal((await page.locator('[data-testid="payouts"]').textContent())?.trim(), "0 KOS");
    assert.match(await page.locator("nav").textContent() ?? "", /Arbitration/);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
