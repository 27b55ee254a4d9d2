/** `GET /api/v1/node` — identity, addresses, peers and chain of this node. */
import { Hono } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { defineRoute } from "../../router.ts";

export function createNodeRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/node", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getNodeInfo({ signal: c.req.raw.signal }));
    },
  });
  return api;
}
