import assert from "node:assert/strict";
import fc from "fast-check";
import { CID } from "multiformats/cid";
import { base58btc } from "multiformats/bases/base58";
import * as Digest from "multiformats/hashes/digest";
import { DAG_CBOR_CODE, RAW_CODE, SHA2_256_CODE, toAddress, toListingId, toManifestCid } from "./ids.ts";

const digest = Digest.create(SHA2_256_CODE, new Uint8Array(32).fill(7));
const manifestCid = CID.createV1(DAG_CBOR_CODE, digest);

Deno.test("toManifestCid() accepts a base32 CIDv1 dag-cbor sha2-256 string and nothing else", () => {
  assert.equal(toManifestCid(manifestCid.toString()), manifestCid.toString());
  assert.equal(toListingId(manifestCid.toString()), manifestCid.toString());
  const bad: unknown[] = [
    CID.createV1(RAW_CODE, digest).toString(),
    CID.createV0(digest).toString(),
    manifestCid.toString(base58btc),
    CID.createV1(DAG_CBOR_CODE, Digest.create(0x13, new Uint8Array(64))).toString(),
    "bafy-not-a-cid",
    "",
    42,
    null,
    "b".repeat(200),
  ];
  for (const value of bad) {
    assert.throws(() => toManifestCid(value), TypeError, String(value));
    assert.throws(() => toListingId(value), TypeError, String(value));
  }
  assert.throws(() => toManifestCid(CID.createV1(RAW_CODE, digest).toString()), /codec 0x55 is not 0x71/);
});

Deno.test("toAddress() returns the EIP-55 form and rejects bad checksums and lengths", () => {
  const checksummed = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
  assert.equal(toAddress(checksummed.toLowerCase()), checksummed);
  assert.equal(toAddress("0x" + checksummed.slice(2).toUpperCase()), checksummed);
  assert.equal(toAddress(checksummed), checksummed);
  assert.throws(() => toAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"), /checksum/);
  assert.throws(() => toAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae"), /40 hex digits/);
  assert.throws(() => toAddress("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"), TypeError);
  assert.throws(() => toAddress(undefined), TypeError);
});

Deno.test("toAddress() is idempotent over random addresses in any case", () => {
  fc.assert(fc.property(fc.stringMatching(/^[0-9a-f]{40}$/), (hex) => {
    const address = toAddress("0x" + hex);
    assert.equal(toAddress(address), address);
    assert.equal(address.toLowerCase(), "0x" + hex);
  }));
});
