/**
 * The Pools page in a real browser against a real node on its embedded anvil: the person fills in a
 * pool's terms, sees the network fee and confirms; the pools contract then holds the pool with the
 * hash of those terms and this node's wallet as operator, and the page lists it after a reload with the
 * operator's action. Publishing a version of a pool nobody joined yet says so, and sends nothing.
 */
import assert from "node:assert/strict";
import { createNode } from "../../node/node.ts";
import { getPool } from "../../node/services/chain/mod.ts";
import type { PoolView } from "../../protocol/api/pools.ts";
import { asOwner } from "../helpers.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";

Deno.test("Pools: create a pool with the fee confirmed, see it on chain and listed; publishing without members is refused", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-browser-pools-" });
  const node = await createNode({ dataDir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"], logLevel: "warn" });
  const browser = await launchBrowser();
  try {
    await node.start();
    const chain = node.components.chain;
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, node);
    await page.goto(`${node.url}/pools`);
    await waitFor(
      () => page.locator('kosmos-island[data-island="pool_create"][data-hydrated="true"]').count(),
      { what: "the pool_create island to hydrate" },
    );

    // Missing terms are named before anything is asked of the node.
    await page.click('[data-testid="pool-review"]');
    assert.match((await page.locator('[data-testid="pool-invalid"]').textContent())!, /kind of data/);

    await page.selectOption('[data-testid="pool-kind"]', "spotify");
    await page.fill('[data-testid="pool-purpose"]', "music research");
    await page.fill('[data-testid="pool-title"]', "Listening, pooled");
    await page.fill('[data-testid="pool-price"]', "2.5");
    await page.fill('[data-testid="pool-fee"]', "750");
    const block = await chain.publicClient.getBlockNumber({ cacheTime: 0 });
    await page.click('[data-testid="pool-review"]');
    await page.locator('[data-testid="fee-confirm"]').waitFor({ timeout: 20_000 });
    assert.equal(
      await chain.publicClient.getBlockNumber({ cacheTime: 0 }),
      block,
      "the preview sent nothing",
    );
    await page.click('[data-testid="fee-confirm-button"]');
    const status = page.locator('[data-testid="pool-create-status"]');
    await status.waitFor({ timeout: 30_000 });
    const id = /Pool (\d+) created/.exec((await status.textContent())!)?.[1];
    assert.ok(id, await status.textContent() ?? "");

    const view = await (await fetch(`${node.url}/api/v1/pools/${id}`, asOwner(node))).json() as PoolView;
    const onChain = await getPool(chain.client, BigInt(id));
    assert.ok(onChain);
    assert.equal(onChain.operator, node.address);
    assert.equal(onChain.termsHash, view.termsHash);
    assert.equal(onChain.feeBps, 750);
    assert.equal(view.price, (25n * 10n ** 17n).toString());

    await page.reload();
    const card = page.locator(`[data-testid="pool"][data-pool="${id}"]`);
    await card.waitFor({ timeout: 10_000 });
    assert.equal((await card.locator('[data-testid="pool-role"]').textContent())?.trim(), "operator");
    await waitFor(
      () => page.locator('kosmos-island[data-island="pool_actions"][data-hydrated="true"]').count(),
      { what: "the pool_actions island to hydrate" },
    );
    const before = await chain.publicClient.getBlockNumber({ cacheTime: 0 });
    await card.locator('[data-testid="pool-publish"]').click();
    const refused = card.locator('[data-testid="pool-status"]');
    await refused.waitFor({ timeout: 20_000 });
    assert.match((await refused.textContent())!, /no members yet/);
    assert.equal(await chain.publicClient.getBlockNumber({ cacheTime: 0 }), before);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
