/**
 * The node's HTTP face: a Hono app with the JSON API under `/api/v1`, the
 * server-rendered pages, and `/static/*`. The node builds it with its facade
 * and serves it:
 *
 * ```ts
 * const app = createApp(facade, { auth: createApiAuth(token), log: logger.forComponent("kosmos:web") });
 * Deno.serve({ hostname: "127.0.0.1", port }, app.fetch);
 * ```
 *
 * Every route but `PUBLIC_ROUTES` (`auth.ts`) needs the owner's token or
 * session cookie. Every HTML response carries the page CSP; every other
 * response `nosniff`, and downloads `Content-Security-Policy: sandbox`.
 *
 * Every failure answers with one shape, `{ error: { code, message } }`, and
 * the matching status (browsers asking for a page get the same as an HTML page).
 * The client bundle is checked (and rebuilt when stale) as soon as the app is
 * created; pages and `/static/build/*` wait for it.
 */
import { Hono } from "hono";
import { h } from "preact";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ensureClientBuild } from "./build.ts";
import type { KosmosApi } from "../protocol/api/mod.ts";
import { ErrorPage } from "./components/error_page.tsx";
import { type ErrorStatus, getCodeForStatus, getErrorPolicy, HttpError, toHttpError } from "./http_error.ts";
import type { PageDefinition } from "./page.ts";
import { renderDocument } from "./render.tsx";
import { defineRoute } from "./router.ts";
import { LOOPBACK_HOSTS, requestGuard } from "./request_guard.ts";
import { type ApiAuth, handleLogin, requireOwner, UNAUTHORIZED_MESSAGE } from "./auth.ts";
import { createDatasetRoutes } from "./routes/api/datasets.ts";
import { createFetchRoutes } from "./routes/api/fetches.ts";
import { createPurchaseRoutes } from "./routes/api/purchases.ts";
import { createDeliveryRoutes } from "./routes/api/deliveries.ts";
import { createListingRoutes } from "./routes/api/listings.ts";
import { createChainRoutes } from "./routes/api/chain.ts";
import { createNodeRoutes } from "./routes/api/node.ts";
import { createStakeRoutes } from "./routes/api/stakes.ts";
import { createWalletRoutes } from "./routes/api/wallet.ts";
import { createFaucetRoutes } from "./routes/api/faucet.ts";
import { createEventRoutes } from "./routes/api/event.ts";
import { createSiteRoutes } from "./routes/api/sites.ts";
import { createQueryRoutes } from "./routes/api/query.ts";
import { createSiteStatsRoutes } from "./routes/api/site_stats.ts";
import { createStatsV1Routes } from "./routes/api/stats_v1.ts";
import { createGoalRoutes } from "./routes/api/goals.ts";
import { siteSettingsPage } from "./routes/site_settings.tsx";
import { siteHistoryPage } from "./routes/site_history.tsx";
import { createReleaseRoutes } from "./routes/api/releases.ts";
import { createMyDataRoutes } from "./routes/api/my_data.ts";
import { createConsentRoutes } from "./routes/api/consents.ts";
import { createEarningRoutes } from "./routes/api/earnings.ts";
import { createSourceRoutes } from "./routes/api/sources.ts";
import { createImportRoutes } from "./routes/api/imports.ts";
import { createSitePathRoutes, rewriteSitePaths } from "./routes/api/site_paths.ts";
import { createPoolRoutes } from "./routes/api/pools.ts";
import { createExtensionRoutes } from "./routes/api/extension.ts";
import { createGatewayRoutes } from "./routes/api/gateway.ts";
import { createStreamRoutes } from "./routes/api/streams.ts";
import { createProofRoutes } from "./routes/api/proofs.ts";
import { createIpfsRoutes } from "./routes/ipfs.ts";
import { dataPage } from "./routes/data.tsx";
import { poolsPage } from "./routes/pools.tsx";
import { datasetPage } from "./routes/dataset.tsx";
import { arbitrationPage } from "./routes/arbitration.tsx";
import { marketplacePage } from "./routes/marketplace.tsx";
import { networkPage } from "./routes/network.tsx";
import { publishPage } from "./routes/publish.tsx";
import { purchasesPage } from "./routes/purchases.tsx";
import { salesPage } from "./routes/sales.tsx";
import { sitesPage } from "./routes/sites.tsx";
import { sitePage } from "./routes/site.tsx";
import { streamsPage } from "./routes/streams.tsx";
import { walletPage } from "./routes/wallet.tsx";
import { createStaticHandler } from "./static_files.ts";

