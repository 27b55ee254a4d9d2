/**
 * `GET /api/v1/chain` — the chain this node uses and its Kosmos contracts — and the error
 * policy the chain, wallet and stake routes share: bad input is a 422, and a registry revert
 * maps by its name (403, 404, 422, else 409), with the contract's custom error in the message.
 *
 * ```ts
 * app.route("/api/v1", createChainRoutes(facade));
 * ```
 */
import { Hono } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";

/** The error policy of every chain route. */
export const CHAIN_ERRORS: ErrorPolicy = { badInput: 422, reverts: "registry" };

export function createChainRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/chain", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getChainInfo({ signal: c.req.raw.signal }));
    },
  }, { errors: CHAIN_ERRORS });
  return api;
}
