/**
 * Analytics collection, on every node:
 *
 * - `POST /api/event` takes the Plausible event payload
 *   `{ "n": "pageview", "u": "https://example.com/a", "d": "example.com", "r": null, "p": { … } }`
 *   as `text/plain` or JSON (no CORS preflight), from any origin: every field
 *   Plausible's tracker and Events API send (`protocol/event_payload.ts`;
 *   unknown fields are ignored). It answers
 *   `202` when the event was taken, and also `202` with an
 *   `X-Kosmos-Dropped` header (and Plausible's `X-Plausible-Dropped: 1`)
 *   when it was dropped on purpose: `bot`,
 *   `unknown_site` (no node announced the domain; a 202 so trackers on
 *   unregistered sites do not retry), `opted_out` (`DNT: 1` or
 *   `Sec-GPC: 1`), `throttled` (the site's own limit through this node, as
 *   Plausible throttles a site). Errors use the API's error shape plus the header:
 *   `400 invalid` (malformed JSON, bad or over-long fields), `413` (body over
 *   64 KiB), `429 rate_limited` with `Retry-After` (one client flooding the node).
 * - `GET /js/kosmos.js` serves the tracker (`web/sdk/tracker.ts`, built by
 *   `web/build.ts`):
 *   `<script defer data-domain="example.com" data-api="https://node.example" src="https://node.example/js/kosmos.js"></script>`
 */
import { Hono } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { EventPayloadBody } from "../../../protocol/api/sites.ts";
import { HttpError } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { validate } from "../../validate.ts";
import { defaultBuildDir } from "../../build.ts";
import { DROP_HEADER, type EventDropReason, MAX_EVENT_BODY_BYTES } from "../../../protocol/analytics.ts";

/** Plausible's header on a 202 for an event it did not keep (`1`); Kosmos's {@link DROP_HEADER} says why. */
export const PLAUSIBLE_DROP_HEADER = "X-Plausible-Dropped";

const cors: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "POST, OPTIONS",
  "Access-Control-Allow-Headers": "Content-Type",
  "Access-Control-Expose-Headers": `${DROP_HEADER}, ${PLAUSIBLE_DROP_HEADER}`,
  "Access-Control-Max-Age": "86400",
};

const accepted: Record<string, string> = { ...cors, "Cache-Control": "no-store" };
/** The headers of a 400: the event was dropped as invalid. */
const invalidHeaders: Record<string, string> = { ...cors, [DROP_HEADER]: "invalid" };

const utf8 = new TextDecoder("utf-8", { fatal: true });

export interface EventRoutesOptions {
  /** Resolves once the client build (which holds the tracker) is on disk. */
  getManifest: () => Promise<{ tracker?: string }>;
  /** @default `web/static/build/` */
  buildDir?: string;
}

export function createEventRoutes(facade: KosmosApi, options: EventRoutesOptions): Hono {
  const app = new Hono<{ Bindings: { remoteAddr?: { hostname?: string } } }>();
  // The tracker needs no preflight (text/plain), but other clients may send one.
  app.options("/api/event", (c) => c.body(null, 204, cors));
  defineRoute(app, "/api/event", {
    POST: async (c) => {
      const text = await readBody(c.req.raw);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw dropError(400, "bad_request", "invalid", "The request body is not valid JSON");
      }
      const payload = validate(EventPayloadBody, value, { status: 400, headers: invalidHeaders });
      const header = (name: string) => c.req.header(name);
      const result = await facade.recordEvent(payload, {
        remoteAddress: c.env?.remoteAddr?.hostname ?? "",
        forwardedFor: header("X-Forwarded-For"),
        userAgent: header("User-Agent") ?? "",
        optOut: header("DNT") === "1" || header("Sec-GPC") === "1",
      }, { signal: c.req.raw.signal });
      if (result.dropped === "rate_limited") {
        throw dropError(429, "too_many_requests", "rate_limited", "Too many events; slow down", {
          "Retry-After": String(result.retryAfter ?? 1),
        });
      }
      if (!result.dropped) return c.body(null, 202, accepted);
      return c.body(null, 202, { ...accepted, [DROP_HEADER]: result.dropped, [PLAUSIBLE_DROP_HEADER]: "1" });
    },
  });

  const buildDir = options.buildDir ?? defaultBuildDir;
  let cached: { name: string; bytes: Promise<Uint8Array> } | undefined;
  defineRoute(app, "/js/kosmos.js", {
    GET: async (c) => {
      const { tracker } = await options.getManifest();
      if (!tracker) throw new HttpError(404, "not_found", "This node's build has no tracker");
      if (cached?.name !== tracker) {
        const bytes = Deno.readFile(`${buildDir.replace(/\/$/, "")}/${tracker}`);
        cached = { name: tracker, bytes };
        bytes.catch(() => cached = undefined);
      }
      return c.body((await cached.bytes) as Uint8Array<ArrayBuffer>, 200, {
        "Content-Type": "text/javascript; charset=utf-8",
        "Cache-Control": "public, max-age=3600",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
      });
    },
  });
  return app as unknown as Hono;
}

/**
 * Reads at most {@link MAX_EVENT_BODY_BYTES} of UTF-8; 413 beyond that. A
 * body with a `Content-Length` (what browsers send) is read whole, since the
 * server ends it there; one without is checked while streaming.
 */
async function readBody(request: Request): Promise<string> {
  const length = request.headers.get("content-length");
  const declared = Number(length ?? NaN);
  if (declared > MAX_EVENT_BODY_BYTES || !request.body) {
    if (!request.body) throw dropError(400, "bad_request", "invalid", "Expected an event body");
    throw tooLarge();
  }
  if (length !== null && Number.isSafeInteger(declared) && declared >= 0) {
    const whole = new Uint8Array(await request.arrayBuffer());
    if (whole.byteLength > MAX_EVENT_BODY_BYTES) throw tooLarge();
    return decode(whole);
  }
  const bytes = new Uint8Array(MAX_EVENT_BODY_BYTES);
  let size = 0;
  const reader = request.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.byteLength > MAX_EVENT_BODY_BYTES) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      bytes.set(value, size);
      size += value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
  return decode(bytes.subarray(0, size));
}

function decode(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw dropError(400, "bad_request", "invalid", "The request body is not valid UTF-8");
  }
}

function tooLarge(): HttpError {
  return dropError(
    413,
    "payload_too_large",
    "invalid",
    `Event bodies are at most ${MAX_EVENT_BODY_BYTES} bytes`,
  );
}

function dropError(
  status: 400 | 413 | 429,
  code: "bad_request" | "payload_too_large" | "too_many_requests",
  reason: EventDropReason,
  message: string,
  extra: Record<string, string> = {},
): HttpError {
  return new HttpError(status, code, message, { headers: { ...cors, [DROP_HEADER]: reason, ...extra } });
}
