/**
 * The fee confirmation in a real browser against a real node on its embedded
 * chain: "Stake to list" on the node's own dataset shows the fee estimated on
 * the chain and signs nothing; Cancel signs nothing; Confirm lists it. The
 * chain is read before and after each click.
 */
import assert from "node:assert/strict";
import { createNode } from "../../node/node.ts";
import { getTokenBalance, listOwnStakes } from "../../node/services/chain/mod.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";

Deno.test("Stake shows the estimated fee and signs nothing until Confirm; Cancel signs nothing", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-browser-fees-" });
  const node = await createNode({ dataDir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"], logLevel: "warn" });
  const browser = await launchBrowser();
  try {
    await node.start();
    const csv = ["id,value", ...Array.from({ length: 500 }, (_, i) => `${i},${i * 3}`)].join("\n") + "\n";
    const { manifestCid } = await node.facade.publishDataset(
      ReadableStream.from([new TextEncoder().encode(csv)]),
      { title: "Tide gauge", description: "", category: "environment", price: "1", license: "CC-BY-4.0" },
    );
    const chain = node.components.chain;
    const chainState = async () => [
      await chain.publicClient.getTransactionCount({ address: node.address, blockTag: "pending" }),
      await getTokenBalance(chain.client),
      (await listOwnStakes(node.components)).length,
    ];

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, node);
    await page.goto(`${node.url}/datasets/${manifestCid}`);
    await waitFor(
      () => page.locator('kosmos-island[data-island="stake_listing"][data-hydrated="true"]').count(),
      { what: "the StakeListing island to hydrate" },
    );
    const before = await chainState();
    assert.equal(before[2], 0, "not listed yet");

    await page.click('[data-testid="stake-submit"]');
    const confirm = page.locator('[data-testid="fee-confirm"]');
    await confirm.waitFor({ timeout: 10_000 });
    assert.match((await confirm.textContent())!, /Stake 100 KOS to list this dataset/);
    assert.match((await page.locator('[data-testid="fee-amount"]').textContent())!, /^0\.\d+ ETH$/);
    const gas = (await page.locator('[data-testid="fee-gas"]').textContent())!;
    assert.match(gas, /^\d{1,3}(,\d{3})+ × [\d.]+ gwei/);
    assert.deepEqual(await chainState(), before, "showing the fee signed nothing");

    await page.click('[data-testid="fee-cancel"]');
    await waitFor(async () => (await confirm.count()) === 0, { what: "Cancel to close the confirmation" });
    assert.deepEqual(await chainState(), before, "Cancel signed nothing");
    assert.equal(await page.locator('[data-testid="stake-status"]').count(), 0);

    await page.click('[data-testid="stake-submit"]');
    await page.locator('[data-testid="fee-confirm-button"]').click({ timeout: 10_000 });
    await waitFor(() => page.locator('[data-testid="stake-status"][data-state="done"]').count(), {
      what: "the stake to be sent",
    });
    assert.match((await page.locator('[data-testid="stake-status"]').textContent())!, /Listed as #\d+/);
    const after = await chainState();
    assert.ok((after[0] as number) > (before[0] as number), "Confirm signed");
    assert.equal(after[2], 1, "listed on chain");
    assert.equal((before[1] as bigint) - (after[1] as bigint), 100n * 10n ** 18n);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
