/**
 * Buying end to end with real nodes on loopback and one anvil: the honest key
 * sale with 80/10/10 payouts and a download from replicas after the seller
 * stops, and the adversarial cases (a wrong Z, no reveal, no confirm, a buyer
 * restarted mid-sale, hostile protocol messages).
 */
import assert from "node:assert/strict";
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import { bytesToHex, hashTypedData, type Hex, keccak256 } from "viem";
import type { KosmosNode } from "../node/node.ts";
import { getPayoutBalance, getTokenBalance } from "../node/services/chain/mod.ts";
import {
  decodeSaleResponse,
  encodeSaleResponse,
  openSale,
  type PurchaseRecord,
  revealKey,
  type SaleRecord,
} from "../node/services/market/mod.ts";
import {
  computeDekCommit,
  computeSaleKeyCommit,
  encodeSaleKeys,
  getEscrowDomain,
  type Quote,
  quoteTypes,
} from "../protocol/quote.ts";
import { SALE_PROTOCOL } from "../protocol/topics.ts";
import { ownerFetch, waitFor } from "./helpers.ts";
import { listForSale, startMarketCluster } from "./market_cluster.ts";

const MiB = 1024 * 1024;
const ONE = 10n ** 18n;
const PRICE = 10n * ONE;

/** A CSV of about `bytes` bytes, different for each seed. */
function makeCsv(bytes: number, seed: number): Uint8Array {
  const lines = ["id,ts,sensor,value"];
  let size = lines[0].length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `${i},${1_700_000_000_000 + i * 1000},s${(i * seed) % 97},${
      ((i * 7919 + seed) % 100_000) / 100
    }`;
    lines.push(line);
    size += line.length + 1;
  }
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

async function readAll(node: KosmosNode, id: string): Promise<Uint8Array> {
  const { stream } = await node.components.market.readPurchaseData(id);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function onStatus<T extends PurchaseRecord | SaleRecord>(
  node: KosmosNode,
  type: "purchase" | "sale",
  status: string,
  fn: (record: T) => void,
): void {
  let fired = false;
  node.components.market.addEventListener(type, (e) => {
    const record = (e as CustomEvent<T>).detail;
    if (!fired && record.status === status) {
      fired = true;
      fn(record);
    }
  });
}

/** Replaces `node`'s sale protocol handler with `answer`, which gets the raw request. */
async function handleSales(node: KosmosNode, answer: (buyer: `0x${string}`) => Promise<Uint8Array>) {
  const libp2p = node.components.p2p.libp2p;
  await libp2p.unhandle(SALE_PROTOCOL);
  await libp2p.handle(SALE_PROTOCOL, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 512 });
    try {
      const request = JSON.parse(new TextDecoder().decode((await lp.read()).subarray()));
      await lp.write(await answer(request.buyer));
      await stream.close();
    } catch (err) {
      stream.abort(err as Error);
    }
  });
}

/** A quote as a hostile seller node makes it, honest unless told otherwise. */
async function makeOffer(
  seller: KosmosNode,
  manifestCid: string,
  listingId: bigint,
  buyer: `0x${string}`,
  lie: { dek?: Hex; price?: bigint; deadline?: bigint; signer?: KosmosNode } = {},
): Promise<{ bytes: Uint8Array; kSale: Hex; quote: Quote }> {
  const dek = bytesToHex(seller.components.datasets.getDatasetKey(manifestCid)!);
  const kSale = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  const z = encodeSaleKeys([lie.dek ?? dek], kSale);
  const block = await seller.components.chain.publicClient.getBlock();
  const quote: Quote = {
    listingId,
    buyer,
    price: lie.price ?? PRICE,
    zHash: keccak256(z),
    kSaleHash: computeSaleKeyCommit(kSale),
    dekCommit: computeDekCommit([dek]),
    gateway: seller.address,
    nonce: BigInt(Math.floor(Math.random() * 1e9)),
    deadline: lie.deadline ?? block.timestamp + 600n,
  };
  const typed = {
    domain: getEscrowDomain(31337, seller.components.chain.contracts!.escrow),
    types: quoteTypes,
    primaryType: "Quote" as const,
    message: quote,
  };
  const signature = await (lie.signer ?? seller).components.identity.account.signTypedData(typed);
  assert.equal(hashTypedData(typed).length, 66);
  return { bytes: encodeSaleResponse({ v: 1, quote, signature, z }), kSale, quote };
}

