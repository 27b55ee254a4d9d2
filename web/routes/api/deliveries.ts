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
import { DeliveryBody, ExportParams } from "../../../protocol/api/market.ts";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody, validate } from "../../validate.ts";
import { checkId } from "./purchases.ts";

const errors: ErrorPolicy = { badInput: 422 };

export function createDeliveryRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/purchases/:id/export", {
    GET: async (c) => {
      const { format } = validate(ExportParams, new URL(c.req.url).searchParams, { status: 400 });
      const data = await facade.exportPurchase(
        checkId(c.req.param("id")),
        { format },
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
    },
  }, { errors });
  defineRoute(api, "/purchases/:id/deliveries", {
    POST: async (c) => {
      const id = checkId(c.req.param("id"));
      const params = await readBody(c, DeliveryBody, { maxBytes: 8192 });
      const delivery = await facade.startDelivery(id, params, { signal: c.req.raw.signal });
      c.header("Location", "/api/v1/deliveries");
      return c.json(delivery, 202);
    },
  }, { errors });
  defineRoute(api, "/deliveries", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json({ deliveries: await facade.listDeliveries({ signal: c.req.raw.signal }) });
    },
  }, { errors });
  return api;
}
