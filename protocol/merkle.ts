/**
 * Plaintext Merkle tree of a dataset, compatible with OpenZeppelin's
 * `MerkleProof.verify`: a leaf is `keccak256(sha256(chunk bytes))`, an inner
 * node is `keccak256` of its two children sorted as bytes, so a contract can
 * check a proof with no index (recomputing a leaf from a chunk with the
 * SHA-256 precompile). Hashing the chunk with SHA-256 first keeps the leaf
 * preimage at 32 bytes, so no leaf can pass for an inner node (64 bytes), and
 * lets the bulk hashing run on hardware SHA-256 instead of keccak. Leaves stay in chunk order; a node without a sibling
 * is carried up a level unchanged (its proof is simply one element shorter).
 *
 * ```ts
 * const leaves = chunks.map(hashLeaf);
 * const root = merkleRoot(leaves);
 * verifyMerkleProof({ leaf: leaves[2], proof: merkleProof(leaves, 2), root }); // true
 * ```
 */
import { bytesToHex, hexToBytes, keccak256, sha256 } from "viem";

export type Hash = `0x${string}`;

const HASH_PATTERN = /^0x[0-9a-f]{64}$/;

/** True for a lowercase `0x` + 64 hex digit string. */
export function isHash(value: unknown): value is Hash {
  return typeof value === "string" && HASH_PATTERN.test(value);
}

/** `keccak256(sha256(chunk))`, the leaf of one plaintext chunk. */
export function hashLeaf(chunk: Uint8Array): Hash {
  return keccak256(sha256(chunk, "bytes"), "hex");
}

function toBytes(leaves: readonly Hash[]): Uint8Array[] {
  return leaves.map((leaf, i) => {
    if (!isHash(leaf)) {
      throw new TypeError(`Invalid Merkle leaf ${i}: expected 0x and 64 lowercase hex digits`);
    }
    return hexToBytes(leaf);
  });
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  const both = new Uint8Array(64);
  if (compare(a, b) <= 0) {
    both.set(a, 0);
    both.set(b, 32);
  } else {
    both.set(b, 0);
    both.set(a, 32);
  }
  return keccak256(both, "bytes");
}

function nextLevel(level: Uint8Array[]): Uint8Array[] {
  const up: Uint8Array[] = [];
  for (let i = 0; i < level.length; i += 2) {
    up.push(i + 1 < level.length ? hashPair(level[i], level[i + 1]) : level[i]);
  }
  return up;
}

/** Root over `leaves` in order. A single leaf is its own root. */
export function merkleRoot(leaves: readonly Hash[]): Hash {
  if (leaves.length === 0) throw new RangeError("Cannot compute a Merkle root: no leaves");
  let level = toBytes(leaves);
  while (level.length > 1) level = nextLevel(level);
  return bytesToHex(level[0]);
}

/** Sibling hashes from leaf `index` up to the root, as `MerkleProof.verify` expects. */
export function merkleProof(leaves: readonly Hash[], index: number): Hash[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`Cannot build a Merkle proof: index ${index} is outside 0..${leaves.length - 1}`);
  }
  let level = toBytes(leaves);
  const proof: Hash[] = [];
  let i = index;
  while (level.length > 1) {
    const sibling = i ^ 1;
    if (sibling < level.length) proof.push(bytesToHex(level[sibling]));
    level = nextLevel(level);
    i >>= 1;
  }
  return proof;
}

export interface VerifyMerkleProofParameters {
  leaf: Hash;
  proof: readonly Hash[];
  root: Hash;
}

/** Recomputes the root from `leaf` and `proof` exactly as OpenZeppelin's `processProof` does. */
export function verifyMerkleProof({ leaf, proof, root }: VerifyMerkleProofParameters): boolean {
  if (!isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  let node = hexToBytes(leaf);
  for (const sibling of proof) node = hashPair(node, hexToBytes(sibling));
  return bytesToHex(node) === root;
}
