import assert from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import fc from "fast-check";
import { CID } from "multiformats/cid";
import { manifestArb } from "./arbitraries_test.ts";
import { DAG_CBOR_CODE } from "./ids.ts";
import {
  decodeManifest,
  encodeManifest,
  type Manifest,
  MAX_MANIFEST_BYTES,
  MAX_TITLE_LENGTH,
  validateManifest,
} from "./manifest.ts";

function sample(): Manifest {
  return fc.sample(manifestArb, { numRuns: 1, seed: 42 })[0];
}

Deno.test("manifestArb generates only valid manifests", () => {
  fc.assert(fc.property(manifestArb, (m) => assert.deepEqual(validateManifest(m), m)), { numRuns: 200 });
});

Deno.test("encodeManifest() and decodeManifest() round-trip any valid manifest under a dag-cbor CID", async () => {
  await fc.assert(
    fc.asyncProperty(manifestArb, async (manifest) => {
      const encoded = await encodeManifest(manifest);
      assert.equal(encoded.cid.code, DAG_CBOR_CODE);
      assert.equal(encoded.cid.version, 1);
      assert.equal(encoded.manifestCid, encoded.cid.toString());
      const decoded = await decodeManifest(encoded.bytes, encoded.cid);
      assert.deepEqual(decoded.manifest, manifest);
      assert.equal(decoded.manifestCid, encoded.manifestCid);
      const again = await encodeManifest(decoded.manifest);
      assert.deepEqual(again.bytes, encoded.bytes);
    }),
    { numRuns: 100 },
  );
});

Deno.test("decodeManifest() rejects bytes that do not hash to the expected CID", async () => {
  const { bytes, cid } = await encodeManifest(sample());
  const other = await encodeManifest({ ...sample(), title: "other" });
  await assert.rejects(() => decodeManifest(bytes, other.cid), /bytes hash to/);
  const flipped = bytes.slice();
  flipped[flipped.length - 1] ^= 1;
  await assert.rejects(() => decodeManifest(flipped, cid), /bytes hash to/);
  await assert.rejects(() => decodeManifest(new Uint8Array(MAX_MANIFEST_BYTES + 1)), /over/);
  await assert.rejects(() => decodeManifest(new Uint8Array([0xff, 0x00])), /not DAG-CBOR/);
});

Deno.test("decodeManifest() rejects a non-canonical encoding of a valid manifest", async () => {
  const { bytes } = await encodeManifest(sample());
  // `"v": 1` is 0x61 0x76 0x01; spell the 1 in two bytes (0x18 0x01), which is valid CBOR but not canonical.
  const at = bytes.findIndex((b, i) => b === 0x61 && bytes[i + 1] === 0x76 && bytes[i + 2] === 0x01);
  assert.ok(at > 0);
  const loose = new Uint8Array([...bytes.subarray(0, at + 2), 0x18, 0x01, ...bytes.subarray(at + 3)]);
  await assert.rejects(() => decodeManifest(loose), TypeError);
});

Deno.test("decodeManifest() names the bad field of a well-formed but invalid manifest", async () => {
  const good = sample();
  const bytes = dagCbor.encode({ ...good, price: "1.5" });
  await assert.rejects(
    () => decodeManifest(bytes),
    /Cannot decode manifest "bafy[a-z0-9]+": field "price" must be a decimal string/,
  );
});

