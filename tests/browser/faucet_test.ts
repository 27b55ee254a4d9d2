/**
 * The "Get test tokens" button of the Wallet page in a real browser, against a
 * real node on its embedded `local` network: the node's wallet had its drip
 * when it deployed, so the button waits for the cooldown; an hour later (by
 * the chain's clock) one click brings another drip, without a fee
 * confirmation, and the balance shows it.
 */
import assert from "node:assert/strict";
import { createNode } from "../../node/node.ts";
import { getTokenBalance } from "../../node/services/chain/mod.ts";
import { formatEther } from "../../web/format.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";

const DRIP = 10_000n * 10n ** 18n;

Deno.test("Wallet page: Get test tokens waits for the cooldown, then brings one drip without a fee confirmation", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-browser-faucet-" });
  const node = await createNode({ dataDir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"], logLevel: "warn" });
  const browser = await launchBrowser();
  try {
    await node.start();
    const chain = node.components.chain;
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, node);
    await page.goto(`${node.url}/wallet`);
    const island = 'kosmos-island[data-island="faucet_button"][data-hydrated="true"]';
    await waitFor(() => page.locator(island).count(), { what: "the faucet island to hydrate" });
    assert.equal(await page.locator('[data-testid="faucet-button"]').isDisabled(), true);
    assert.match(
      await page.locator('[data-testid="faucet-wait"]').textContent() ?? "",
      /ask again in 60 min/,
    );
    assert.equal(
      (await page.locator('[data-testid="token-balance"]').textContent())?.trim(),
      `${formatEther(DRIP)} KOS`,
    );

    // An hour later by the chain's clock.
    await chain.publicClient.request({ method: "evm_increaseTime" as never, params: [3601] as never });
    await chain.publicClient.request({ method: "evm_mine" as never, params: [] as never });
    await page.reload();
    await waitFor(() => page.locator(island).count(), { what: "the faucet island to hydrate again" });
    assert.equal(await page.locator('[data-testid="faucet-wait"]').count(), 0);
    await page.locator('[data-testid="faucet-button"]').click();
    await waitFor(() => page.locator('[data-testid="faucet-status"][data-state="done"]').count(), {
      what: "the drip",
    });
    assert.equal(await page.locator('[data-testid="fee-amount"]').count(), 0, "no fee confirmation");
    assert.match(await page.locator('[data-testid="faucet-status"]').textContent() ?? "", /Got 10,?000 KOS/);
    assert.equal(await page.locator('[data-testid="faucet-button"]').isDisabled(), true);
    assert.equal(await getTokenBalance(chain.client), 2n * DRIP);

    await page.reload();
    assert.equal(
      (await page.locator('[data-testid="token-balance"]').textContent())?.trim(),
      `${formatEther(2n * DRIP)} KOS`,
    );
    assert.equal(await page.locator('[data-testid="faucet-button"]').isDisabled(), true);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
