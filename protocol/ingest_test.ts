import assert from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { decodeBatchNotice, decodeBatchReply, encodeBatchNotice, encodeBatchReply } from "./ingest.ts";

const raw = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode("sealed"))).toString();
const dagCborCid = CID.createV1(0x71, await sha256.digest(new TextEncoder().encode("manifest"))).toString();

Deno.test("decodeBatchNotice() reads what encodeBatchNotice() wrote", () => {
  const notice = { v: 2, op: "deliver", cid: raw, site: "example.com" } as const;
  assert.deepEqual(decodeBatchNotice(encodeBatchNotice(notice)), notice);
  assert.deepEqual(decodeBatchNotice(encodeBatchNotice({ ...notice, op: "hold" })).op, "hold");
});

Deno.test("decodeBatchNotice() rejects anything but a raw sha2-256 CID, a known op and a domain", () => {
  const ok = { v: 2, op: "deliver", cid: raw, site: "example.com" };
  for (
    const bad of [
      { ...ok, v: 1 },
      { ...ok, op: "drop" },
      { ...ok, cid: dagCborCid },
      { ...ok, cid: "not a cid" },
      { ...ok, site: "https://example.com" },
      { ...ok, extra: 1 },
      [ok],
    ]
  ) {
    assert.throws(() => decodeBatchNotice(dagCbor.encode(bad)), TypeError, JSON.stringify(bad));
  }
  assert.throws(() => decodeBatchNotice(new Uint8Array([0xff, 0x00])), TypeError);
  assert.throws(() => decodeBatchNotice(new Uint8Array(2000)), /too large/);
});

Deno.test("decodeBatchReply() accepts ack, reject and retry, and cuts long reasons", () => {
  assert.deepEqual(decodeBatchReply(encodeBatchReply({ ack: raw })), { ack: raw });
  assert.deepEqual(decodeBatchReply(encodeBatchReply({ retry: "later" })), { retry: "later" });
  const reply = decodeBatchReply(encodeBatchReply({ reject: "x".repeat(500) }));
  assert.ok("reject" in reply && reply.reject.length === 200);
  assert.throws(() => decodeBatchReply(dagCbor.encode({ ack: raw, reject: "both" })), TypeError);
  assert.throws(() => decodeBatchReply(dagCbor.encode({ ok: true })), TypeError);
});
