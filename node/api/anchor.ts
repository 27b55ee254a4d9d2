/**
 * Anchoring proofs (`AnchorApi`) over the `anchor` service: the stored proof of a CID once its batch is
 * anchored, a `NotFoundError` saying how far it got before.
 */
import type { AnchorApi } from "../../protocol/api/anchor.ts";
import type { AnchorProofView } from "../../protocol/api/streams.ts";
import type { Anchor } from "../services/anchor/mod.ts";
import { NotFoundError } from "../errors.ts";

export interface AnchorApiComponents {
  anchor: Anchor;
}

const STATUS_TEXT = {
  unknown: "this node has not anchored it",
  pending: "it waits for the next anchoring batch",
  anchoring: "its batch is being anchored",
} as const;

export function createAnchorApi(c: AnchorApiComponents): AnchorApi {
  return {
    getProof(cid: string): Promise<AnchorProofView> {
      let status;
      try {
        status = c.anchor.statusOf(cid);
      } catch (cause) {
        return Promise.reject(new TypeError((cause as Error).message, { cause }));
      }
      const proof = status === "anchored" ? c.anchor.proofOf(cid) : undefined;
      if (!proof) {
        const why = STATUS_TEXT[status === "anchored" ? "anchoring" : status];
        return Promise.reject(
          new NotFoundError(`No anchor proof of ${cid}: ${why}`, { details: { status } }),
        );
      }
      return Promise.resolve({ ...proof });
    },
  };
}
