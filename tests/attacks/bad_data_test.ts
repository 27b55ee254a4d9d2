/**
 * Attack (finding 2): sell a valid key for bad data.
 *
 * A malicious seller lists a manifest whose `dekCommit` is the key it really
 * sells, but whose chunks do not decrypt to the manifest's plaintext Merkle
 * root (it copies an honest manifest of its own and changes the root), stakes
 * it, and sells the key through its node's ordinary market. The key is valid,
 * so the escrow's complaint cannot refund the buyer (`KeyIsValid`).
 *
 * On the old code the buyer's node confirmed the sale as soon as the key
 * matched the commitment, before it downloaded anything: the seller was paid
 * for garbage and the buyer had no recourse. Now the buyer's node downloads
 * and checks every chunk first, never confirms, disputes the sale on chain
 * with the hash of its evidence, serves the evidence to its owner only, the
 * arbiter checks the evidence against the data with `verifyDisputeEvidence`
 * and rules, and the buyer gets the price back.
 *
 * The same when the manifest names a chunk nobody serves: as the dispute
 * deadline nears, the buyer's node disputes it as unavailable (the old code
 * had confirmed long before and paid for data it never got).
 *
 * And a seller cannot get a sale opened with a key commitment other than the
 * one its listing was staked with: an honest node will not quote under such a
 * listing, the buyer's node refuses such a quote, and the escrow reverts
 * `DekCommitMismatch` for anyone who opens it anyway.
 */