Deno.test("buy() completes a key sale end to end: 80/10/10 payouts, bytes from replicas after the seller stops", async (t) => {
  // The buyer downloads only once the key is revealed (by default it starts when the sale opens), so
  // every chunk must come from the replicas after the seller stops.
  await using cluster = await startMarketCluster({
    services: { market: { tickInterval: 1000, downloadBeforeReveal: false } },
  });
  const seller = await cluster.start();
  const gateway = await cluster.start();
  const replicas = [await cluster.start(), await cluster.start()];
  // The buyer keeps no replicas, so every chunk it holds was downloaded for the purchase.
  const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
  const data = makeCsv(10 * MiB, 1);
  const { manifestCid } = await listForSale(seller, data, {
    price: PRICE,
    gateway: gateway.address,
    viewers: [buyer],
  });
  for (const r of replicas) r.components.fetches.startFetch(manifestCid, { providers: [seller.peerId] });
  for (const r of replicas) await r.components.fetches.waitForFetch(manifestCid, { timeout: 20_000 });

  const client = buyer.components.chain.client;
  const treasury = cluster.dev.deployer;
  const before = {
    buyer: await getTokenBalance(client),
    seller: await getPayoutBalance(client, { address: seller.address }),
    gateway: await getPayoutBalance(client, { address: gateway.address }),
    treasury: await getPayoutBalance(client, { address: treasury }),
  };
  let sellerStopped: Promise<void> | undefined;
  onStatus<SaleRecord>(seller, "sale", "revealed", () => (sellerStopped = seller.stop()));

  await t.step("POST /api/v1/purchases quotes, opens, verifies and downloads by itself", async () => {
    const preview = await (await ownerFetch(buyer, `/api/v1/listings/${manifestCid}/quote`)).json();
    assert.equal(preview.price, PRICE.toString());
    assert.deepEqual(preview.split, {
      seller: (PRICE * 8n / 10n).toString(),
      gateway: (PRICE / 10n).toString(),
      treasury: (PRICE / 10n).toString(),
    });
    assert.ok(BigInt(preview.gas.units) > 0n);
    const post = () =>
      ownerFetch(buyer, `/api/v1/purchases`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ listingId: manifestCid }),
      });
    const first = await post();
    assert.equal(first.status, 202);
    const { id, status } = await first.json();
    assert.equal(status, "quoted");
    const second = await (await post()).json();
    assert.equal(second.id, id, "a second POST returns the same purchase");
    const done = await buyer.components.market.waitForPurchase(id, { timeout: 30_000 });
    assert.ok(sellerStopped, "the seller was stopped right after the reveal");
    await sellerStopped;
    assert.equal(done.status, "complete");
    const view = await (await ownerFetch(buyer, `/api/v1/purchases/${id}`)).json();
    assert.equal(view.status, "complete");
    assert.equal(view.listingId, manifestCid);
    assert.equal(view.seller, seller.address);
    const chunks = Math.ceil(data.byteLength / MiB);
    assert.deepEqual(view.progress, { chunksVerified: chunks, chunksTotal: chunks });
    assert.deepEqual(view.txs.map((tx: { action: string }) => tx.action), ["open", "confirm"]);
    const listed = await (await ownerFetch(buyer, `/api/v1/purchases`)).json();
    assert.deepEqual(listed.purchases.map((p: { id: string }) => p.id), [id]);
    const body = await ownerFetch(buyer, `/api/v1/purchases/${id}/data`);
    assert.equal(body.status, 200);
    assert.deepEqual(new Uint8Array(await body.arrayBuffer()), data);
    const fetched = buyer.components.fetches.getFetch(manifestCid)!;
    assert.ok(!fetched.providers.includes(seller.peerId), "no chunk came from the stopped seller");
    const missing = await ownerFetch(buyer, `/api/v1/purchases/00000000-0000-0000-0000-000000000000`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "not_found");
  });

  await t.step("the escrow paid 80/10/10 to seller, gateway and treasury", async () => {
    assert.equal(await getTokenBalance(client), before.buyer - PRICE);
    assert.equal(
      await getPayoutBalance(client, { address: seller.address }) - before.seller,
      PRICE * 8n / 10n,
    );
    assert.equal(await getPayoutBalance(client, { address: gateway.address }) - before.gateway, PRICE / 10n);
    assert.equal(await getPayoutBalance(client, { address: treasury }) - before.treasury, PRICE / 10n);
    // The restarted seller sees the confirmation it missed while stopped.
    const again = await cluster.start({ dataDir: seller.config.dataDir });
    const sales = await waitFor("the restarted seller to mark its sale complete", () => {
      const sales = again.components.market.listSales();
      return sales[0]?.status === "complete" ? sales : undefined;
    });
    assert.equal(sales.length, 1);
    assert.deepEqual(sales[0].txs.map((tx) => tx.action), ["reveal"]);
    const api = await (await ownerFetch(again, `/api/v1/sales`)).json();
    assert.equal(api.sales[0].status, "complete");
    assert.equal(api.sales[0].buyer, buyer.address);
  });
});

