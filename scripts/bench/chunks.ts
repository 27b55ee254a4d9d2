/**
 * `deno task bench chunks [MiB] [--rounds 5]`: throughput of the dataset chunker (split,
 * AES-256-GCM, CID over each ciphertext chunk, keccak256 leaf over each plaintext chunk), in
 * memory, against raw WebCrypto AES-256-GCM over the same bytes in the same 1 MiB pieces, one
 * after the other. The input (256 MiB by default: single rounds of 64 MiB vary by ±15 % on a
 * 2-core machine) reaches the chunker in 64 KiB pieces, as a file stream delivers it. The leaf
 * hash alone (`hashChunkLeaf`, SHA-256 + keccak256) over the same pieces is measured too: the
 * chunker hashes on the main thread while AES runs on WebCrypto's.
 *
 * Same conditions: one process, the same bytes and key for every side, a full-size warm-up round
 * of every side (not counted), then `--rounds` rounds that rotate which side goes first. Figures
 * are medians with their min and max; `ratio` is the median of the per-round chunker / raw AES
 * ratios. Process CPU per MiB is measured for every round of every side; `unstable` says the
 * reference's CPU per MiB moved by more than 15 % between rounds (its work does not change, so
 * that is the machine, and the figures of that run are not to be trusted).
 *
 * Prints one JSON line:
 * `{"bench":"chunks","mbPerSec":…,"mbPerSecMin":…,"mbPerSecMax":…,"reference":{"rawAesGcmMbPerSec":…,…},"ratio":…,"ratioMin":…,"ratioMax":…,"target":0.8,"met":…,"cpuMsPerMiB":{…},"unstable":false,"machine":{…}}`
 */
import { chunkStream, generateDek, hashChunkLeaf, importDek } from "../../node/services/blocks/chunker.ts";
import { interleave, machine, measure, numberArg, progress, summarize } from "./lib/fair.ts";

const MiB = 1024 * 1024;
const totalMiB = Number(Deno.args[0] && !Deno.args[0].startsWith("--") ? Deno.args[0] : 256);
if (!Number.isSafeInteger(totalMiB) || totalMiB < 1) {
  console.error("usage: deno task bench chunks [MiB] [--rounds 5]");
  Deno.exit(2);
}
const ROUNDS = numberArg("rounds", 5);
/** Largest (max − min) / median of the reference's CPU per MiB over the rounds of a stable run. */
const CPU_SPREAD_LIMIT = 0.15;
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
const rounds = await interleave(ROUNDS, {
  chunker: () => measure(() => timeChunker(data, key)),
  raw: () => measure(() => timeRaw(data, key)),
  keccak: () => measure(() => timeKeccak(data)),
}, { onRound: (r) => progress(`chunks: ${r < 0 ? "warm-up" : `round ${r + 1}/${ROUNDS}`}`) });
const mbPerSec = (side: { ms: number }[]) => summarize(side.map((r) => totalMiB / (r.ms / 1000)));
const cpuPerMiB = (side: { cpuMs: number }[]) => summarize(side.map((r) => r.cpuMs / totalMiB));
const chunker = mbPerSec(rounds.chunker);
const raw = mbPerSec(rounds.raw);
const ratio = summarize(rounds.chunker.map((r, i) => rounds.raw[i].ms / r.ms));
const rawCpu = cpuPerMiB(rounds.raw);
console.log(JSON.stringify({
  bench: "chunks",
  mib: totalMiB,
  rounds: ROUNDS,
  mbPerSec: chunker.median,
  mbPerSecMin: chunker.min,
  mbPerSecMax: chunker.max,
  reference: {
    rawAesGcmMbPerSec: raw.median,
    rawAesGcmMbPerSecMin: raw.min,
    rawAesGcmMbPerSecMax: raw.max,
    keccakMbPerSec: mbPerSec(rounds.keccak).median,
  },
  ratio: ratio.median,
  ratioMin: ratio.min,
  ratioMax: ratio.max,
  target: 0.8,
  met: ratio.median >= 0.8,
  cpuMsPerMiB: {
    chunker: cpuPerMiB(rounds.chunker).median,
    raw: rawCpu.median,
    rawMin: rawCpu.min,
    rawMax: rawCpu.max,
    keccak: cpuPerMiB(rounds.keccak).median,
  },
  unstable: (rawCpu.max - rawCpu.min) / rawCpu.median > CPU_SPREAD_LIMIT,
  machine: machine(),
}));
