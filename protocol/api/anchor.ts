/**
 * The API contract of anchoring proofs: public (a proof only repeats what the chain holds).
 *
 * - `GET /api/v1/proofs/:cid` → `AnchorProofView` (see `streams.ts`); 404 until the batch holding the CID is
 *   anchored, 400 for a string that is not a CIDv1 with a sha2-256 hash.
 *
 * ```ts
 * const proof = await api.getProof("bafkrei…"); // then `kosmos verify FILE proof.json`
 * ```
 */
import type { AnchorProofView } from "./streams.ts";

export interface AnchorApi {
  /** The proof of `cid`; `NotFoundError` while it is unknown here, pending or being anchored. */
  getProof(cid: string, options?: { signal?: AbortSignal }): Promise<AnchorProofView>;
}
