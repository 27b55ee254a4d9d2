/**
 * Fuzzing every decoder of what another peer sends: arbitrary bytes, CBOR
 * length bombs, structurally valid DAG-CBOR/JSON with wrong types, missing,
 * extra and huge fields, and bit flips, truncations and extensions of valid
 * encodings. Each decoder either returns a value that validates and encodes
 * back to itself, or throws a clean, short error (see `mod.ts`); oversized
 * input is refused before it is parsed. Input counts are in `FUZZ_RUNS`.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as dagCbor from "@ipld/dag-cbor";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { bytesToHex, keccak256 } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  type Announcement,
  decodeAnnouncement,
  encodeAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
  signAnnouncement,
  validateAnnouncement,
} from "../../protocol/announcement.ts";
import {
  decodeManifest,
  encodeManifest,
  MAX_MANIFEST_BYTES,
  validateManifest,
} from "../../protocol/manifest.ts";
import {
  decodeBatchNotice,
  decodeBatchReply,
  encodeBatchNotice,
  encodeBatchReply,
  MAX_BATCH_NOTICE_BYTES,
  signSealedBatch,
  verifySealedBatch,
} from "../../protocol/ingest.ts";
import {
  type AnalyticsEvent,
  checkAnalyticsEvent,
  decodeIngestReply,
  decodeSealedBatch,
  encodeIngestReply,
  encodeSealedBatch,
  MAX_SEALED_BATCH_BYTES,
  parseEventPayload,
  type SealedBatch,
} from "../../protocol/analytics.ts";
import {
  decodeSiteAnnouncement,
  encodeSiteAnnouncement,
  MAX_SITE_ANNOUNCEMENT_BYTES,
  MAX_SITE_PROOF_BYTES,
  parseSiteProof,
  signSiteAnnouncement,
  signSiteProof,
  type SiteAnnouncement,
  verifySiteAnnouncement,
  verifySiteProof,
} from "../../protocol/sites.ts";
import {
  decodeSaleRequest,
  decodeSaleResponse,
  encodeSaleRequest,
  encodeSaleResponse,
  MAX_SALE_REQUEST_BYTES,
  MAX_SALE_RESPONSE_BYTES,
  type SaleResponse,
} from "../../node/services/market/wire.ts";
import {
  decodeDelegateRequest,
  decodeDelegateResponse,
  type DelegateRequest,
  type DelegateResponse,
  encodeDelegateRequest,
  encodeDelegateResponse,
  MAX_DELEGATE_FRAME_BYTES,
} from "../../node/services/market/delegate_wire.ts";
import {
  decodeRequest,
  encodeRequest,
  MAX_REQUEST_BYTES,
  OP_GET,
  OP_HAS,
} from "../../node/services/transfer/wire.ts";
import {
  decodeSyncFrame,
  decodeSyncRequest,
  encodeSyncFrame,
  encodeSyncRequest,
  MAX_SYNC_FRAME_BYTES,
  MAX_SYNC_REQUEST_BYTES,
} from "../../node/services/catalog/sync.ts";
import { checkAnnouncement } from "../../node/services/catalog/validate.ts";
import {
  computeEvidenceHash,
  decodeDisputeEvidence,
  encodeDisputeEvidence,
  verifyDisputeEvidence,
} from "../../node/services/market/evidence.ts";
import { NotFoundError } from "../../node/errors.ts";
import { computeSaleKeyCommit, encodeSaleKeys } from "../../protocol/quote.ts";
import { openBatch, sealBatch } from "../../node/services/ingest/seal.ts";
import {
  addressArb,
  announcementBodyArb,
  hashArb,
  manifestArb,
  manifestCidArb,
  rawCidArb,
} from "../../protocol/arbitraries_test.ts";
import { CID } from "multiformats/cid";
import { toAddress } from "../../protocol/ids.ts";
import * as Digest from "multiformats/hashes/digest";
import {
  expectClean,
  FUZZ_RUNS,
  fuzzParams,
  hostileBytes,
  mutatedBytes,
  toCbor,
  toJsonBytes,
  wildValue,
  wrongFields,
} from "./mod.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");

const bytesArb = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const hexArb = (n: number) => bytesArb(n).map((b) => bytesToHex(b));
const domainArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}[a-z0-9]\.(com|org|example)$/);
const uintArb = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n });

/**
 * Runs the three kinds of hostile input (and some valid ones) through
 * `check`, `runs` in all; `check` says whether the decoder accepted. Both
 * outcomes must occur, or the generators are not reaching the decoder.
 */
