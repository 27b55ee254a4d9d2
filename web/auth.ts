/**
 * Who may use the node's HTTP API: its owner, and, on a few public routes,
 * anyone.
 *
 * - Clients (the CLI, scripts) send the owner's API token
 *   (`<dataDir>/api-token`) as `Authorization: Bearer <token>`. A token in
 *   the query string is never read: URLs end up in logs and histories.
 * - Browsers log in once through a one-time link the node prints at start
 *   (or `kosmos login` prints for a running node): `/login?code=…`. The code
 *   is random, works once and expires after 10 minutes; visiting it sets an
 *   HttpOnly, SameSite=Strict cookie holding a session credential (an HMAC
 *   of the token over the session's expiry, so it survives restarts and is
 *   never the token itself) and redirects to `/`.
 * - {@link PUBLIC_ROUTES} need neither: the analytics tracker and its event
 *   endpoint (loaded by the websites a node measures or proxies for), the
 *   login route, the UI's static assets, and a dev network's faucet.
 *   Everything else, pages included, answers 401 without one of the two.
 *
 * ```ts
 * const auth = createApiAuth(token);
 * app.use(requireOwner(auth));
 * const link = auth.createLoginLink("http://127.0.0.1:7464");
 * ```
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { HttpError } from "./http_error.ts";

/** A route anyone may call, and why it must stay open. */
export interface PublicRoute {
  /** A path, or a prefix ending in `/*`. */
  path: string;
  why: string;
}

/** Every route that needs no token; every other route needs the owner's. */
export const PUBLIC_ROUTES: readonly PublicRoute[] = [
  { path: "/js/kosmos.js", why: "the analytics tracker that websites load" },
  { path: "/api/event", why: "where the tracker sends page views (any node may proxy them)" },
  { path: "/login", why: "turns a one-time login code into a session cookie" },
  {
    path: "/api/v2/query",
    why: "Plausible's Stats API: the route itself takes the owner's token or session, or a site API key " +
      "(stored hashed) for its own site only, and answers 401 otherwise (`web/stats_auth.ts`)",
  },
  {
    path: "/api/v1/stats/*",
    why: "Plausible's Stats API v1: checked by the route like /api/v2/query (owner, or a key of that site)",
  },
  { path: "/static/*", why: "the UI's stylesheet, scripts and icons (the same for every node)" },
  {
    path: "/api/v1/faucet",
    why:
      "dev networks only (404 elsewhere): test tokens for nodes joining this node's network; rate limited " +
      "per caller, per address and in all, and it tells nothing but the faucet's terms and the drip",
  },
  {
    path: "/api/v1/extension/pair",
    why: "the browser extension trades a one-time code from My data for its own token; rate limited per " +
      "caller and in all, codes expire in 10 minutes and work once",
  },
  {
    path: "/api/v1/extension/status",
    why: "needs the extension's own token instead (checked by the route; the owner's is not accepted): " +
      "says only whether a browsing consent is valid",
  },
  {
    path: "/api/v1/extension/visits",
    why: "needs the extension's own token instead (checked by the route): adds visits as a browsing " +
      "source, only under a valid consent",
  },
  {
    path: "/api/v1/ingest/readings",
    why: "authenticated by an ingest key (checked by the route before the body is read; the owner's token " +
      "is not accepted): sensor readings for this gateway, nothing else",
  },
  {
    path: "/api/v1/proofs/*",
    why: "anchoring proofs are public by nature: a leaf, its Merkle path and the root's transaction, all " +
      "of which the chain already shows; answered from the node's own table, nothing is sent",
  },
  {
    path: "/ipfs/*",
    why: "the IPFS trustless gateway of a public node (404 on others): blocks by CID, exactly what the " +
      "chunk protocol gives any peer (encrypted chunks, public manifests), never a key or anything " +
      "decrypted; rate limited per caller and in all, and the CID is checked before the store is read",
  },
];

/** Whether `path` is one of {@link PUBLIC_ROUTES}. */
export function isPublicPath(path: string): boolean {
  return PUBLIC_ROUTES.some((route) =>
    route.path.endsWith("/*") ? path.startsWith(route.path.slice(0, -1)) : path === route.path
  );
}

/** How long a login link works. */
export const LOGIN_CODE_TTL_MS = 10 * 60_000;
/** How long a browser stays logged in. */
export const SESSION_TTL_MS = 30 * 24 * 3600_000;
/** Login codes waiting to be used at once; minting more drops the oldest. */
const MAX_PENDING_CODES = 64;

