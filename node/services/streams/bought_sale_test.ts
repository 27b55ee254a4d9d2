/**
 * The buyer's row of an escrow sale is read by one function (`readBoughtSale`, market/store.ts) for both the
 * market's purchases and the streams' subscription sales: the same suite runs against each store, with real
 * SQLite.
 */
import assert from "node:assert/strict";
import { type Hex, keccak256, zeroAddress } from "viem";
import type { Quote, Sale } from "../../../protocol/quote.ts";
import { openDatabase } from "../db/mod.ts";
import { type BoughtSaleColumns, MarketStore } from "../market/mod.ts";
import { SubscriptionStore } from "./subscription_store.ts";

const quote: Quote = {
  listingId: 7n,
  buyer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  price: 10n ** 18n + 1n,
  zHash: keccak256("0x01"),
  kSaleHash: keccak256("0x02"),
  dekCommit: keccak256("0x03"),
  gateway: zeroAddress,
  nonce: 3n,
  deadline: 2_000_000_000n,
};
const sale: Sale = {
  listingId: 7n,
  buyer: quote.buyer,
  seller: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  gateway: zeroAddress,
  price: 10n ** 18n + 1n,
  revealDeadline: 1_900_000_000,
  disputeDeadline: 0,
  disputedAt: 0,
  zHash: quote.zHash,
  kSaleHash: quote.kSaleHash,
  dekCommit: quote.dekCommit,
};
const saleId = keccak256("0x10");
const signature: Hex = `0x${"11".repeat(65)}`;
const z: Hex = `0x${"22".repeat(64)}`;
const kSale: Hex = `0x${"33".repeat(32)}`;
const hash = keccak256("0x44");

type Bought = BoughtSaleColumns<string, { action: string; hash: Hex }>;
interface BuyerRows {
  insert(): Bought;
  update(
    u: { status?: "opened" | "disputed"; sale?: Sale; kSale?: Hex; evidence?: string; error?: string | null },
  ): Bought;
  open(): Bought;
  get(): Bought | undefined;
}

const stores: Record<string, () => BuyerRows> = {
  market: () => {
    const store = new MarketStore(openDatabase(":memory:"));
    return {
      insert: () =>
        store.insertPurchase({
          id: "p1",
          manifestCid: "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
          listingId: 7n,
          seller: sale.seller,
          sellerPeer: "peer-a",
          licence: "CC0-1.0",
          status: "quoted",
          saleId,
          quote,
          signature,
          z,
        }),
      update: (u) => store.updatePurchase("p1", u),
      open: () => store.updatePurchase("p1", { status: "opened", sale, tx: { action: "open", hash } }),
      get: () => store.getPurchase("p1"),
    };
  },
  streams: () => {
    const store = new SubscriptionStore(openDatabase(":memory:"));
    const sub = store.insertSubscription({
      id: "s1",
      streamId: "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
      title: "t",
      epochMs: 4000,
      targets: [],
    });
    return {
      insert: () =>
        store.insertSale({
          saleId,
          subscriptionId: sub.id,
          first: 1,
          last: 2,
          sellerPeer: "peer-a",
          quote,
          signature,
          z,
        }),
      update: (u) => store.updateSale(saleId, u),
      open: () => store.updateSale(saleId, { status: "opened", sale, tx: { action: "open", hash } }),
      get: () => store.getSale(saleId),
    };
  },
};

for (const [name, make] of Object.entries(stores)) {
  Deno.test(`readBoughtSale() reads back every column a buyer keeps of a sale (${name} store)`, () => {
    const rows = make();
    const inserted = rows.insert();
    assert.equal(inserted.saleId, saleId);
    assert.equal(inserted.sellerPeer, "peer-a");
    assert.equal(inserted.status, "quoted");
    assert.deepEqual(inserted.quote, quote);
    assert.equal(inserted.signature, signature);
    assert.equal(inserted.z, z);
    assert.deepEqual(inserted.txs, []);
    assert.ok(inserted.createdAt > 0 && inserted.updatedAt >= inserted.createdAt);
    // Columns not yet written are absent, not null.
    for (const key of ["sale", "kSale", "evidence", "error"]) assert.ok(!(key in inserted), key);

    const opened = rows.open();
    assert.deepEqual(opened.sale, sale);
    assert.equal(typeof opened.sale!.price, "bigint");
    assert.deepEqual(opened.txs, [{ action: "open", hash }]);
    const disputed = rows.update({ status: "disputed", kSale, evidence: '{"v":1}', error: "bad rows" });
    assert.deepEqual(disputed, {
      ...opened,
      status: "disputed",
      kSale,
      evidence: '{"v":1}',
      error: "bad rows",
      updatedAt: disputed.updatedAt,
    });
    assert.deepEqual(rows.get(), disputed);
    // An error cleared is absent again; the rest stays.
    const cleared = rows.update({ error: null });
    assert.ok(!("error" in cleared));
    assert.equal(cleared.kSale, kSale);
    assert.deepEqual(cleared.sale, sale);
  });
}
