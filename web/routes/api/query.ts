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
import type { KosmosFacade } from "../../facade.ts";
import { HttpError } from "../../http_error.ts";
import { readJson } from "../../read_json.ts";
import { defineRoute } from "../../router.ts";

/** Largest query body, in bytes. */
export const MAX_QUERY_BYTES = 64 * 1024;

export function createQueryRoutes(facade: KosmosFacade): Hono {
  const api = new Hono();
  defineRoute(api, "/query", {
    POST: async (c) => {
      const body = await readJson(c.req.raw, { maxBytes: MAX_QUERY_BYTES });
      c.header("Cache-Control", "no-store");
      try {
        return c.json(await facade.queryStats(body, { signal: c.req.raw.signal }));
      } catch (err) {
        throw toStatsError(err);
      }
    },
  });
  return api;
}

/** Maps the analytics facade's failures to the API's statuses; anything else passes through (500). */
export function toStatsError(err: unknown): unknown {
  const name = (err as Error)?.name;
  if (name === "TypeError" || name === "RangeError") {
    return new HttpError(400, "bad_request", (err as Error).message, { cause: err });
  }
  if (name === "NotFoundError") {
    return new HttpError(404, "not_found", (err as Error).message, { cause: err });
  }
  return err;
}
