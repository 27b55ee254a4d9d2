/**
 * Roles on `deno task devnet`: the first node is the registry's arbiter and the treasury, the
 * devnet says so, its Arbitration page is in its navigation (and only there), and a challenge
 * raised by one node against another's listing is resolved from that node's API, paying the
 * treasury's share to it. Every node's tokens come from the faucet, not from a deployer's supply.
 */
import assert from "node:assert/strict";
import { devnetNodes, startDevnet } from "./devnet.ts";
import { waitFor } from "./helpers.ts";

const ONE = 10n ** 18n;

Deno.test("deno task devnet: node 0 is arbiter and treasury, says so, shows the Arbitration page, and resolves a challenge between two other nodes", async () => {
  const devnet = await startDevnet(["--nodes", "3", "--base-port", "0"], /3 nodes up/);
  try {
    const { out } = devnet;
    const arbiter = out.match(/node 0 \(wallet (0x[0-9a-fA-F]{40})\) is the arbiter and treasury/)?.[1];
    assert.ok(arbiter, `devnet names the arbiter node:\n${out}`);
    const nodes = await devnetNodes(out);
    assert.equal(nodes.length, 3);
    const call = async (i: number, path: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${nodes[i].token}`);
      if (init.body && typeof init.body === "string") headers.set("content-type", "application/json");
      return await fetch(`${nodes[i].url}${path}`, { ...init, headers });
    };
    const json = async (i: number, path: string, init?: RequestInit) => {
      const response = await call(i, path, init);
      const body = await response.json();
      assert.ok(response.ok, `${path} on node ${i}: ${response.status} ${JSON.stringify(body)}`);
      return body;
    };
    const page = async (i: number, path: string) =>
      await (await call(i, path, { headers: { accept: "text/html" } })).text();

    const wallets = await Promise.all([0, 1, 2].map((i) => json(i, "/api/v1/wallet")));
    assert.equal(wallets[0].address, arbiter);
    assert.deepEqual(wallets.map((w) => w.arbiter), [true, false, false]);
    for (const w of wallets) {
      assert.equal(w.balances.token, (10_000n * ONE).toString(), "each node's tokens are one faucet drip");
    }
    assert.match(await page(0, "/wallet"), /href="\/arbitration"/, "node 0's navigation has Arbitration");
    assert.doesNotMatch(await page(1, "/wallet"), /href="\/arbitration"/);
    assert.match(await page(1, "/arbitration"), /This node is not the arbiter/);
    assert.match(await page(0, "/arbitration"), /No open challenges/);

    // Node 1 publishes and lists a dataset; node 2 challenges it with the threshold's stake.
    const form = new FormData();
    for (
      const [k, v] of [["title", "Roles"], ["category", "sensors"], ["price", "1"], ["license", "CC0-1.0"]]
    ) {
      form.append(k, v);
    }
    form.append("file", new File(["time,value\n1,2\n3,4\n"], "roles.csv", { type: "text/csv" }));
    const { manifestCid } = await json(1, "/api/v1/datasets", { method: "POST", body: form });
    const { listingId } = await json(1, "/api/v1/stakes", {
      method: "POST",
      body: JSON.stringify({ manifestCid, amount: "100" }),
    });
    await json(2, "/api/v1/challenges", {
      method: "POST",
      body: JSON.stringify({ listingId, amount: "100" }),
    });

    // The arbiter sees it on its page and removes the listing; the treasury's share is node 0's.
    const html = await waitFor("the challenge on node 0's Arbitration page", async () => {
      const text = await page(0, "/arbitration");
      return text.includes(`data-listing-id="${listingId}"`) ? text : undefined;
    }, { timeout: 10_000 });
    assert.match(html, /data-testid="challenge"/);
    const resolved = await json(0, `/api/v1/challenges/${listingId}/resolve`, {
      method: "POST",
      body: JSON.stringify({ valid: false }),
    });
    assert.equal(resolved.valid, false);
    assert.ok(BigInt(resolved.toTreasury) > 0n);
    const after = await json(0, "/api/v1/wallet");
    assert.equal(BigInt(after.balances.token), 10_000n * ONE + BigInt(resolved.toTreasury));
    // Nobody else may resolve.
    const refused = await call(1, `/api/v1/challenges/${listingId}/resolve`, {
      method: "POST",
      body: JSON.stringify({ valid: true }),
    });
    assert.equal(refused.status, 403);
    await refused.body?.cancel();

    assert.equal(await devnet.stop(), 0);
  } finally {
    await devnet.stop();
  }
});
