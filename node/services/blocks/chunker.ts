/**
 * Streaming chunker: splits plaintext into fixed-size chunks and encrypts each
 * with AES-256-GCM under the dataset key (DEK), never holding more than a few
 * chunks in memory.
 *
 * Chunk format: `nonce (12 bytes) || ciphertext || tag (16 bytes)`, addressed
 * by CIDv1 (raw, sha2-256) over exactly those bytes.
 *
 * Nonce: a random 4-byte prefix chosen once per dataset, then the chunk index
 * as a big-endian uint64. A DEK is fresh for each dataset (a key sale hands it
 * over, so sharing one between datasets would sell both), so the index alone
 * makes every nonce unique under a key; the random prefix additionally keeps
 * two datasets apart should a caller ever reuse a DEK. Counters, unlike fully
 * random nonces, cannot collide by chance however many chunks there are.
 *
 * Associated data: `"kosmos-chunk-1"` || uint64 index, so a chunk cannot be
 * moved to another position without failing authentication. Truncation and
 * reordering of whole datasets are caught by the manifest's chunk list and
 * Merkle root.
 */
import { createHash } from "node:crypto";
import { keccak256 } from "viem";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { RAW_CODE, SHA2_256_CODE } from "../../../protocol/ids.ts";
import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from "../../../protocol/manifest.ts";
import type { Hash } from "../../../protocol/merkle.ts";
import { ChunkDecryptError } from "./errors.ts";

export const DEK_LENGTH = 32;
export const NONCE_LENGTH = 12;
export const NONCE_PREFIX_LENGTH = 4;
export const TAG_LENGTH = 16;
/** Bytes a chunk grows by when encrypted. */
export const CHUNK_OVERHEAD = NONCE_LENGTH + TAG_LENGTH;

const AAD_LABEL = new TextEncoder().encode("kosmos-chunk-1");

/** A fresh random 32-byte dataset key. */
export function generateDek(): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(DEK_LENGTH));
}

/** Imports a raw 32-byte DEK as a non-extractable AES-GCM key. */
export function importDek(dek: Uint8Array): Promise<CryptoKey> {
  if (!(dek instanceof Uint8Array) || dek.byteLength !== DEK_LENGTH) {
    throw new TypeError(`Cannot import dataset key: expected ${DEK_LENGTH} bytes`);
  }
  return crypto.subtle.importKey("raw", new Uint8Array(dek), "AES-GCM", false, ["encrypt", "decrypt"]);
}

function checkIndex(index: number, what: string): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`Cannot ${what}: index ${index} is not a uint`);
  }
}

function nonceFor(prefix: Uint8Array, index: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(NONCE_LENGTH);
  nonce.set(prefix, 0);
  new DataView(nonce.buffer).setBigUint64(NONCE_PREFIX_LENGTH, BigInt(index));
  return nonce;
}

function aadFor(index: number): Uint8Array<ArrayBuffer> {
  const aad = new Uint8Array(AAD_LABEL.byteLength + 8);
  aad.set(AAD_LABEL, 0);
  new DataView(aad.buffer).setBigUint64(AAD_LABEL.byteLength, BigInt(index));
  return aad;
}

export interface EncryptChunkOptions {
  /** Position of the chunk in its dataset, bound into the nonce and the associated data. */
  index: number;
  /** The dataset's 4-byte nonce prefix. @default 4 random bytes */
  noncePrefix?: Uint8Array;
}

/** Encrypts one chunk: returns `nonce || ciphertext || tag`. */
export async function encryptChunk(
  key: CryptoKey,
  plaintext: Uint8Array,
  options: EncryptChunkOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  const { index } = options;
  checkIndex(index, "encrypt chunk");
  const prefix = options.noncePrefix ?? crypto.getRandomValues(new Uint8Array(NONCE_PREFIX_LENGTH));
  if (prefix.byteLength !== NONCE_PREFIX_LENGTH) {
    throw new TypeError(`Cannot encrypt chunk ${index}: nonce prefix must be ${NONCE_PREFIX_LENGTH} bytes`);
  }
  const nonce = nonceFor(prefix, index);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: aadFor(index), tagLength: TAG_LENGTH * 8 },
    key,
    plaintext as Uint8Array<ArrayBuffer>,
  );
  const out = new Uint8Array(NONCE_LENGTH + sealed.byteLength);
  out.set(nonce, 0);
  out.set(new Uint8Array(sealed), NONCE_LENGTH);
  return out;
}

export interface DecryptChunkOptions {
  /** Position the chunk must have been encrypted for. */
  index: number;
}

/**
 * Opens a chunk made by {@link encryptChunk}. Throws {@link ChunkDecryptError}
 * when the key, the index or any byte is wrong.
 */
export async function decryptChunk(
  key: CryptoKey,
  bytes: Uint8Array,
  options: DecryptChunkOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  const { index } = options;
  checkIndex(index, "decrypt chunk");
  if (bytes.byteLength < CHUNK_OVERHEAD) {
    throw new ChunkDecryptError(`Cannot decrypt chunk ${index}: ${bytes.byteLength} bytes is too short`);
  }
  const nonce = bytes.slice(0, NONCE_LENGTH);
  const nonceIndex = new DataView(nonce.buffer).getBigUint64(NONCE_PREFIX_LENGTH);
  if (nonceIndex !== BigInt(index)) {
    throw new ChunkDecryptError(`Cannot decrypt chunk ${index}: it was sealed as chunk ${nonceIndex}`);
  }
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: nonce, additionalData: aadFor(index), tagLength: TAG_LENGTH * 8 },
      key,
      bytes.subarray(NONCE_LENGTH) as Uint8Array<ArrayBuffer>,
    );
    return new Uint8Array(plain);
  } catch (cause) {
    throw new ChunkDecryptError(`Cannot decrypt chunk ${index}: authentication failed`, { cause });
  }
}

