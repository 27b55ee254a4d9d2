import assert from "node:assert/strict";
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import { decodeSealedBatch, encodeSealedBatch } from "../../../protocol/analytics.ts";
import { verifySealedBatch } from "../../../protocol/ingest.ts";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { type BatchSigner, openBatch, sealBatch, sealBlocks } from "./seal.ts";

const event: AnalyticsEvent = {
  ts: 1_700_000_000_000,
  name: "pageview",
  pathname: "/very-secret-page",
  hostname: "example.com",
  referrer: null,
  referrerSource: null,
  utm: {},
  device: "desktop",
  browser: "Firefox",
  os: "GNU/Linux",
  visitorId: "0123456789abcdef0123456789abcdef",
};

async function keyPair() {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]) as CryptoKeyPair;
  return {
    publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
    privateKey: pair.privateKey,
  };
}

const id = "00112233445566778899aabbccddeeff";

async function signer(): Promise<BatchSigner> {
  const key = await generateKeyPair("Ed25519");
  return { proxy: peerIdFromPrivateKey(key).toString(), key };
}

Deno.test("sealBatch() output opens only with the owner's key and hides the events", async () => {
  const owner = await keyPair();
  const sealed = await sealBatch([event], { id, site: "example.com", publicKey: owner.publicKey });
  const bytes = encodeSealedBatch(sealed);
  assert.ok(!new TextDecoder("latin1").decode(bytes).includes("very-secret-page"));
  assert.deepEqual(await openBatch(decodeSealedBatch(bytes), owner.privateKey, owner.publicKey), [event]);
  const other = await keyPair();
  await assert.rejects(openBatch(sealed, other.privateKey, other.publicKey), TypeError);
  // The site and id are bound to the ciphertext.
  await assert.rejects(
    openBatch({ ...sealed, site: "evil.com" }, owner.privateKey, owner.publicKey),
    TypeError,
  );
  const again = await sealBatch([event], { id, site: "example.com", publicKey: owner.publicKey });
  assert.notDeepEqual(again.epk, sealed.epk, "a fresh ephemeral key per batch");
});

Deno.test("openBatch() rejects decrypted content that is not a list of well-formed events", async () => {
  const owner = await keyPair();
  const bad = await sealBatch([{ ...event, visitorId: "1.2.3.4" }], {
    id,
    site: "example.com",
    publicKey: owner.publicKey,
  });
  await assert.rejects(openBatch(bad, owner.privateKey, owner.publicKey), /Malformed analytics event/);
});

Deno.test("sealBlocks() splits a batch that would not fit one block, each part under its own id", async () => {
  const owner = await keyPair();
  const proxy = await signer();
  const events = Array.from(
    { length: 40 },
    (_, i) => ({ ...event, ts: event.ts + i, pathname: `/page-${i}` }),
  );
  const [whole] = await sealBlocks(events, {
    site: "example.com",
    publicKey: owner.publicKey,
    signer: proxy,
  });
  const blocks = await sealBlocks(events, {
    site: "example.com",
    publicKey: owner.publicKey,
    signer: proxy,
    maxBytes: Math.ceil(whole.bytes.byteLength / 3),
  });
  assert.ok(blocks.length >= 3, `${blocks.length} blocks`);
  assert.equal(new Set(blocks.map((b) => b.id)).size, blocks.length);
  const opened: AnalyticsEvent[] = [];
  for (const block of blocks) {
    assert.ok(block.bytes.byteLength <= Math.ceil(whole.bytes.byteLength / 3));
    const batch = decodeSealedBatch(block.bytes);
    assert.equal(batch.id, block.id);
    assert.equal(await verifySealedBatch(batch), proxy.proxy, "each block is signed by its proxy");
    const inBatch = await openBatch(batch, owner.privateKey, owner.publicKey);
    assert.deepEqual([batch.from, batch.to], [inBatch[0].ts, inBatch.at(-1)!.ts], "the signed window");
    opened.push(...await openBatch(batch, owner.privateKey, owner.publicKey));
  }
  assert.deepEqual(opened.map((e) => e.pathname), events.map((e) => e.pathname));
  await assert.rejects(
    sealBlocks([event], { site: "example.com", publicKey: owner.publicKey, signer: proxy, maxBytes: 100 }),
    RangeError,
  );
});

Deno.test("verifySealedBatch() refuses unsigned batches and signatures that do not cover the batch", async () => {
  const owner = await keyPair();
  const proxy = await signer();
  const other = await signer();
  const [block] = await sealBlocks([event], {
    site: "example.com",
    publicKey: owner.publicKey,
    signer: proxy,
  });
  const signed = decodeSealedBatch(block.bytes);
  assert.equal(await verifySealedBatch(signed), proxy.proxy);
  const unsigned = await sealBatch([event], { id, site: "example.com", publicKey: owner.publicKey });
  await assert.rejects(verifySealedBatch(unsigned), /not signed by a proxy/);
  const reject = (batch: typeof signed) =>
    assert.rejects(verifySealedBatch(decodeSealedBatch(encodeSealedBatch(batch))), /does not verify/);
  await reject({ ...signed, proxy: other.proxy });
  await reject({ ...signed, to: signed.to! + 1 });
  await reject({ ...signed, ct: signed.ct.map((b, i) => i === 0 ? b ^ 1 : b) });
  await reject({ ...signed, id: "ffeeddccbbaa99887766554433221100" });
  await reject({ ...signed, sig: signed.sig!.map((b, i) => i === 0 ? b ^ 1 : b) });
});
