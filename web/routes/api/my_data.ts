/**
 * "My data" over HTTP:
 *
 * - `GET /api/v1/me/listings` → `{ listings }`: the listings this node sells, newest first,
 *   each with its replication, registry stakes (and their withdrawal state), open challenges,
 *   sales and revenue, and sale delegates;
 * - `DELETE /api/v1/listings/:id/delegates/:address` → `200 { registryListingId, delegate,
 *   txHash }`: the delegate may no longer sell the listing (the escrow refuses its quotes);
 *   `?preview=1` answers `{ preview: true, fee, … }` and signs nothing. A wallet that is not
 *   a delegate of the listing is a 404.
 */
import { Hono } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { DelegateAddress } from "../../../protocol/api/my_data.ts";
import { manifestCid as ManifestCid } from "../../../protocol/api/schema.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { validate } from "../../validate.ts";
import { wantsPreview } from "./preview.ts";

const errors: ErrorPolicy = { badInput: 400, reverts: "conflict" };

export function createMyDataRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/me/listings", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json({ listings: await facade.listMyListings({ signal: c.req.raw.signal }) });
    },
  }, { errors });
  defineRoute(api, "/listings/:id/delegates/:address", {
    DELETE: async (c) => {
      const preview = wantsPreview(c);
      const manifestCid = validate(ManifestCid, c.req.param("id"), { status: 400 });
      const delegate = validate(DelegateAddress, c.req.param("address"), { status: 400 });
      const signal = c.req.raw.signal;
      if (preview) return c.json(await facade.previewRemoveDelegate(manifestCid, { delegate }, { signal }));
      return c.json(await facade.removeDelegate(manifestCid, { delegate }, { signal }));
    },
  }, { errors });
  return api;
}
