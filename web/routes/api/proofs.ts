/**
 * Anchoring proofs; a public route (`auth.ts`): a proof repeats what the chain holds.
 *
 * - `GET /api/v1/proofs/:cid` → `AnchorProofView`: 404 until the CID's batch is anchored, 400 for a string
 *   that is not a CIDv1 with a sha2-256 hash.
 */
import { Hono } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { defineRoute } from "../../router.ts";

/** Longest CID string looked up. */
const MAX_CID_LENGTH = 100;

export function createProofRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/proofs/:cid", {
    GET: async (c) => {
      const cid = c.req.param("cid") ?? "";
      if (cid.length > MAX_CID_LENGTH) throw new TypeError("Invalid CID: too long");
      return c.json(await facade.getProof(cid, { signal: c.req.raw.signal }));
    },
  }, { errors: { badInput: 400 } });
  return api;
}
