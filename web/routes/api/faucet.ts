/**
 * The faucet of a dev network; public routes (`auth.ts`), so a node joining this node's network
 * can ask for its test tokens:
 *
 * - `GET /api/v1/faucet[?address=0x…]` what a drip gives and when `address` (by default this
 *   node's wallet) may ask again.
 * - `POST /api/v1/faucet { address? }` has this node ask the faucet contract for a drip to
 *   `address` (by default its own wallet), paying the gas in test ether: 200 with the drip;
 *   `?preview=1` estimates the node's fee and sends nothing. No body at all means `{}`.
 *
 * Both answer 404 on a network that is not a dev network, and 429 with `Retry-After` when the
 * address, the caller (by IP) or everyone together had their share.
 */
import { Hono } from "hono";
import * as v from "valibot";
import { evmAddress, FaucetBody } from "../../../protocol/api/faucet.ts";
import { isPreview } from "../../../protocol/api/fees.ts";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody, validate } from "../../validate.ts";

const FAUCET_ERRORS: ErrorPolicy = { badInput: 422, reverts: "conflict" };
const FaucetQuery = v.object({ address: v.optional(evmAddress) });

type Env = { Bindings: { remoteAddr?: { hostname?: string } } };

export function createFaucetRoutes(facade: KosmosApi): Hono<Env> {
  const api = new Hono<Env>();
  defineRoute(api, "/faucet", {
    GET: async (c) => {
      const { address } = validate(FaucetQuery, { address: c.req.query("address") }, { status: 400 });
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getFaucet({ address: address as `0x${string}`, signal: c.req.raw.signal }));
    },
    POST: async (c) => {
      const preview = isPreview(c.req.url);
      const empty = !c.req.header("content-type") && (c.req.header("content-length") ?? "0") === "0";
      const { address } = empty ? {} : await readBody(c, FaucetBody, { maxBytes: 1024 });
      const result = await facade.requestFaucet({ address: address as `0x${string}` | undefined }, {
        caller: c.env?.remoteAddr?.hostname ?? "unknown",
        preview,
        signal: c.req.raw.signal,
      });
      return c.json(result);
    },
  }, { errors: FAUCET_ERRORS });
  return api;
}
