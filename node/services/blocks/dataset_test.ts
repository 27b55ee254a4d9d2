import assert from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { privateKeyToAccount } from "viem/accounts";
import { keccak256 } from "viem";
import { encodeManifest, type Manifest, MASK } from "../../../protocol/manifest.ts";
import { merkleRoot } from "../../../protocol/merkle.ts";
import { ChunkDecryptError, CorruptBlockError, DatasetFormatError, DatasetIntegrityError } from "./errors.ts";
import {
  type BlockGetter,
  decryptDataset,
  getManifest,
  prepareDataset,
  type PrepareDatasetOptions,
} from "./dataset.ts";
import { BlockStore, openBlockStore } from "./store.ts";

const seller = privateKeyToAccount(`0x${"11".repeat(32)}`).address;
const gateway = privateKeyToAccount(`0x${"22".repeat(32)}`).address;
const base: PrepareDatasetOptions = {
  title: "Air quality, Berlin",
  category: "environment",
  seller,
  gateway,
  price: 10n ** 18n,
  licence: { id: "kosmos-research-1" },
  chunkSize: 1024,
  createdAt: 1_800_000_000_000,
};

async function withStore(fn: (store: BlockStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-dataset-" });
  try {
    await fn(await openBlockStore(dir), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function streamOf(text: string, piece = 333): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function sensorCsv(rows: number): string {
  const lines = ["timestamp,sensor_id,pm25,ok"];
  for (let i = 0; i < rows; i++) {
    lines.push(
      `${new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString()},s${i % 7},${(i % 50) / 2},${i % 3 === 0}`,
    );
  }
  return lines.join("\n") + "\n";
}

Deno.test("prepareDataset() stores chunks and a manifest that decryptDataset() turns back into the file", async () => {
  await withStore(async (store) => {
    const text = sensorCsv(200);
    const prepared = await prepareDataset(store, streamOf(text), {
      ...base,
      filename: "air.csv",
      consent: ["c-1"],
    });
    const { manifest, dek } = prepared;
    assert.equal(manifest.format, "csv");
    assert.equal(manifest.contentType, "text/csv");
    assert.equal(manifest.filename, "air.csv");
    assert.equal(manifest.byteLength, new TextEncoder().encode(text).byteLength);
    assert.equal(manifest.chunks.length, Math.ceil(manifest.byteLength / 1024));
    assert.equal(manifest.rowCount, 200);
    assert.deepEqual(manifest.schema, [
      { name: "timestamp", type: "timestamp" },
      { name: "sensor_id", type: "string" },
      { name: "pm25", type: "number" },
      { name: "ok", type: "boolean" },
    ]);
    assert.deepEqual(manifest.timeRange, {
      from: Date.UTC(2026, 0, 1),
      to: Date.UTC(2026, 0, 1) + 199 * 60_000,
    });
    assert.deepEqual(manifest.preview[0], ["2026-01-01T00:00:00.000Z", MASK, 0, true]);
    assert.equal(manifest.preview.length, 5);
    assert.equal(manifest.dekCommit, keccak256(dek));
    assert.equal(manifest.seller, seller);
    assert.equal(manifest.gateway, gateway);
    assert.equal(manifest.price, "1000000000000000000");
    assert.deepEqual(manifest.consent, ["c-1"]);
    assert.deepEqual(await getManifest(store, prepared.manifestCid), manifest);
    assert.deepEqual((await store.usage()).blocks, manifest.chunks.length + 1);

    const plain = await readAll(decryptDataset(store, manifest, { dek }));
    assert.equal(new TextDecoder().decode(plain), text);
  });
});

Deno.test("prepareDataset() detects NDJSON and JSON arrays and uses a given key", async () => {
  await withStore(async (store) => {
    const dek = crypto.getRandomValues(new Uint8Array(32));
    const records = Array.from({ length: 50 }, (_, i) => ({ page: `/p/${i}`, visits: i, bounce: i / 100 }));
    const nd = await prepareDataset(store, streamOf(records.map((r) => JSON.stringify(r)).join("\n")), {
      ...base,
      category: "analytics",
      dek,
    });
    assert.equal(nd.manifest.format, "ndjson");
    assert.equal(nd.manifest.contentType, "application/x-ndjson");
    assert.deepEqual(nd.dek, dek);
    assert.equal(nd.manifest.rowCount, 50);
    assert.equal(nd.manifest.timeRange, undefined);
    const json = await prepareDataset(store, streamOf(JSON.stringify(records)), {
      ...base,
      licence: "cc-by-4.0",
    });
    assert.equal(json.manifest.format, "json");
    assert.deepEqual(json.manifest.licence, { id: "cc-by-4.0" });
    assert.deepEqual(json.manifest.schema.map((c) => c.type), ["string", "integer", "number"]);
    assert.notEqual(json.manifestCid, nd.manifestCid);
  });
});

Deno.test("prepareDataset() removes the chunks it wrote when the input turns out malformed or empty", async () => {
  await withStore(async (store) => {
    const text = sensorCsv(100) + '"never closed,1,2\n';
    await assert.rejects(() => prepareDataset(store, streamOf(text), base), DatasetFormatError);
    assert.deepEqual(await store.usage(), { blocks: 0, bytes: 0 });
    await assert.rejects(() => prepareDataset(store, streamOf(""), base), /empty/);
    await assert.rejects(
      () => prepareDataset(store, streamOf("a\n1\n"), { ...base, seller: "0x12" }),
      TypeError,
    );
    await assert.rejects(
      () => prepareDataset(store, streamOf("a\n1\n"), { ...base, title: "" }),
      /field "title"/,
    );
    assert.deepEqual(await store.usage(), { blocks: 0, bytes: 0 });
  });
});

Deno.test("decryptDataset() refuses a key that does not match dekCommit", async () => {
  await withStore(async (store) => {
    const { manifest } = await prepareDataset(store, streamOf(sensorCsv(10)), base);
    assert.throws(() => decryptDataset(store, manifest, { dek: new Uint8Array(32) }), DatasetIntegrityError);
  });
});

Deno.test("decryptDataset() fails on a corrupted chunk, a swapped chunk and a wrong Merkle root", async () => {
  await withStore(async (store, dir) => {
    const { manifest, dek } = await prepareDataset(store, streamOf(sensorCsv(100)), base);
    assert.ok(manifest.chunks.length >= 4);

    // A block served for the wrong CID (a lying provider).
    const lying: BlockGetter = {
      get: (cid) => store.get(cid.equals(manifest.chunks[1]) ? manifest.chunks[2] : cid),
    };
    await assert.rejects(() => readAll(decryptDataset(lying, manifest, { dek })), /chunk 1 does not match/);

    // Chunks listed in the wrong order: their CIDs match, but the index in the nonce and AAD does not.
    const chunks = [...manifest.chunks];
    [chunks[0], chunks[1]] = [chunks[1], chunks[0]];
    await assert.rejects(
      () => readAll(decryptDataset(store, { ...manifest, chunks }, { dek })),
      ChunkDecryptError,
    );

    // A manifest whose Merkle root is wrong: every chunk but the last is released, then the stream errors.
    const wrongRoot: Manifest = { ...manifest, merkleRoot: merkleRoot([keccak256(new Uint8Array([1]))]) };
    const reader = decryptDataset(store, wrongRoot, { dek }).getReader();
    let released = 0;
    await assert.rejects(async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        released += value.byteLength;
      }
    }, /Merkle root differs/);
    assert.equal(released, manifest.chunkSize * (manifest.chunks.length - 1));

    // A chunk file corrupted on disk.
    const key = manifest.chunks[3].toString();
    const path = `${dir}/blocks/${key.slice(-3, -1)}/${key}`;
    const bytes = await Deno.readFile(path);
    bytes[50] ^= 1;
    await Deno.writeFile(path, bytes);
    await assert.rejects(() => readAll(decryptDataset(store, manifest, { dek })), CorruptBlockError);
  });
});

Deno.test("getManifest() rejects a block that is not a valid manifest and one that is missing", async () => {
  await withStore(async (store) => {
    const { manifest, manifestCid } = await prepareDataset(store, streamOf(sensorCsv(10)), base);
    assert.equal(manifestCid, (await encodeManifest(manifest)).manifestCid);
    const junk = dagCbor.encode({ not: "a manifest" });
    const junkCid = CID.createV1(0x71, await sha256.digest(junk));
    await store.put(junk, { cid: junkCid });
    await assert.rejects(
      () => getManifest(store, junkCid),
      /Cannot decode manifest "bafy[a-z0-9]+": field "not"/,
    );
    const other = await encodeManifest({ ...manifest, title: "other" });
    await assert.rejects(() => getManifest(store, other.cid), /not stored/);
  });
});

Deno.test("prepareDataset() streams a 20 MiB CSV with bounded memory and decrypts it back", async () => {
  await withStore(async (store) => {
    const target = 20 * 1024 * 1024;
    const encoder = new TextEncoder();
    let produced = 0;
    let rows = 0;
    const hasher = new Checksum();
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (produced >= target) return controller.close();
        const lines: string[] = produced === 0 ? ["ts,device,reading\n"] : [];
        for (let i = 0; i < 1000; i++, rows++) {
          lines.push(`${1_780_000_000 + rows},d${rows % 97},${rows % 1000}.5\n`);
        }
        const bytes = encoder.encode(lines.join(""));
        hasher.update(bytes);
        produced += bytes.byteLength;
        controller.enqueue(bytes);
      },
    }, { highWaterMark: 0 });
    let producedAtFirstPut = -1;
    const put = store.put.bind(store);
    store.put = (bytes, options) => {
      if (producedAtFirstPut < 0) producedAtFirstPut = produced;
      return put(bytes, options);
    };
    const { manifest, dek } = await prepareDataset(store, source, { ...base, chunkSize: 1024 * 1024 });
    assert.ok(
      producedAtFirstPut <= 8 * 1024 * 1024,
      `read ${producedAtFirstPut} bytes before storing the first chunk`,
    );
    assert.equal(manifest.byteLength, produced);
    assert.equal(manifest.rowCount, rows);
    assert.deepEqual(manifest.schema.map((c) => c.type), ["timestamp", "string", "number"]);
    assert.deepEqual(manifest.timeRange, { from: 1_780_000_000_000, to: (1_780_000_000 + rows - 1) * 1000 });

    const check = new Checksum();
    let total = 0;
    for await (const piece of decryptDataset(store, manifest, { dek })) {
      check.update(piece);
      total += piece.byteLength;
    }
    assert.equal(total, produced);
    assert.equal(check.digest(), hasher.digest());
  });
});

/** A running checksum (FNV-1a over 32-bit words), so the test holds no copy of the data. */
class Checksum {
  #h = 0x811c9dc5;
  #n = 0;
  update(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.byteLength; i++) {
      this.#h = Math.imul(this.#h ^ bytes[i], 0x01000193) >>> 0;
      this.#n++;
    }
  }
  digest(): string {
    return `${this.#h.toString(16)}:${this.#n}`;
  }
}
