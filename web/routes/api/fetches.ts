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
import type { KosmosFacade } from "../../facade.ts";
import { HttpError } from "../../http_error.ts";
import { readJson } from "../../read_json.ts";
import { defineRoute } from "../../router.ts";
import { toManifestCid } from "../../../protocol/ids.ts";

export function createFetchRoutes(facade: KosmosFacade): Hono {
  const api = new Hono();
  defineRoute(api, "/fetches", {
    POST: async (c) => {
      const body = await readJson(c.req.raw, { maxBytes: 4096 });
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new HttpError(422, "unprocessable", 'Expected a JSON object like { "manifestCid": "bafy…" }');
      }
      const extra = Object.keys(body).filter((key) => key !== "manifestCid");
      if (extra.length > 0) {
        throw new HttpError(
          422,
          "unprocessable",
          `Unknown field "${extra[0].slice(0, 40)}"; send only manifestCid`,
        );
      }
      let cid: string;
      try {
        cid = toManifestCid((body as { manifestCid?: unknown }).manifestCid);
      } catch (err) {
        throw new HttpError(422, "unprocessable", (err as Error).message);
      }
      try {
        const progress = await facade.startFetch(cid, { signal: c.req.raw.signal });
        c.header("Location", `/api/v1/fetches/${cid}`);
        return c.json(progress, 202);
      } catch (err) {
        throw toFetchError(err);
      }
    },
  });
  defineRoute(api, "/fetches/:cid", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      try {
        return c.json(await facade.getFetch(c.req.param("cid") ?? "", { signal: c.req.raw.signal }));
      } catch (err) {
        throw toFetchError(err);
      }
    },
  });
  return api;
}

function toFetchError(err: unknown): unknown {
  const { name, message } = err as Error;
  if (name === "NotFoundError") return new HttpError(404, "not_found", message);
  if (name === "TypeError" || name === "RangeError") return new HttpError(400, "bad_request", message);
  if (name === "FetchError") return new HttpError(503, "unavailable", message);
  return err;
}
