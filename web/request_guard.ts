/**
 * Keeps other websites out of the node's API. The API spends the wallet's
 * tokens and publishes under the node's keys, and it listens where any page
 * its owner visits can reach it:
 *
 * - Cross-site writes. A page elsewhere can post a `multipart/form-data` or
 *   URL-encoded form to the node without a CORS preflight. A request that
 *   changes something (any method but GET, HEAD and OPTIONS) is refused
 *   when the browser says it comes from another site: `Sec-Fetch-Site`
 *   other than `same-origin` or `none`, or, from a browser that does not
 *   send that header, an `Origin` whose host is not the request's. A client
 *   that sends neither (the CLI, scripts) is not a browser and passes.
 * - DNS rebinding. A name of the attacker's that resolves to 127.0.0.1 makes
 *   its pages "same origin" with the node. A request naming any host but
 *   `allowedHosts` (the loopback names unless the node adds its
 *   `--public-name`s) is refused, whatever address the node listens on.
 *
 * `exempt` paths skip both checks: the analytics SDK (`/js/kosmos.js`) and
 * its `POST /api/event`, which the websites it measures load and call, under
 * whatever name they know the node by.
 */
import type { MiddlewareHandler } from "hono";
import { HttpError } from "./http_error.ts";

export interface RequestGuardOptions {
  /** Host names (no port; IPv6 without brackets) requests may name; others get 403. @default LOOPBACK_HOSTS */
  allowedHosts?: readonly string[];
  /** Paths that skip the checks. @default [] */
  exempt?: string[];
}

/** The names of this machine's loopback interface, which every node answers to. */
export const LOOPBACK_HOSTS: readonly string[] = ["127.0.0.1", "localhost", "::1"];

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether a browser says `request` comes from a page of another site. */
export function isCrossSite(request: Request): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null) return site !== "same-origin" && site !== "none";
  const origin = request.headers.get("origin");
  if (origin === null) return false;
  try {
    return new URL(origin).host !== (request.headers.get("host") ?? new URL(request.url).host);
  } catch {
    return true; // "null" (a sandboxed or file page) or garbage
  }
}

/** The host name `request` was sent to, lower case, without port or IPv6 brackets. */
function requestHostname(request: Request): string {
  const host = request.headers.get("host");
  let hostname: string;
  try {
    hostname = host === null ? new URL(request.url).hostname : new URL(`http://${host}`).hostname;
  } catch {
    return "";
  }
  return hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
}

export function requestGuard(options: RequestGuardOptions = {}): MiddlewareHandler {
  const allowed = new Set((options.allowedHosts ?? LOOPBACK_HOSTS).map((h) => h.toLowerCase()));
  const exempt = new Set(options.exempt ?? []);
  return async (c, next) => {
    if (!exempt.has(c.req.path)) {
      const request = c.req.raw;
      if (!allowed.has(requestHostname(request))) {
        throw new HttpError(
          403,
          "forbidden",
          `This node answers requests to ${[...allowed].join(", ")} only, not to "${
            requestHostname(request).slice(0, 100)
          }" (its owner can add names with --public-name)`,
        );
      }
      if (!SAFE_METHODS.has(c.req.method) && isCrossSite(request)) {
        throw new HttpError(403, "forbidden", "Changes can only be made from this node's own pages");
      }
    }
    await next();
  };
}