import assert from "node:assert/strict";
import { lpStream } from "@libp2p/utils";
import {
  bytesToHex,
  createPublicClient,
  createWalletClient,
  hashTypedData,
  type Hex,
  http,
  keccak256,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { KosmosNode } from "../../node/node.ts";
import {
  DEV_ACCOUNT_KEYS,
  getTokenBalance,
  type KosmosClient,
  listDataset,
} from "../../node/services/chain/mod.ts";
import { resolveSaleDispute } from "../../node/services/chain/actions/escrow.ts";
import { toViemChain } from "../../node/services/chain/viem_chain.ts";
import {
  encodeSaleResponse,
  getSaleEvents,
  openSale,
  type PurchaseRecord,
  verifyDisputeEvidence,
} from "../../node/services/market/mod.ts";
import { chunkCid, getManifest } from "../../node/services/blocks/mod.ts";
import { encodeManifest, type Manifest } from "../../protocol/manifest.ts";
import { type AnnouncementBody, signAnnouncement } from "../../protocol/announcement.ts";
import {
  computeDekCommit,
  computeSaleKeyCommit,
  encodeSaleKeys,
  getEscrowDomain,
  type Quote,
  quoteTypes,
} from "../../protocol/quote.ts";
import { SALE_PROTOCOL } from "../../protocol/topics.ts";
import { makeCsv, ownerFetch, waitFor } from "../helpers.ts";
import { listForSale, startMarketCluster, waitForListing } from "../market_cluster.ts";

const ONE = 10n ** 18n;
const PRICE = 10n * ONE;

/** The arbiter's wallet (anvil's first dev account is the dev chain's arbiter). */
function arbiterClient(rpcUrl: string, contracts: KosmosClient["contracts"]): KosmosClient {
  const chain = toViemChain(31337, [rpcUrl], "anvil");
  const transport = http(rpcUrl);
  const account = privateKeyToAccount(DEV_ACCOUNT_KEYS[0]);
  return {
    publicClient: createPublicClient({ chain, transport, pollingInterval: 200 }),
    walletClient: createWalletClient({ chain, transport, account, pollingInterval: 200 }),
    contracts,
    timeout: 30_000,
  } as KosmosClient;
}

/**
 * Publishes `data` honestly, then lists a copy of its manifest changed by
 * `change` (by default another plaintext Merkle root), selling the real key
 * for it through the seller's own market.
 */
async function listBadCopy(
  seller: KosmosNode,
  data: Uint8Array,
  viewers: KosmosNode[],
  change: (m: Manifest) => Promise<Partial<Manifest>> = () =>
    Promise.resolve({ merkleRoot: keccak256("0x0bad") }),
): Promise<string> {
  const { manifestCid: honestCid } = await seller.components.datasets.publishDataset(
    ReadableStream.from([data]),
    { title: "Honest", category: "sensors", price: PRICE, licence: "kosmos-research-1", filename: "a.csv" },
  );
  const honest = await getManifest(seller.components.blocks, honestCid as never);
  const bad = { ...honest, title: "Clean readings", ...(await change(honest)) };
  const encoded = await encodeManifest(bad);
  await seller.components.blocks.put(encoded.bytes, { cid: encoded.cid });
  const dek = seller.components.datasets.getDatasetKey(honestCid)!;
  seller.components.db.prepare("INSERT INTO dataset_keys (manifest_cid, dek, created_at) VALUES (?, ?, ?)")
    .run(encoded.manifestCid, dek, Date.now());
  const body: AnnouncementBody = {
    v: 1,
    manifestCid: encoded.manifestCid,
    title: bad.title,
    description: bad.description,
    category: bad.category,
    price: bad.price,
    seller: bad.seller,
    gateway: bad.gateway,
    byteLength: bad.byteLength,
    rowCount: bad.rowCount,
    chunkCount: bad.chunks.length,
    schema: bad.schema,
    preview: bad.preview,
    licence: bad.licence.id,
    createdAt: bad.createdAt,
    timestamp: Date.now(),
    providers: [seller.peerId],
  };
  const announcement = await signAnnouncement(seller.components.identity.account, body);
  await seller.components.catalog.publishAnnouncement(announcement);
  await seller.facade.stakeListing({ manifestCid: encoded.manifestCid, amount: 100n * ONE });
  for (const viewer of viewers) await waitForListing(viewer, encoded.manifestCid);
  return encoded.manifestCid;
}

Deno.test("a valid key for bad data: the buyer never confirms, disputes, and the arbiter refunds it", async (t) => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-attack-bad-data-" });
  const seller = await cluster.start();
  const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
  const arbiterNode = await cluster.start();
  const manifestCid = await listBadCopy(seller, makeCsv(1536 * 1024), [buyer]);
  const client = buyer.components.chain.client;
  const before = await getTokenBalance(client);

  let purchase: PurchaseRecord;
  await t.step(
    "the buyer's node downloads, finds the data bad and disputes instead of confirming",
    async () => {
      const { id } = await buyer.components.market.buy(manifestCid);
      purchase = await waitFor("the purchase to be disputed", () => {
        const p = buyer.components.market.getPurchase(id);
        assert.ok(
          !["complete", "refunded", "failed", "verified"].includes(p.status),
          `${p.status}: ${p.error}`,
        );
        return p.status === "disputed" ? p : undefined;
      }, { timeout: 30_000 });
      assert.deepEqual(purchase.txs.map((tx) => tx.action), ["open", "dispute"], "never confirmed");
      assert.equal(await getTokenBalance(client), before - PRICE, "the price is still locked");
      await waitFor(
        "the seller to see the dispute",
        () => seller.components.market.getSale(purchase.saleId)?.status === "disputed",
      );
    },
  );

  let evidence: string;
  let evidenceHash: Hex;
  await t.step("the evidence is served to the buyer's owner only", async () => {
    const anonymous = await fetch(`${buyer.url}/api/v1/purchases/${purchase.id}/evidence`);
    assert.ok(anonymous.status === 401 || anonymous.status === 403, `status ${anonymous.status}`);
    await anonymous.body?.cancel();
    const res = await ownerFetch(buyer, `/api/v1/purchases/${purchase.id}/evidence`);
    assert.equal(res.status, 200);
    ({ evidence, evidenceHash } = await res.json());
    const parsed = JSON.parse(evidence);
    assert.equal(parsed.saleId, purchase.saleId);
    assert.equal(parsed.manifestCid, manifestCid);
    assert.equal(parsed.failure.what, "merkle-root");
    assert.equal(keccak256(new TextEncoder().encode(evidence)), evidenceHash);
  });

  await t.step(
    "the arbiter checks the evidence against the data and rules it bad: the buyer is refunded",
    async () => {
      const arbiter = arbiterClient(cluster.anvil.rpcUrl, client.contracts);
      const events = await getSaleEvents(arbiter, { saleId: purchase.saleId });
      assert.ok(events.opened && events.revealed && events.disputed);
      assert.equal(events.disputed!.evidenceHash, evidenceHash, "the dispute commits to this evidence");
      const sale = {
        ...events.opened!.sale,
        disputeDeadline: events.revealed!.disputeDeadline,
        disputedAt: events.disputed!.disputedAt,
      };
      // The arbiter gets the data on its own, from any provider.
      arbiterNode.components.fetches.startFetch(manifestCid, { providers: [seller.peerId] });
      await arbiterNode.components.fetches.waitForFetch(manifestCid, { timeout: 20_000 });
      const blocks = arbiterNode.components.blocks;
      const verdict = await verifyDisputeEvidence(evidence, { blocks, sale, evidenceHash });
      assert.deepEqual(verdict.bad, true, verdict.reason);
      assert.match(verdict.reason, /Merkle root/);
      // Evidence the dispute did not commit to proves nothing.
      const forged = evidence.replace('"merkle-root"', '"decrypt"');
      assert.equal((await verifyDisputeEvidence(forged, { blocks, sale, evidenceHash })).bad, false);

      await resolveSaleDispute(arbiter, { saleId: purchase.saleId, sale, bad: verdict.bad });
      const refunded = await buyer.components.market.waitForPurchase(purchase.id, { timeout: 20_000 })
        .then(
          () => assert.fail("the purchase completed"),
          () => buyer.components.market.getPurchase(purchase.id),
        );
      assert.equal(refunded.status, "refunded", refunded.error);
      assert.equal(await getTokenBalance(client), before, "the buyer has the price back");
      await waitFor(
        "the seller to see the refund",
        () => seller.components.market.getSale(purchase.saleId)?.status === "refunded",
      );
    },
  );
});

