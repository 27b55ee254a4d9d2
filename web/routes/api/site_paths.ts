/**
 * A site's first-party paths (owner token): `GET /api/v1/sites/:domain/paths`,
 * `PUT` with `{ "scriptPath": "/js/stats.js", "eventPath": "/x/collect" }` (a
 * path left out is unset) and `DELETE` (both cleared). `422` for a bad path or one in use, `404` for a site
 * this node does not own; `POST` of the history page's form comes back to it
 * with `?saved=` or `?error=`. The node then serves the tracker and takes
 * events at those paths ({@link rewriteSitePaths}).
 */
import { Hono, type MiddlewareHandler } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { SitePathsBody } from "../../../protocol/api/sites.ts";
import { type ErrorPolicy, HttpError } from "../../http_error.ts";
import { readBytes } from "../../read_json.ts";
import { defineRoute } from "../../router.ts";
import { readBody, validate } from "../../validate.ts";
import { formAction } from "./imports.ts";

const errors: ErrorPolicy = { badInput: 422 };

export function createSitePathRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/sites/:domain/paths", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getSitePaths(c.req.param("domain") ?? "", { signal: c.req.raw.signal }));
    },
    PUT: async (c) => {
      const paths = await readBody(c, SitePathsBody, { maxBytes: 4096 });
      if (paths.scriptPath === undefined && paths.eventPath === undefined) {
        throw new TypeError('Give "scriptPath", "eventPath" or both; DELETE clears them');
      }
      return c.json(
        await facade.setSitePaths(c.req.param("domain") ?? "", paths, { signal: c.req.raw.signal }),
      );
    },
    // The history page's form: `scriptPath` and `eventPath` fields, an empty one unset.
    POST: (c) =>
      formAction(c, async () => {
        const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
        if (type !== "application/x-www-form-urlencoded") {
          throw new HttpError(415, "unsupported_media_type", "Expected the paths form (or PUT with JSON)");
        }
        const form = new URLSearchParams(
          new TextDecoder().decode(await readBytes(c.req.raw, 4096, "The form")),
        );
        const unknown = [...form.keys()].find((key) => key !== "scriptPath" && key !== "eventPath");
        if (unknown !== undefined) {
          throw new TypeError(
            `Unknown field "${unknown.slice(0, 40)}"; the form has scriptPath and eventPath`,
          );
        }
        // An empty field unsets that path; both empty clear them.
        const fields = Object.fromEntries([...form].filter(([, value]) => value.trim() !== ""));
        const paths = validate(SitePathsBody, fields, { status: 422 });
        const saved = await facade.setSitePaths(c.req.param("domain") ?? "", paths, {
          signal: c.req.raw.signal,
        });
        return { json: c.json(saved), saved: "Saved the tracker paths" };
      }),
    DELETE: async (c) =>
      c.json(await facade.setSitePaths(c.req.param("domain") ?? "", {}, { signal: c.req.raw.signal })),
  }, { errors });
  return api;
}

/**
 * Before every other middleware: a `GET` of a site's script path or a `POST`
 * (or `OPTIONS`) to its event path is answered as `/js/kosmos.js` or
 * `/api/event` would be, by running the request again under that path
 * (query and body kept), so the same checks and limits apply.
 */
export function rewriteSitePaths(facade: KosmosApi, app: { fetch: Hono["fetch"] }): MiddlewareHandler {
  return async (c, next) => {
    // A path that cannot be resolved is no site's: the request goes on to the node's own routes.
    let target: Awaited<ReturnType<KosmosApi["resolveSitePath"]>>;
    try {
      target = await facade.resolveSitePath(c.req.path);
    } catch {
      target = undefined;
    }
    const method = c.req.method;
    const to = target?.kind === "script" && (method === "GET" || method === "HEAD")
      ? "/js/kosmos.js"
      : target?.kind === "event" && (method === "POST" || method === "OPTIONS")
      ? "/api/event"
      : undefined;
    if (!to) return await next();
    const url = new URL(c.req.url);
    url.pathname = to;
    return await app.fetch(new Request(url, c.req.raw), c.env);
  };
}
