/**
 * `GET /api/v1/wallet` — balances (ETH and token), stakes and withdrawable
 * payouts of this node's wallet; `POST /api/v1/wallet/withdraw` — withdraws
 * the payouts (409 `NothingToWithdraw` when there are none; `?preview=1`
 * answers the amount and the estimated fee and signs nothing).
 */
import { Hono } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { defineRoute } from "../../router.ts";
import { CHAIN_ERRORS } from "./chain.ts";
import { wantsPreview } from "./preview.ts";

export function createWalletRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/wallet", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getWallet({ signal: c.req.raw.signal }));
    },
  }, { errors: CHAIN_ERRORS });
  defineRoute(api, "/wallet/withdraw", {
    POST: async (c) =>
      c.json(
        wantsPreview(c)
          ? await facade.previewWithdrawPayouts({ signal: c.req.raw.signal })
          : await facade.withdrawPayouts({ signal: c.req.raw.signal }),
      ),
  }, { errors: CHAIN_ERRORS });
  return api;
}
