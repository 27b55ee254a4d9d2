/**
 * Fuzzing the decoders of the purchase path: the sale and delegation
 * protocols, dispute evidence and the chunk protocol.
 * Arbitrary bytes, CBOR length bombs, structurally valid DAG-CBOR/JSON with
 * wrong types, missing, extra and huge fields, and bit flips, truncations and
 * extensions of valid encodings. Each decoder either returns a value that
 * validates and encodes back to itself, or throws a clean, short error (see
 * `mod.ts`); oversized input is refused before it is parsed. Input counts are
 * in `FUZZ_RUNS`.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesToHex, keccak256 } from "viem";
import {
  decodeSaleRequest,
  decodeSaleResponse,
  encodeSaleRequest,
  encodeSaleResponse,
  MAX_SALE_REQUEST_BYTES,
  MAX_SALE_RESPONSE_BYTES,
  type SaleResponse,
} from "../../protocol/sale.ts";
import {
  decodeDelegateRequest,
  decodeDelegateResponse,
  type DelegateRequest,
  type DelegateResponse,
  encodeDelegateRequest,
  encodeDelegateResponse,
  MAX_DELEGATE_FRAME_BYTES,
} from "../../protocol/delegation.ts";
import { decodeRequest, encodeRequest, MAX_REQUEST_BYTES, OP_GET, OP_HAS } from "../../protocol/chunks.ts";
import {
  computeEvidenceHash,
  decodeDisputeEvidence,
  encodeDisputeEvidence,
  verifyDisputeEvidence,
} from "../../node/services/market/evidence.ts";
import { NotFoundError } from "../../node/errors.ts";
import { computeSaleKeyCommit, encodeSaleKeys } from "../../protocol/quote.ts";
import { addressArb, hashArb, manifestCidArb, rawCidArb } from "../../protocol/arbitraries_test.ts";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { expectClean, FUZZ_RUNS, toJsonBytes, wrongFields } from "./mod.ts";
import { assertRefusesOversized, bytesArb, fuzz, hexArb, uintArb } from "./arbitraries.ts";

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