export interface ApiAuthInit {
  /** @default LOGIN_CODE_TTL_MS (10 minutes) */
  loginCodeTtlMs?: number;
  /** @default SESSION_TTL_MS (30 days) */
  sessionTtlMs?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/** The owner's credentials as the web layer checks them. */
export interface ApiAuth {
  /** Name of the session cookie; unique per node, since browsers share cookies between ports. */
  readonly cookieName: string;
  /** Whether `token` is the owner's API token (constant time). */
  verifyToken(token: string): boolean;
  /** Mints a one-time login link under `origin` (`http://127.0.0.1:7464`). */
  createLoginLink(origin: string): { url: string; expiresAt: number };
  /** Uses up a login code; returns a session credential, or undefined when the code is unknown, used or expired. */
  redeemLoginCode(code: string): string | undefined;
  /** Whether `session` is a credential {@link redeemLoginCode} gave out and it has not expired. */
  verifySession(session: string): boolean;
  /** Seconds a session lasts (the cookie's Max-Age). */
  readonly sessionMaxAge: number;
}

export function createApiAuth(token: string, init: ApiAuthInit = {}): ApiAuth {
  if (!/^[0-9a-f]{64}$/.test(token)) throw new TypeError("The API token must be 64 hex digits");
  const now = init.now ?? Date.now;
  const codeTtl = init.loginCodeTtlMs ?? LOGIN_CODE_TTL_MS;
  const sessionTtl = init.sessionTtlMs ?? SESSION_TTL_MS;
  const tokenDigest = sha256(token);
  // Pending codes by their hash, so a memory dump or timing shows no usable code.
  const codes = new Map<string, number>();
  const mac = (message: string) => createHmac("sha256", token).update(message).digest("base64url");
  const cookieName = `kosmos_session_${mac("kosmos.cookie-name").slice(0, 8).replace(/[^\w]/g, "x")}`;

  return {
    cookieName,
    sessionMaxAge: Math.floor(sessionTtl / 1000),
    verifyToken: (candidate) => timingSafeEqual(sha256(candidate), tokenDigest),
    createLoginLink(origin) {
      const t = now();
      for (const [hash, expiresAt] of codes) if (expiresAt <= t) codes.delete(hash);
      while (codes.size >= MAX_PENDING_CODES) codes.delete(codes.keys().next().value!);
      const code = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
      const expiresAt = t + codeTtl;
      codes.set(sha256(code).toString("hex"), expiresAt);
      const url = new URL("/login", origin);
      url.searchParams.set("code", code);
      return { url: url.href, expiresAt };
    },
    redeemLoginCode(code) {
      if (code.length > 100) return undefined;
      const hash = sha256(code).toString("hex");
      const expiresAt = codes.get(hash);
      codes.delete(hash);
      if (expiresAt === undefined || expiresAt <= now()) return undefined;
      const body = `${now() + sessionTtl}.${
        Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url")
      }`;
      return `${body}.${mac(`kosmos.session.${body}`)}`;
    },
    verifySession(session) {
      const match = /^(\d{1,15})\.([\w-]{1,64})\.([\w-]{43})$/.exec(session);
      if (!match) return false;
      const expected = Buffer.from(mac(`kosmos.session.${match[1]}.${match[2]}`));
      const given = Buffer.from(match[3]);
      return given.length === expected.length && timingSafeEqual(given, expected) &&
        Number(match[1]) > now();
    },
  };
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** The bearer token of `request`, if it sends one. */
function getBearer(c: Context): string | undefined {
  const header = c.req.header("Authorization");
  const match = header && /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}

/** The value of cookie `name` in `request`, if any. */
export function getCookie(c: Context, name: string): string | undefined {
  for (const part of (c.req.header("Cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** How a request proved it comes from the owner. */
export type AuthMethod = "token" | "session";

/** What an unauthenticated caller is told. */
export const UNAUTHORIZED_MESSAGE = "This node's API needs its owner's token: send `Authorization: Bearer " +
  "<token>` (the token is in <data-dir>/api-token), or open the login link the node printed at start " +
  "(run `kosmos login` on its machine for a new one)";

/**
 * Lets a request through when it is for a public route, carries the owner's
 * bearer token, or carries a valid session cookie; throws 401 otherwise.
 * Sets `c.get("auth")` to how the request proved itself.
 */
export function requireOwner(auth: ApiAuth): MiddlewareHandler {
  return async (c, next) => {
    if (!isPublicPath(c.req.path)) {
      const bearer = getBearer(c);
      if (bearer !== undefined) {
        if (!auth.verifyToken(bearer)) {
          throw new HttpError(401, "unauthorized", "The bearer token is not this node's API token", {
            headers: { "WWW-Authenticate": 'Bearer realm="kosmos"' },
          });
        }
      } else {
        const session = getCookie(c, auth.cookieName);
        if (session === undefined || !auth.verifySession(session)) {
          throw new HttpError(401, "unauthorized", UNAUTHORIZED_MESSAGE, {
            headers: { "WWW-Authenticate": 'Bearer realm="kosmos"' },
          });
        }
      }
    }
    await next();
  };
}

/**
 * `GET /login?code=…`: a valid, unused code sets the session cookie and
 * redirects to `/`; anything else is a 401 saying how to get a new link.
 */
export function handleLogin(auth: ApiAuth): (c: Context) => Response {
  return (c) => {
    const code = c.req.query("code") ?? "";
    const session = code ? auth.redeemLoginCode(code) : undefined;
    if (session === undefined) {
      throw new HttpError(
        401,
        "unauthorized",
        "This login link is not valid: it was used already, has expired, or is incomplete. Run `kosmos login` " +
          "on the node's machine (or restart the node) for a new one.",
      );
    }
    const secure = new URL(c.req.url).protocol === "https:" ? "; Secure" : "";
    return new Response(null, {
      status: 303,
      headers: {
        Location: "/",
        "Set-Cookie":
          `${auth.cookieName}=${session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${auth.sessionMaxAge}${secure}`,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
      },
    });
  };
}