Deno.test("chunks nobody serves: the buyer disputes before the deadline, and the arbiter agrees", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-attack-missing-" });
  const seller = await cluster.start();
  const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
  const arbiterNode = await cluster.start();
  // The last chunk's CID is of bytes the seller never stored (nor anyone else).
  const manifestCid = await listBadCopy(seller, makeCsv(1536 * 1024), [buyer], async (m) => ({
    chunks: [...m.chunks.slice(0, -1), await chunkCid(crypto.getRandomValues(new Uint8Array(64)))],
  }));
  const client = buyer.components.chain.client;
  const disputeWindow = Number(
    await client.publicClient.readContract({
      address: client.contracts.escrow,
      abi: [{
        type: "function",
        name: "disputeWindow",
        inputs: [],
        outputs: [{ type: "uint40" }],
        stateMutability: "view",
      }],
      functionName: "disputeWindow",
    }),
  );
  const before = await getTokenBalance(client);
  const { id } = await buyer.components.market.buy(manifestCid);
  await buyer.components.market.waitForPurchase(id, { until: "downloading", timeout: 20_000 });
  // Every chunk but the last is served: wait until the buyer holds them, so the evidence can only name the last.
  const manifest = await getManifest(seller.components.blocks, manifestCid as never);
  for (const chunk of manifest.chunks.slice(0, -1)) {
    await waitFor(
      `chunk ${chunk} at the buyer`,
      async () => await buyer.components.blocks.has(chunk) || undefined,
      {
        timeout: 20_000,
      },
    );
  }
  // Half an hour before the dispute deadline: inside the node's margin (an hour by default).
  await cluster.increaseTime(disputeWindow - 1800);
  const purchase = await waitFor("the purchase to be disputed", () => {
    const p = buyer.components.market.getPurchase(id);
    assert.ok(!["complete", "refunded", "failed", "verified"].includes(p.status), `${p.status}: ${p.error}`);
    return p.status === "disputed" ? p : undefined;
  }, { timeout: 20_000 });
  assert.deepEqual(purchase.txs.map((tx) => tx.action), ["open", "dispute"]);
  const evidence = JSON.parse(purchase.evidence!);
  assert.equal(evidence.failure.what, "unavailable");
  assert.equal(evidence.failure.chunk, manifest.chunks.length - 1);

  const arbiter = arbiterClient(cluster.anvil.rpcUrl, client.contracts);
  const events = await getSaleEvents(arbiter, { saleId: purchase.saleId });
  const sale = {
    ...events.opened!.sale,
    disputeDeadline: events.revealed!.disputeDeadline,
    disputedAt: events.disputed!.disputedAt,
  };
  // The arbiter asks the seller itself for the blocks.
  const session = await arbiterNode.components.transfer.openSession(seller.peerId);
  try {
    const verdict = await verifyDisputeEvidence(purchase.evidence!, {
      blocks: { get: (cid, options) => session.get(cid, options) },
      sale,
      evidenceHash: events.disputed!.evidenceHash,
    });
    assert.equal(verdict.bad, true, verdict.reason);
    assert.match(verdict.reason, /chunk \d+ is unavailable/);
  } finally {
    await session.close().catch(() => {});
  }
  await resolveSaleDispute(arbiter, { saleId: purchase.saleId, sale, bad: true });
  await waitFor("the refund", () => buyer.components.market.getPurchase(id).status === "refunded");
  assert.equal(await getTokenBalance(client), before);
});

