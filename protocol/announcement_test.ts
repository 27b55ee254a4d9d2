import assert from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import fc from "fast-check";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { announcementBodyArb } from "./arbitraries_test.ts";
import {
  type Announcement,
  ANNOUNCEMENT_DOMAIN,
  ANNOUNCEMENT_TYPES,
  type AnnouncementBody,
  decodeAnnouncement,
  encodeAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
  MAX_CLOCK_SKEW,
  signAnnouncement,
  toTypedMessage,
  validateAnnouncement,
  validateAnnouncementBody,
  verifyAnnouncement,
} from "./announcement.ts";
import { type Address, toAddress } from "./ids.ts";

const NOW = 1_800_000_000_000;
const seller = privateKeyToAccount(generatePrivateKey());
const mallory = privateKeyToAccount(generatePrivateKey());

function body(patch: Partial<AnnouncementBody> = {}): AnnouncementBody {
  const base = fc.sample(announcementBodyArb(NOW), { numRuns: 1, seed: 7 })[0];
  return { ...base, seller: toAddress(seller.address), ...patch };
}

Deno.test("announcementBodyArb generates only valid bodies", () => {
  fc.assert(
    fc.property(
      announcementBodyArb(NOW),
      (b) => assert.deepEqual(validateAnnouncementBody(b, { now: NOW }), b),
    ),
    { numRuns: 200 },
  );
});

Deno.test("signAnnouncement() and verifyAnnouncement() round-trip through encode and decode", async () => {
  await fc.assert(
    fc.asyncProperty(announcementBodyArb(NOW), async (b) => {
      const signed = await signAnnouncement(seller, { ...b, seller: toAddress(seller.address) }, {
        now: NOW,
      });
      const bytes = encodeAnnouncement(signed, { now: NOW });
      assert.ok(bytes.byteLength <= MAX_ANNOUNCEMENT_BYTES);
      const decoded = decodeAnnouncement(bytes, { now: NOW });
      assert.deepEqual(decoded, signed);
      assert.deepEqual(await verifyAnnouncement(decoded, { now: NOW }), signed);
    }),
    { numRuns: 25 },
  );
});

Deno.test("verifyAnnouncement() rejects a message changed after signing", async () => {
  const signed = await signAnnouncement(seller, body(), { now: NOW });
  const changes: Partial<Announcement>[] = [
    { title: signed.title + "!" },
    { price: (BigInt(signed.price) + 1n).toString() },
    { preview: [...signed.preview, signed.schema.map(() => null)] },
    { providers: ["12D3KooWEvil"] },
    { timestamp: signed.timestamp - 1 },
  ];
  for (const change of changes) {
    await assert.rejects(() => verifyAnnouncement({ ...signed, ...change }, { now: NOW }), /not the seller/);
  }
});

Deno.test("verifyAnnouncement() rejects a signature by anyone but the seller", async () => {
  const b = body();
  await assert.rejects(() => signAnnouncement(mallory, b, { now: NOW }), /is not the seller/);
  const forged = await mallory.signTypedData({
    domain: ANNOUNCEMENT_DOMAIN,
    types: ANNOUNCEMENT_TYPES,
    primaryType: "Announcement",
    message: toTypedMessage(b),
  });
  await assert.rejects(
    () => verifyAnnouncement({ ...b, signature: forged }, { now: NOW }),
    new RegExp(`signed by ${mallory.address}, not the seller ${seller.address}`),
  );
});

Deno.test("validateAnnouncement() rejects a malleated high-s copy of a valid signature", async () => {
  const signed = await signAnnouncement(seller, body(), { now: NOW });
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const s = BigInt("0x" + signed.signature.slice(66, 130));
  const v = parseInt(signed.signature.slice(130), 16);
  const highS = (n - s).toString(16).padStart(64, "0");
  const malleated = `${signed.signature.slice(0, 66)}${highS}${
    (v === 27 ? 28 : 27).toString(16)
  }` as `0x${string}`;
  assert.throws(() => validateAnnouncement({ ...signed, signature: malleated }, { now: NOW }), /low-s/);
});

Deno.test("validateAnnouncement() rejects timestamps more than 5 minutes ahead of now", async () => {
  const signed = await signAnnouncement(seller, body(), { now: NOW });
  const atLimit = { ...signed, timestamp: NOW + MAX_CLOCK_SKEW };
  assert.equal(validateAnnouncement(atLimit, { now: NOW }).timestamp, NOW + MAX_CLOCK_SKEW);
  assert.throws(
    () => validateAnnouncement({ ...signed, timestamp: NOW + MAX_CLOCK_SKEW + 1 }, { now: NOW }),
    /field "timestamp" is more than 300000 ms in the future/,
  );
  assert.throws(() => validateAnnouncement(signed, { now: signed.timestamp - MAX_CLOCK_SKEW - 1 }), /future/);
  assert.throws(
    () => validateAnnouncement({ ...signed, createdAt: signed.timestamp + 1 }, { now: NOW }),
    /field "createdAt" must not be after timestamp/,
  );
});

Deno.test("decodeAnnouncement() enforces MAX_ANNOUNCEMENT_BYTES before decoding and validates fields", async () => {
  assert.throws(() => decodeAnnouncement(new Uint8Array(MAX_ANNOUNCEMENT_BYTES + 1)), /is over 65536/);
  assert.throws(() => decodeAnnouncement(new Uint8Array([0xa1])), /not DAG-CBOR/);
  const signed = await signAnnouncement(seller, body(), { now: NOW });
  const bad = dagCbor.encode({ ...signed, seller: "0x1234" });
  assert.throws(
    () => decodeAnnouncement(bad, { now: NOW }),
    /Cannot decode announcement "bafy[a-z0-9]+": field "seller"/,
  );
  const extra = dagCbor.encode({ ...signed, note: "hi" });
  assert.throws(() => decodeAnnouncement(extra, { now: NOW }), /field "note" is not allowed/);
});

Deno.test("encodeAnnouncement() refuses a message over MAX_ANNOUNCEMENT_BYTES", async () => {
  const columns = Array.from({ length: 40 }, (_, i) => ({ name: `c${i}`, type: "string" as const }));
  const preview = Array.from({ length: 10 }, () => columns.map(() => "x".repeat(256)));
  const signed = await signAnnouncement(seller, body({ schema: columns, preview }), { now: NOW });
  assert.throws(() => encodeAnnouncement(signed, { now: NOW }), RangeError);
});

Deno.test("validateAnnouncement() names bad fields", () => {
  const b = { ...body(), signature: "0x" + "ab".repeat(65) };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ v: 2 }, /field "v"/],
    [{ manifestCid: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku" }, /field "manifestCid"/],
    [{ category: "nope" }, /field "category"/],
    [{ chunkCount: 0 }, /field "chunkCount"/],
    [{ providers: ["not a peer id"] }, /field "providers\[0\]"/],
    [{ providers: Array(9).fill("12D3KooW") }, /field "providers" must have at most 8/],
    [{ signature: "0x1234" }, /field "signature"/],
    [{ seller: "0x" + "0".repeat(39) + "1" as Address }, /Invalid announcement "bafy[a-z0-9]+"/],
  ];
  for (const [patch, pattern] of cases) {
    assert.throws(() => validateAnnouncement({ ...b, ...patch }, { now: NOW }), pattern);
  }
});