async function fuzz(
  runs: number,
  valid: fc.Arbitrary<Uint8Array>,
  structured: fc.Arbitrary<Uint8Array>,
  check: (bytes: Uint8Array) => Promise<boolean>,
): Promise<void> {
  const seen = { accepted: 0, rejected: 0 };
  await fc.assert(
    fc.asyncProperty(hostileBytes(valid, structured), async (bytes) => {
      seen[await check(bytes) ? "accepted" : "rejected"]++;
    }),
    fuzzParams(runs),
  );
  assert.ok(seen.accepted > 0 && seen.rejected > 0, `expected both outcomes, got ${JSON.stringify(seen)}`);
}

/** Oversized input is refused quickly, by size, before it is parsed. */
async function assertRefusesOversized(what: string, max: number, decode: (b: Uint8Array) => unknown) {
  const bytes = new Uint8Array(max + 1).fill(0x61);
  const value = await expectClean(what, () => decode(bytes), { maxMs: 50 });
  assert.equal(value, undefined, `${what} accepted ${max + 1} bytes`);
}

// ---------------------------------------------------------------- announcements

const seller = privateKeyToAccount(generatePrivateKey());
const signedAnnouncements: Announcement[] = await Promise.all(
  fc.sample(announcementBodyArb(NOW), { numRuns: 12, seed: 42 }).map((body) =>
    signAnnouncement(seller, { ...body, seller: toAddress(seller.address) }, { now: NOW })
  ),
);
const announcementArb = fc.constantFrom(...signedAnnouncements);

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

// ---------------------------------------------------------------- sale

const quoteArb = fc.record({
  listingId: uintArb,
  buyer: addressArb,
  price: uintArb,
  zHash: hashArb,
  kSaleHash: hashArb,
  dekCommit: hashArb,
  gateway: addressArb,
  nonce: uintArb,
  deadline: fc.bigInt({ min: 0n, max: 2n ** 64n }),
});
const saleResponseArb: fc.Arbitrary<SaleResponse> = fc.oneof(
  fc.record({ v: fc.constant(1 as const), quote: quoteArb, signature: hexArb(65), z: hexArb(32) }),
  fc.record({
    v: fc.constant(1 as const),
    error: fc.record({
      code: fc.constantFrom("bad-request" as const, "unknown-listing" as const, "not-seller" as const),
      message: fc.string({ maxLength: 300 }),
    }),
  }),
);

Deno.test("decodeSaleRequest() rejects hostile bytes with a SaleProtocolError", async () => {
  const request = fc.record({
    v: fc.constant(1 as const),
    type: fc.constant("quote" as const),
    listingId: manifestCidArb as fc.Arbitrary<string>,
    buyer: addressArb,
  });
  const structured = wrongFields(request).map(toJsonBytes);
  await fuzz(FUZZ_RUNS.saleRequest.decoder, request.map(encodeSaleRequest), structured, async (bytes) => {
    const value = await expectClean("decodeSaleRequest()", () => decodeSaleRequest(bytes));
    if (value) assert.deepEqual(decodeSaleRequest(encodeSaleRequest(value)), value);
    return value !== undefined;
  });
  await assertRefusesOversized("decodeSaleRequest()", MAX_SALE_REQUEST_BYTES, decodeSaleRequest);
});

Deno.test("decodeSaleResponse() rejects hostile bytes with a SaleProtocolError", async () => {
  const asJson = saleResponseArb.map((r) => JSON.parse(new TextDecoder().decode(encodeSaleResponse(r))));
  const structured = fc.oneof(
    wrongFields(asJson),
    asJson.chain((r) =>
      wrongFields(fc.constant(r.quote ?? r.error)).map((inner) => ({ ...r, quote: inner }))
    ),
  ).map(toJsonBytes);
  await fuzz(
    FUZZ_RUNS.saleResponse.decoder,
    saleResponseArb.map(encodeSaleResponse),
    structured,
    async (bytes) => {
      const value = await expectClean("decodeSaleResponse()", () => decodeSaleResponse(bytes));
      if (value) assert.deepEqual(decodeSaleResponse(encodeSaleResponse(value)), value);
      return value !== undefined;
    },
  );
  await assertRefusesOversized("decodeSaleResponse()", MAX_SALE_RESPONSE_BYTES, decodeSaleResponse);
});

