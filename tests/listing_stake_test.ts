/**
 * Registry stakes on catalog listings, in a real node on its embedded chain:
 * staking through the API shows on the listing, `sort=stake` orders by the
 * real (numeric) stake, another account's listing of the same manifest CID
 * adds to it once the indexer sees it, a challenge counts, and the
 * marketplace and dataset pages show stake and challenges.
 */
import assert from "node:assert/strict";
import type { ListingDetail, ListingsPage } from "../protocol/api/mod.ts";
import { listDataset, transferToken } from "../node/services/chain/mod.ts";
import { createDevClient, makeDekCommit, ONE } from "../node/services/chain/testing.ts";
import { waitFor } from "./helpers.ts";
import { publishStations, startAppNode } from "./node_app.ts";

Deno.test("listings carry the registry stake and challenge count, sort by stake numerically and show them on the pages", async () => {
  await using started = await startAppNode("kosmos-stake-");
  const { node, app } = started;
  const json = async <T>(path: string, body?: unknown, status = 200): Promise<T> => {
    const response = await app.request(path, {
      method: body === undefined ? "GET" : "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const result = await response.json();
    assert.equal(response.status, status, `${path}: ${JSON.stringify(result)}`);
    return result as T;
  };
  const listing = (id: string) => json<ListingDetail>(`/api/v1/listings/${id}`);
  const [a, b] = await publishStations(node, "0");

  const before = await listing(a.id);
  assert.deepEqual([before.stake, before.challenges, before.onChain], ["0", 0, []]);

  // 900 KOS on b; 500 + 500 KOS on a: more digits, so a string order would put b first.
  const listedB = await json<{ listingId: string }>(
    "/api/v1/stakes",
    { manifestCid: b.manifestCid, amount: "900" },
    201,
  );
  const listedA = await json<{ listingId: string }>(
    "/api/v1/stakes",
    { manifestCid: a.manifestCid, amount: "500" },
    201,
  );
  await json("/api/v1/stakes", { manifestCid: a.manifestCid, amount: "500" }, 200);
  const stakedA = await listing(a.id);
  assert.equal(stakedA.stake, (1000n * ONE).toString());
  assert.deepEqual(stakedA.onChain, [listedA.listingId]);
  assert.equal(stakedA.challenges, 0);
  const byStake = await json<ListingsPage>("/api/v1/listings?sort=stake");
  assert.deepEqual(byStake.listings.map((l) => l.id), [a.id, b.id]);
  assert.deepEqual(byStake.listings.map((l) => l.stake), [1000n * ONE, 900n * ONE].map(String));

  // Anyone may list a manifest CID: alice's 200 KOS on b count too, once the indexer polls them in.
  const chain = node.components.chain;
  const alice = createDevClient(chain.rpcUrl, chain.contracts!, 1);
  await transferToken(chain.client, { to: alice.walletClient.account.address, amount: 1000n * ONE });
  const { listingId: aliceListing } = await listDataset(alice, {
    manifestCid: b.manifestCid,
    dekCommit: makeDekCommit(b.manifestCid),
    stake: 200n * ONE,
  });
  const stakedB = await waitFor("alice's stake on b", async () => {
    const l = await listing(b.id);
    return l.onChain.length === 2 ? l : undefined;
  });
  assert.equal(stakedB.stake, (1100n * ONE).toString());
  assert.deepEqual(stakedB.onChain, [listedB.listingId, aliceListing.toString()]);
  assert.deepEqual((await json<ListingsPage>("/api/v1/listings?sort=stake")).listings.map((l) => l.id), [
    b.id,
    a.id,
  ]);

  // This node challenges alice's listing; the listing counts it as soon as the write returns.
  await json("/api/v1/challenges", { listingId: aliceListing.toString(), amount: "10" }, 201);
  assert.equal((await listing(b.id)).challenges, 1);
  assert.equal((await listing(a.id)).challenges, 0);

  const market = await (await app.request("/?sort=stake", { headers: { accept: "text/html" } })).text();
  const cards = [
    ...market.matchAll(
      /data-listing-id="([^"]+)"[\s\S]*?data-testid="listing-stake">([^<]+)<[\s\S]*?data-testid="listing-challenges">(\d+)</g,
    ),
  ].map((m) => m.slice(1));
  assert.deepEqual(cards, [[b.id, "1,100 KOS", "1"], [a.id, "1,000 KOS", "0"]]);
  const page = await (await app.request(`/datasets/${b.id}`, { headers: { accept: "text/html" } })).text();
  assert.match(page, /data-testid="dataset-challenges">1</);
  assert.match(page, /data-testid="stake-form"/);
  assert.match(page, /Add stake/);
});
