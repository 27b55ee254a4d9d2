import assert from "node:assert/strict";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { keccak256, toBytes } from "viem";
import {
  canonicalTermsJson,
  checkContribution,
  computeTermsHash,
  type Contribution,
  decodePoolAnnouncement,
  decodePoolRequest,
  decodePoolResponse,
  encodePoolAnnouncement,
  encodePoolRequest,
  encodePoolResponse,
  MAX_POOL_ANNOUNCEMENT_BYTES,
  MAX_POOL_REQUEST_BYTES,
  type PoolAnnouncementBody,
  poolJoinTypedData,
  PoolProtocolError,
  type PoolRequest,
  type PoolResponse,
  type PoolTerms,
  signPoolAnnouncement,
  verifyPoolAnnouncement,
  verifyPoolJoin,
} from "./pools.ts";

const operator = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const PEER = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf";

const terms: PoolTerms = {
  kind: "spotify",
  purpose: "music research",
  title: "Listening, pooled",
  description: "Plays of many listeners",
  price: "1000000000000000000",
  licence: "CC-BY-4.0",
  k: 5,
  operatorFeeBps: 1000,
  operator: operator.address,
  createdAt: 1_700_000_000_000,
};

const body = (): PoolAnnouncementBody => ({
  v: 1,
  poolId: "3",
  terms,
  termsHash: computeTermsHash(terms),
  peerId: PEER,
  timestamp: 1_700_000_001_000,
});

Deno.test("computeTermsHash() hashes the canonical JSON with keys sorted, whatever the key order", () => {
  const shuffled = Object.fromEntries(Object.entries(terms).reverse()) as unknown as PoolTerms;
  assert.equal(canonicalTermsJson(shuffled), canonicalTermsJson(terms));
  const json = canonicalTermsJson(terms);
  assert.ok(json.startsWith('{"createdAt":1700000000000,"description":'), json);
  assert.equal(computeTermsHash(terms), keccak256(toBytes(json)));
  assert.notEqual(computeTermsHash({ ...terms, operatorFeeBps: 1001 }), computeTermsHash(terms));
});

Deno.test("checkPoolTerms() refuses a fee over 5000 bps, k under 2, an unknown kind and extra keys", () => {
  for (
    const bad of [
      { ...terms, operatorFeeBps: 5001 },
      { ...terms, k: 1 },
      { ...terms, kind: "myspace" },
      { ...terms, licence: "CC BY" },
      { ...terms, purpose: " padded " },
      { ...terms, extra: 1 },
    ]
  ) {
    assert.throws(() => computeTermsHash(bad as PoolTerms), PoolProtocolError);
  }
});

Deno.test("signPoolAnnouncement() and verifyPoolAnnouncement() round-trip through the wire encoding", async () => {
  const signed = await signPoolAnnouncement(operator, body(), { now: 1_700_000_002_000 });
  const bytes = encodePoolAnnouncement(signed);
  assert.ok(bytes.byteLength <= MAX_POOL_ANNOUNCEMENT_BYTES);
  const decoded = decodePoolAnnouncement(bytes, { now: 1_700_000_002_000 });
  assert.deepEqual(await verifyPoolAnnouncement(decoded, { now: 1_700_000_002_000 }), signed);
});

Deno.test("verifyPoolAnnouncement() refuses changed terms, a wrong termsHash and a signature by another wallet", async () => {
  const now = { now: 1_700_000_002_000 };
  const signed = await signPoolAnnouncement(operator, body(), now);
  // Terms changed after signing: the hash no longer matches.
  await assert.rejects(
    verifyPoolAnnouncement({ ...signed, terms: { ...terms, operatorFeeBps: 0 } }, now),
    /termsHash is not the hash of its terms/,
  );
  // Terms and hash changed together: the signature is no longer the operator's.
  const cheaper = { ...terms, operatorFeeBps: 0 };
  await assert.rejects(
    verifyPoolAnnouncement({ ...signed, terms: cheaper, termsHash: computeTermsHash(cheaper) }, now),
    /not the operator/,
  );
  // Another peer id than the one signed.
  await assert.rejects(verifyPoolAnnouncement({ ...signed, peerId: PEER + "x" }, now), /not the operator/);
  // Another wallet cannot sign for the operator.
  await assert.rejects(signPoolAnnouncement(stranger, body(), now), TypeError);
  // A timestamp far in the future.
  await assert.rejects(
    verifyPoolAnnouncement(signed, { now: signed.timestamp - 60 * 60 * 1000 }),
    /in the future/,
  );
});