// ---------------------------------------------------------------- delegate

Deno.test("decodeDelegateRequest() and decodeDelegateResponse() reject hostile bytes cleanly", async () => {
  const request: fc.Arbitrary<DelegateRequest> = fc.oneof(
    fc.constant({ v: 1 as const, type: "hello" as const }),
    fc.record({
      v: fc.constant(1 as const),
      type: fc.constant("key" as const),
      manifestCid: manifestCidArb as fc.Arbitrary<string>,
      listingId: fc.bigInt({ min: 0n, max: 10n ** 70n }),
      owner: addressArb,
      sealed: fc.record({ epk: hexArb(32), iv: hexArb(12), ct: hexArb(48) }),
    }),
  );
  const response: fc.Arbitrary<DelegateResponse> = fc.oneof(
    fc.record({ v: fc.constant(1 as const), address: addressArb, publicKey: hexArb(32) }),
    fc.constant({ v: 1 as const, accepted: true as const }),
    fc.record({
      v: fc.constant(1 as const),
      error: fc.record({
        code: fc.constantFrom("bad-request" as const, "rejected" as const, "unavailable" as const),
        message: fc.string({ maxLength: 300 }),
      }),
    }),
  );
  const json = <T>(arb: fc.Arbitrary<T>, encode: (v: T) => Uint8Array) =>
    arb.map((v) => JSON.parse(new TextDecoder().decode(encode(v))) as Record<string, unknown>);
  await fuzz(
    FUZZ_RUNS.delegateRequest.decoder,
    request.map(encodeDelegateRequest),
    wrongFields(json(request, encodeDelegateRequest)).map(toJsonBytes),
    async (bytes) => {
      const value = await expectClean("decodeDelegateRequest()", () => decodeDelegateRequest(bytes));
      if (value) assert.deepEqual(decodeDelegateRequest(encodeDelegateRequest(value)), value);
      return value !== undefined;
    },
  );
  await fuzz(
    FUZZ_RUNS.delegateResponse.decoder,
    response.map(encodeDelegateResponse),
    wrongFields(json(response, encodeDelegateResponse)).map(toJsonBytes),
    async (bytes) => {
      const value = await expectClean("decodeDelegateResponse()", () => decodeDelegateResponse(bytes));
      if (value) assert.deepEqual(decodeDelegateResponse(encodeDelegateResponse(value)), value);
      return value !== undefined;
    },
  );
  await assertRefusesOversized("decodeDelegateRequest()", MAX_DELEGATE_FRAME_BYTES, decodeDelegateRequest);
  await assertRefusesOversized("decodeDelegateResponse()", MAX_DELEGATE_FRAME_BYTES, decodeDelegateResponse);
});

// ---------------------------------------------------------------- dispute evidence

Deno.test("decodeDisputeEvidence() and the arbiter's verifyDisputeEvidence() handle hostile evidence cleanly", async () => {
  const dek = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  const kSale = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  const z = encodeSaleKeys([dek], kSale);
  const sale = { zHash: keccak256(z), kSaleHash: computeSaleKeyCommit(kSale), dekCommit: keccak256(dek) };
  const evidence = fc.record({
    v: fc.constant(1 as const),
    saleId: hexArb(32),
    manifestCid: manifestCidArb as fc.Arbitrary<string>,
    failure: fc.record({
      what: fc.constantFrom(
        "unavailable" as const,
        "cid" as const,
        "decrypt" as const,
        "merkle-root" as const,
      ),
      chunk: fc.nat({ max: 100 }),
      cid: rawCidArb.map((c) => c.toString()),
      message: fc.string({ maxLength: 100 }),
    }, { requiredKeys: ["what", "message"] }),
    z: fc.constant(z),
    kSale: fc.constant(kSale),
  });
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  // The arbiter reads chunks from a store that has none of them.
  const blocks = { get: () => Promise.reject(new NotFoundError("no such block")) };
  await fuzz(
    FUZZ_RUNS.disputeEvidence.decoder,
    evidence.map((e) => toJsonBytes(JSON.parse(encodeDisputeEvidence(e)))),
    wrongFields(evidence as unknown as fc.Arbitrary<Record<string, unknown>>).map(toJsonBytes),
    async (bytes) => {
      const value = await expectClean("decodeDisputeEvidence()", () => decodeDisputeEvidence(text(bytes)));
      if (value) assert.deepEqual(decodeDisputeEvidence(encodeDisputeEvidence(value)), value);
      const verdict = await expectClean(
        "verifyDisputeEvidence()",
        () =>
          verifyDisputeEvidence(text(bytes), {
            blocks,
            sale,
            evidenceHash: computeEvidenceHash(text(bytes)),
          }),
      );
      assert.ok(verdict, "the arbiter's check never throws");
      assert.ok(verdict.reason.length > 0);
      // Evidence whose Z or kSale is not the sale's proves nothing: never a refund.
      if (
        !value || keccak256(value.z) !== sale.zHash || computeSaleKeyCommit(value.kSale) !== sale.kSaleHash
      ) {
        assert.equal(
          verdict.bad,
          false,
          `refunded on evidence that does not match the sale: ${verdict.reason}`,
        );
      }
      return value !== undefined;
    },
  );
});

