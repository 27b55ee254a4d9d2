/**
 * Anchoring, Chainpoint style: every content this node publishes (each sealed stream epoch's file, by its
 * raw `contentCid`, and each dataset's `manifestCid`) becomes a leaf `keccak256(CID bytes)`; every
 * `intervalMs` (default 60 s) the pending leaves (at most 4096) become a sorted-pair Merkle tree
 * (`protocol/merkle.ts`, OpenZeppelin `MerkleProof` compatible) whose root is anchored with
 * `KosmosAnchor.anchor(root, label)`; the contract stamps the block time. Each leaf's proof is kept, so
 * anyone holding the file and the proof can check it against the chain (`kosmos verify FILE PROOF`). A root
 * someone else already anchored (the same leaves) counts: its first `Anchored` log is the proof's
 * transaction. On a chain without contracts the leaves wait.
 *
 * Tables: `anchor_leaves` (CID, leaf, when added, its batch and proof; pending rows are durable, so a
 * restart anchors them) and `anchor_batches` (root, label, leaf count, and once mined the transaction,
 * block, contract timestamp, chain id and contract). No protocol, no events.
 *
 * ```ts
 * const anchor = node.components.anchor;
 * anchor.add(contentCid);              // after sealing an epoch or publishing a dataset
 * anchor.statusOf(contentCid);         // "pending" → "anchoring" → "anchored"
 * anchor.proofOf(contentCid);          // AnchorProof (GET /api/v1/proofs/:cid) once anchored
 * ```
 */
import { defineService } from "../../service.ts";
import { Anchor, type AnchorComponents, type AnchorInit } from "./anchor.ts";

export {
  Anchor,
  type AnchorComponents,
  type AnchorInit,
  AnchorInputError,
  anchorLeafOf,
  type AnchorProof,
  type AnchorStatus,
  DEFAULT_ANCHOR_INTERVAL_MS,
  MAX_ANCHOR_BATCH,
} from "./anchor.ts";

/** The `anchor` component; its batch timer starts in `start()` when the chain has the contracts. */
export function anchor(init: AnchorInit = {}) {
  return defineService("anchor", ["db", "chain"], (c: AnchorComponents) => new Anchor(c, init));
}
