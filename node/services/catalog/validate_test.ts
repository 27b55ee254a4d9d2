import assert from "node:assert/strict";
import { join } from "node:path";
import * as dagCbor from "@ipld/dag-cbor";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  ANNOUNCEMENT_DOMAIN,
  ANNOUNCEMENT_TYPES,
  encodeAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
  signAnnouncement,
  toTypedMessage,
} from "../../../protocol/announcement.ts";
import { toAddress } from "../../../protocol/ids.ts";
import { openDatabase } from "../db/mod.ts";
import { CatalogStore } from "./store.ts";
import { checkAnnouncement, ingestAnnouncement } from "./validate.ts";
import { makeBody, resign } from "./fixtures_test.ts";
import { tempDir } from "../../../tests/helpers.ts";

const seller = privateKeyToAccount(generatePrivateKey());
const mallory = privateKeyToAccount(generatePrivateKey());
const hour = 3_600_000;

Deno.test("checkAnnouncement() accepts a valid announcement signed by its seller", async () => {
  const signed = await signAnnouncement(seller, await makeBody(seller.address));
  const check = await checkAnnouncement(encodeAnnouncement(signed), { category: "environment" });
  assert.equal(check.result, "accept");
  assert.deepEqual(check.result === "accept" && check.announcement, signed);
});

Deno.test("checkAnnouncement() rejects forged, malformed, oversized, far-future and off-topic messages", async () => {
  const body = await makeBody(seller.address);
  const forgedSignature = await mallory.signTypedData({
    domain: ANNOUNCEMENT_DOMAIN,
    types: ANNOUNCEMENT_TYPES,
    primaryType: "Announcement",
    message: toTypedMessage(body),
  });
  const forged = dagCbor.encode({ ...body, signature: forgedSignature });
  const future = Date.now() + hour;
  const farFuture = encodeAnnouncement(
    await signAnnouncement(seller, { ...body, timestamp: future }, { now: future }),
    { now: future },
  );
  const bigPreview = Array.from({ length: 10 }, () => ["x".repeat(256), 1]);
  const big = await signAnnouncement(seller, {
    ...body,
    schema: [{ name: "note", type: "string" }, { name: "n", type: "number" }],
    preview: bigPreview,
    description: "d".repeat(4000),
    title: "t".repeat(200),
  });
  // Grow the message just past the limit with a longer (still valid) description in the encoding.
  let oversized = dagCbor.encode(big);
  const pad = MAX_ANNOUNCEMENT_BYTES + 1 - oversized.byteLength;
  if (pad > 0) oversized = dagCbor.encode({ ...big, description: big.description + "e".repeat(pad) });
  assert.ok(
    oversized.byteLength > MAX_ANNOUNCEMENT_BYTES && oversized.byteLength < MAX_ANNOUNCEMENT_BYTES + 64,
  );
  const valid = encodeAnnouncement(await signAnnouncement(seller, body));
  const cases: [string, unknown, RegExp][] = [
    ["forged", forged, /signed by .*not the seller/],
    ["not CBOR", new TextEncoder().encode("hello"), /not DAG-CBOR/],
    ["schema", dagCbor.encode({ ...body, price: -1, signature: forgedSignature }), /price/],
    ["truncated", valid.subarray(0, valid.byteLength - 3), /not DAG-CBOR/],
    ["oversized", oversized, /over 65536/],
    ["far future", farFuture, /in the future/],
    ["not bytes", "hello", /not bytes/],
  ];
  for (const [name, bytes, reason] of cases) {
    const check = await checkAnnouncement(bytes);
    assert.equal(check.result, "reject", name);
    assert.match(check.result === "reject" ? check.reason : "", reason, name);
  }
  const offTopic = await checkAnnouncement(valid, { category: "health" });
  assert.equal(offTopic.result, "reject");
});

Deno.test("checkAnnouncement() ignores expired announcements", async () => {
  const old = Date.now() - 31 * 24 * hour;
  const signed = await signAnnouncement(
    seller,
    await makeBody(seller.address, { createdAt: old, timestamp: old }),
  );
  const check = await checkAnnouncement(encodeAnnouncement(signed));
  assert.deepEqual(check, { result: "ignore", reason: "expired" });
  assert.equal(
    (await checkAnnouncement(encodeAnnouncement(signed), { maxAge: 32 * 24 * hour })).result,
    "accept",
  );
});