/** CIDv1 (raw, sha2-256) of a ciphertext chunk; hashed by WebCrypto, off the main thread. */
export async function chunkCid(bytes: Uint8Array): Promise<CID> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return CID.createV1(RAW_CODE, Digest.create(SHA2_256_CODE, hash));
}

/**
 * `keccak256(sha256(plaintext chunk))`, the Merkle leaf (same value as
 * `hashLeaf` in protocol/merkle.ts); the SHA-256 runs in WebCrypto, off the
 * main thread, on the CPU's SHA instructions.
 */
export async function hashChunkLeaf(plaintext: Uint8Array): Promise<Hash> {
  const digest = await crypto.subtle.digest("SHA-256", plaintext as Uint8Array<ArrayBuffer>);
  return keccak256(new Uint8Array(digest), "hex");
}

export interface EncryptedChunk {
  index: number;
  cid: CID;
  /** `nonce || ciphertext || tag`. */
  bytes: Uint8Array;
  /** `keccak256(sha256(plaintext chunk))`, its Merkle leaf. */
  leaf: Hash;
  plaintextLength: number;
}

export interface ChunkStreamOptions {
  /** Plaintext bytes per chunk (the last may be shorter). @default 1 MiB */
  chunkSize?: number;
  /** The dataset's 4-byte nonce prefix. @default 4 random bytes */
  noncePrefix?: Uint8Array;
  /** Chunks being encrypted at once, alongside the hashing on this thread; bounds memory to about twice this many chunks. @default 1 */
  concurrency?: number;
  signal?: AbortSignal;
}

/** Re-slices a byte stream into pieces of exactly `size` bytes (the last may be shorter). */
export async function* splitStream(
  stream: AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  let buffer: Uint8Array | undefined;
  let filled = 0;
  for await (const piece of stream) {
    let offset = 0;
    while (offset < piece.byteLength) {
      if (filled === 0 && piece.byteLength - offset >= size) {
        // Whole chunks straight from the input, without a copy.
        yield piece.subarray(offset, offset + size);
        offset += size;
        continue;
      }
      buffer ??= new Uint8Array(size);
      const n = Math.min(size - filled, piece.byteLength - offset);
      buffer.set(piece.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === size) {
        yield buffer;
        buffer = undefined;
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer!.subarray(0, filled);
}

/** SHA-256 on this thread (the CPU's SHA instructions): the AES of the next chunk runs meanwhile. */
function sha256Now(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

interface Sealing {
  index: number;
  leaf: Hash;
  plaintextLength: number;
  bytes: Promise<Uint8Array>;
}

function finishChunk({ index, leaf, plaintextLength }: Sealing, bytes: Uint8Array): EncryptedChunk {
  const cid = CID.createV1(RAW_CODE, Digest.create(SHA2_256_CODE, sha256Now(bytes)));
  return { index, cid, bytes, leaf, plaintextLength };
}

/**
 * Splits `stream` into chunks and yields them encrypted, in order, with their
 * CIDs and plaintext leaves. WebCrypto encrypts on its own threads while this
 * thread hashes (the next plaintext, then the previous ciphertext), so one AES
 * in flight keeps two cores busy without the two competing (measured with
 * `deno task bench chunks`).
 */
export async function* chunkStream(
  stream: AsyncIterable<Uint8Array>,
  key: CryptoKey,
  options: ChunkStreamOptions = {},
): AsyncGenerator<EncryptedChunk> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(
      `Cannot chunk stream: chunkSize ${chunkSize} is outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`,
    );
  }
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`Cannot chunk stream: concurrency ${concurrency} must be a positive integer`);
  }
  const prefix = options.noncePrefix ?? crypto.getRandomValues(new Uint8Array(NONCE_PREFIX_LENGTH));
  const pending: Sealing[] = [];
  let index = 0;
  try {
    for await (const plaintext of splitStream(stream, chunkSize)) {
      options.signal?.throwIfAborted();
      // Hash this chunk while the AES of the previous one runs, wait for that
      // AES, start this chunk's, then hash the previous ciphertext meanwhile.
      const leaf = keccak256(sha256Now(plaintext), "hex");
      let oldest: Sealing | undefined;
      let sealed: Uint8Array | undefined;
      if (pending.length >= concurrency) {
        oldest = pending.shift()!;
        sealed = await oldest.bytes;
      }
      const bytes = encryptChunk(key, plaintext, { index, noncePrefix: prefix });
      bytes.catch(() => {}); // awaited later; keeps an early failure from going unhandled meanwhile
      pending.push({ index: index++, leaf, plaintextLength: plaintext.byteLength, bytes });
      if (oldest) yield finishChunk(oldest, sealed!);
    }
    while (pending.length > 0) {
      options.signal?.throwIfAborted();
      const oldest = pending.shift()!;
      yield finishChunk(oldest, await oldest.bytes);
    }
  } finally {
    pending.length = 0;
  }
}