// ---------------------------------------------------------------- chunks

Deno.test("decodeRequest() of the chunk protocol rejects hostile frames cleanly", async () => {
  const cid = fc.oneof(
    rawCidArb,
    bytesArb(32).map((b) => CID.createV1(0x71, Digest.create(0x12, b))),
  );
  const valid = fc.tuple(fc.constantFrom(OP_GET, OP_HAS), cid).map(([op, c]) => encodeRequest(op, c));
  // Structured: a known op before other CIDs (v0, other codecs and hashes, short digests).
  const otherCid = fc.tuple(
    fc.constantFrom(0x55, 0x71, 0x70, 0x00),
    fc.constantFrom(0x12, 0x13, 0x00),
    fc.uint8Array({ maxLength: 64 }),
  ).map(([code, hash, digest]) => {
    try {
      return CID.createV1(code, Digest.create(hash, digest)).bytes;
    } catch {
      return digest;
    }
  });
  const structured = fc.tuple(fc.integer({ min: 0, max: 3 }), otherCid).map(([op, c]) =>
    Uint8Array.of(op, ...c)
  );
  await fuzz(FUZZ_RUNS.chunkRequest.decoder, valid, structured, async (bytes) => {
    const value = await expectClean("decodeRequest()", () => decodeRequest(bytes));
    if (value) assert.deepEqual(encodeRequest(value.op, value.cid), bytes);
    return value !== undefined;
  });
  await assertRefusesOversized("decodeRequest()", MAX_REQUEST_BYTES, decodeRequest);
});

// ---------------------------------------------------------------- ingest

Deno.test("decodeBatchNotice() and decodeBatchReply() reject hostile bytes cleanly", async () => {
  const notice = fc.record({
    v: fc.constant(2 as const),
    op: fc.constantFrom("deliver" as const, "hold" as const),
    cid: rawCidArb.map((c) => c.toString()),
    site: domainArb,
  });
  const reply = fc.oneof(
    rawCidArb.map((c) => ({ ack: c.toString() })),
    fc.string({ maxLength: 200 }).map((reject) => ({ reject })),
    fc.string({ maxLength: 200 }).map((retry) => ({ retry })),
  );
  await fuzz(
    FUZZ_RUNS.ingestNotice.decoder,
    notice.map(encodeBatchNotice),
    wrongFields(notice).map(toCbor),
    async (bytes) => {
      const value = await expectClean("decodeBatchNotice()", () => decodeBatchNotice(bytes));
      if (value) assert.deepEqual(decodeBatchNotice(encodeBatchNotice(value)), value);
      return value !== undefined;
    },
  );
  await fuzz(
    FUZZ_RUNS.ingestReply.decoder / 2,
    reply.map(encodeBatchReply),
    wrongFields(reply as fc.Arbitrary<Record<string, unknown>>).map(toCbor),
    async (bytes) => {
      const value = await expectClean("decodeBatchReply()", () => decodeBatchReply(bytes));
      if (value) assert.deepEqual(decodeBatchReply(encodeBatchReply(value)), value);
      return value !== undefined;
    },
  );
  const inlineReply = fc.oneof(
    fc.string({ maxLength: 64 }).map((ack) => ({ ack })),
    fc.string({ maxLength: 200 }).map((reject) => ({ reject })),
  );
  await fuzz(
    FUZZ_RUNS.ingestReply.decoder / 2,
    inlineReply.map(encodeIngestReply),
    wrongFields(inlineReply as fc.Arbitrary<Record<string, unknown>>).map(toCbor),
    async (bytes) => {
      const value = await expectClean("decodeIngestReply()", () => decodeIngestReply(bytes));
      if (value) assert.deepEqual(decodeIngestReply(encodeIngestReply(value)), value);
      return value !== undefined;
    },
  );
  await assertRefusesOversized("decodeBatchNotice()", MAX_BATCH_NOTICE_BYTES, decodeBatchNotice);
  await assertRefusesOversized("decodeBatchReply()", MAX_BATCH_NOTICE_BYTES, decodeBatchReply);
});

