/**
 * Selling while offline, with real nodes on loopback and one anvil: a seller
 * delegates its listing to its gateway and stops; the gateway quotes and
 * reveals, the buyer verifies and completes, and the escrow still pays
 * 80/10/10 to seller, gateway and treasury. A delegate handed a wrong key
 * refuses it.
 */
import assert from "node:assert/strict";
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import { hexToBytes } from "viem";
import type { KosmosNode } from "../node/node.ts";
import { getPayoutBalance, getTokenBalance } from "../node/services/chain/mod.ts";
import { setSaleDelegate } from "../node/services/chain/actions/escrow.ts";
import {
  decodeDelegateResponse,
  DELEGATE_PROTOCOL,
  encodeDelegateRequest,
  sealDek,
} from "../node/services/delegation/mod.ts";
import { listForSale, startMarketCluster, waitForListing } from "./market_cluster.ts";
import { ownerFetch } from "./helpers.ts";

const MiB = 1024 * 1024;
const ONE = 10n ** 18n;
const PRICE = 10n * ONE;

function makeCsv(bytes: number): Uint8Array {
  const lines = ["id,value"];
  let size = lines[0].length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `${i},${(i * 7919) % 100_000}`;
    lines.push(line);
    size += line.length + 1;
  }
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

/** Sends one raw request on the delegation protocol from `from` to `to`. */
async function sendRaw(from: KosmosNode, to: KosmosNode, request: Uint8Array) {
  const stream = await from.components.p2p.libp2p.dialProtocol(
    peerIdFromString(to.peerId),
    DELEGATE_PROTOCOL,
  );
  const lp = lpStream(stream, { maxDataLength: 1024 });
  await lp.write(request);
  const response = decodeDelegateResponse((await lp.read()).subarray());
  await stream.close().catch(() => {});
  return response;
}

Deno.test("a delegate sells a stopped seller's listing: quote, reveal, 80/10/10 payouts", async (t) => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-delegate-" });
  const seller = await cluster.start();
  const gateway = await cluster.start();
  const replica = await cluster.start();
  const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
  const data = makeCsv(2 * MiB);
  const { manifestCid, listingId } = await listForSale(seller, data, {
    title: "Delegated readings",
    price: PRICE,
    gateway: gateway.address,
  });
  for (const n of [gateway, replica]) {
    n.components.fetches.startFetch(manifestCid, { providers: [seller.peerId] });
  }
  for (const n of [gateway, replica]) {
    await n.components.fetches.waitForFetch(manifestCid, { timeout: 20_000 });
  }

  await t.step("a delegate given a wrong DEK rejects it and stores nothing", async () => {
    const client = seller.components.chain.client;
    await seller.components.chain.exclusive(() =>
      setSaleDelegate(client, { listingId, delegate: gateway.address })
    );
    const hello = await sendRaw(seller, gateway, encodeDelegateRequest({ v: 1, type: "hello" }));
    assert.ok("publicKey" in hello);
    assert.equal(hello.address, gateway.address);
    const wrong = crypto.getRandomValues(new Uint8Array(32));
    const sealed = await sealDek(wrong, {
      publicKey: hexToBytes(hello.publicKey),
      manifestCid,
      listingId: BigInt(listingId),
    });
    const answer = await sendRaw(
      seller,
      gateway,
      encodeDelegateRequest({
        v: 1,
        type: "key",
        manifestCid,
        listingId: BigInt(listingId),
        owner: seller.address,
        sealed,
      }),
    );
    assert.ok("error" in answer, "the wrong key was refused");
    assert.equal(answer.error.code, "rejected");
    assert.match(answer.error.message, /dekCommit/);
    assert.equal(gateway.components.delegation.getDelegatedKey(manifestCid), undefined);
  });

  await t.step("POST /api/v1/listings/:id/delegates hands the key to the gateway", async () => {
    const res = await ownerFetch(seller, `/api/v1/listings/${manifestCid}/delegates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ peerId: gateway.peerId }),
    });
    assert.equal(res.status, 201);
    const view = await res.json();
    assert.equal(view.delegate, gateway.address);
    assert.equal(view.registryListingId, String(listingId));
    const key = gateway.components.delegation.getDelegatedKey(manifestCid);
    assert.deepEqual(key?.dek, seller.components.datasets.getDatasetKey(manifestCid));
    const bad = await ownerFetch(seller, `/api/v1/listings/${manifestCid}/delegates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ peerId: "nope" }),
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, "bad_request");
  });

  await t.step("the buyer buys from the delegate while the seller is stopped", async () => {
    // The buyer knows only the seller from the listing; the DHT finds the gateway holding the dataset.
    await waitForListing(buyer, manifestCid);
    const client = buyer.components.chain.client;
    const treasury = cluster.dev.deployer;
    const before = {
      buyer: await getTokenBalance(client),
      seller: await getPayoutBalance(client, { address: seller.address }),
      gateway: await getPayoutBalance(client, { address: gateway.address }),
      treasury: await getPayoutBalance(client, { address: treasury }),
    };
    await seller.stop();
    const purchase = await buyer.components.market.buy(manifestCid);
    assert.equal(purchase.sellerPeer, gateway.peerId, "the delegate quoted");
    const done = await buyer.components.market.waitForPurchase(purchase.id, { timeout: 30_000 });
    assert.equal(done.status, "complete");
    const { stream } = await buyer.components.market.readPurchaseData(purchase.id);
    assert.deepEqual(new Uint8Array(await new Response(stream).arrayBuffer()), data);
    const sales = gateway.components.market.listSales();
    assert.equal(sales.length, 1);
    assert.deepEqual(sales[0].txs.map((tx) => tx.action), ["reveal"], "the delegate revealed");

    assert.equal(await getTokenBalance(client), before.buyer - PRICE);
    assert.equal(
      await getPayoutBalance(client, { address: seller.address }) - before.seller,
      PRICE * 8n / 10n,
    );
    assert.equal(await getPayoutBalance(client, { address: gateway.address }) - before.gateway, PRICE / 10n);
    assert.equal(await getPayoutBalance(client, { address: treasury }) - before.treasury, PRICE / 10n);
    // The delegate's Sales page shows what the chain paid it: the gateway's share, not the seller's.
    assert.equal(await gateway.components.market.payoutOf(sales[0]), PRICE / 10n);
  });
});
