/**
 * Sites for analytics, on the owner's node:
 *
 * - `POST /api/v1/sites { "domain": "example.com" }` → `201` with the site and
 *   the `snippet` to paste into its pages; registering again re-announces it.
 *   `422` for a bad domain, `409` when another owner registered it first.
 * - `GET /api/v1/sites` → `{ sites: [...] }`, the sites this node owns.
 */
import { Hono } from "hono";
import type { KosmosFacade, SiteView } from "../../facade.ts";
import { HttpError } from "../../http_error.ts";
import { readJson } from "../../read_json.ts";
import { defineRoute } from "../../router.ts";

export function createSiteRoutes(facade: KosmosFacade): Hono {
  const api = new Hono();
  defineRoute(api, "/sites", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      const origin = new URL(c.req.url).origin;
      const sites = await facade.listSites({ signal: c.req.raw.signal });
      return c.json({ sites: sites.map((site) => withSnippet(site, origin)) });
    },
    POST: async (c) => {
      const body = await readJson(c.req.raw, { maxBytes: 4096 });
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new HttpError(422, "unprocessable", 'Expected a JSON object like { "domain": "example.com" }');
      }
      const extra = Object.keys(body).filter((key) => key !== "domain");
      if (extra.length > 0) {
        throw new HttpError(
          422,
          "unprocessable",
          `Unknown field "${extra[0].slice(0, 40)}"; send only domain`,
        );
      }
      const domain = (body as { domain?: unknown }).domain;
      if (typeof domain !== "string") {
        throw new HttpError(422, "unprocessable", 'Field "domain" must be a string such as "example.com"');
      }
      try {
        const site = await facade.registerSite(domain, { signal: c.req.raw.signal });
        c.header("Location", "/api/v1/sites");
        return c.json(withSnippet(site, new URL(c.req.url).origin), 201);
      } catch (err) {
        const { name, message } = err as Error;
        if (name === "TypeError") throw new HttpError(422, "unprocessable", message);
        if (name === "SiteConflictError") throw new HttpError(409, "conflict", message);
        throw err;
      }
    },
  });
  return api;
}

/** The site plus the one line its owner pastes into every page. */
export function withSnippet(site: SiteView, origin: string): SiteView & { snippet: string } {
  return {
    ...site,
    snippet:
      `<script defer data-domain="${site.domain}" data-api="${origin}" src="${origin}/js/kosmos.js"></script>`,
  };
}