const ownerKey = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]) as CryptoKeyPair;
const ownerPublic = new Uint8Array(await crypto.subtle.exportKey("raw", ownerKey.publicKey));
const event: AnalyticsEvent = {
  ts: NOW,
  name: "pageview",
  pathname: "/",
  hostname: "shop.example",
  referrer: null,
  referrerSource: null,
  utm: {},
  device: "desktop",
  browser: "Firefox",
  os: "Linux",
  visitorId: "0123456789abcdef",
};
const batchId = () => bytesToHex(crypto.getRandomValues(new Uint8Array(16))).slice(2);

Deno.test("decodeSealedBatch(), verifySealedBatch() and openBatch() reject hostile bytes cleanly", async () => {
  const proxyKey = await generateKeyPair("Ed25519");
  const signer = { proxy: peerIdFromPrivateKey(proxyKey).toString(), key: proxyKey };
  const sealed = await sealBatch([event], { id: batchId(), site: "shop.example", publicKey: ownerPublic });
  const signed = await signSealedBatch(sealed, signer, { from: event.ts, to: event.ts });
  const v1 = fc.record({
    v: fc.constant(1 as const),
    id: bytesArb(16).map((b) => bytesToHex(b).slice(2)),
    site: domainArb,
    epk: bytesArb(32),
    iv: bytesArb(12),
    ct: fc.uint8Array({ minLength: 16, maxLength: 256 }),
  });
  const v2 = fc.tuple(
    v1,
    fc.nat({ max: 2 ** 40 }),
    fc.nat({ max: 2 ** 20 }),
    fc.uint8Array({ minLength: 32, maxLength: 96 }),
  )
    .map(([b, from, span, sig]) => ({
      ...b,
      v: 2 as const,
      proxy: signer.proxy,
      from,
      to: from + span,
      sig,
    }));
  const batch = fc.oneof(v1, v2) as fc.Arbitrary<SealedBatch>;
  const valid = fc.oneof(
    fc.constant(encodeSealedBatch(signed)),
    fc.constant(encodeSealedBatch(sealed)),
    batch.map(encodeSealedBatch),
  );
  const structured = wrongFields(
    fc.oneof(fc.constant(signed), batch) as unknown as fc.Arbitrary<Record<string, unknown>>,
  ).map(toCbor);
  await fuzz(FUZZ_RUNS.sealedBatch.decoder, valid, structured, async (bytes) => {
    const value = await expectClean("decodeSealedBatch()", () => decodeSealedBatch(bytes));
    if (!value) return false;
    assert.deepEqual(decodeSealedBatch(encodeSealedBatch(value)), value);
    // What the owner does with a batch that decodes: check the proxy's signature, then open it.
    const proxy = await expectClean("verifySealedBatch()", () => verifySealedBatch(value));
    if (proxy !== undefined) assert.equal(proxy, signer.proxy);
    const events = await expectClean("openBatch()", () => openBatch(value, ownerKey.privateKey, ownerPublic));
    if (events) assert.deepEqual(events, [event]);
    return true;
  });
  await assertRefusesOversized("decodeSealedBatch()", MAX_SEALED_BATCH_BYTES, decodeSealedBatch);
});

