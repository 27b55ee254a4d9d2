/**
 * A sorted-pair Merkle tree (OpenZeppelin's `MerkleProof` convention) for the rewards and anchor tests.
 *
 * ```ts
 * const { root, proofs } = buildTree([leafA, leafB, leafC]);
 * ```
 */
import { type Hex, keccak256 } from "viem";

function hashPair(a: Hex, b: Hex): Hex {
  return BigInt(a) < BigInt(b) ? keccak256(`${a}${b.slice(2)}`) : keccak256(`${b}${a.slice(2)}`);
}

/** A sorted-pair Merkle tree (OpenZeppelin's convention) over `leaves`; returns the root and proofs. */
export function buildTree(leaves: Hex[]): { root: Hex; proofs: Hex[][] } {
  const proofs: Hex[][] = leaves.map(() => []);
  let level = leaves.map((hash, i) => ({ hash, members: [i] }));
  while (level.length > 1) {
    const next: typeof level = [];
    for (let i = 0; i < level.length; i += 2) {
      const [a, b] = [level[i], level[i + 1]];
      if (!b) {
        next.push(a);
        continue;
      }
      for (const m of a.members) proofs[m].push(b.hash);
      for (const m of b.members) proofs[m].push(a.hash);
      next.push({ hash: hashPair(a.hash, b.hash), members: [...a.members, ...b.members] });
    }
    level = next;
  }
  return { root: level[0].hash, proofs };
}
