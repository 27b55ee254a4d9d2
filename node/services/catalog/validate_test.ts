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
  assert.deepEqual(await ingestAnnouncement(store, encodeAnnouncement(hijack)), {
    result: "ignore",
    reason: "listed by another seller",
  });
  assert.equal(store.getListing(signed.manifestCid)?.title, "newer");
  assert.equal(store.count(), 1);
  db.close();
});