Deno.test("openBatch() rejects sealed plaintext that is not a list of events, cleanly", async () => {
  const events = fc.oneof(
    fc.array(wrongFields(fc.constant(event as unknown as Record<string, unknown>)), {
      minLength: 1,
      maxLength: 4,
    }),
    wildValue,
    fc.constant(Array.from({ length: 1001 }, () => event)),
  );
  await fc.assert(
    fc.asyncProperty(events, async (value) => {
      const sealed = await sealBatch(value as AnalyticsEvent[], {
        id: batchId(),
        site: "shop.example",
        publicKey: ownerPublic,
      });
      const opened = await expectClean(
        "openBatch()",
        () => openBatch(sealed, ownerKey.privateKey, ownerPublic),
      );
      if (opened) { for (const e of opened) assert.deepEqual(checkAnalyticsEvent(e), e); }
    }),
    fuzzParams(FUZZ_RUNS.sealedEvents.decoder),
  );
});

// ---------------------------------------------------------------- sites

Deno.test("decodeSiteAnnouncement() then verifySiteAnnouncement() reject hostile bytes cleanly", async () => {
  const peerKey = await generateKeyPair("Ed25519");
  const owner = privateKeyToAccount(generatePrivateKey());
  const signed: SiteAnnouncement[] = await Promise.all(
    ["shop.example", "blog.example.org", "a.example"].map((domain, i) =>
      signSiteAnnouncement(owner, peerKey, {
        v: 1,
        domain,
        owner: toAddress(owner.address),
        peerId: peerIdFromPrivateKey(peerKey).toString(),
        encryptionKey: bytesToHex(ownerPublic),
        timestamp: NOW - i,
      })
    ),
  );
  const site = fc.constantFrom(...signed);
  await fuzz(
    FUZZ_RUNS.siteAnnouncement.decoder,
    site.map(encodeSiteAnnouncement),
    wrongFields(site as unknown as fc.Arbitrary<Record<string, unknown>>).map(toCbor),
    async (bytes) => {
      const decoded = await expectClean("decodeSiteAnnouncement()", () => decodeSiteAnnouncement(bytes));
      if (!decoded) return false;
      // What the sites service does with every gossiped or synced announcement.
      const value = await expectClean(
        "verifySiteAnnouncement()",
        () => verifySiteAnnouncement(decoded, { now: NOW }),
      );
      if (value) assert.deepEqual(decodeSiteAnnouncement(encodeSiteAnnouncement(value)), value);
      return value !== undefined;
    },
  );
  await assertRefusesOversized(
    "decodeSiteAnnouncement()",
    MAX_SITE_ANNOUNCEMENT_BYTES,
    decodeSiteAnnouncement,
  );
});

Deno.test("parseSiteProof() then verifySiteProof() reject hostile proof documents cleanly", async () => {
  const peerKey = await generateKeyPair("Ed25519");
  const owner = privateKeyToAccount(generatePrivateKey());
  const proofs = await Promise.all(
    ["shop.example", "blog.example.org"].map((domain) =>
      signSiteProof(peerKey, {
        v: 1,
        domain,
        owner: toAddress(owner.address),
        peerId: peerIdFromPrivateKey(peerKey).toString(),
        encryptionKey: bytesToHex(ownerPublic),
        timestamp: NOW,
      })
    ),
  );
  const proof = fc.constantFrom(...proofs);
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  await fuzz(
    FUZZ_RUNS.siteProof.decoder,
    proof.map(toJsonBytes),
    wrongFields(proof as unknown as fc.Arbitrary<Record<string, unknown>>).map(toJsonBytes),
    async (bytes) => {
      // What the node does with the document served at https://DOMAIN/.well-known/kosmos-site.json.
      const parsed = await expectClean("parseSiteProof()", () => parseSiteProof(text(bytes)));
      if (!parsed) return false;
      const domain = typeof parsed.domain === "string" ? parsed.domain : "shop.example";
      const value = await expectClean(
        "verifySiteProof()",
        () => verifySiteProof(parsed, { domain, now: NOW }),
      );
      if (value) {
        assert.deepEqual(await verifySiteProof(parseSiteProof(JSON.stringify(value)), { domain }), value);
      }
      return value !== undefined;
    },
  );
  await assertRefusesOversized("parseSiteProof()", MAX_SITE_PROOF_BYTES, (b) => parseSiteProof(text(b)));
});

/** A well-formed Ed25519 peer id whose key bytes are not a point on the curve (found by the fuzzer). */
const OFF_CURVE_PEER_ID = "12D3KooWCpjVVpaGwar66Te2nYd3camHuv4pkwRDWipRU5Rc9TEw";

