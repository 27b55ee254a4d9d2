/**
 * `POST /api/v2/query` — Plausible's Stats API v2 over this node's analytics:
 *
 *     curl -H 'Content-Type: application/json' http://127.0.0.1:7464/api/v2/query -d '{
 *       "site_id": "example.com", "date_range": "7d", "metrics": ["visitors", "pageviews"],
 *       "dimensions": ["event:page"], "filters": [["is", "visit:device", ["mobile"]]],
 *       "order_by": [["visitors", "desc"]], "pagination": { "limit": 10 } }'
 *
 * answers `{ results: [{ metrics, dimensions }], meta: {}, query }` as
 * Plausible does. Errors differ from Plausible's `{ "error": "…" }`: like every
 * Kosmos route they are `{ error: { code, message } }` — 400 `bad_request`
 * naming the bad field, 404 `not_found` for a site this node neither owns nor
 * has events for, 415/413 for a body that is not JSON or too large.
 */
import { Hono } from "hono";
import * as v from "valibot";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody } from "../../validate.ts";

/** Largest query body, in bytes. */
export const MAX_QUERY_BYTES = 64 * 1024;

/** The analytics routes' policy: bad input is a 400 naming the field, an unknown site a 404. */
export const STATS_ERRORS: ErrorPolicy = { badInput: 400 };

export function createQueryRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/query", {
    POST: async (c) => {
      // The Plausible body is checked by the analytics query parser, which names the field.
      const body = await readBody(c, v.unknown(), { maxBytes: MAX_QUERY_BYTES });
      c.header("Cache-Control", "no-store");
      return c.json(await facade.queryStats(body, { signal: c.req.raw.signal }));
    },
  }, { errors: STATS_ERRORS });
  return api;
}
