/**
 * Exports and deliveries of purchased data over HTTP:
 *
 * - `GET /api/v1/purchases/:id/export?format=csv|ndjson` → the purchase's
 *   rows re-encoded, streamed as a download (`csv` by default);
 * - `POST /api/v1/purchases/:id/deliveries` with
 *   `{ "connector": "directory", "dir": "/abs/path" }` or
 *   `{ "connector": "webhook", "url": "https://…" }` (and optionally
 *   `"format": "csv" | "ndjson"`) → `202 { id, status: "pending", … }`: the
 *   node delivers the rows in batches in the background. A target the node
 *   may not reach is a 400 `bad_request`: a directory outside
 *   `<dataDir>/deliveries` and `deliveryDirectoryAllow`, or a webhook whose
 *   host resolves to a loopback, private, link-local or other non-public
 *   address not in `deliveryWebhookAllow`;
 * - `GET /api/v1/deliveries` → every delivery with its status, attempts,
 *   batches and last error.
 */
import { Hono } from "hono";
import type { DeliveryTargetInput, ExportFormat, KosmosFacade } from "../../facade.ts";
import { HttpError } from "../../http_error.ts";
import { readJson } from "../../read_json.ts";
import { defineRoute } from "../../router.ts";

const FORMATS: readonly string[] = ["csv", "ndjson"];
const FIELDS: Record<DeliveryTargetInput["connector"], readonly string[]> = {
  directory: ["connector", "dir", "format"],
  webhook: ["connector", "url", "format"],
};

export function createDeliveryRoutes(facade: KosmosFacade): Hono {
  const api = new Hono();
  defineRoute(api, "/purchases/:id/export", {
    GET: async (c) => {
      const format = c.req.query("format") ?? "csv";
      if (!FORMATS.includes(format)) {
        throw new HttpError(400, "bad_request", `Unknown format "${format.slice(0, 20)}"; use csv or ndjson`);
      }
      try {
        const data = await facade.exportPurchase(
          checkId(c.req.param("id")),
          { format: format as ExportFormat },
          { signal: c.req.raw.signal },
        );
        return new Response(data.stream, {
          status: 200,
          headers: {
            "Content-Type": data.contentType,
            "Content-Disposition": `attachment; filename="${data.filename.replace(/[^\w.\-]/g, "_")}"`,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
          },
        });
      } catch (err) {
        throw toDeliveryError(err);
      }
    },
  });
  defineRoute(api, "/purchases/:id/deliveries", {
    POST: async (c) => {
      const id = checkId(c.req.param("id"));
      const params = parseTarget(await readJson(c.req.raw, { maxBytes: 8192 }));
      try {
        const delivery = await facade.startDelivery(id, params, { signal: c.req.raw.signal });
        c.header("Location", "/api/v1/deliveries");
        return c.json(delivery, 202);
      } catch (err) {
        throw toDeliveryError(err);
      }
    },
  });
  defineRoute(api, "/deliveries", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json({ deliveries: await facade.listDeliveries({ signal: c.req.raw.signal }) });
    },
  });
  return api;
}

function unprocessable(message: string): HttpError {
  return new HttpError(422, "unprocessable", message);
}

/** Checks a delivery body; every problem is a 422 naming the field. */
export function parseTarget(body: unknown): DeliveryTargetInput & { format?: ExportFormat } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw unprocessable('Expected a JSON object like { "connector": "webhook", "url": "https://…" }');
  }
  const b = body as Record<string, unknown>;
  if (b.connector !== "directory" && b.connector !== "webhook") {
    throw unprocessable('"connector" must be "directory" or "webhook"');
  }
  const extra = Object.keys(b).find((key) =>
    !FIELDS[b.connector as DeliveryTargetInput["connector"]].includes(key)
  );
  if (extra !== undefined) {
    throw unprocessable(`Unknown field "${extra.slice(0, 40)}" for the ${b.connector} connector`);
  }
  let format: ExportFormat | undefined;
  if (b.format !== undefined) {
    if (typeof b.format !== "string" || !FORMATS.includes(b.format)) {
      throw unprocessable('"format" must be "csv" or "ndjson"');
    }
    format = b.format as ExportFormat;
  }
  const withFormat = format === undefined ? {} : { format };
  if (b.connector === "directory") {
    if (typeof b.dir !== "string" || b.dir === "" || b.dir.length > 4096 || b.dir.includes("\0")) {
      throw unprocessable('"dir" must be a directory path');
    }
    if (!b.dir.startsWith("/")) {
      throw unprocessable(`"dir" must be an absolute path, got "${b.dir.slice(0, 80)}"`);
    }
    return { connector: "directory", dir: b.dir, ...withFormat };
  }
  if (typeof b.url !== "string" || b.url.length > 2048) throw unprocessable('"url" must be an http(s) URL');
  let url: URL;
  try {
    url = new URL(b.url);
  } catch {
    throw unprocessable('"url" must be an http(s) URL');
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw unprocessable(`"url" must be http or https, not ${url.protocol.slice(0, 20)}`);
  }
  return { connector: "webhook", url: b.url, ...withFormat };
}

function checkId(id: string | undefined): string {
  if (!id || !/^[0-9a-f-]{36}$/.test(id)) {
    throw new HttpError(404, "not_found", `No purchase "${(id ?? "").slice(0, 40)}" on this node`);
  }
  return id;
}

function toDeliveryError(err: unknown): unknown {
  const { name, message } = err as Error;
  if (name === "NotFoundError") return new HttpError(404, "not_found", message);
  if (name === "TypeError" || name === "RangeError") return new HttpError(422, "unprocessable", message);
  if (name === "PurchaseNotReadyError") return new HttpError(409, "conflict", message);
  if (name === "DeliveryTargetError") return new HttpError(400, "bad_request", message);
  return err;
}
