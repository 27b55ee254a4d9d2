/**
 * Sites for analytics, on the owner's node:
 *
 * - `POST /api/v1/sites { "domain": "example.com" }` → `201` with the site,
 *   the `snippet` to paste into its pages, and the domain proof to publish:
 *   `proof` (the exact JSON) at `proofUrl`
 *   (`https://DOMAIN/.well-known/kosmos-site.json`). The site is `pending`
 *   until the node finds it there, then `verified` and announced. Registering
 *   again keeps the same proof. `422` for a bad domain.
 * - `GET /api/v1/sites` → `{ sites: [...] }`, the sites this node registered.
 * - `POST /api/v1/sites/:domain/check` → the site, after looking for its proof
 *   now ("check now"); `404` for a site not registered here.
 * - `POST /api/v1/sites/:domain/remove` → `{ domain, removed: true }`: the
 *   registration and the site are dropped, no event of it is taken any more;
 *   `404` for a site not registered here.
 * - `GET /api/v1/sites/:domain/proxies` → `{ proxies: [...] }`: events, batches
 *   and refusals per proxy (the peer that signed the batches), and blocks.
 * - `POST /api/v1/sites/:domain/proxies/:peerId/block` and `…/unblock` →
 *   `{ proxies }`: refuse or take again that proxy's batches; `422` for a bad
 *   peer id.
 *
 * The Sites page's form posts the same route as
 * `application/x-www-form-urlencoded` (it works without JavaScript): the
 * answer is a `303` back to `/sites`, with `?registered=<domain>` or
 * `?error=invalid&domain=<input>` for the page to show inline; the check,
 * remove, block and unblock forms get a `303` back to the page they came from
 * (`?removed=<domain>` after a removal). The
 * app's request guard (`request_guard.ts`) refuses posts from other sites, so
 * another site cannot register one.
 */
import { type Context, Hono } from "hono";
import type { KosmosApi, SiteView } from "../../../protocol/api/mod.ts";
import { RegisterSiteBody } from "../../../protocol/api/sites.ts";
import { type ErrorPolicy, HttpError } from "../../http_error.ts";
import { readBytes } from "../../read_json.ts";
import { defineRoute } from "../../router.ts";
import { readBody } from "../../validate.ts";

const errors: ErrorPolicy = { badInput: 422 };

export function createSiteRoutes(facade: KosmosApi, options: { publicUrl?: string } = {}): Hono {
  const api = new Hono();
  // Snippets point at the node's public URL when it has one, else at the address the request came to.
  const originOf = (c: Context) => options.publicUrl ?? new URL(c.req.url).origin;
  defineRoute(api, "/sites", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      const origin = originOf(c);
      const sites = await facade.listSites({ signal: c.req.raw.signal });
      return c.json({ sites: sites.map((site) => withSnippet(site, origin)) });
    },
    POST: async (c) => {
      if (isFormPost(c.req.raw)) return await registerFromForm(c, facade);
      const { domain } = await readBody(c, RegisterSiteBody, { maxBytes: 4096 });
      const site = await facade.registerSite(domain, { signal: c.req.raw.signal });
      c.header("Location", "/api/v1/sites");
      return c.json(withSnippet(site, originOf(c)), 201);
    },
  }, { errors });
  defineRoute(api, "/sites/:domain/check", {
    POST: async (c) => {
      const domain = c.req.param("domain") ?? "";
      const site = await facade.checkSite(domain, { signal: c.req.raw.signal });
      c.header("Cache-Control", "no-store");
      if (isFormPost(c.req.raw)) {
        await c.req.raw.body?.cancel();
        return c.redirect(`/sites?${new URLSearchParams({ checked: site.domain })}`, 303);
      }
      return c.json(withSnippet(site, originOf(c)));
    },
  }, { errors });
  defineRoute(api, "/sites/:domain/remove", {
    POST: async (c) => {
      const result = await facade.removeSite(c.req.param("domain") ?? "", { signal: c.req.raw.signal });
      c.header("Cache-Control", "no-store");
      if (isFormPost(c.req.raw)) {
        await c.req.raw.body?.cancel();
        return c.redirect(`/sites?${new URLSearchParams({ removed: result.domain })}`, 303);
      }
      return c.json(result);
    },
  }, { errors });
  defineRoute(api, "/sites/:domain/proxies", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      const proxies = await facade.listSiteProxies(c.req.param("domain") ?? "", { signal: c.req.raw.signal });
      return c.json({ proxies });
    },
  }, { errors });
  for (const action of ["block", "unblock"] as const) {
    defineRoute(api, `/sites/:domain/proxies/:peerId/${action}`, {
      POST: async (c) => {
        const domain = c.req.param("domain") ?? "";
        const proxies = await facade.setProxyBlocked(
          domain,
          c.req.param("peerId") ?? "",
          action === "block",
          { signal: c.req.raw.signal },
        );
        c.header("Cache-Control", "no-store");
        if (isFormPost(c.req.raw)) {
          await c.req.raw.body?.cancel();
          return c.redirect(`/sites/${encodeURIComponent(domain)}#proxies`, 303);
        }
        return c.json({ proxies });
      },
    }, { errors });
  }
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

/** Why a form registration failed, as the Sites page names it in `?error=`. */
export type SiteFormError = "invalid";

const MAX_FORM_BYTES = 4096;

function isFormPost(request: Request): boolean {
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  return type === "application/x-www-form-urlencoded";
}

/**
 * What a person typed into the domain field, as a domain to register: a
 * pasted URL (`https://Example.com/pricing`) gives its host name. Anything
 * else is passed on as typed, for `registerSite()` to judge.
 */
export function readDomainInput(input: string): string {
  const text = input.trim();
  if (/^https?:\/\//i.test(text)) {
    try {
      return new URL(text).hostname;
    } catch { /* not a URL after all */ }
  }
  return text.toLowerCase().replace(/\.$/, "");
}

async function registerFromForm(c: Context, facade: KosmosApi): Promise<Response> {
  const declared = Number(c.req.header("content-length") ?? NaN);
  if (declared > MAX_FORM_BYTES) {
    throw new HttpError(413, "payload_too_large", `The form is larger than ${MAX_FORM_BYTES} bytes`);
  }
  const text = new TextDecoder().decode(await readBytes(c.req.raw, MAX_FORM_BYTES, "The form"));
  const input = new URLSearchParams(text).get("domain") ?? "";
  const back = (params: Record<string, string>) => {
    c.header("Cache-Control", "no-store");
    return c.redirect(`/sites?${new URLSearchParams(params)}`, 303);
  };
  try {
    const site = await facade.registerSite(readDomainInput(input), { signal: c.req.raw.signal });
    return back({ registered: site.domain });
  } catch (err) {
    const { name } = err as Error;
    const typed = input.trim().slice(0, 300);
    if (name === "TypeError") return back({ error: "invalid" satisfies SiteFormError, domain: typed });
    throw err;
  }
}
