/**
 * Who may call Plausible's Stats API routes (`POST /api/v2/query`,
 * `GET /api/v1/stats/*`), and their error shape. These routes are in
 * `PUBLIC_ROUTES` because they check the caller themselves:
 *
 * - the node's owner (`Authorization: Bearer <api token>`, or the session
 *   cookie of a logged-in browser) may query any site of the node;
 * - a site API key (`Authorization: Bearer kss_…`, created on the site page)
 *   may query only the site it was created for.
 *
 * Errors are Plausible's: `{ "error": "…" }` with its messages (401 for a
 * missing or wrong key, 400 for a bad query), not Kosmos's
 * `{ error: { code, message } }`.
 */
import type { Context, Handler } from "hono";
import type { KosmosApi } from "../protocol/api/mod.ts";
import { type ApiAuth, getCookie } from "./auth.ts";
import { HttpError } from "./http_error.ts";

export const MISSING_KEY = "Missing API key. Please use a valid Plausible API key as a Bearer Token.";
export const INVALID_KEY =
  "Invalid API key or site ID. Please make sure you're using a valid API key with access to the site you've requested.";

/** Requests a site API key may make per hour, as Plausible allows. */
export const KEY_REQUESTS_PER_HOUR = 600;
export const RATE_LIMITED =
  `Too many API requests. Your API key is limited to ${KEY_REQUESTS_PER_HOUR} requests per hour.`;
const HOUR = 3_600_000;
/** Keys tracked at once; beyond it the oldest window is forgotten. */
const MAX_TRACKED_KEYS = 10_000;

/** A refusal in Plausible's shape. */
export class StatsHttpError extends Error {
  override readonly name = "StatsHttpError";
  constructor(
    readonly status: 400 | 401 | 404 | 413 | 415 | 429,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** Per-key hourly windows, one set per app (both route families share it through the app's `ApiAuth`). */
const windows = new WeakMap<ApiAuth, Map<string, { start: number; count: number }>>();

/** Counts a site key's request; throws 429 past {@link KEY_REQUESTS_PER_HOUR} in its current hour. */
function countKeyRequest(auth: ApiAuth, key: string, now: number): void {
  let perKey = windows.get(auth);
  if (!perKey) windows.set(auth, perKey = new Map());
  let w = perKey.get(key);
  if (!w || now - w.start >= HOUR) {
    perKey.delete(key);
    if (perKey.size >= MAX_TRACKED_KEYS) perKey.delete(perKey.keys().next().value!);
    perKey.set(key, w = { start: now, count: 0 });
  }
  if (++w.count > KEY_REQUESTS_PER_HOUR) {
    throw new StatsHttpError(429, RATE_LIMITED, Math.ceil((w.start + HOUR - now) / 1000));
  }
}

/** Who is calling: the owner (any site), or a key scoped to one site. */
export type StatsCaller = { owner: true } | { owner: false; site: string };

/**
 * Checks the caller's credentials; throws a 401 {@link StatsHttpError}, or a
 * 429 for a site key past its hourly allowance (the owner has none).
 */
export async function authenticateStats(
  c: Context,
  auth: ApiAuth,
  facade: KosmosApi,
  now: () => number = Date.now,
): Promise<StatsCaller> {
  const header = c.req.header("Authorization");
  const bearer = header ? /^Bearer[ ]+(\S+)\s*$/i.exec(header)?.[1] : undefined;
  if (bearer === undefined) {
    const session = getCookie(c, auth.cookieName);
    if (session !== undefined && auth.verifySession(session)) return { owner: true };
    throw new StatsHttpError(401, MISSING_KEY);
  }
  if (auth.verifyToken(bearer)) return { owner: true };
  const site = await facade.getApiKeySite(bearer);
  if (site === null) throw new StatsHttpError(401, INVALID_KEY);
  countKeyRequest(auth, bearer, now());
  return { owner: false, site };
}

/** Refuses a site key used for another site (Plausible answers the same 401 as for a bad key). */
export function requireSiteAccess(caller: StatsCaller, siteId: unknown): void {
  if (!caller.owner && caller.site !== siteId) throw new StatsHttpError(401, INVALID_KEY);
}

/**
 * Runs a Stats API handler, answering what it throws in Plausible's shape:
 * query errors with their status, unknown sites 404, bad input 400, HTTP
 * errors of the body reader with theirs. Anything else goes to the app (500).
 */
export function withStatsErrors(handler: Handler): Handler {
  return async (c, next) => {
    try {
      return await handler(c, next);
    } catch (err) {
      const e = err as Error & { status?: unknown };
      let status: number | undefined;
      if (err instanceof StatsHttpError) status = err.status;
      else if (err instanceof HttpError) status = err.status;
      else if (e?.name === "QueryError" && typeof e.status === "number") status = e.status;
      else if (e?.name === "NotFoundError") status = 404;
      else if (e?.name === "TypeError" || e?.name === "RangeError") status = 400;
      if (status === undefined) throw err;
      c.header("Cache-Control", "no-store");
      if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="kosmos"');
      if (err instanceof StatsHttpError && err.retryAfter) c.header("Retry-After", String(err.retryAfter));
      return c.json({ error: e.message }, status as 400);
    }
  };
}