/** The part of the node's logger the web layer uses (`node/log.ts`'s `Logger` fits). */
export interface AppLogger {
  error(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
}

export interface AppOptions {
  /** The owner's credentials, checked on every route but `PUBLIC_ROUTES`. */
  auth: ApiAuth;
  /** Where unexpected errors are reported. @default console */
  log?: AppLogger;
  /** Largest dataset upload accepted by `POST /api/v1/datasets`, in bytes. @default 64 GiB */
  maxUploadBytes?: number;
  /** Where an upload's file waits for fields sent after it (the node's `<dataDir>/uploads`). @default the OS temp dir */
  uploadDir?: string;
  /**
   * Host names requests may be addressed to (see `request_guard.ts`); the
   * node adds its `publicName`s to the loopback names. @default LOOPBACK_HOSTS
   */
  allowedHosts?: readonly string[];
  /**
   * The URL others reach this node by (`--public-url`): what analytics snippets point at.
   * @default undefined: the origin each request was made to
   */
  publicUrl?: string;
}

/** What a browser that is not logged in sees instead of a page. */
const LOGIN_PAGE_MESSAGE =
  "This node's pages are for its owner. Open the login link the node printed when it " +
  "started, or run `kosmos login` on its machine for a new link.";

/** Headers of every HTML page: no inline scripts, nothing from elsewhere, no framing. */
const pageHeaders: Record<string, string> = {
  "Cache-Control": "no-cache",
  "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
};

export function createApp(facade: KosmosApi, options: AppOptions): Hono {
  const log = options.log ?? consoleLogger;
  const getManifest = () => ensureClientBuild();
  // Start checking the bundle now, so the first page does not wait for it.
  getManifest().catch((err) => log.error("failed to build the client bundle", { error: err }));

  const app = new Hono();

  // Outermost: whatever answers (a route, an error, a 404), HTML gets the CSP and the rest nosniff.
  app.use(async (c, next) => {
    await next();
    setSafetyHeaders(c.res.headers);
  });
  // A site's first-party script and event paths run as /js/kosmos.js and /api/event.
  app.use(rewriteSitePaths(facade, app));
  // Before every route: other websites may neither write here nor rebind a name to this node,
  // and nobody but the owner gets past the public routes.
  app.use(requestGuard({
    allowedHosts: options.allowedHosts ?? LOOPBACK_HOSTS,
    exempt: ["/api/event", "/js/kosmos.js"],
  }));
  app.use(requireOwner(options.auth));
  defineRoute(app, "/login", { GET: handleLogin(options.auth) });
  // `kosmos login`: a fresh one-time link for a browser, under the name the CLI reached the node by.
  defineRoute(app, "/api/v1/login-links", {
    POST: (c) =>
      c.json(options.auth.createLoginLink(new URL(c.req.url).origin), 201, { "Cache-Control": "no-store" }),
  });
  app.route("/api/v1", createNodeRoutes(facade));
  app.route("/api/v1", createChainRoutes(facade));
  app.route("/api/v1", createWalletRoutes(facade));
  app.route("/api/v1", createFaucetRoutes(facade));
  app.route("/api/v1", createStakeRoutes(facade));
  app.route(
    "/api/v1",
    createDatasetRoutes(facade, { maxBytes: options.maxUploadBytes, spoolDir: options.uploadDir }),
  );
  app.route("/api/v1", createListingRoutes(facade));
  app.route("/api/v1", createFetchRoutes(facade));
  app.route("/api/v1", createPurchaseRoutes(facade));
  app.route("/api/v1", createDeliveryRoutes(facade));
  app.route("/api/v1", createSiteRoutes(facade, { publicUrl: options.publicUrl }));
  app.route("/api/v1", createSiteStatsRoutes(facade));
  app.route("/api/v1", createStatsV1Routes(facade, { auth: options.auth }));
  app.route("/api/v1", createGoalRoutes(facade));
  app.route("/api/v1", createReleaseRoutes(facade));
  app.route("/api/v1", createImportRoutes(facade));
  app.route("/api/v1", createSitePathRoutes(facade));
  app.route("/api/v1", createMyDataRoutes(facade));
  app.route("/api/v1", createConsentRoutes(facade));
  app.route("/api/v1", createPoolRoutes(facade));
  app.route("/api/v1", createEarningRoutes(facade));
  app.route(
    "/api/v1",
    createSourceRoutes(facade, { maxBytes: options.maxUploadBytes, spoolDir: options.uploadDir }),
  );
  app.route("/api/v1", createExtensionRoutes(facade));
  app.route("/api/v1", createGatewayRoutes(facade));
  app.route("/api/v1", createStreamRoutes(facade));
  app.route("/api/v1", createProofRoutes(facade));
  app.route("/api/v2", createQueryRoutes(facade, { auth: options.auth }));
  // The IPFS trustless gateway: public nodes only (it answers 404 elsewhere).
  app.route("/", createIpfsRoutes(facade, { enabled: options.publicUrl !== undefined }));
  app.route("/", createEventRoutes(facade, { getManifest }));

  const registerPage = <D>(page: PageDefinition<D>) => {
    defineRoute(app, page.path, {
      GET: async (c) => {
        const manifest = await getManifest();
        const url = new URL(c.req.url);
        const data = page.load
          ? await page.load({
            facade,
            url,
            origin: options.publicUrl ?? url.origin,
            signal: c.req.raw.signal,
          })
          : (undefined as D);
        const arbiter = await facade.isArbiter({ signal: c.req.raw.signal }).catch(() => false);
        const html = renderDocument(h(page.Page, { data, url }), {
          arbiter,
          title: page.title,
          description: page.description,
          path: url.pathname,
          manifest,
        });
        return c.html(html, 200, pageHeaders);
      },
    });
  };
  registerPage(marketplacePage);
  registerPage(publishPage);
  registerPage(datasetPage);
  registerPage(dataPage);
  registerPage(poolsPage);
  registerPage(purchasesPage);
  registerPage(salesPage);
  registerPage(sitesPage);
  registerPage(siteSettingsPage);
  registerPage(siteHistoryPage);
  registerPage(sitePage);
  registerPage(streamsPage);
  registerPage(walletPage);
  registerPage(arbitrationPage);
  registerPage(networkPage);

  defineRoute(app, "/static/*", { GET: createStaticHandler({ getManifest }) });

  app.notFound((c) => {
    const isApi = isApiPath(c.req.path);
    const message = isApi ? `No API route ${c.req.method} ${c.req.path}` : `Nothing at ${c.req.path}`;
    return respondWithError(c, new HttpError(404, "not_found", message));
  });

  app.onError((err, c) => respondWithError(c, toResponseError(err, c, log)));

  const respondWithError = async (c: Context, error: HttpError): Promise<Response> => {
    if (wantsHtml(c)) {
      try {
        const manifest = await getManifest();
        const message = error.message === UNAUTHORIZED_MESSAGE ? LOGIN_PAGE_MESSAGE : error.message;
        const html = renderDocument(h(ErrorPage, { status: error.status, message }), {
          title: error.status === 404
            ? "Not found"
            : error.status === 401
            ? "Log in"
            : "Something went wrong",
          path: c.req.path,
          manifest,
        });
        return c.html(html, error.status, { ...pageHeaders, ...error.headers });
      } catch (err) {
        log.error("failed to render an error page", { error: err });
      }
    }
    return c.json(error.toBody(), error.status, error.headers);
  };

  return app;
}

/** Adds what a response lacks: the page CSP on HTML, `nosniff` on everything, a sandbox on downloads. */
function setSafetyHeaders(headers: Headers): void {
  try {
    const type = headers.get("Content-Type") ?? "";
    if (/^text\/html\b/i.test(type)) {
      for (const [name, value] of Object.entries(pageHeaders)) {
        if (!headers.has(name)) headers.set(name, value);
      }
    } else {
      if (!headers.has("X-Content-Type-Options")) headers.set("X-Content-Type-Options", "nosniff");
      if (/^\s*attachment\b/i.test(headers.get("Content-Disposition") ?? "")) {
        headers.set("Content-Security-Policy", "sandbox");
      }
    }
  } catch { /* immutable headers (a fetched response); none of ours */ }
}

/** What `err` answers: the error table under the route's policy, Hono's 4xx, else a logged 500. */
function toResponseError(err: unknown, c: Context, log: AppLogger): HttpError {
  const mapped = toHttpError(err, getErrorPolicy(c.req.raw));
  if (mapped) return mapped;
  if (err instanceof HTTPException && err.status >= 400 && err.status < 500) {
    const status = err.status as ErrorStatus;
    return new HttpError(status, getCodeForStatus(status), err.message || "The request cannot be handled");
  }
  if (c.req.raw.signal.aborted) {
    log.debug("dropped a request the client abandoned", { method: c.req.method, path: c.req.path });
  } else {
    log.error("failed to handle a request", { method: c.req.method, path: c.req.path, error: err });
  }
  return new HttpError(500, "internal", "Something went wrong on this node; the error has been logged");
}

function isApiPath(path: string): boolean {
  return path === "/api" || path.startsWith("/api/");
}

/** Browsers navigating to a page get HTML errors; the API, static files and scripts get JSON. */
function wantsHtml(c: Context): boolean {
  if (isApiPath(c.req.path) || c.req.path.startsWith("/static/")) return false;
  return (c.req.header("Accept") ?? "").includes("text/html");
}

const consoleLogger: AppLogger = {
  error: (message, meta) => console.error(`kosmos:web ${message}`, meta ?? ""),
  debug: () => {},
};