Deno.test("ingestAnnouncement() indexes once, ignores duplicates and older copies, keeps the first seller", async () => {
  await using dir = await tempDir();
  const db = openDatabase(join(dir.path, "kosmos.db"));
  const store = new CatalogStore(db);
  const signed = await signAnnouncement(seller, await makeBody(seller.address));
  const newer = await resign(seller, signed, { title: "newer", timestamp: signed.timestamp + 1 });
  assert.equal((await ingestAnnouncement(store, encodeAnnouncement(signed))).result, "accept");
  assert.deepEqual(await ingestAnnouncement(store, encodeAnnouncement(signed)), {
    result: "ignore",
    reason: "already known",
  });
  assert.equal((await ingestAnnouncement(store, encodeAnnouncement(newer))).result, "accept");
  assert.equal((await ingestAnnouncement(store, encodeAnnouncement(signed))).result, "ignore");
  const hijack = await signAnnouncement(mallory, {
    ...(await makeBody(mallory.address)),
    manifestCid: signed.manifestCid,
    timestamp: newer.timestamp + 1,
  });
  const contested = await ingestAnnouncement(store, encodeAnnouncement(hijack));
  assert.deepEqual([contested.result, (contested as { reason: string }).reason], [
    "ignore",
    "listed by another seller",
  ]);
  // Kept aside, in case the registry names mallory the owner.
  assert.deepEqual((contested as { contested?: { announcement: unknown } }).contested?.announcement, hijack);
  assert.equal(store.getListing(signed.manifestCid)?.title, "newer");
  assert.equal(store.count(), 1);
  db.close();
});

Deno.test("checkAnnouncement() rejects a staked manifest CID from anyone but its registry owner, before checking signatures", async () => {
  const body = await makeBody(seller.address);
  const getOwner = () => toAddress(seller.address);
  const squat = await signAnnouncement(mallory, { ...body, seller: toAddress(mallory.address) });
  const check = await checkAnnouncement(encodeAnnouncement(squat), { getOwner });
  assert.equal(check.result, "reject");
  assert.match((check as { reason: string }).reason, /staked by 0x/);
  // Not even a signature recovery: a message with a broken signature gets the same answer.
  const broken = dagCbor.encode({
    ...dagCbor.decode(encodeAnnouncement(squat)) as object,
    signature: "0x00",
  });
  assert.equal((await checkAnnouncement(broken, { getOwner })).result, "reject");
  assert.equal(
    (await checkAnnouncement(encodeAnnouncement(squat), { getOwner, notOwner: "ignore" })).result,
    "ignore",
  );
  const owned = await signAnnouncement(seller, body);
  assert.equal((await checkAnnouncement(encodeAnnouncement(owned), { getOwner })).result, "accept");
});

Deno.test("ingestAnnouncement() admits new unstaked listings only while admitNew() allows, and known ones always", async () => {
  await using dir = await tempDir();
  const db = openDatabase(join(dir.path, "kosmos.db"));
  const store = new CatalogStore(db);
  let tokens = 1;
  const admitNew = () => tokens-- > 0;
  const first = await signAnnouncement(seller, await makeBody(seller.address));
  const second = await signAnnouncement(seller, await makeBody(seller.address));
  assert.equal((await ingestAnnouncement(store, encodeAnnouncement(first), { admitNew })).result, "accept");
  const limited = await ingestAnnouncement(store, encodeAnnouncement(second), { admitNew });
  assert.equal(limited.result, "ignore");
  const update = await resign(seller, first, { timestamp: first.timestamp + 1 });
  assert.equal((await ingestAnnouncement(store, encodeAnnouncement(update), { admitNew })).result, "accept");
  store.setStakes([{
    manifestCid: second.manifestCid,
    stake: "1",
    challenges: 0,
    listingIds: ["1"],
    owner: seller.address,
  }]);
  assert.equal((await ingestAnnouncement(store, encodeAnnouncement(second), { admitNew })).result, "accept");
  db.close();
});