Deno.test("a seller cannot quote or open a sale with a dekCommit other than its listing's", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-attack-dek-commit-" });
  const seller = await cluster.start();
  const buyer = await cluster.start();
  const { manifestCid, listingId } = await listForSale(seller, makeCsv(64 * 1024), {
    price: PRICE,
    viewers: [buyer],
  });
  // The honest seller's node never quotes under a listing staked with another key commitment than its key's.
  const { manifestCid: misbound } = await seller.components.datasets.publishDataset(
    ReadableStream.from([makeCsv(32 * 1024)]),
    { title: "Misbound", category: "sensors", price: PRICE, licence: "kosmos-research-1", filename: "m.csv" },
  );
  const s = seller.components.chain;
  await s.exclusive(() =>
    listDataset(s.client, { manifestCid: misbound, dekCommit: keccak256("0x99"), stake: 100n * ONE })
  );
  await waitForListing(buyer, misbound);
  await assert.rejects(buyer.components.market.requestQuote(misbound), /not-seller.*another key commitment/);

  // A self-consistent quote for another key: Z, zHash and dekCommit all agree, only the listing does not.
  const otherDek = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  const kSale = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  const z = encodeSaleKeys([otherDek], kSale);
  const block = await seller.components.chain.publicClient.getBlock();
  const quote: Quote = {
    listingId,
    buyer: buyer.address,
    price: PRICE,
    zHash: keccak256(z),
    kSaleHash: computeSaleKeyCommit(kSale),
    dekCommit: computeDekCommit([otherDek]),
    gateway: seller.address,
    nonce: 7n,
    deadline: block.timestamp + 600n,
  };
  const typed = {
    domain: getEscrowDomain(31337, seller.components.chain.contracts!.escrow),
    types: quoteTypes,
    primaryType: "Quote" as const,
    message: quote,
  };
  const signature = await seller.components.identity.account.signTypedData(typed);
  const libp2p = seller.components.p2p.libp2p;
  await libp2p.unhandle(SALE_PROTOCOL);
  await libp2p.handle(SALE_PROTOCOL, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 512 });
    await lp.read();
    await lp.write(encodeSaleResponse({ v: 1, quote, signature, z }));
    await stream.close();
  });

  await assert.rejects(buyer.components.market.buy(manifestCid), /staked with|differs/);
  assert.equal(buyer.components.market.listPurchases().length, 0, "nothing stored, nothing paid");

  const b = buyer.components.chain;
  const balance = await getTokenBalance(b.client);
  await assert.rejects(
    b.exclusive(() => openSale(b.client, { quote, signature })),
    (err: Error) => {
      assert.match(
        `${err.message} ${JSON.stringify((err as { details?: unknown }).details ?? {})}`,
        /DekCommitMismatch/,
      );
      return true;
    },
  );
  assert.equal(await getTokenBalance(b.client), balance);
  assert.equal(seller.components.market.getSale(hashTypedData(typed)), undefined);
});
