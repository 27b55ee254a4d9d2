/**
 * "My data" over HTTP against a real node on its embedded chain, through
 * `app.request()`: `GET /api/v1/me/listings` joins each of the node's own
 * listings with its stakes, withdrawal state and sale delegates (read from
 * the escrow), and `DELETE /api/v1/listings/:id/delegates/:address` previews
 * (no transaction) and removes a delegate, answering 400, 404 and 405 where
 * it should.
 */
import assert from "node:assert/strict";
import type { MyListingView } from "../protocol/api/mod.ts";
import { isSaleDelegate, setSaleDelegate } from "../node/services/chain/mod.ts";
import { createDevClient, ONE } from "../node/services/chain/testing.ts";
import { publishStations, startAppNode } from "./node_app.ts";

Deno.test("GET /me/listings shows stakes, withdrawals and delegates; DELETE …/delegates/:address previews and removes", async () => {
  await using started = await startAppNode("kosmos-my-data-");
  const { node, app } = started;
  const call = async (method: string, path: string) => {
    const response = await app.request(path, { method, headers: { accept: "application/json" } });
    return { status: response.status, body: await response.json() };
  };
  const mine = async () => {
    const { status, body } = await call("GET", "/api/v1/me/listings");
    assert.equal(status, 200);
    return body.listings as MyListingView[];
  };
  assert.deepEqual(await mine(), []);

  const [a, b] = await publishStations(node, "1000");
  const { listingId } = await node.facade.stakeListing({ manifestCid: a.manifestCid, amount: 150n * ONE });
  const chain = node.components.chain;
  const delegate = createDevClient(chain.rpcUrl, chain.contracts!, 2).walletClient.account.address;
  await chain.exclusive(() => setSaleDelegate(chain.client, { listingId: BigInt(listingId), delegate }));

  const [first, second] = await mine();
  assert.deepEqual([first.manifestCid, second.manifestCid], [b.manifestCid, a.manifestCid], "newest first");
  assert.deepEqual([first.stake, first.stakes, first.delegates], ["0", [], []]);
  assert.equal(second.stake, (150n * ONE).toString());
  assert.deepEqual(second.stakes.map((s) => [s.listingId, s.stake, s.withdrawableAt, s.challengeCount]), [
    [listingId, (150n * ONE).toString(), null, 0],
  ]);
  assert.deepEqual(second.delegates, [{ registryListingId: listingId, delegate }]);
  assert.deepEqual(second.sales, { count: 0, complete: 0, open: 0, revenue: "0" });
  assert.equal(second.gateway, node.address);
  assert.equal(second.price, "1000");

  const path = `/api/v1/listings/${a.manifestCid}/delegates/${delegate}`;
  assert.equal((await call("DELETE", `/api/v1/listings/${a.manifestCid}/delegates/0x12`)).status, 400);
  assert.equal((await call("DELETE", `/api/v1/listings/nope/delegates/${delegate}`)).status, 400);
  assert.equal((await call("DELETE", `${path}?preview=maybe`)).status, 400);
  assert.equal((await call("POST", path)).status, 405);
  const stranger = `/api/v1/listings/${a.manifestCid}/delegates/0x000000000000000000000000000000000000dEaD`;
  const notDelegate = await call("DELETE", stranger);
  assert.equal(notDelegate.status, 404);
  assert.match(notDelegate.body.error.message, /is not a sale delegate/);
  const unlisted = await call("DELETE", `/api/v1/listings/${b.manifestCid}/delegates/${delegate}`);
  assert.equal(unlisted.status, 404);
  assert.match(unlisted.body.error.message, /not listed in the registry by this node/);

  const block = await chain.publicClient.getBlockNumber({ cacheTime: 0 });
  const preview = await call("DELETE", `${path}?preview=1`);
  assert.equal(preview.status, 200);
  assert.equal(preview.body.preview, true);
  assert.equal(preview.body.registryListingId, listingId);
  assert.ok(BigInt(preview.body.fee.gas) > 0n && BigInt(preview.body.fee.fee) > 0n);
  assert.equal(await chain.publicClient.getBlockNumber({ cacheTime: 0 }), block, "a preview sends nothing");
  assert.equal(await isSaleDelegate(chain.client, { listingId: BigInt(listingId), delegate }), true);

  const removed = await call("DELETE", path);
  assert.equal(removed.status, 200);
  assert.match(removed.body.txHash, /^0x[0-9a-f]{64}$/);
  assert.equal(await isSaleDelegate(chain.client, { listingId: BigInt(listingId), delegate }), false);
  assert.deepEqual((await mine())[1].delegates, []);
  assert.equal((await call("DELETE", path)).status, 404, "removed once");

  const requested = await node.facade.withdrawStake(BigInt(listingId));
  assert.equal(requested.status, "requested");
  assert.equal((await mine())[1].stakes[0].withdrawableAt, requested.withdrawableAt);
});
