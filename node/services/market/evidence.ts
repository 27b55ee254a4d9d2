/**
 * Checking bought data before paying for it, and the evidence of a bad-data
 * dispute that anyone (the arbiter) can check again.
 *
 * {@link checkDatasetData} walks every chunk of a manifest with the revealed
 * key: the bytes must hash to the chunk's CID, authenticate under the key at
 * their index, have the right length, and the plaintext leaves must give the
 * manifest's Merkle root. It names the first chunk that fails.
 *
 * When the buyer's node finds the data bad it raises a dispute on chain with
 * `evidenceHash = keccak256(evidence)`, where the evidence is the canonical
 * JSON of {@link DisputeEvidence}: the sale, the manifest, the failing chunk
 * and what failed, plus `Z` and `kSale` so that the arbiter can recompute the
 * key. {@link verifyDisputeEvidence} is what the arbiter runs.
 *
 * ```ts
 * const check = await checkDatasetData(blocks, manifest, dek);
 * if (!check.ok) {
 *   const evidence = encodeDisputeEvidence({ v: 1, saleId, manifestCid, failure: check.failure, z, kSale });
 *   await disputeSale(client, { saleId, sale, evidenceHash: keccak256(evidence) });
 * }
 * // the arbiter, with the evidence the buyer publishes:
 * const { bad, reason } = await verifyDisputeEvidence(evidence, { blocks, sale });
 * ```
 */
import { CID } from "multiformats/cid";
import { type Hex, keccak256, toBytes } from "viem";
import { toManifestCid } from "../../../protocol/ids.ts";
import type { Manifest } from "../../../protocol/manifest.ts";
import { type Hash, merkleRoot } from "../../../protocol/merkle.ts";
import { computeSaleKeyCommit, decodeSaleKeys, type Sale } from "../../../protocol/quote.ts";
import {
  type BlockGetter,
  decryptChunk,
  getManifest,
  hashChunkLeaf,
  importDek,
  matchesCid,
} from "../blocks/mod.ts";
import { checkHex, hasOnlyKeys, isObject, SaleProtocolError } from "../../../protocol/wire_fields.ts";

/** What made data bad. */
export type DataFailureKind =
  /** A chunk (or the manifest) could not be obtained from any provider. */
  | "unavailable"
  /** The bytes of a chunk do not hash to its CID. */
  | "cid"
  /** A chunk does not authenticate under the key. */
  | "decrypt"
  /** A chunk's plaintext has the wrong length. */
  | "length"
  /** Every chunk decrypts, but the plaintext Merkle root is not the manifest's. */
  | "merkle-root"
  /** The key does not match the commitment (the manifest's, or the sale's). */
  | "key";

const FAILURE_KINDS: readonly DataFailureKind[] = [
  "unavailable",
  "cid",
  "decrypt",
  "length",
  "merkle-root",
  "key",
];

export interface DataFailure {
  what: DataFailureKind;
  /** The failing chunk's index, when one chunk failed. */
  chunk?: number;
  /** The failing chunk's CID. */
  cid?: string;
  /** A sentence for people. */
  message: string;
}

export type DataCheck = { ok: true } | { ok: false; failure: DataFailure };

export interface CheckDatasetDataOptions {
  /** Chunks read and decrypted ahead. @default 4 */
  concurrency?: number;
  signal?: AbortSignal;
  /** Called after each chunk that checks out, with the count so far. */
  onChunk?: (verified: number) => void;
}

/**
 * Checks every chunk of `manifest` against its CID, the key, its length and
 * the plaintext Merkle root. Never throws for bad data (only when aborted):
 * the answer names the first chunk that fails.
 */
