import assert from "node:assert/strict";
import fc from "fast-check";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { hashLeaf } from "../../../protocol/merkle.ts";
import {
  CHUNK_OVERHEAD,
  chunkStream,
  decryptChunk,
  encryptChunk,
  generateDek,
  hashChunkLeaf,
  importDek,
  NONCE_LENGTH,
  splitStream,
} from "./chunker.ts";
import { ChunkDecryptError } from "./errors.ts";

async function* from(pieces: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) yield piece;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

Deno.test("splitStream() re-slices any piece sizes into exact chunks without losing a byte", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
      fc.integer({ min: 1, max: 128 }),
      async (pieces, size) => {
        const out: Uint8Array[] = [];
        for await (const chunk of splitStream(from(pieces), size)) out.push(chunk.slice());
        assert.deepEqual(concat(out), concat(pieces));
        out.slice(0, -1).forEach((c) => assert.equal(c.byteLength, size));
        if (out.length > 0) assert.ok(out.at(-1)!.byteLength >= 1 && out.at(-1)!.byteLength <= size);
      },
    ),
  );
});

Deno.test("encryptChunk() and decryptChunk() round-trip and bind the key, index and every byte", async () => {
  const key = await importDek(generateDek());
  const other = await importDek(generateDek());
  const plain = crypto.getRandomValues(new Uint8Array(5000));
  const prefix = new Uint8Array([1, 2, 3, 4]);
  const sealed = await encryptChunk(key, plain, { index: 7, noncePrefix: prefix });
  assert.equal(sealed.byteLength, plain.byteLength + CHUNK_OVERHEAD);
  assert.deepEqual(sealed.subarray(0, NONCE_LENGTH), new Uint8Array([1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 7]));
  assert.deepEqual(await decryptChunk(key, sealed, { index: 7 }), plain);
  await assert.rejects(() => decryptChunk(other, sealed, { index: 7 }), ChunkDecryptError);
  await assert.rejects(() => decryptChunk(key, sealed, { index: 8 }), /sealed as chunk 7/);
  const flipped = sealed.slice();
  flipped[100] ^= 1;
  await assert.rejects(() => decryptChunk(key, flipped, { index: 7 }), /authentication failed/);
  // Same nonce, other index in the associated data: a moved chunk does not open.
  const moved = sealed.slice();
  moved[NONCE_LENGTH - 1] = 8;
  await assert.rejects(() => decryptChunk(key, moved, { index: 8 }), /authentication failed/);
  await assert.rejects(() => decryptChunk(key, sealed.subarray(0, 20), { index: 7 }), /too short/);
  assert.throws(() => importDek(new Uint8Array(16)), TypeError);
});

Deno.test("hashChunkLeaf() equals hashLeaf() from protocol/merkle.ts", async () => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), async (bytes) => {
    assert.equal(await hashChunkLeaf(bytes), hashLeaf(bytes));
  }));
});

Deno.test("chunkStream() yields ordered chunks with raw sha2-256 CIDs that decrypt back to the input", async () => {
  const key = await importDek(generateDek());
  const input = crypto.getRandomValues(new Uint8Array(10_000));
  const pieces = [input.subarray(0, 1), input.subarray(1, 4097), input.subarray(4097)];
  const chunks = [];
  for await (const chunk of chunkStream(from(pieces), key, { chunkSize: 1024, concurrency: 3 })) {
    chunks.push(chunk);
  }
  assert.deepEqual(chunks.map((c) => c.index), Array.from({ length: 10 }, (_, i) => i));
  assert.deepEqual(chunks.map((c) => c.plaintextLength), [...Array(9).fill(1024), 784]);
  const prefixes = new Set(chunks.map((c) => c.bytes.subarray(0, 4).join()));
  assert.equal(prefixes.size, 1, "one nonce prefix per dataset");
  const plain: Uint8Array[] = [];
  for (const c of chunks) {
    assert.equal(c.cid.toString(), CID.createV1(0x55, await sha256.digest(c.bytes)).toString());
    const opened = await decryptChunk(key, c.bytes, { index: c.index });
    assert.equal(c.leaf, hashLeaf(opened));
    plain.push(opened);
  }
  assert.deepEqual(concat(plain), input);
  const none = [];
  for await (const c of chunkStream(from([]), key, { chunkSize: 1024 })) none.push(c);
  assert.equal(none.length, 0);
  await assert.rejects(async () => {
    for await (const _ of chunkStream(from([input]), key, { chunkSize: 10 })) { /* never reached */ }
  }, RangeError);
});

Deno.test("chunkStream() stops reading its input when the consumer stops", async () => {
  const key = await importDek(generateDek());
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(1024));
    },
  }, { highWaterMark: 0 });
  let seen = 0;
  for await (const _ of chunkStream(stream, key, { chunkSize: 1024, concurrency: 2 })) {
    if (++seen === 3) break;
  }
  assert.ok(pulled <= 6, `pulled ${pulled} pieces for 3 chunks`);
});
