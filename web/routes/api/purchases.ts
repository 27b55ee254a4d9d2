/**
 * Buying over HTTP:
 *
 * - `POST /api/v1/purchases { "listingId": "bafy…" }` → `202 { id, … }`: the
 *   node gets a checked quote, then opens, verifies and downloads in the
 *   background; a listing already bought answers with its purchase;
 * - `GET /api/v1/purchases/:id` → status (`quoted`, `opened`, `revealed`,
 *   `downloading`, `verified`, `disputed`, `complete`, `refunded`, `failed`),
 *   progress, price, seller, transactions;
 * - `GET /api/v1/purchases/:id/evidence` → the bad-data evidence this node
 *   committed to when it disputed the sale (`{ evidence, evidenceHash }`, the
 *   JSON text and its keccak256), for the arbiter; it holds the sale key, so
 *   it is the owner's only;
 * - `GET /api/v1/purchases` (this node's purchases), `GET /api/v1/sales`
 *   (sales of this node's datasets);
 * - `GET /api/v1/purchases/:id/data` → the verified plaintext, streamed;
 * - `GET /api/v1/listings/:id/quote` → price, 80/10/10 split and estimated
 *   gas, before anything is signed;
 * - `POST /api/v1/listings/:id/delegates { "peerId": "12D3…" }` → `201`: the
 *   named node quotes and reveals keys for this node's listing from now on.
 */
import { Hono } from "hono";
import type { KosmosFacade } from "../../facade.ts";
import { HttpError } from "../../http_error.ts";
import { readJson } from "../../read_json.ts";
import { defineRoute } from "../../router.ts";
import { toManifestCid } from "../../../protocol/ids.ts";

export function createPurchaseRoutes(facade: KosmosFacade): Hono {
  const api = new Hono();
  defineRoute(api, "/purchases", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json({ purchases: await facade.listPurchases({ signal: c.req.raw.signal }) });
    },
    POST: async (c) => {
      const body = await readJson(c.req.raw, { maxBytes: 4096 });
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new HttpError(422, "unprocessable", 'Expected a JSON object like { "listingId": "bafy…" }');
      }
      const extra = Object.keys(body).filter((key) => key !== "listingId");
      if (extra.length > 0) {
        throw new HttpError(
          422,
          "unprocessable",
          `Unknown field "${extra[0].slice(0, 40)}"; send only listingId`,
        );
      }
      let listingId: string;
      try {
        listingId = toManifestCid((body as { listingId?: unknown }).listingId);
      } catch (err) {
        throw new HttpError(422, "unprocessable", (err as Error).message);
      }
      try {
        const purchase = await facade.buyListing(listingId, { signal: c.req.raw.signal });
        c.header("Location", `/api/v1/purchases/${purchase.id}`);
        return c.json(purchase, 202);
      } catch (err) {
        throw toPurchaseError(err);
      }
    },
  });
  defineRoute(api, "/purchases/:id", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      try {
        return c.json(await facade.getPurchase(checkId(c.req.param("id")), { signal: c.req.raw.signal }));
      } catch (err) {
        throw toPurchaseError(err);
      }
    },
  });
  defineRoute(api, "/purchases/:id/data", {
    GET: async (c) => {
      try {
        const data = await facade.readPurchaseData(checkId(c.req.param("id")), { signal: c.req.raw.signal });
        // The seller chose the bytes, their type and their name: never let a browser render them
        // on this origin (where a script could call the API), only save them.
        const headers: Record<string, string> = {
          "Content-Type": "application/octet-stream",
          "Content-Length": String(data.byteLength),
          "Content-Disposition": `attachment; filename="${toSafeFilename(data.filename)}"`,
          "Content-Security-Policy": "sandbox",
          "Cache-Control": "no-store",
          "X-Content-Type-Options": "nosniff",
        };
        return new Response(data.stream, { status: 200, headers });
      } catch (err) {
        throw toPurchaseError(err);
      }
    },
  });
  defineRoute(api, "/purchases/:id/evidence", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      try {
        return c.json(
          await facade.getPurchaseEvidence(checkId(c.req.param("id")), { signal: c.req.raw.signal }),
        );
      } catch (err) {
        throw toPurchaseError(err);
      }
    },
  });
  defineRoute(api, "/sales", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json({ sales: await facade.listSales({ signal: c.req.raw.signal }) });
    },
  });
  defineRoute(api, "/listings/:id/quote", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      let listingId: string;
      try {
        listingId = toManifestCid(c.req.param("id"));
      } catch (err) {
        throw new HttpError(400, "bad_request", (err as Error).message);
      }
      try {
        return c.json(await facade.previewQuote(listingId, { signal: c.req.raw.signal }));
      } catch (err) {
        throw toPurchaseError(err);
      }
    },
  });
  defineRoute(api, "/listings/:id/delegates", {
    POST: async (c) => {
      let listingId: string;
      try {
        listingId = toManifestCid(c.req.param("id"));
      } catch (err) {
        throw new HttpError(400, "bad_request", (err as Error).message);
      }
      const body = await readJson(c.req.raw, { maxBytes: 4096 });
      const peerId = (body as { peerId?: unknown } | null)?.peerId;
      if (
        typeof body !== "object" || body === null || Array.isArray(body) || Object.keys(body).length !== 1 ||
        typeof peerId !== "string" || peerId.length === 0 || peerId.length > 100
      ) {
        throw new HttpError(422, "unprocessable", 'Expected a JSON object like { "peerId": "12D3KooW…" }');
      }
      try {
        return c.json(await facade.delegateSales(listingId, { peerId }, { signal: c.req.raw.signal }), 201);
      } catch (err) {
        throw toPurchaseError(err);
      }
    },
  });
  return api;
}

/** A download name that cannot break out of the header or pick a dangerous extension's handler by itself. */
function toSafeFilename(name: string | undefined): string {
  const safe = (name ?? "").replace(/[^\w.\-]/g, "_").replace(/^[.\-]+/, "").slice(0, 100);
  return safe || "data.bin";
}

function checkId(id: string | undefined): string {
  if (!id || !/^[0-9a-f-]{36}$/.test(id)) {
    throw new HttpError(404, "not_found", `No purchase "${(id ?? "").slice(0, 40)}" on this node`);
  }
  return id;
}

function toPurchaseError(err: unknown): unknown {
  const { name, message } = err as Error;
  if (name === "NotFoundError") return new HttpError(404, "not_found", message);
  if (name === "TypeError" || name === "RangeError") return new HttpError(400, "bad_request", message);
  if (name === "PurchaseNotReadyError") return new HttpError(409, "conflict", message);
  if (name === "QuoteError" || name === "SaleProtocolError" || name === "DelegationError") {
    return new HttpError(503, "unavailable", message);
  }
  if (name === "ChainUnavailableError") return new HttpError(503, "unavailable", message);
  if (name === "ContractRevertError") return new HttpError(409, "conflict", message);
  return err;
}