export async function checkDatasetData(
  blocks: BlockGetter,
  manifest: Manifest,
  dek: Uint8Array,
  options: CheckDatasetDataOptions = {},
): Promise<DataCheck> {
  const { signal } = options;
  const fail = (failure: DataFailure): DataCheck => ({ ok: false, failure });
  if (!(dek instanceof Uint8Array) || dek.byteLength !== 32 || keccak256(dek) !== manifest.dekCommit) {
    return fail({ what: "key", message: "the key does not match the manifest's dekCommit" });
  }
  const key = await importDek(dek);
  const total = manifest.chunks.length;
  const open = async (index: number): Promise<Hash | DataFailure> => {
    const cid = manifest.chunks[index];
    const at = { chunk: index, cid: cid.toString() };
    let sealed: Uint8Array;
    try {
      sealed = await blocks.get(cid, { signal });
    } catch (err) {
      signal?.throwIfAborted();
      return {
        what: "unavailable",
        ...at,
        message: `chunk ${index} is unavailable: ${(err as Error).message}`,
      };
    }
    if (!(await matchesCid(cid, sealed))) {
      return { what: "cid", ...at, message: `chunk ${index} does not match its CID` };
    }
    let plain: Uint8Array;
    try {
      plain = await decryptChunk(key, sealed, { index });
    } catch {
      return { what: "decrypt", ...at, message: `chunk ${index} does not decrypt under the key` };
    }
    const expected = index < total - 1
      ? manifest.chunkSize
      : manifest.byteLength - manifest.chunkSize * (total - 1);
    if (plain.byteLength !== expected) {
      return {
        what: "length",
        ...at,
        message: `chunk ${index} has ${plain.byteLength} plaintext bytes, not ${expected}`,
      };
    }
    return await hashChunkLeaf(plain);
  };
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const leaves: Hash[] = [];
  const pending: Promise<Hash | DataFailure>[] = [];
  let next = 0;
  while (leaves.length < total) {
    signal?.throwIfAborted();
    while (next < total && pending.length < concurrency) {
      const opening = open(next++);
      opening.catch(() => {}); // awaited in order below
      pending.push(opening);
    }
    const leaf = await pending.shift()!;
    if (typeof leaf !== "string") {
      await Promise.allSettled(pending);
      return fail(leaf);
    }
    leaves.push(leaf);
    options.onChunk?.(leaves.length);
  }
  if (merkleRoot(leaves) !== manifest.merkleRoot) {
    return fail({ what: "merkle-root", message: "the plaintext Merkle root differs from the manifest's" });
  }
  return { ok: true };
}

/** What a buyer's node publishes when it disputes a sale for bad data. `z` and `kSale` give the key. */
export interface DisputeEvidence {
  v: 1;
  saleId: Hex;
  manifestCid: string;
  failure: DataFailure;
  z: Hex;
  kSale: Hex;
}

/** Largest evidence accepted. */
export const MAX_EVIDENCE_BYTES = 4096;

/** The canonical JSON text of `evidence` (fixed key order); its keccak256 is the on-chain `evidenceHash`. */
export function encodeDisputeEvidence(evidence: DisputeEvidence): string {
  const f = evidence.failure;
  return JSON.stringify({
    v: 1,
    saleId: evidence.saleId,
    manifestCid: evidence.manifestCid,
    failure: {
      what: f.what,
      ...(f.chunk !== undefined && { chunk: f.chunk }),
      ...(f.cid !== undefined && { cid: f.cid }),
      message: f.message.slice(0, 500),
    },
    z: evidence.z,
    kSale: evidence.kSale,
  });
}

/** `keccak256` of the evidence text, as the dispute commits it. */
export function computeEvidenceHash(evidence: string): Hex {
  return keccak256(toBytes(evidence));
}

