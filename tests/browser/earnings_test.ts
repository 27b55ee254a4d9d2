/**
 * The Earnings section of the Wallet page in a real browser against a real node on its embedded
 * chain: after a pool sale is distributed to the node's wallet, the page lists the earning with its
 * amount and the mining schedule; Claim shows the estimated fee, claims only once confirmed, marks
 * the row claimed, and the token balance grows by exactly the amount.
 */
import assert from "node:assert/strict";
import { keccak256, toBytes } from "viem";
import { createNode } from "../../node/node.ts";
import {
  createPool,
  distributeSale,
  getTokenBalance,
  listDataset,
  registerVersion,
  transferToken,
} from "../../node/services/chain/mod.ts";
import {
  completeSale,
  createDevClient,
  makeDekCommit,
  makeManifestCid,
  ONE,
} from "../../node/services/chain/testing.ts";
import { kosmosEscrowAbi } from "../../protocol/contracts_generated.ts";
import { buildDistribution, poolSaleLeaves } from "../../protocol/rewards.ts";
import { formatEther } from "../../web/format.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";

Deno.test("Wallet page lists earnings and claims one with the Claim button after the fee is confirmed", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-browser-" });
  const node = await createNode({ dataDir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"], logLevel: "warn" });
  const browser = await launchBrowser();
  try {
    await node.start();
    const chain = node.components.chain;
    const operator = createDevClient(chain.rpcUrl, chain.contracts!, 1);
    const buyer = createDevClient(chain.rpcUrl, chain.contracts!, 2);
    const other = createDevClient(chain.rpcUrl, chain.contracts!, 3).walletClient.account.address;
    for (const c of [operator, buyer]) {
      await transferToken(chain.client, { to: c.walletClient.account.address, amount: 500n * ONE });
    }
    const { poolId } = await createPool(operator, {
      termsHash: keccak256(toBytes("browser pool")),
      feeBps: 500,
    });
    const { listingId } = await listDataset(operator, {
      manifestCid: await makeManifestCid("browser pool"),
      dekCommit: makeDekCommit("browser pool"),
      stake: 100n * ONE,
    });
    const contributors = [node.address, other];
    const rows = [40n, 60n];
    await registerVersion(operator, { poolId, listingId, contributors, rows });
    const from = await operator.publicClient.getBlockNumber();
    await completeSale(operator, buyer, listingId, 20n * ONE);
    const [completed] = await operator.publicClient.getContractEvents({
      address: chain.contracts!.escrow,
      abi: kosmosEscrowAbi,
      eventName: "Completed",
      fromBlock: from + 1n,
    });
    const { saleId, toSeller } = completed.args as { saleId: `0x${string}`; toSeller: bigint };

    const split = poolSaleLeaves({ toSeller, feeBps: 500, contributors, rows });
    const { distributionId } = await distributeSale(operator, {
      saleId,
      listingId,
      toSeller,
      root: buildDistribution(split.leaves).root,
      total: split.total,
    });
    const amount = split.leaves.find((l) => l.account === node.address)!.amount;

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, node);
    await page.goto(`${node.url}/wallet`);
    const row = page.locator(`[data-testid="earnings"] tr[data-distribution-id="${distributionId}"]`);
    assert.equal(await row.getAttribute("data-status"), "claimable");
    assert.match(await row.textContent() ?? "", new RegExp(`${formatEther(amount)} KOS`.replace(".", "\\.")));
    assert.match(
      await page.locator('[data-testid="mining-schedule"]').textContent() ?? "",
      /Reward per epoch/,
    );
    await waitFor(
      () => page.locator('kosmos-island[data-island="earnings_claim"][data-hydrated="true"]').count(),
      { what: "the EarningsClaim island to hydrate" },
    );
    const before = await getTokenBalance(chain.client);
    await row.locator('[data-testid="claim"]').click();
    // Nothing is signed before the estimated fee is confirmed.
    await page.locator('[data-testid="fee-amount"]').waitFor({ timeout: 10_000 });
    assert.match(
      await page.locator('[data-testid="fee-confirm"]').textContent() ?? "",
      new RegExp(`Claim .* of distribution #${distributionId}`),
    );
    assert.equal(await getTokenBalance(chain.client), before, "the fee preview claimed nothing");
    await page.locator('[data-testid="fee-confirm-button"]').click();
    await waitFor(async () => (await row.getAttribute("data-status")) === "claimed", {
      what: "the claim to complete",
    });
    assert.equal(await getTokenBalance(chain.client) - before, amount, "paid to the wei");
    await page.reload();
    assert.equal(
      await page.locator(`[data-testid="earnings"] tr[data-distribution-id="${distributionId}"]`)
        .getAttribute(
          "data-status",
        ),
      "claimed",
    );
    assert.equal(
      await page.locator(`tr[data-distribution-id="${distributionId}"] [data-testid="claim"]`).count(),
      0,
    );
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
