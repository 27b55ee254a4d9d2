/**
 * Fuzzing the decoders of the analytics path: ingest notices and replies,
 * sealed batches, site announcements and proofs, the event payload; and
 * every decoder on inputs just under its size cap.
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
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { bytesToHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { decodeAnnouncement, MAX_ANNOUNCEMENT_BYTES } from "../../protocol/announcement.ts";
import { decodeManifest, encodeManifest } from "../../protocol/manifest.ts";
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
  type SealedBatch,
} from "../../protocol/analytics.ts";
import { parseEventPayload } from "../../protocol/event_payload.ts";
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
import { openBatch, sealBatch } from "../../node/services/ingest/seal.ts";
import { manifestArb, rawCidArb } from "../../protocol/arbitraries_test.ts";
import { toAddress } from "../../protocol/ids.ts";
import { expectClean, FUZZ_RUNS, fuzzParams, toCbor, toJsonBytes, wildValue, wrongFields } from "./mod.ts";
import {
  assertRefusesOversized,
  bytesArb,
  domainArb,
  fuzz,
  NOW,
  signedAnnouncements,
} from "./arbitraries.ts";

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
    $: fc.record({
      amount: fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 12 })),
      currency: fc.constantFrom("EUR", "usd", "XXX1", ""),
    }),
    i: fc.oneof(fc.boolean(), fc.constant("no")),
    sd: fc.oneof(fc.integer({ min: -5, max: 300 }), fc.string({ maxLength: 4 })),
    e: fc.oneof(fc.integer(), fc.string({ maxLength: 6 })),
    c: fc.oneof(fc.boolean(), fc.constantFrom(0, 1, "yes")),
  });
  await fc.assert(
    fc.asyncProperty(fc.oneof(wrongFields(payload), wrongFields(payload), wildValue), async (value) => {
      const parsed = await expectClean("parseEventPayload()", () => parseEventPayload(value));
      if (!parsed) return;
      const again = parseEventPayload({
        n: parsed.name,
        u: parsed.url,
        d: parsed.domains?.join(",") ?? parsed.domain,
        r: parsed.referrer,
        p: parsed.props,
        h: parsed.hash,
        $: parsed.revenue,
        i: parsed.interactive,
        c: parsed.consented,
        sd: parsed.scrollDepth,
        e: parsed.engagedMs,
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
