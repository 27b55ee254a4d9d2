import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesToHex, keccak256 } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { encodeManifest, type Manifest } from "../../../protocol/manifest.ts";
import { computeSaleKeyCommit, encodeSaleKeys } from "../../../protocol/quote.ts";
import { type BlockStore, openBlockStore, prepareDataset } from "../blocks/mod.ts";
import {
  checkDatasetData,
  computeEvidenceHash,
  decodeDisputeEvidence,
  type DisputeEvidence,
  encodeDisputeEvidence,
  verifyDisputeEvidence,
} from "./evidence.ts";

const seller = privateKeyToAccount(`0x${"11".repeat(32)}`).address;

async function withDataset(
  fn: (store: BlockStore, manifest: Manifest, manifestCid: string, dek: Uint8Array) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-evidence-" });
  const store = await openBlockStore(dir);
  try {
    const rows = Array.from({ length: 1000 }, (_, i) => `${i},${i * 7 % 13}`).join("\n");
    const prepared = await prepareDataset(
      store,
      ReadableStream.from([new TextEncoder().encode(`a,b\n${rows}\n`)]),
      {
        title: "Readings",
        category: "sensors",
        seller,
        gateway: seller,
        price: 10n ** 18n,
        licence: { id: "kosmos-research-1" },
        chunkSize: 1024,
      },
    );
    await fn(store, prepared.manifest, prepared.manifestCid, prepared.dek);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Stores a copy of `manifest` changed by `change`; returns it and its CID. */
async function storeVariant(store: BlockStore, manifest: Manifest, change: Partial<Manifest>) {
  const encoded = await encodeManifest({ ...manifest, ...change });
  await store.put(encoded.bytes, { cid: encoded.cid });
  return { manifest: { ...manifest, ...change } as Manifest, manifestCid: encoded.manifestCid };
}

function saleOf(dek: Uint8Array, kSale = bytesToHex(crypto.getRandomValues(new Uint8Array(32)))) {
  const z = encodeSaleKeys([bytesToHex(dek)], kSale);
  return {
    z,
    kSale,
    sale: { zHash: keccak256(z), kSaleHash: computeSaleKeyCommit(kSale), dekCommit: keccak256(dek) },
  };
}

Deno.test("checkDatasetData() accepts the listed data and names the first chunk or check that fails", async () => {
  await withDataset(async (store, manifest, _cid, dek) => {
    assert.ok(manifest.chunks.length >= 3);
    let seen = 0;
    assert.deepEqual(await checkDatasetData(store, manifest, dek, { onChunk: (n) => (seen = n) }), {
      ok: true,
    });
    assert.equal(seen, manifest.chunks.length);

    const wrongRoot = await checkDatasetData(store, { ...manifest, merkleRoot: keccak256("0x01") }, dek);
    assert.ok(!wrongRoot.ok && wrongRoot.failure.what === "merkle-root");

    // Chunks 1 and 2 swapped: each is sealed for its own index, so chunk 1 fails to decrypt.
    const swapped = [...manifest.chunks];
    [swapped[1], swapped[2]] = [swapped[2], swapped[1]];
    const swap = await checkDatasetData(store, { ...manifest, chunks: swapped }, dek);
    assert.ok(!swap.ok && swap.failure.what === "decrypt" && swap.failure.chunk === 1, JSON.stringify(swap));
    assert.equal(!swap.ok && swap.failure.cid, swapped[1].toString());

    const otherKey = crypto.getRandomValues(new Uint8Array(32));
    const key = await checkDatasetData(store, manifest, otherKey);
    assert.ok(!key.ok && key.failure.what === "key");

    const missing = { ...manifest, chunks: [...manifest.chunks] };
    await store.delete(manifest.chunks[0]);
    const gone = await checkDatasetData(store, missing, dek);
    assert.ok(!gone.ok && gone.failure.what === "unavailable" && gone.failure.chunk === 0);
  });
});

Deno.test("verifyDisputeEvidence() rules bad data bad, good data good, and evidence off the sale worthless", async () => {
  await withDataset(async (store, manifest, manifestCid, dek) => {
    const bad = await storeVariant(store, manifest, { merkleRoot: keccak256("0x0bad") });
    const { z, kSale, sale } = saleOf(dek);
    const evidenceOf = (cid: string): DisputeEvidence => ({
      v: 1,
      saleId: keccak256("0x5a1e"),
      manifestCid: cid,
      failure: { what: "merkle-root", message: "the plaintext Merkle root differs from the manifest's" },
      z,
      kSale,
    });
    const badText = encodeDisputeEvidence(evidenceOf(bad.manifestCid));
    const ruling = await verifyDisputeEvidence(badText, {
      blocks: store,
      sale,
      evidenceHash: computeEvidenceHash(badText),
    });
    assert.equal(ruling.bad, true, ruling.reason);

    const goodText = encodeDisputeEvidence(evidenceOf(manifestCid));
    const good = await verifyDisputeEvidence(goodText, { blocks: store, sale });
    assert.equal(good.bad, false, good.reason);

    // Another sale's key material, a hash the dispute did not commit to, or garbage: not proof.
    const other = saleOf(dek);
    assert.equal((await verifyDisputeEvidence(badText, { blocks: store, sale: other.sale })).bad, false);
    assert.equal(
      (await verifyDisputeEvidence(badText, { blocks: store, sale, evidenceHash: keccak256("0x00") })).bad,
      false,
    );
    assert.equal((await verifyDisputeEvidence("{", { blocks: store, sale })).bad, false);
  });
});

Deno.test("decodeDisputeEvidence() round-trips what encodeDisputeEvidence() writes and rejects anything else clearly", () => {
  const evidence: DisputeEvidence = {
    v: 1,
    saleId: keccak256("0x01"),
    manifestCid: "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    failure: {
      what: "decrypt",
      chunk: 3,
      cid: "bafkreiabc",
      message: "chunk 3 does not decrypt under the key",
    },
    z: keccak256("0x02"),
    kSale: keccak256("0x03"),
  };
  assert.deepEqual(decodeDisputeEvidence(encodeDisputeEvidence(evidence)), evidence);
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (text) => {
      try {
        decodeDisputeEvidence(text);
      } catch (err) {
        assert.equal((err as Error).name, "SaleProtocolError");
        assert.match((err as Error).message, /^Invalid (dispute evidence|evidence\.)/);
      }
    }),
    { numRuns: 2000 },
  );
  for (
    const change of [{ v: 2 }, { saleId: "0x12" }, { z: "0x1234" }, {
      failure: { what: "bored", message: "" },
    }]
  ) {
    assert.throws(
      () => decodeDisputeEvidence(JSON.stringify({ ...evidence, ...change })),
      /Invalid (dispute evidence|evidence\.)/,
    );
  }
});