Deno.test("verifySiteAnnouncement() and verifySiteProof() refuse an off-curve peer key with a TypeError", async () => {
  // Before: the Ed25519 library's plain Error ("Cannot decompress Edwards point") escaped, so the
  // sites service ignored such a gossiped announcement instead of rejecting (and scoring) its sender.
  const peerKey = await generateKeyPair("Ed25519");
  const owner = privateKeyToAccount(generatePrivateKey());
  const body = {
    v: 1 as const,
    domain: "shop.example",
    owner: toAddress(owner.address),
    peerId: OFF_CURVE_PEER_ID,
    encryptionKey: bytesToHex(ownerPublic),
    timestamp: NOW,
  };
  const site = await signSiteAnnouncement(owner, peerKey, body);
  await assert.rejects(() => verifySiteAnnouncement(site, { now: NOW }), TypeError);
  const proof = await signSiteProof(peerKey, body);
  await assert.rejects(() => verifySiteProof(proof, { domain: "shop.example", now: NOW }), TypeError);
});

// ---------------------------------------------------------------- analytics event payload

Deno.test("parseEventPayload() rejects hostile JSON values cleanly", async () => {
  const payload = fc.record({
    n: fc.constantFrom("pageview", "signup"),
    u: domainArb.map((d) => `https://${d}/page`),
    d: domainArb,
    r: fc.constantFrom(null, "https://ref.example/"),
    p: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 }), {
      maxKeys: 3,
    }),
  });
  await fc.assert(
    fc.asyncProperty(fc.oneof(wrongFields(payload), wrongFields(payload), wildValue), async (value) => {
      const parsed = await expectClean("parseEventPayload()", () => parseEventPayload(value));
      if (!parsed) return;
      const again = parseEventPayload({
        n: parsed.name,
        u: parsed.url,
        d: parsed.domain,
        r: parsed.referrer,
        p: parsed.props,
        h: parsed.hash,
      });
      assert.deepEqual(again, parsed);
    }),
    fuzzParams(FUZZ_RUNS.eventPayload.decoder),
  );
});

// ---------------------------------------------------------------- inputs at the size caps

/** Longest a decoder may take on an input just under its cap, ms. */
const AT_CAP_MS = 2_000;

Deno.test("decoders refuse inputs just under their size caps in bounded time", async () => {
  const cid = fc.sample(rawCidArb, 1)[0];
  const valid = (await encodeManifest(fc.sample(manifestArb, { numRuns: 1, seed: 3 })[0])).bytes;
  const manifest = dagCbor.decode<Record<string, unknown>>(valid);
  const cases: [string, Uint8Array, (b: Uint8Array) => unknown][] = [
    // 100,000 chunk links: over MAX_CHUNKS, a 3.7 MB manifest.
    [
      "decodeManifest()",
      dagCbor.encode({ ...manifest, chunks: Array.from({ length: 100_000 }, () => cid) }),
      decodeManifest,
    ],
    // A description of 3.9 MB.
    ["decodeManifest()", dagCbor.encode({ ...manifest, description: "d".repeat(3_900_000) }), decodeManifest],
    // 60,000 preview cells.
    [
      "decodeAnnouncement()",
      dagCbor.encode({
        ...signedAnnouncements[0],
        preview: Array.from({ length: 6000 }, () => Array(10).fill(1)),
      })
        .subarray(0, MAX_ANNOUNCEMENT_BYTES),
      decodeAnnouncement,
    ],
    [
      "decodeAnnouncement()",
      dagCbor.encode({ ...signedAnnouncements[0], providers: Array(5500).fill("12D3KooW") }),
      decodeAnnouncement,
    ],
    [
      "decodeSealedBatch()",
      encodeSealedBatch({
        v: 1,
        id: "00".repeat(16),
        site: "shop.example",
        epk: new Uint8Array(32),
        iv: new Uint8Array(12),
        ct: new Uint8Array(MAX_SEALED_BATCH_BYTES - 200),
      }),
      decodeSealedBatch,
    ],
  ];
  for (const [what, bytes, decode] of cases) {
    await expectClean(`${what} of ${bytes.byteLength} bytes`, () => decode(bytes), { maxMs: AT_CAP_MS });
  }
});