/** Parses and checks evidence text; throws a `SaleProtocolError` naming what is wrong. */
export function decodeDisputeEvidence(text: string): DisputeEvidence {
  if (typeof text !== "string" || text.length > MAX_EVIDENCE_BYTES) {
    throw new SaleProtocolError(`Invalid dispute evidence: not text of at most ${MAX_EVIDENCE_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new SaleProtocolError("Invalid dispute evidence: not JSON", { cause });
  }
  if (!isObject(value) || !hasOnlyKeys(value, ["v", "saleId", "manifestCid", "failure", "z", "kSale"])) {
    throw new SaleProtocolError("Invalid dispute evidence: bad fields");
  }
  if (value.v !== 1) throw new SaleProtocolError("Invalid dispute evidence: unknown version");
  const f = value.failure;
  if (!isObject(f) || !FAILURE_KINDS.includes(f.what as DataFailureKind) || typeof f.message !== "string") {
    throw new SaleProtocolError("Invalid dispute evidence: bad failure");
  }
  const allowed = ["what", "chunk", "cid", "message"];
  if (!Object.keys(f).every((k) => allowed.includes(k))) {
    throw new SaleProtocolError("Invalid dispute evidence: bad failure fields");
  }
  if (f.chunk !== undefined && (!Number.isSafeInteger(f.chunk) || (f.chunk as number) < 0)) {
    throw new SaleProtocolError("Invalid dispute evidence: bad chunk index");
  }
  if (f.cid !== undefined && typeof f.cid !== "string") {
    throw new SaleProtocolError("Invalid dispute evidence: bad chunk CID");
  }
  let manifestCid: string;
  try {
    manifestCid = toManifestCid(value.manifestCid);
  } catch (cause) {
    throw new SaleProtocolError("Invalid dispute evidence: manifestCid is not a manifest CID", { cause });
  }
  const z = checkHex(value.z, undefined, "evidence.z");
  if (z.length < 66 || (z.length - 2) % 64 !== 0) {
    throw new SaleProtocolError("Invalid dispute evidence: z is not a whole number of 32-byte words");
  }
  return {
    v: 1,
    saleId: checkHex(value.saleId, 32, "evidence.saleId"),
    manifestCid,
    failure: {
      what: f.what as DataFailureKind,
      ...(f.chunk !== undefined && { chunk: f.chunk as number }),
      ...(f.cid !== undefined && { cid: f.cid as string }),
      message: f.message as string,
    },
    z,
    kSale: checkHex(value.kSale, 32, "evidence.kSale"),
  };
}

export interface VerifyDisputeEvidenceOptions {
  /** Where to read the manifest and the chunks: a block store, or a getter over the network. */
  blocks: BlockGetter;
  /**
   * The disputed sale as the escrow holds it: when given, the evidence must
   * match its `zHash`, `kSaleHash` and `dekCommit`.
   */
  sale?: Pick<Sale, "zHash" | "kSaleHash" | "dekCommit">;
  /** The evidence hash the dispute committed on chain; when given, the evidence must hash to it. */
  evidenceHash?: Hex;
  signal?: AbortSignal;
}

export interface DisputeVerdict {
  /** True when the data the key opens is not the listed data: the buyer should be refunded. */
  bad: boolean;
  reason: string;
}

/**
 * The arbiter's check of a bad-data dispute: recomputes the DEK from the
 * evidence's `Z` and `kSale`, and checks every chunk of the listed manifest
 * with it. Evidence that does not match the sale (or its committed hash) is
 * not proof of anything: `bad` is false.
 */
export async function verifyDisputeEvidence(
  evidence: string | DisputeEvidence,
  options: VerifyDisputeEvidenceOptions,
): Promise<DisputeVerdict> {
  const text = typeof evidence === "string" ? evidence : encodeDisputeEvidence(evidence);
  let e: DisputeEvidence;
  try {
    e = decodeDisputeEvidence(text);
  } catch (err) {
    return { bad: false, reason: (err as Error).message };
  }
  if (options.evidenceHash && computeEvidenceHash(text) !== options.evidenceHash.toLowerCase()) {
    return { bad: false, reason: "the evidence does not hash to the dispute's evidenceHash" };
  }
  const { sale } = options;
  if (sale && keccak256(e.z) !== sale.zHash.toLowerCase()) {
    return { bad: false, reason: "Z does not match the sale's zHash" };
  }
  if (sale && computeSaleKeyCommit(e.kSale) !== sale.kSaleHash.toLowerCase()) {
    return { bad: false, reason: "kSale does not match the sale's commitment" };
  }
  const deks = decodeSaleKeys(e.z, e.kSale);
  if (deks.length !== 1) return { bad: false, reason: "a dataset sale carries exactly one key" };
  const dek = deks[0];
  if (sale && keccak256(dek) !== sale.dekCommit.toLowerCase()) {
    return { bad: true, reason: "the revealed key does not match the sale's dekCommit" };
  }
  let manifest: Manifest;
  try {
    manifest = await getManifest(options.blocks, CID.parse(e.manifestCid));
  } catch (err) {
    options.signal?.throwIfAborted();
    return { bad: true, reason: `the manifest is unavailable or invalid: ${(err as Error).message}` };
  }
  if (sale && manifest.dekCommit !== sale.dekCommit.toLowerCase()) {
    return { bad: true, reason: "the manifest commits another key than the sale" };
  }
  const check = await checkDatasetData(options.blocks, manifest, toBytes(dek), { signal: options.signal });
  if (check.ok) return { bad: false, reason: "every chunk decrypts and the plaintext Merkle root matches" };
  return { bad: true, reason: check.failure.message };
}
