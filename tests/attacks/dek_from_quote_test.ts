/**
 * Attack (finding 1): get a dataset's key for free from a quote.
 *
 * The attacker runs a node, asks a seller for quotes over the real sale
 * protocol (`/kosmos/sale/1.0.0`) naming any buyer address, never opens a
 * sale and never pays, downloads the ciphertext chunks (public, anyone may
 * replicate them), and tries to turn what the seller sent before payment (Z,
 * the quote's `kSaleHash`, `zHash`, `dekCommit`, the signature) into the DEK.
 *
 * On the old code the quote's commitment was `keccak256(kSale)` and the pad
 * of key 0 was `keccak256(kSale ^ 0)`: the same value, so `Z ⊕ kSaleHash` was
 * the DEK and decrypting the chunks below gave the attacker the plaintext.
 * Now the commitment and the pads are tagged hashes of `kSale`: no
 * combination tried decrypts a single chunk, while the real key (a control,
 * so this test can fail) does.
 */
import assert from "node:assert/strict";
import { bytesToHex, type Hex, hexToBigInt, hexToBytes, keccak256, numberToHex, slice } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { QuoteOffer } from "../../node/services/market/mod.ts";
import { decryptChunk, getManifest, importDek } from "../../node/services/blocks/mod.ts";
import { makeCsv } from "../helpers.ts";
import { askQuote, listForSale, startMarketCluster } from "../market_cluster.ts";

const ONE = 10n ** 18n;

function xor(a: Hex, b: Hex): Hex {
  return numberToHex(hexToBigInt(a) ^ hexToBigInt(b), { size: 32 });
}

/** Every 32-byte value the attacker derives from what the seller sent before payment. */
function candidates(offer: QuoteOffer): Map<string, Hex> {
  const { quote, z, signature } = offer;
  const seen: [string, Hex][] = [
    ["Z", z],
    ["kSaleHash", quote.kSaleHash],
    ["zHash", quote.zHash],
    ["dekCommit", quote.dekCommit],
    ["signature r", slice(signature, 0, 32)],
    ["signature s", slice(signature, 32, 64)],
  ];
  const out = new Map<string, Hex>(seen);
  for (const [name, value] of seen) {
    out.set(`keccak256(${name})`, keccak256(value));
    out.set(`Z ⊕ keccak256(${name})`, xor(z, keccak256(value)));
    if (name !== "Z") out.set(`Z ⊕ ${name}`, xor(z, value)); // Z ⊕ kSaleHash: the old exploit
  }
  for (const [a, va] of seen) {
    for (const [b, vb] of seen) if (a < b) out.set(`${a} ⊕ ${b}`, xor(va, vb));
  }
  return out;
}

Deno.test("a peer that asks for quotes and never pays cannot derive the DEK: no chunk decrypts", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-attack-quote-" });
  const seller = await cluster.start();
  const attacker = await cluster.start();
  const data = makeCsv(1536 * 1024); // two chunks
  const { manifestCid } = await listForSale(seller, data, { price: 10n * ONE, viewers: [attacker] });

  // Quotes for several made-up buyers (the attacker holds none of their keys, nor needs to).
  const offers: QuoteOffer[] = [];
  for (let i = 0; i < 3; i++) {
    const buyer = privateKeyToAccount(keccak256(numberToHex(i + 1, { size: 32 }))).address;
    const response = await askQuote(attacker, seller, manifestCid, buyer);
    assert.ok(!("error" in response), `the seller quoted: ${"error" in response && response.error.message}`);
    offers.push(response as QuoteOffer);
  }

  // The ciphertext is public: the attacker replicates it like any provider.
  attacker.components.fetches.startFetch(manifestCid, { providers: [seller.peerId] });
  await attacker.components.fetches.waitForFetch(manifestCid, { timeout: 20_000 });
  const blocks = attacker.components.blocks;
  const manifest = await getManifest(blocks, manifestCid as never);
  const sealed = await Promise.all(manifest.chunks.map((cid) => blocks.get(cid)));

  const opens = async (dek: Hex) => {
    if (keccak256(dek) === manifest.dekCommit) return true;
    const key = await importDek(hexToBytes(dek));
    for (const [index, bytes] of sealed.entries()) {
      try {
        await decryptChunk(key, bytes, { index });
        return true;
      } catch { /* expected: authentication fails */ }
    }
    return false;
  };

  // Control: the real key opens the chunks, so a leak would be caught.
  const real = seller.components.datasets.getDatasetKey(manifestCid)!;
  assert.ok(await opens(bytesToHex(real)), "the real key opens the data");

  let tried = 0;
  for (const offer of offers) {
    for (const [name, value] of candidates(offer)) {
      tried++;
      assert.equal(await opens(value), false, `${name} opened the data`);
    }
  }
  // Across quotes: the same DEK under two pads, Z₁ ⊕ Z₂, and each Z against the other quote's commitment.
  for (const [i, a] of offers.entries()) {
    for (const b of offers.slice(i + 1)) {
      for (const value of [xor(a.z, b.z), xor(a.z, b.quote.kSaleHash), xor(b.z, a.quote.kSaleHash)]) {
        tried++;
        assert.equal(await opens(value), false);
      }
    }
  }
  assert.ok(tried > 100, `tried ${tried} candidate keys`);
  assert.equal(seller.components.market.listSales().length, 0, "nothing was sold");
});