Deno.test("validateManifest() throws a TypeError naming each bad field", () => {
  const good = sample();
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ v: 2 }, /field "v" must be 1/],
    [{ price: "-1" }, /field "price"/],
    [{ price: "0x10" }, /field "price"/],
    [{ price: (2n ** 256n).toString() }, /field "price"/],
    [{ seller: good.seller.toLowerCase() }, /field "seller" must be an EIP-55/],
    [{ gateway: "0x1234" }, /field "gateway" must be an EVM address/],
    [{ category: "weather" }, /field "category" must be one of/],
    [{ title: "" }, /field "title" must not be empty/],
    [{ title: "x".repeat(MAX_TITLE_LENGTH + 1) }, /field "title" must be at most 200/],
    [{ byteLength: good.chunkSize * good.chunks.length + 1 }, /field "chunks" must have ceil/],
    [
      { chunks: [CID.parse("bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")] },
      /field "chunks\[0\]"/,
    ],
    [{ merkleRoot: "0xAB" }, /field "merkleRoot"/],
    [{ dekCommit: good.dekCommit.toUpperCase() }, /field "dekCommit"/],
    [{ schema: [{ name: "a", type: "date" }] }, /field "schema\[0\].type"/],
    [
      { schema: [{ name: "a", type: "string" }, { name: "a", type: "string" }], preview: [] },
      /repeat a column/,
    ],
    [
      { schema: [{ name: "a", type: "string" }], preview: [["x", "y"]] },
      /field "preview\[0\]" must have 1 cells/,
    ],
    [{ schema: [{ name: "a", type: "string" }], preview: [[{}]] }, /field "preview\[0\]\[0\]"/],
    [{ timeRange: { from: 2, to: 1 } }, /field "timeRange" must have from ≤ to/],
    [{ privacy: { epsilon: 0 } }, /field "privacy.epsilon"/],
    [{ privacy: { k: 0.5 } }, /field "privacy.k" must be an integer/],
    [{ privacy: { epsilon: 1, unit: "visitor" } }, /field "privacy.unit" must be one of person/],
    [{ privacy: { epsilon: 1, unit: "person", days: 0 } }, /field "privacy.days" must be between 1 and 366/],
    [{ privacy: { epsilon: 1, unit: "person", days: 367 } }, /field "privacy.days"/],
    [{ privacy: { epsilon: 1, unit: "person", days: 1.5 } }, /field "privacy.days" must be an integer/],
    [{ privacy: { epsilon: 1, delta: -1e-6 } }, /field "privacy.delta" must be a number from 0 to 0.001/],
    [{ privacy: { epsilon: 1, delta: 0.01 } }, /field "privacy.delta"/],
    [{ privacy: { epsilon: 1, delta: "1e-6" } }, /field "privacy.delta"/],
    [{ consent: [""] }, /field "consent\[0\]"/],
    [{ licence: { id: "x", url: "y" } }, /field "licence.url" is not allowed/],
    [{ filename: "../etc/passwd" }, /field "filename"/],
    [{ extra: true }, /field "extra" is not allowed/],
    [{ rowCount: -1 }, /field "rowCount"/],
    [{ chunkSize: 100 }, /field "chunkSize"/],
  ];
  for (const [patch, pattern] of cases) {
    assert.throws(() => validateManifest({ ...good, ...patch }), (err: Error) => {
      assert.ok(err instanceof TypeError, `${JSON.stringify(patch)}: ${err}`);
      assert.match(err.message, /^Invalid manifest: /);
      assert.match(err.message, pattern);
      return true;
    });
  }
  assert.throws(() => validateManifest(null), /must be an object/);
});

Deno.test("a release's person-level privacy report (unit, days, δ) survives encoding; a report without it still parses", async () => {
  const good = sample();
  const privacy = { k: 10, epsilon: 1, unit: "person" as const, days: 30, delta: 1e-6 };
  const manifest = validateManifest({ ...good, privacy });
  assert.deepEqual(manifest.privacy, privacy);
  const encoded = await encodeManifest(manifest);
  assert.deepEqual((await decodeManifest(encoded.bytes, encoded.cid)).manifest.privacy, privacy);
  assert.deepEqual(validateManifest({ ...good, privacy: { k: 10, epsilon: 1 } }).privacy, {
    k: 10,
    epsilon: 1,
  });
  assert.deepEqual(validateManifest({ ...good, privacy: { ...privacy, delta: 0 } }).privacy.delta, 0);
});
