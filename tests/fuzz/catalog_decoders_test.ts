/**
 * Fuzzing the decoders of the catalog path: announcements, catalog sync
 * frames and manifests.
 * Arbitrary bytes, CBOR length bombs, structurally valid DAG-CBOR/JSON with
 * wrong types, missing, extra and huge fields, and bit flips, truncations and
 * extensions of valid encodings. Each decoder either returns a value that
 * validates and encodes back to itself, or throws a clean, short error (see
 * `mod.ts`); oversized input is refused before it is parsed. Input counts are
 * in `FUZZ_RUNS`.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as dagCbor from "@ipld/dag-cbor";
import {
  decodeAnnouncement,
  encodeAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
  validateAnnouncement,
} from "../../protocol/announcement.ts";
import {
  decodeManifest,
  encodeManifest,
  MAX_MANIFEST_BYTES,
  validateManifest,
} from "../../protocol/manifest.ts";
import {
  decodeSyncFrame,
  decodeSyncRequest,
  encodeSyncFrame,
  encodeSyncRequest,
  MAX_SYNC_FRAME_BYTES,
  MAX_SYNC_REQUEST_BYTES,
} from "../../node/services/catalog/sync.ts";
import { checkAnnouncement } from "../../node/services/catalog/validate.ts";
import { manifestArb } from "../../protocol/arbitraries_test.ts";
import { expectClean, FUZZ_RUNS, fuzzParams, mutatedBytes, toCbor, wrongFields } from "./mod.ts";
import { announcementArb, assertRefusesOversized, fuzz, NOW } from "./arbitraries.ts";

// ---------------------------------------------------------------- announcements

Deno.test("decodeAnnouncement() and the catalog's checkAnnouncement() reject hostile bytes cleanly", async () => {
  const valid = announcementArb.map((a) => encodeAnnouncement(a, { now: NOW }));
  const structured = wrongFields(announcementArb as unknown as fc.Arbitrary<Record<string, unknown>>).map(
    toCbor,
  );
  await fuzz(FUZZ_RUNS.announcement.decoder, valid, structured, async (bytes) => {
    const value = await expectClean("decodeAnnouncement()", () => decodeAnnouncement(bytes, { now: NOW }));
    if (value) {
      assert.deepEqual(validateAnnouncement(value, { now: NOW }), value);
      assert.deepEqual(decodeAnnouncement(encodeAnnouncement(value, { now: NOW }), { now: NOW }), value);
    }
    const check = await expectClean(
      "checkAnnouncement()",
      () => checkAnnouncement(bytes, { now: NOW, maxAge: NOW }),
    );
    assert.ok(check, "checkAnnouncement() never throws");
    if (check.result === "accept") {
      assert.deepEqual(check.announcement, decodeAnnouncement(bytes, { now: NOW }));
    } else {
      assert.ok(check.reason.length > 0 && check.reason.length <= 600, `bad reason "${check.reason}"`);
    }
    if (value === undefined) assert.equal(check.result, "reject", "the catalog rejects what does not decode");
    return value !== undefined;
  });
  await assertRefusesOversized("decodeAnnouncement()", MAX_ANNOUNCEMENT_BYTES, (b) => decodeAnnouncement(b));
  const big = await checkAnnouncement(new Uint8Array(MAX_ANNOUNCEMENT_BYTES + 1));
  assert.equal(big.result, "reject");
});

// ---------------------------------------------------------------- catalog sync

Deno.test("decodeSyncRequest() and decodeSyncFrame() reject hostile bytes cleanly", async () => {
  const request = fc.record({
    v: fc.constant(1 as const),
    epoch: fc.option(fc.string({ minLength: 1, maxLength: 64 }), { nil: null }),
    cursor: fc.nat(),
    limit: fc.integer({ min: 1, max: 10_000 }),
  });
  const frame = fc.oneof(
    announcementArb.map((a) => ({ announcement: encodeAnnouncement(a, { now: NOW }) })),
    fc.record({
      done: fc.record({
        epoch: fc.string({ minLength: 1, maxLength: 64 }),
        cursor: fc.nat(),
        more: fc.boolean(),
      }),
    }),
  );
  const half = FUZZ_RUNS.catalogSync.decoder / 2;
  await fuzz(half, request.map(encodeSyncRequest), wrongFields(request).map(toCbor), async (bytes) => {
    const value = await expectClean("decodeSyncRequest()", () => decodeSyncRequest(bytes));
    if (value) assert.deepEqual(decodeSyncRequest(encodeSyncRequest(value)), value);
    return value !== undefined;
  });
  await fuzz(
    half,
    frame.map(encodeSyncFrame),
    wrongFields(frame as fc.Arbitrary<Record<string, unknown>>).map(toCbor),
    async (bytes) => {
      const value = await expectClean("decodeSyncFrame()", () => decodeSyncFrame(bytes));
      if (value) assert.deepEqual(decodeSyncFrame(encodeSyncFrame(value)), value);
      return value !== undefined;
    },
  );
  await assertRefusesOversized("decodeSyncRequest()", MAX_SYNC_REQUEST_BYTES, decodeSyncRequest);
  await assertRefusesOversized("decodeSyncFrame()", MAX_SYNC_FRAME_BYTES, decodeSyncFrame);
});

// ---------------------------------------------------------------- manifest

Deno.test("decodeManifest() rejects hostile bytes cleanly and accepts only canonical manifests", async () => {
  const manifests = fc.sample(manifestArb, { numRuns: 12, seed: 7 });
  const encoded = await Promise.all(manifests.map((m) => encodeManifest(m)));
  const valid = fc.constantFrom(...encoded.map((e) => e.bytes));
  const structured = wrongFields(
    fc.constantFrom(...encoded.map((e) => dagCbor.decode<Record<string, unknown>>(e.bytes))),
  ).map(toCbor);
  await fuzz(FUZZ_RUNS.manifest.decoder, valid, structured, async (bytes) => {
    const value = await expectClean("decodeManifest()", () => decodeManifest(bytes));
    if (value) {
      assert.deepEqual(validateManifest(value.manifest), value.manifest);
      const again = await encodeManifest(value.manifest);
      assert.deepEqual(again.bytes, bytes, "a decoded manifest encodes to the same bytes");
      assert.equal(again.manifestCid, value.manifestCid);
    }
    return value !== undefined;
  });
  // Bytes that do not hash to the CID asked for are refused before they are parsed.
  const other = encoded[0].cid;
  await fc.assert(
    fc.asyncProperty(mutatedBytes(valid), async (bytes) => {
      const value = await expectClean("decodeManifest(cid)", () => decodeManifest(bytes, other));
      if (value) assert.equal(value.cid.toString(), other.toString());
    }),
    fuzzParams(50),
  );
  await assertRefusesOversized("decodeManifest()", MAX_MANIFEST_BYTES, decodeManifest);
});
