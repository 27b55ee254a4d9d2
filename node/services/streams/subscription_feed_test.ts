import assert from "node:assert/strict";
import { keccak256, zeroAddress } from "viem";
import type { Quote } from "../../../protocol/quote.ts";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import { SubscriptionFeed } from "./subscription_feed.ts";
import { type StoredReading, SubscriptionStore } from "./subscription_store.ts";

const log = createLogger({ level: "error" }).forComponent("test");
const STREAM = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

const quote: Quote = {
  listingId: 1n,
  buyer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  price: 10n ** 15n,
  zHash: keccak256("0x01"),
  kSaleHash: keccak256("0x02"),
  dekCommit: keccak256("0x03"),
  gateway: zeroAddress,
  nonce: 0n,
  deadline: 2_000_000_000n,
};

/** A store with one subscription of STREAM holding the keys of epochs `first..last`. */
function storeWithKeys(first: number, last: number) {
  const store = new SubscriptionStore(openDatabase(":memory:"));
  const sub = store.insertSubscription({
    id: crypto.randomUUID(),
    streamId: STREAM,
    title: "t",
    epochMs: 4000,
    targets: ["mqtt://127.0.0.1:1/t"],
  });
  const saleId = keccak256(crypto.getRandomValues(new Uint8Array(8)));
  const sale = store.insertSale({
    saleId,
    subscriptionId: sub.id,
    first,
    last,
    sellerPeer: "peer",
    quote,
    signature: `0x${"11".repeat(65)}`,
    z: `0x${"22".repeat(32 * (last - first + 1))}`,
  });
  const keys = Array.from({ length: last - first + 1 }, () => crypto.getRandomValues(new Uint8Array(32)));
  store.putKeys(sale, STREAM, keys, `0x${"33".repeat(32)}`);
  return { store, sub, keys };
}

const reading = (sensorId: string, ts: number): StoredReading => ({ sensorId, ts, values: { temp: ts % 7 } });

Deno.test("SubscriptionFeed.deliver() stores, hands on and emits a reading once, and only for epochs whose key is held", async () => {
  const { store, sub } = storeWithKeys(10, 11);
  const handed: { epoch: number; readings: StoredReading[] }[] = [];
  const feed = new SubscriptionFeed({
    store,
    log,
    connectors: { deliverReadings: (_id, _targets, event) => void handed.push(event) },
    schemaOf: () => [{ name: "temp", type: "number" }],
  });
  const controller = new AbortController();
  const seen: number[] = [];
  const watching = (async () => {
    for await (const event of feed.watch(sub.id, controller.signal)) {
      seen.push(...event.readings.map((r) => r.ts));
    }
  })();
  assert.equal(feed.deliver(STREAM, 10, [reading("a", 40_000), reading("b", 40_000)]), 1);
  // The same readings again (live, then in the sealed epoch) plus one new one: only the new one goes on.
  assert.equal(
    feed.deliver(STREAM, 10, [reading("a", 40_000), reading("b", 40_000), reading("a", 40_100)]),
    1,
  );
  // An epoch outside the keys held goes nowhere.
  assert.equal(feed.deliver(STREAM, 12, [reading("a", 48_000)]), 0);
  await new Promise((r) => setTimeout(r, 10));
  controller.abort();
  await watching;
  assert.deepEqual(seen, [40_000, 40_000, 40_100]);
  assert.deepEqual(handed.map((h) => h.readings.length), [2, 1]);
  assert.equal(store.listReadings(sub.id).length, 3);
  assert.equal(store.getSubscription(sub.id)!.received, 3);
  assert.equal(store.countReadings(sub.id, 12), 0);
  assert.equal(feed.listeners, 0);
});

Deno.test("SubscriptionStore keeps each sale's keys per epoch and finds them by stream and epoch", () => {
  const { store, sub, keys } = storeWithKeys(5, 7);
  assert.deepEqual(store.keyFor(STREAM, 6), keys[1]);
  assert.equal(store.keyFor(STREAM, 8), undefined);
  assert.equal(store.keyFor(STREAM, 4), undefined);
  assert.ok(store.holdsKey(sub.id, 7));
  assert.deepEqual(store.listKeys(sub.id).map((k) => k.epoch), [5, 6, 7]);
  assert.equal(store.listSales(sub.id)[0].status, "revealed");
  store.setKeyCheck(sub.id, 6, "mismatch");
  store.setFetched(sub.id, 5);
  assert.deepEqual(store.listUnfetched().map((k) => k.epoch), [7]);
});

Deno.test("SubscriptionFeed.watch() ends when its signal aborts, and a listener far behind is disconnected", async () => {
  const { store, sub } = storeWithKeys(1, 1);
  const feed = new SubscriptionFeed({ store, log, schemaOf: () => undefined });
  const controller = new AbortController();
  const iterator = feed.watch(sub.id, controller.signal)[Symbol.asyncIterator]();
  for (let i = 0; i < 1002; i++) feed.deliver(STREAM, 1, [reading("a", 4000 + i)]);
  let count = 0;
  while (!(await iterator.next()).done) count++;
  assert.ok(count <= 1001, `${count} events`);
  assert.equal(feed.listeners, 0);
  controller.abort();
});
