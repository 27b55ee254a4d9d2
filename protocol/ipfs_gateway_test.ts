import assert from "node:assert/strict";
import { CarReader } from "@ipld/car";
import * as dagCbor from "@ipld/dag-cbor";
import { base36 } from "multiformats/bases/base36";
import { base58btc } from "multiformats/bases/base58";
import { base64 } from "multiformats/bases/base64";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { identity } from "multiformats/hashes/identity";
import { sha256 } from "multiformats/hashes/sha2";
import {
  encodeCarBlock,
  encodeCarHeader,
  getBlockLinks,
  MAX_IDENTITY_BYTES,
  parseGatewayCid,
} from "./ipfs_gateway.ts";

const bytes = new TextEncoder().encode("an encrypted chunk, say");
const cid = CID.createV1(raw.code, await sha256.digest(bytes));

Deno.test("parseGatewayCid() reads a CID in any multibase, and CIDv0", () => {
  for (const text of [cid.toString(), cid.toString(base36), cid.toString(base58btc), cid.toString(base64)]) {
    assert.ok(parseGatewayCid(text).equals(cid), text);
  }
  const v0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
  assert.equal(parseGatewayCid(v0).version, 0);
  assert.equal(parseGatewayCid("bafkqaaa").multihash.size, 0);
});

Deno.test("parseGatewayCid() refuses empty, overlong and malformed strings and large identity CIDs with a TypeError", () => {
  const bigIdentity = CID.createV1(raw.code, identity.digest(new Uint8Array(MAX_IDENTITY_BYTES + 1)));
  for (const text of ["", "x", "bafy", `b${"a".repeat(300)}`, "bafkrei!!", "/etc", bigIdentity.toString()]) {
    assert.throws(() => parseGatewayCid(text), TypeError, JSON.stringify(text));
  }
  assert.throws(() => parseGatewayCid("nope"), /Invalid CID "nope"/);
});

Deno.test("encodeCarHeader() and encodeCarBlock() write a CARv1 that @ipld/car reads back", async () => {
  const node = dagCbor.encode({ chunks: [cid] });
  const nodeCid = CID.createV1(dagCbor.code, await sha256.digest(node));
  const car = new Uint8Array([
    ...encodeCarHeader([nodeCid]),
    ...encodeCarBlock(nodeCid, node),
    ...encodeCarBlock(cid, bytes),
  ]);
  const reader = await CarReader.fromBytes(car);
  assert.equal(reader.version, 1);
  assert.deepEqual((await reader.getRoots()).map(String), [nodeCid.toString()]);
  const blocks = [];
  for await (const block of reader.blocks()) blocks.push([block.cid.toString(), block.bytes]);
  assert.deepEqual(blocks, [[nodeCid.toString(), node], [cid.toString(), bytes]]);
});

Deno.test("getBlockLinks() lists a DAG-CBOR block's links depth first, none for raw, and refuses bytes that do not decode", async () => {
  const other = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode("other")));
  const node = dagCbor.encode({ a: [cid, { deep: other }], b: "text", c: new Uint8Array([1]) });
  const nodeCid = CID.createV1(dagCbor.code, await sha256.digest(node));
  assert.deepEqual(getBlockLinks(nodeCid, node).map(String), [cid.toString(), other.toString()]);
  assert.deepEqual(getBlockLinks(cid, bytes), []);
  assert.throws(() => getBlockLinks(nodeCid, new Uint8Array([0xff, 0x00])), TypeError);
});
