/**
 * Selling a site's statistics, on the owner's node:
 *
 * - `POST /api/v1/sites/:domain/releases { from, to, dimension?, epsilon, k?, title, description?, price, licence }`
 *   computes a differentially private table of visitors, visits and
 *   pageviews per day (and `dimension`: page, entry_page, source, device,
 *   browser or os), charges `epsilon` to the site's privacy budget and
 *   publishes the table as a CSV dataset. `price` is a token amount such as
 *   `"2.5"`. Answers `201 { id, manifestCid, release, budget }`.
 *   `400` for any bad field (nothing charged), `404` for a site this node
 *   does not own, `409` when ε exceeds the budget left (nothing charged),
 *   `422` when every row was suppressed (ε charged, nothing published).
 * - `GET /api/v1/sites/:domain/releases` → `{ budget: { total, spent, remaining }, releases }`.
 *
 *     curl -H 'Content-Type: application/json' -d '{"from":"2024-03-01","to":"2024-03-31",
 *       "epsilon":1,"title":"Visits, March","price":"2.5","licence":"CC-BY-4.0"}' \
 *       http://127.0.0.1:7464/api/v1/sites/example.com/releases
 */
import { Hono } from "hono";
import type { CreateReleaseInput, KosmosFacade } from "../../facade.ts";
import { HttpError } from "../../http_error.ts";
import { readJson } from "../../read_json.ts";
import { defineRoute } from "../../router.ts";
import { parseTokenAmount, TOKEN_DECIMALS } from "./datasets.ts";

/** The fields of a release request. */
export const RELEASE_FIELDS = [
  "from",
  "to",
  "dimension",
  "epsilon",
  "k",
  "title",
  "description",
  "price",
  "licence",
] as const;

/** What a release can break the days down by, as the form offers it. */
export const RELEASE_DIMENSION_OPTIONS = [
  { id: "page", label: "page" },
  { id: "entry_page", label: "entry page" },
  { id: "source", label: "source" },
  { id: "device", label: "device" },
  { id: "browser", label: "browser" },
  { id: "os", label: "operating system" },
];

export function createReleaseRoutes(facade: KosmosFacade): Hono {
  const api = new Hono();
  defineRoute(api, "/sites/:domain/releases", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      try {
        return c.json(await facade.listReleases(c.req.param("domain") ?? "", { signal: c.req.raw.signal }));
      } catch (err) {
        throw toReleaseError(err);
      }
    },
    POST: async (c) => {
      const body = await readJson(c.req.raw, { maxBytes: 16 * 1024 });
      const input = checkReleaseBody(body);
      const domain = c.req.param("domain") ?? "";
      try {
        const created = await facade.createRelease(domain, input, { signal: c.req.raw.signal });
        c.header("Location", `/api/v1/listings/${created.id}`);
        return c.json(created, 201);
      } catch (err) {
        throw toReleaseError(err);
      }
    },
  });
  return api;
}

/** Shapes the JSON body into the facade's input; 400 naming the first bad field. */
export function checkReleaseBody(body: unknown): CreateReleaseInput {
  const bad = (message: string) => new HttpError(400, "bad_request", message);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw bad(
      'Expected a JSON object like { "from": "2024-03-01", "to": "2024-03-31", "epsilon": 1, "title": "…", "price": "2.5", "licence": "CC-BY-4.0" }',
    );
  }
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!(RELEASE_FIELDS as readonly string[]).includes(key)) {
      throw bad(`Unknown field "${key.slice(0, 40)}"; the fields are ${RELEASE_FIELDS.join(", ")}`);
    }
  }
  const string = (name: string, required: boolean): string | undefined => {
    const value = fields[name];
    if (value === undefined || value === null) {
      if (required) throw bad(`Field "${name}" is required`);
      return undefined;
    }
    if (typeof value !== "string") throw bad(`Field "${name}" must be a string`);
    return value;
  };
  const number = (name: string, required: boolean): number | undefined => {
    const value = fields[name];
    if (value === undefined || value === null) {
      if (required) throw bad(`Field "${name}" is required`);
      return undefined;
    }
    if (typeof value !== "number" || !Number.isFinite(value)) throw bad(`Field "${name}" must be a number`);
    return value;
  };
  const from = string("from", true)!;
  const to = string("to", true)!;
  const dimension = string("dimension", false);
  const epsilon = number("epsilon", true)!;
  const k = number("k", false);
  const title = string("title", true)!;
  const description = string("description", false);
  const licence = string("licence", true)!;
  const priceValue = fields.price;
  if (priceValue === undefined || priceValue === null) throw bad('Field "price" is required');
  const priceText = typeof priceValue === "number" && Number.isFinite(priceValue) && priceValue >= 0
    ? String(priceValue)
    : priceValue;
  const price = typeof priceText === "string" ? parseTokenAmount(priceText.trim()) : undefined;
  if (price === undefined) {
    throw bad(`Field "price" must be a token amount such as "2.5", with at most ${TOKEN_DECIMALS} decimals`);
  }
  const input: CreateReleaseInput = { from, to, epsilon, title, price, licence };
  if (dimension !== undefined && dimension !== "" && dimension !== "none") input.dimension = dimension;
  if (k !== undefined) input.k = k;
  if (description !== undefined) input.description = description;
  return input;
}

function toReleaseError(err: unknown): unknown {
  if (err instanceof HttpError) return err;
  const { name, message } = err as Error;
  switch (name) {
    case "TypeError":
    case "RangeError":
      return new HttpError(400, "bad_request", message);
    case "NotFoundError":
      return new HttpError(404, "not_found", message);
    case "PrivacyBudgetError":
      return new HttpError(409, "conflict", message);
    case "EmptyReleaseError":
    case "DatasetFormatError":
      return new HttpError(422, "unprocessable", message);
    default:
      return err;
  }
}
