/**
 * `GET /api/v1/wallet` — balances (ETH and token), stakes and withdrawable
 * payouts of this node's wallet; `POST /api/v1/wallet/withdraw` — withdraws
 * the payouts (409 `NothingToWithdraw` when there are none).
 */
import { Hono } from "hono";
import type { KosmosFacade } from "../../facade.ts";
import { defineRoute } from "../../router.ts";
import { toChainHttpError } from "./chain.ts";

export function createWalletRoutes(facade: KosmosFacade): Hono {
  const api = new Hono();
  defineRoute(api, "/wallet", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      try {
        return c.json(await facade.getWallet({ signal: c.req.raw.signal }));
      } catch (err) {
        throw toChainHttpError(err);
      }
    },
  });
  defineRoute(api, "/wallet/withdraw", {
    POST: async (c) => {
      try {
        return c.json(await facade.withdrawPayouts({ signal: c.req.raw.signal }));
      } catch (err) {
        throw toChainHttpError(err);
      }
    },
  });
  return api;
}