Deno.test("decodePoolAnnouncement() refuses oversized bytes before parsing", () => {
  assert.throws(
    () => decodePoolAnnouncement(new Uint8Array(MAX_POOL_ANNOUNCEMENT_BYTES + 1)),
    /over 8192/,
  );
  assert.throws(() => decodePoolAnnouncement(new TextEncoder().encode("{not json")), PoolProtocolError);
});

Deno.test("verifyPoolJoin() accepts the contributor's own signature for its own peer and nothing else", async () => {
  const contributor = privateKeyToAccount(generatePrivateKey());
  const join = { poolId: 3n, consentId: 7n, peerId: PEER };
  const signature = await contributor.signTypedData(poolJoinTypedData(join));
  assert.equal(await verifyPoolJoin({ ...join, contributor: contributor.address, signature }), true);
  // Someone else's consent joined from another node, or under another address, does not verify.
  assert.equal(
    await verifyPoolJoin({ ...join, peerId: PEER + "x", contributor: contributor.address, signature }),
    false,
  );
  assert.equal(
    await verifyPoolJoin({ ...join, consentId: 8n, contributor: contributor.address, signature }),
    false,
  );
  assert.equal(await verifyPoolJoin({ ...join, contributor: stranger.address, signature }), false);
});

Deno.test("encodePoolRequest() and decodePoolRequest() round-trip every request and refuse extra keys", async () => {
  const contributor = privateKeyToAccount(generatePrivateKey());
  const signature = await contributor.signTypedData(
    poolJoinTypedData({ poolId: 1n, consentId: 2n, peerId: PEER }),
  );
  const requests = [
    { v: 1, type: "join", poolId: "1", contributor: contributor.address, consentId: "2", signature },
    { v: 1, type: "leave", poolId: "1", contributor: contributor.address },
    { v: 1, type: "contribute", poolId: "1", version: "0x" + "ab".repeat(16) },
    { v: 1, type: "announcements" },
  ] as PoolRequest[];
  for (const r of requests) assert.deepEqual(decodePoolRequest(encodePoolRequest(r)), r);
  const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  assert.throws(() => decodePoolRequest(bytes({ ...requests[3], extra: 1 })), /unknown field "extra"/);
  assert.throws(() => decodePoolRequest(bytes({ ...requests[2], poolId: "0" })), /poolId/);
  assert.throws(() => decodePoolRequest(bytes({ ...requests[0], consentId: 2 })), /consentId/);
  assert.throws(() => decodePoolRequest(bytes({ v: 2, type: "announcements" })), /v must be 1/);
  assert.throws(() => decodePoolRequest(new Uint8Array(MAX_POOL_REQUEST_BYTES + 1)), /over 1024/);
});

const contribution: Contribution = {
  columns: ["playedAt", "track", "artist"],
  rows: [["2024-03-01T10", "Song", null], ["2024-03-01T11", "Other", "Band"]],
  count: 2,
  report: { k: 5, suppressed: 1, dropped: ["username"], generalised: { playedAt: "hour" } },
};

Deno.test("encodePoolResponse() and decodePoolResponse() round-trip ok, refusals, contributions and announcements", async () => {
  const signed = await signPoolAnnouncement(operator, body(), { now: 1_700_000_002_000 });
  const responses = [
    { v: 1, ok: true },
    { v: 1, error: { code: "consent-invalid", message: "consent 7 is revoked" } },
    { v: 1, contribution },
    { v: 1, announcements: [signed] },
  ] as PoolResponse[];
  for (const r of responses) assert.deepEqual(decodePoolResponse(encodePoolResponse(r)), r);
  const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  assert.throws(
    () => decodePoolResponse(bytes({ v: 1, error: { code: "teapot", message: "" } })),
    /unknown error code/,
  );
  assert.throws(() => decodePoolResponse(bytes({ v: 1, ok: false })), /ok must be true/);
});

Deno.test("checkContribution() refuses ragged rows, a wrong count, repeated columns and nested cells", () => {
  assert.deepEqual(checkContribution(contribution), contribution);
  const bad = [
    { ...contribution, count: 3 },
    { ...contribution, rows: [["2024-03-01T10", "Song"]], count: 1 },
    { ...contribution, columns: ["a", "a", "b"] },
    { ...contribution, rows: [["x", { nested: true }, null]], count: 1 },
    { ...contribution, rows: [["x", "y".repeat(1025), null]], count: 1 },
    { ...contribution, report: { ...contribution.report, k: 1 } },
  ];
  for (const value of bad) assert.throws(() => checkContribution(value), PoolProtocolError);
});
