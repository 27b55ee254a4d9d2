/**
 * The browser extension's routes:
 *
 * - `POST /api/v1/extension/pairings` (owner) a one-time pairing code: 201 `{ code, expiresAt }`.
 * - `GET /api/v1/extension/tokens` (owner) the paired extensions; `DELETE …/tokens/:id` revokes one
 *   (204).
 * - `POST /api/v1/extension/pair { code }` (public, rate limited: 429 with `Retry-After`) trades a
 *   code for the extension's token: 201 `{ token }`; a used, expired or mistyped code is a 401.
 * - `GET /api/v1/extension/status` and `POST /api/v1/extension/visits [{ domain, visitedAt }, …]`
 *   need the extension's token as `Authorization: Bearer` (no other credential works: 401). Visits
 *   answer 409 `consent_required` until this node's wallet holds a valid consent for the `browsing`
 *   kind, then 201 `{ sourceId, rows }` once they are stored.
 *
 * The three extension-facing routes answer CORS requests from `chrome-extension://` origins only.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { ExtensionTokenIdParam, PairBody, VisitsBody } from "../../../protocol/api/extension.ts";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { type ErrorPolicy, HttpError } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody, validate } from "../../validate.ts";

const errors: ErrorPolicy = { badInput: 422 };
/** 5000 visits of long domains fit. */
const MAX_VISITS_BYTES = 2 * 1024 * 1024;

/** The routes the extension itself calls (public to the owner check; see `web/auth.ts`). */
export const EXTENSION_PATHS = [
  "/api/v1/extension/pair",
  "/api/v1/extension/status",
  "/api/v1/extension/visits",
];

type Env = { Bindings: { remoteAddr?: { hostname?: string } } };

/** The bearer of the request; 401 without one. */
function extensionBearer(header: string | undefined): string {
  const match = header && /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!match) {
    throw new HttpError(
      401,
      "unauthorized",
      "This route needs the Kosmos extension's token: pair the extension on My data",
      { headers: { "WWW-Authenticate": 'Bearer realm="kosmos-extension"' } },
    );
  }
  return match[1];
}

/** CORS for extension pages and workers (`chrome-extension://ID`), and for no other origin. */
const extensionCors: MiddlewareHandler = async (c, next) => {
  const origin = c.req.header("Origin") ?? "";
  const allowed = /^chrome-extension:\/\/[a-p]{32}$/.test(origin);
  if (c.req.method === "OPTIONS") {
    if (!allowed) {
      throw new HttpError(403, "forbidden", "Only the Kosmos browser extension may call this route");
    }
    return c.body(null, 204, {
      "Access-Control-Allow-Origin": origin,
      "Access-Control-Allow-Methods": "GET, POST",
      "Access-Control-Allow-Headers": "Authorization, Content-Type",
      "Access-Control-Max-Age": "600",
      Vary: "Origin",
    });
  }
  await next();
  if (allowed) {
    c.res.headers.set("Access-Control-Allow-Origin", origin);
    c.res.headers.append("Vary", "Origin");
  }
};

export function createExtensionRoutes(facade: KosmosApi): Hono<Env> {
  const api = new Hono<Env>();
  for (const path of ["/extension/pair", "/extension/status", "/extension/visits"]) {
    api.use(path, extensionCors);
  }
  defineRoute(api, "/extension/pairings", {
    POST: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.createExtensionPairing({ signal: c.req.raw.signal }), 201);
    },
  }, { errors });
  defineRoute(api, "/extension/tokens", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.listExtensionTokens({ signal: c.req.raw.signal }));
    },
  }, { errors });
  defineRoute(api, "/extension/tokens/:id", {
    DELETE: async (c) => {
      const id = validate(ExtensionTokenIdParam, c.req.param("id"), { status: 404 });
      await facade.revokeExtensionToken(id, { signal: c.req.raw.signal });
      return c.body(null, 204);
    },
  }, { errors });
  defineRoute(api, "/extension/pair", {
    POST: async (c) => {
      const { code } = await readBody(c, PairBody, { maxBytes: 1024 });
      const paired = await facade.pairExtension(code, {
        caller: c.env?.remoteAddr?.hostname ?? "unknown",
        signal: c.req.raw.signal,
      });
      c.header("Cache-Control", "no-store");
      return c.json(paired, 201);
    },
  }, { errors });
  defineRoute(api, "/extension/status", {
    GET: async (c) => {
      const token = extensionBearer(c.req.header("Authorization"));
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getExtensionStatus(token, { signal: c.req.raw.signal }));
    },
  }, { errors });
  defineRoute(api, "/extension/visits", {
    POST: async (c) => {
      const token = extensionBearer(c.req.header("Authorization"));
      // The token first: a stranger's body is not even read.
      await facade.verifyExtensionToken(token, { signal: c.req.raw.signal });
      const visits = await readBody(c, VisitsBody, { maxBytes: MAX_VISITS_BYTES });
      return c.json(await facade.postExtensionVisits(token, visits, { signal: c.req.raw.signal }), 201);
    },
  }, { errors });
  return api;
}
