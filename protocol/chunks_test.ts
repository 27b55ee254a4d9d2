import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { decodeRequest, encodeRequest, MAX_REQUEST_BYTES, OP_GET, OP_HAS, statusName } from "./chunks.ts";

const digest = Digest.create(0x12, crypto.getRandomValues(new Uint8Array(32)));
const raw = CID.createV1(0x55, digest);
const cbor = CID.createV1(0x71, digest);

Deno.test("decodeRequest() reads back what encodeRequest() wrote, for chunks and manifests", () => {
  for (const op of [OP_GET, OP_HAS] as const) {
    for (const cid of [raw, cbor]) {
      const decoded = decodeRequest(encodeRequest(op, cid));
      assert.equal(decoded.op, op);
      assert.ok(decoded.cid.equals(cid));
    }
  }
  assert.ok(encodeRequest(OP_GET, raw).byteLength <= MAX_REQUEST_BYTES);
});

Deno.test("decodeRequest() rejects unknown ops, garbage, other codecs and hashes, and oversized frames", () => {
  assert.throws(() => decodeRequest(Uint8Array.of(7, ...raw.bytes)), /unknown op 7/);
  assert.throws(() => decodeRequest(Uint8Array.of(OP_GET, 1, 2, 3)), /not a CID/);
  assert.throws(() => decodeRequest(Uint8Array.of(OP_GET)), TypeError);
  assert.throws(() => decodeRequest(new Uint8Array(MAX_REQUEST_BYTES + 1)), TypeError);
  const dagPb = CID.createV1(0x70, digest);
  assert.throws(() => decodeRequest(encodeRequest(OP_GET, dagPb)), /not a CIDv1 raw or dag-cbor/);
  const identity = CID.createV1(0x55, Digest.create(0x00, new Uint8Array(4)));
  assert.throws(() => decodeRequest(encodeRequest(OP_GET, identity)), /sha2-256/);
});

Deno.test("statusName() names known codes and marks unknown ones", () => {
  assert.equal(statusName(0), "ok");
  assert.equal(statusName(1), "notFound");
  assert.equal(statusName(99), "unknown(99)");
});
