/**
 * The catalog over HTTP:
 *
 * - `GET /api/v1/listings?q=&category=&sort=newest|price|stake|relevance&limit=&offset=`
 *   → `{ listings: [...], total }`, each listing with its `providers` and this
 *   node's `replication` count;
 * - `GET /api/v1/listings/:id` → one listing, plus its `manifest` summary
 *   (once this node holds the manifest) and this node's `fetch` progress.
 */
import { Hono } from "hono";
import { ListingsParams } from "../../../protocol/api/datasets.ts";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { validate } from "../../validate.ts";

const errors: ErrorPolicy = { badInput: 400, rewrite: [/^Cannot list listings: /, ""] };

export function createListingRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/listings", {
    GET: async (c) => {
      const query = validate(ListingsParams, new URL(c.req.url).searchParams, { status: 400 });
      c.header("Cache-Control", "no-store");
      return c.json(await facade.listListings(query, { signal: c.req.raw.signal }));
    },
  }, { errors });
  defineRoute(api, "/listings/:id", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getListing(c.req.param("id") ?? "", { signal: c.req.raw.signal }));
    },
  }, { errors });
  return api;
}
