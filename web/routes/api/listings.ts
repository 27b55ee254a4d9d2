/**
 * The catalog over HTTP:
 *
 * - `GET /api/v1/listings?q=&category=&sort=newest|price|stake|relevance&limit=&offset=`
 *   → `{ listings: [...], total }`, each listing with its `providers` and this
 *   node's `replication` count;
 * - `GET /api/v1/listings/:id` → one listing, plus its `manifest` summary
 *   (once this node holds the manifest) and this node's `fetch` progress.
 */
import { Hono } from "hono";
import type { KosmosFacade, ListingsQuery } from "../../facade.ts";
import { HttpError } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";

const QUERY_KEYS = ["q", "category", "sort", "limit", "offset"];

export function createListingRoutes(facade: KosmosFacade): Hono {
  const api = new Hono();
  defineRoute(api, "/listings", {
    GET: async (c) => {
      const query = parseListingsQuery(new URL(c.req.url).searchParams);
      c.header("Cache-Control", "no-store");
      try {
        return c.json(await facade.listListings(query, { signal: c.req.raw.signal }));
      } catch (err) {
        throw toListingError(err);
      }
    },
  });
  defineRoute(api, "/listings/:id", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      try {
        return c.json(await facade.getListing(c.req.param("id") ?? "", { signal: c.req.raw.signal }));
      } catch (err) {
        throw toListingError(err);
      }
    },
  });
  return api;
}

/** Reads the listing query from URL parameters; 400 for unknown or malformed ones. */
export function parseListingsQuery(params: URLSearchParams): ListingsQuery {
  const query: ListingsQuery = {};
  for (const key of new Set(params.keys())) {
    if (!QUERY_KEYS.includes(key)) {
      throw new HttpError(
        400,
        "bad_request",
        `Unknown query parameter "${key.slice(0, 40)}"; use ${QUERY_KEYS.join(", ")}`,
      );
    }
    if (params.getAll(key).length > 1) {
      throw new HttpError(400, "bad_request", `Query parameter "${key}" is given more than once`);
    }
  }
  const q = params.get("q");
  if (q) query.q = q;
  const category = params.get("category");
  if (category) query.category = category;
  const sort = params.get("sort");
  if (sort) query.sort = sort as ListingsQuery["sort"];
  for (const key of ["limit", "offset"] as const) {
    const value = params.get(key);
    if (value === null || value === "") continue;
    if (!/^\d{1,9}$/.test(value)) {
      throw new HttpError(400, "bad_request", `Query parameter "${key}" must be a whole number`);
    }
    query[key] = Number(value);
  }
  return query;
}

function toListingError(err: unknown): unknown {
  const { name, message } = err as Error;
  if (name === "NotFoundError") return new HttpError(404, "not_found", message);
  if (name === "TypeError" || name === "RangeError") {
    return new HttpError(400, "bad_request", message.replace(/^Cannot list listings: /, ""));
  }
  return err;
}
