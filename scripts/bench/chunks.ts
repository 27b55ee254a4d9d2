/**
 * `deno task bench chunks [MiB]`: throughput of the dataset chunker (split,
 * AES-256-GCM, CID over each ciphertext chunk, keccak256 leaf over each
 * plaintext chunk), in memory, against raw WebCrypto AES-256-GCM over the same
 * bytes in the same 1 MiB pieces, one after the other. The input (256 MiB
 * by default: single rounds of 64 MiB vary by ±15 % on a 2-core machine)
 * reaches the chunker in 64 KiB pieces, as a file stream delivers it. Each
 * side runs `ROUNDS` times, interleaved, after a full-size warm-up; the best
 * round counts. The leaf hash alone (`hashChunkLeaf`, SHA-256 + keccak256)
 * over the same pieces is printed for reference: the chunker hashes on the
 * main thread while AES runs on WebCrypto's.
 *
 * Prints one JSON line:
 * `{"bench":"chunks","mbPerSec":…,"reference":{"rawAesGcmMbPerSec":…},"ratio":…,"target":0.8}`
 */
import { chunkStream, generateDek, hashChunkLeaf, importDek } from "../../node/services/blocks/chunker.ts";

const MiB = 1024 * 1024;
const totalMiB = Number(Deno.args[0] ?? 256);
const ROUNDS = 5;
const PIECE = 64 * 1024;

function makeData(bytes: number): Uint8Array<ArrayBuffer> {
  // Random-ish, cheap to make: a random 1 MiB block, each copy perturbed by its index.
  const data = new Uint8Array(bytes);
  const block = new Uint8Array(MiB);
  for (let i = 0; i < MiB; i += 65_536) crypto.getRandomValues(block.subarray(i, i + 65_536));
  for (let off = 0, n = 0; off < bytes; off += MiB, n++) {
    data.set(block.subarray(0, Math.min(MiB, bytes - off)), off);
    data[off] ^= n & 0xff;
  }
  return data;
}

async function* pieces(data: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < data.byteLength; off += PIECE) yield data.subarray(off, off + PIECE);
}

async function timeChunker(data: Uint8Array, key: CryptoKey): Promise<number> {
  const start = performance.now();
  let out = 0;
  for await (const chunk of chunkStream(pieces(data), key)) out += chunk.plaintextLength;
  const ms = performance.now() - start;
  if (out !== data.byteLength) throw new Error(`chunker produced ${out} of ${data.byteLength} bytes`);
  return ms;
}

async function timeRaw(data: Uint8Array<ArrayBuffer>, key: CryptoKey): Promise<number> {
  const iv = new Uint8Array(12);
  const start = performance.now();
  for (let off = 0; off < data.byteLength; off += MiB) {
    new DataView(iv.buffer).setUint32(8, off / MiB);
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, data.subarray(off, off + MiB));
  }
  return performance.now() - start;
}

/** keccak256 alone (the Merkle leaves) over the same 1 MiB pieces: the chunker's ceiling on one thread. */
async function timeKeccak(data: Uint8Array): Promise<number> {
  const start = performance.now();
  for (let off = 0; off < data.byteLength; off += MiB) await hashChunkLeaf(data.subarray(off, off + MiB));
  return performance.now() - start;
}

const data = makeData(totalMiB * MiB);
const key = await importDek(generateDek());
await timeChunker(data, key);
await timeRaw(data, key);
let best = Infinity;
let bestRaw = Infinity;
let bestKeccak = Infinity;
for (let round = 0; round < ROUNDS; round++) {
  bestRaw = Math.min(bestRaw, await timeRaw(data, key));
  bestKeccak = Math.min(bestKeccak, await timeKeccak(data));
  best = Math.min(best, await timeChunker(data, key));
}
const mbPerSec = totalMiB / (best / 1000);
const rawAesGcmMbPerSec = totalMiB / (bestRaw / 1000);
const round2 = (x: number) => Math.round(x * 100) / 100;
console.log(JSON.stringify({
  bench: "chunks",
  mbPerSec: round2(mbPerSec),
  reference: {
    rawAesGcmMbPerSec: round2(rawAesGcmMbPerSec),
    keccakMbPerSec: round2(totalMiB / (bestKeccak / 1000)),
  },
  ratio: round2(mbPerSec / rawAesGcmMbPerSec),
  target: 0.8,
}));
