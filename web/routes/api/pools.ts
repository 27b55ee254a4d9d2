/**
 * Pools (data unions):
 *
 * - `GET /api/v1/pools` every pool this node knows (its own and those the network announced).
 * - `POST /api/v1/pools { kind, purpose, title, description?, price, licence, k?, operatorFeeBps }` creates
 *   one on chain from this node's wallet and announces it (201 `PoolView`).
 * - `GET /api/v1/pools/:id` one pool (404 when unknown here).
 * - `POST /api/v1/pools/:id/join { consentId }` joins with a consent this wallet holds for the pool's kind
 *   and purpose (409 when it is not valid, 409 when the operator refuses, 503 when it cannot be reached).
 * - `POST /api/v1/pools/:id/leave` stops contributing and tells the operator.
 * - `POST /api/v1/pools/:id/versions { stake? }` (operator) gathers the members' anonymized rows and
 *   publishes, stakes and registers a version (201 `PoolVersionView`; 403 for another's pool, 409 when
 *   nothing is left to publish).
 *
 * Create and versions take `?preview=1` (`protocol/api/fees.ts`).
 */
import { Hono } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import {
  CreatePoolBody,
  JoinPoolBody,
  PoolIdParam,
  PublishPoolVersionBody,
} from "../../../protocol/api/pools.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody, validate } from "../../validate.ts";
import { wantsPreview } from "./preview.ts";

const maxBytes = 8 * 1024;
const errors: ErrorPolicy = { badInput: 422, reverts: "conflict" };

export function createPoolRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  const poolId = (id: string | undefined) => validate(PoolIdParam, id, { status: 404 });
  defineRoute(api, "/pools", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.listPools({ signal: c.req.raw.signal }));
    },
    POST: async (c) => {
      const preview = wantsPreview(c);
      const fields = await readBody(c, CreatePoolBody, { maxBytes });
      const signal = c.req.raw.signal;
      if (preview) return c.json(await facade.previewCreatePool(fields, { signal }));
      return c.json(await facade.createPool(fields, { signal }), 201);
    },
  }, { errors });
  defineRoute(api, "/pools/:id", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getPool(poolId(c.req.param("id")), { signal: c.req.raw.signal }));
    },
  }, { errors });
  defineRoute(api, "/pools/:id/join", {
    POST: async (c) => {
      const id = poolId(c.req.param("id"));
      const body = await readBody(c, JoinPoolBody, { maxBytes });
      return c.json(await facade.joinPool(id, body, { signal: c.req.raw.signal }));
    },
  }, { errors });
  defineRoute(api, "/pools/:id/leave", {
    POST: async (c) => {
      const id = poolId(c.req.param("id"));
      return c.json(await facade.leavePool(id, { signal: c.req.raw.signal }));
    },
  }, { errors });
  defineRoute(api, "/pools/:id/versions", {
    POST: async (c) => {
      const preview = wantsPreview(c);
      const id = poolId(c.req.param("id"));
      // The body is optional: none (or `{}`) stakes the registry's minimum.
      const empty = c.req.header("content-type") === undefined &&
        (c.req.header("content-length") ?? "0") === "0";
      const body = empty ? {} : await readBody(c, PublishPoolVersionBody, { maxBytes });
      const signal = c.req.raw.signal;
      if (preview) return c.json(await facade.previewPublishPoolVersion(id, body, { signal }));
      return c.json(await facade.publishPoolVersion(id, body, { signal }), 201);
    },
  }, { errors });
  return api;
}
