/**
 * Fuzzing the pool protocol's decoders (`protocol/pools.ts`): the gossiped pool announcement and the
 * request and response frames of `/kosmos/pool/1.0.0`. Arbitrary bytes, CBOR bombs, JSON with wrong,
 * missing, extra and huge fields, and mutations of valid encodings; each decoder returns a value that
 * encodes back to itself or throws a clean, short error; oversized input is refused before parsing.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  computeTermsHash,
  decodePoolAnnouncement,
  decodePoolRequest,
  decodePoolResponse,
  encodePoolAnnouncement,
  encodePoolRequest,
  encodePoolResponse,
  MAX_POOL_ANNOUNCEMENT_BYTES,
  MAX_POOL_REQUEST_BYTES,
  MAX_POOL_RESPONSE_BYTES,
  type PoolAnnouncement,
  type PoolRequest,
  type PoolResponse,
  type PoolTerms,
  signPoolAnnouncement,
} from "../../protocol/pools.ts";
import { SOURCE_KINDS } from "../../protocol/sources.ts";
import { addressArb } from "../../protocol/arbitraries_test.ts";
import { expectClean, FUZZ_RUNS, toJsonBytes, wrongFields } from "./mod.ts";
import { assertRefusesOversized, fuzz, hexArb, NOW } from "./arbitraries.ts";

const operator = privateKeyToAccount(generatePrivateKey());
const PEER = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf";
const idArb = fc.bigInt({ min: 1n, max: 2n ** 256n - 1n }).map(String);

const termsArb: fc.Arbitrary<PoolTerms> = fc.record({
  kind: fc.constantFrom(...SOURCE_KINDS),
  purpose: fc.stringMatching(/^[a-z][a-z ]{1,40}[a-z]$/),
  title: fc.stringMatching(/^[A-Za-z][A-Za-z ,]{0,60}$/),
  description: fc.string({ maxLength: 200 }),
  price: fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
  licence: fc.constantFrom("CC-BY-4.0", "kosmos-research-1"),
  k: fc.integer({ min: 2, max: 1000 }),
  operatorFeeBps: fc.integer({ min: 0, max: 5000 }),
  operator: fc.constant(operator.address),
  createdAt: fc.integer({ min: 0, max: NOW }),
});

const signed: PoolAnnouncement[] = await Promise.all(
  fc.sample(fc.tuple(termsArb, idArb), { numRuns: 8, seed: 7 }).map(([terms, poolId]) =>
    signPoolAnnouncement(operator, {
      v: 1,
      poolId,
      terms,
      termsHash: computeTermsHash(terms),
      peerId: PEER,
      timestamp: NOW,
    }, { now: NOW })
  ),
);
const announcementArb = fc.constantFrom(...signed);
const asJson = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;

Deno.test("decodePoolAnnouncement() rejects hostile bytes with a clean error", async () => {
  const structured = fc.oneof(
    wrongFields(announcementArb.map((a) => asJson(encodePoolAnnouncement(a)))),
    announcementArb.chain((a) =>
      wrongFields(fc.constant(a.terms as unknown as Record<string, unknown>)).map((terms) => ({
        ...a,
        terms,
      }))
    ),
  ).map(toJsonBytes);
  await fuzz(
    FUZZ_RUNS.poolAnnouncement.decoder,
    announcementArb.map(encodePoolAnnouncement),
    structured,
    async (bytes) => {
      const value = await expectClean(
        "decodePoolAnnouncement()",
        () => decodePoolAnnouncement(bytes, { now: NOW }),
      );
      if (value) assert.deepEqual(decodePoolAnnouncement(encodePoolAnnouncement(value), { now: NOW }), value);
      return value !== undefined;
    },
  );
  await assertRefusesOversized(
    "decodePoolAnnouncement()",
    MAX_POOL_ANNOUNCEMENT_BYTES,
    decodePoolAnnouncement,
  );
});

const requestArb: fc.Arbitrary<PoolRequest> = fc.oneof(
  fc.record({
    v: fc.constant(1 as const),
    type: fc.constant("join" as const),
    poolId: idArb,
    contributor: addressArb,
    consentId: idArb,
    signature: hexArb(64).map((h) => `${h}1b` as `0x${string}`),
  }),
  fc.record({
    v: fc.constant(1 as const),
    type: fc.constant("leave" as const),
    poolId: idArb,
    contributor: addressArb,
  }),
  fc.record({
    v: fc.constant(1 as const),
    type: fc.constant("contribute" as const),
    poolId: idArb,
    version: hexArb(16),
  }),
  fc.constant({ v: 1 as const, type: "announcements" as const }),
);

Deno.test("decodePoolRequest() rejects hostile bytes with a PoolProtocolError", async () => {
  // Signatures of random bytes may have a high s; the valid ones are those the decoder keeps.
  const structured = wrongFields(requestArb.map((r) => ({ ...r }) as Record<string, unknown>)).map(
    toJsonBytes,
  );
  await fuzz(FUZZ_RUNS.poolRequest.decoder, requestArb.map(toJsonBytes), structured, async (bytes) => {
    const value = await expectClean("decodePoolRequest()", () => decodePoolRequest(bytes));
    if (value) assert.deepEqual(decodePoolRequest(encodePoolRequest(value)), value);
    return value !== undefined;
  });
  await assertRefusesOversized("decodePoolRequest()", MAX_POOL_REQUEST_BYTES, decodePoolRequest);
});

const cellArb = fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.constant(null));
const contributionArb = fc.integer({ min: 1, max: 4 }).chain((width) =>
  fc.record({
    columns: fc.uniqueArray(fc.stringMatching(/^[a-z]{1,10}$/), { minLength: width, maxLength: width }),
    rows: fc.array(fc.array(cellArb, { minLength: width, maxLength: width }), { maxLength: 6 }),
    report: fc.record({
      k: fc.integer({ min: 2, max: 1000 }),
      suppressed: fc.nat(),
      dropped: fc.array(fc.stringMatching(/^[a-z]{1,10}$/), { maxLength: 3 }),
      generalised: fc.dictionary(
        fc.stringMatching(/^[a-z]{1,10}$/),
        fc.constantFrom("hour", "day", "region 1°"),
      ),
    }),
  }).map((c) => ({ ...c, count: c.rows.length }))
);
const responseArb: fc.Arbitrary<PoolResponse> = fc.oneof(
  fc.constant({ v: 1 as const, ok: true as const }),
  fc.record({
    v: fc.constant(1 as const),
    error: fc.record({
      code: fc.constantFrom("bad-request" as const, "not-member" as const, "consent-invalid" as const),
      message: fc.string({ maxLength: 300 }),
    }),
  }),
  fc.record({ v: fc.constant(1 as const), contribution: contributionArb }),
  fc.record({ v: fc.constant(1 as const), announcements: fc.array(announcementArb, { maxLength: 3 }) }),
);

Deno.test("decodePoolResponse() rejects hostile bytes with a PoolProtocolError", async () => {
  const json = responseArb.map((r) => asJson(encodePoolResponse(r)));
  const structured = fc.oneof(
    wrongFields(json),
    json.chain((r) => {
      const inner = (r.contribution ?? r.error ?? { list: r.announcements }) as Record<string, unknown>;
      const key = "contribution" in r ? "contribution" : "error" in r ? "error" : "announcements";
      return wrongFields(fc.constant(inner)).map((bad) => ({ ...r, [key]: bad }));
    }),
  ).map(toJsonBytes);
  await fuzz(
    FUZZ_RUNS.poolResponse.decoder,
    responseArb.map(encodePoolResponse),
    structured,
    async (bytes) => {
      const value = await expectClean("decodePoolResponse()", () => decodePoolResponse(bytes, { now: NOW }));
      if (value) assert.deepEqual(decodePoolResponse(encodePoolResponse(value), { now: NOW }), value);
      return value !== undefined;
    },
  );
  await assertRefusesOversized("decodePoolResponse()", MAX_POOL_RESPONSE_BYTES, decodePoolResponse);
});
