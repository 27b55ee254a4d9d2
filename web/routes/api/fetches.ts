/**
 * Fetching datasets over HTTP:
 *
 * - `POST /api/v1/fetches { "manifestCid": "bafy…" }` → `202` with the
 *   fetch's progress; the node downloads and verifies every chunk in the
 *   background (starting again returns the same fetch);
 * - `GET /api/v1/fetches/:cid` → `{ manifestCid, status, chunksVerified,
 *   chunksTotal, bytes, providers }` (`status`: queued, running, complete, failed).
 */
import { Hono } from "hono";
import { FetchBody } from "../../../protocol/api/datasets.ts";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody } from "../../validate.ts";

const errors: ErrorPolicy = { badInput: 400 };

export function createFetchRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/fetches", {
    POST: async (c) => {
      const { manifestCid } = await readBody(c, FetchBody, { maxBytes: 4096 });
      const progress = await facade.startFetch(manifestCid, { signal: c.req.raw.signal });
      c.header("Location", `/api/v1/fetches/${manifestCid}`);
      return c.json(progress, 202);
    },
  }, { errors });
  defineRoute(api, "/fetches/:cid", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getFetch(c.req.param("cid") ?? "", { signal: c.req.raw.signal }));
    },
  }, { errors });
  return api;
}
