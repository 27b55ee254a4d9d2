import assert from "node:assert/strict";
import { keccak256, zeroAddress } from "viem";
import { migrate, openDatabase } from "../db/mod.ts";
import type { Quote } from "../../../protocol/quote.ts";
import { MARKET_MIGRATIONS, MarketStore } from "./store.ts";
import { quoteToJson } from "../../../protocol/sale.ts";

const quote: Quote = {
  listingId: 1n,
  buyer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  price: 10n ** 18n,
  zHash: keccak256("0x01"),
  kSaleHash: keccak256("0x02"),
  dekCommit: keccak256("0x03"),
  gateway: zeroAddress,
  nonce: 0n,
  deadline: 2_000_000_000n,
};

Deno.test("MarketStore migrates old purchases and sales and accepts the dispute states and evidence", () => {
  const db = openDatabase(":memory:");
  migrate(db, "market", MARKET_MIGRATIONS.slice(0, 1));
  const now = Date.now();
  db.prepare(
    `INSERT INTO market_purchases (id, manifest_cid, listing_id, seller, seller_peer, licence, status, sale_id, quote,
       signature, z, dek, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'verified', ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    "p1",
    "bafy",
    "1",
    quote.buyer,
    "peer",
    "lic",
    keccak256("0x10"),
    JSON.stringify(quoteToJson(quote)),
    "0x",
    keccak256("0x11"),
    new Uint8Array(32),
    now,
    now,
  );
  db.prepare(
    `INSERT INTO market_sales (sale_id, manifest_cid, listing_id, buyer, buyer_peer, licence, status, quote, k_sale,
       created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'quoted', ?, ?, ?, ?)`,
  ).run(
    keccak256("0x20"),
    "bafy",
    "1",
    quote.buyer,
    "peer",
    "lic",
    JSON.stringify(quoteToJson(quote)),
    keccak256("0x21"),
    now,
    now,
  );

  const store = new MarketStore(db);
  const old = store.getPurchase("p1")!;
  assert.equal(old.status, "verified");
  assert.equal(old.evidence, undefined);
  assert.deepEqual(old.dek, new Uint8Array(32));
  const disputed = store.updatePurchase("p1", { status: "disputed", evidence: '{"v":1}' });
  assert.equal(disputed.status, "disputed");
  assert.equal(disputed.evidence, '{"v":1}');
  assert.equal(store.getSale(keccak256("0x20"))!.status, "quoted");
  assert.equal(store.updateSale(keccak256("0x20"), { status: "disputed" }).status, "disputed");
  assert.deepEqual(store.listSales({ unfinished: true }).map((s) => s.status), ["disputed"]);
  db.close();
});

Deno.test("MarketStore.reserveNonces() hands out aligned blocks of 256 with one write each", () => {
  const db = openDatabase(":memory:");
  const store = new MarketStore(db);
  const me = quote.buyer;
  assert.equal(store.reserveNonces(me), 0n);
  assert.equal(store.reserveNonces(me), 256n);
  assert.equal(store.reserveNonces(zeroAddress), 0n, "each signer has its own nonces");
  // A row left by per-quote nonces (the old scheme) is rounded up to the next word.
  db.prepare("UPDATE market_nonces SET next = '517' WHERE owner = ?").run(me);
  assert.equal(store.reserveNonces(me), 768n);
  db.close();
});