Deno.test("the market refunds, finalizes and resumes without a human", async (t) => {
  await using cluster = await startMarketCluster();
  const seller = await cluster.start();
  const hostile = await cluster.start();
  const buyer = await cluster.start();
  const client = buyer.components.chain.client;
  const small = (seed: number) => makeCsv(64 * 1024, seed);
  const escrow = buyer.components.chain.contracts!.escrow;
  const read = (functionName: "revealWindow" | "disputeWindow") =>
    client.publicClient.readContract({
      address: escrow,
      abi: [{
        type: "function",
        name: functionName,
        inputs: [],
        outputs: [{ type: "uint40" }],
        stateMutability: "view",
      }],
      functionName,
    });
  const revealWindow = Number(await read("revealWindow"));
  const disputeWindow = Number(await read("disputeWindow"));
  // Listed before any step moves the chain's clock (listing permits expire by wall-clock time).
  const b2 = await cluster.start();
  const resumeData = small(6);
  const forFinalize = await listForSale(seller, small(5), {
    price: PRICE,
    gateway: hostile.address,
    viewers: [buyer],
  });
  const forResume = await listForSale(seller, resumeData, {
    price: PRICE,
    gateway: hostile.address,
    viewers: [b2],
  });

  await t.step("hostile quotes (bad signature, expired, wrong price, oversized) change nothing", async () => {
    const { manifestCid, listingId } = await listForSale(hostile, small(2), {
      price: PRICE,
      gateway: hostile.address,
      viewers: [buyer],
    });
    const now = (await client.publicClient.getBlock()).timestamp;
    const cases: [string, (b: `0x${string}`) => Promise<Uint8Array>, RegExp][] = [
      [
        "bad signature",
        async (b) => (await makeOffer(hostile, manifestCid, listingId, b, { signer: seller })).bytes,
        /bad signature/,
      ],
      [
        "expired",
        async (b) => (await makeOffer(hostile, manifestCid, listingId, b, { deadline: now - 1n })).bytes,
        /expired/,
      ],
      [
        "wrong price",
        async (b) => (await makeOffer(hostile, manifestCid, listingId, b, { price: 1n })).bytes,
        /wrong price/,
      ],
      ["oversized", () => Promise.resolve(new Uint8Array(4096).fill(0x20)), /SaleProtocolError|over|length/i],
    ];
    for (const [name, answer, expected] of cases) {
      await handleSales(hostile, answer);
      await assert.rejects(buyer.components.market.buy(manifestCid), (err: Error) => {
        assert.match(`${err.name} ${err.message}`, expected, name);
        return true;
      });
      assert.equal(buyer.components.market.listPurchases().length, 0, `${name}: no purchase stored`);
    }
    // An oversized request to an honest seller: a clear refusal, no sale recorded.
    const stream = await buyer.components.p2p.libp2p.dialProtocol(
      peerIdFromString(seller.peerId),
      SALE_PROTOCOL,
    );
    const lp = lpStream(stream, { maxDataLength: 4096 });
    await lp.write(new Uint8Array(2048).fill(0x7b));
    const response = decodeSaleResponse((await lp.read()).subarray());
    assert.ok("error" in response && response.error.code === "bad-request", JSON.stringify(response));
    assert.equal(seller.components.market.getSale("0x00"), undefined);
    assert.equal(seller.components.market.listSales().length, 0);
  });

  await t.step("a wrong Z: the buyer's node complains and is refunded", async () => {
    const { manifestCid, listingId } = await listForSale(hostile, small(3), {
      price: PRICE,
      gateway: hostile.address,
      viewers: [buyer],
    });
    let kSale: Hex | undefined;
    await handleSales(hostile, async (b) => {
      const offer = await makeOffer(hostile, manifestCid, listingId, b, { dek: keccak256("0x01") });
      kSale = offer.kSale;
      return offer.bytes;
    });
    const balance = await getTokenBalance(client);
    const purchase = await buyer.components.market.buy(manifestCid);
    const opened = await buyer.components.market.waitForPurchase(purchase.id, { until: "opened" });
    const h = hostile.components.chain;
    await h.exclusive(() =>
      revealKey(h.client, { saleId: opened.saleId, sale: opened.sale!, kSale: kSale! })
    );
    await assert.rejects(buyer.components.market.waitForPurchase(purchase.id), /refunded/);
    const refunded = buyer.components.market.getPurchase(purchase.id);
    assert.deepEqual(refunded.txs.map((tx) => tx.action), ["open", "complain"]);
    assert.equal(await getTokenBalance(client), balance);
  });

  await t.step("no reveal: the buyer's node takes its money back after the deadline", async () => {
    const { manifestCid, listingId } = await listForSale(hostile, small(4), {
      price: PRICE,
      gateway: hostile.address,
      viewers: [buyer],
    });
    await handleSales(hostile, async (b) => (await makeOffer(hostile, manifestCid, listingId, b)).bytes);
    const balance = await getTokenBalance(client);
    const purchase = await buyer.components.market.buy(manifestCid);
    await buyer.components.market.waitForPurchase(purchase.id, { until: "opened" });
    assert.equal(await getTokenBalance(client), balance - PRICE);
    await cluster.increaseTime(revealWindow + 1);
    await assert.rejects(buyer.components.market.waitForPurchase(purchase.id), /refunded/);
    assert.deepEqual(buyer.components.market.getPurchase(purchase.id).txs.map((tx) => tx.action), [
      "open",
      "refund",
    ]);
    assert.equal(await getTokenBalance(client), balance);
  });

  await t.step("no confirmation: the seller's node finalizes after the dispute window", async () => {
    const { manifestCid } = forFinalize;
    const offer = await buyer.components.market.requestQuote(manifestCid);
    const b = buyer.components.chain;
    const before = await getPayoutBalance(client, { address: seller.address });
    await b.exclusive(() => openSale(b.client, { quote: offer.quote, signature: offer.signature }));
    await waitFor(
      "the seller to reveal",
      () => seller.components.market.getSale(offer.saleId)?.status === "revealed",
    );
    await cluster.increaseTime(disputeWindow + 1);
    await waitFor(
      "the seller to finalize",
      () => seller.components.market.getSale(offer.saleId)?.status === "complete",
    );
    assert.deepEqual(seller.components.market.getSale(offer.saleId)!.txs.map((tx) => tx.action), [
      "reveal",
      "finalize",
    ]);
    assert.equal(await getPayoutBalance(client, { address: seller.address }) - before, PRICE * 8n / 10n);
  });

  await t.step("a buyer stopped between open and reveal resumes after restart and completes", async () => {
    const { manifestCid } = forResume;
    let stopped: Promise<void> | undefined;
    onStatus<PurchaseRecord>(b2, "purchase", "opened", () => (stopped = b2.stop()));
    const purchase = await b2.components.market.buy(manifestCid);
    await waitFor("the buyer to stop after opening", () => stopped !== undefined);
    await stopped;
    const again = await cluster.start({ dataDir: b2.config.dataDir });
    const done = await again.components.market.waitForPurchase(purchase.id, { timeout: 30_000 });
    assert.equal(done.status, "complete");
    assert.deepEqual(done.txs.map((tx) => tx.action), ["open", "confirm"]);
    assert.deepEqual(await readAll(again, purchase.id), resumeData);
  });
});
