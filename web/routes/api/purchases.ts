/**
 * Buying over HTTP:
 *
 * - `POST /api/v1/purchases { "listingId": "bafy…" }` → `202 { id, … }`: the
 *   node gets a checked quote, then opens, verifies and downloads in the
 *   background; a listing already bought answers with its purchase;
 *   `?preview=1` asks the seller for a real quote, estimates `openWithPermit`
 *   and `confirm` on it on the chain and signs nothing (`200 { preview, fee,
 *   quote, gas }`); the buy that follows opens that quote while it is valid;
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
 *   named node quotes and reveals keys for this node's listing from now on
 *   (`?preview=1`: asks the node its wallet, estimates the approval, signs
 *   nothing and sends no key).
 */
import { Hono } from "hono";
import { BuyBody, DelegateBody, PurchaseId } from "../../../protocol/api/market.ts";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { manifestCid as ManifestCid } from "../../../protocol/api/schema.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody, validate } from "../../validate.ts";
import { wantsPreview } from "./preview.ts";

const errors: ErrorPolicy = { badInput: 400, reverts: "conflict" };

export function createPurchaseRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/purchases", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json({ purchases: await facade.listPurchases({ signal: c.req.raw.signal }) });
    },
    POST: async (c) => {
      // v1 name: the body's `listingId` is the manifest CID.
      const preview = wantsPreview(c);
      const { listingId: manifestCid } = await readBody(c, BuyBody, { maxBytes: 4096 });
      if (preview) return c.json(await facade.previewBuyListing(manifestCid, { signal: c.req.raw.signal }));
      const purchase = await facade.buyListing(manifestCid, { signal: c.req.raw.signal });
      c.header("Location", `/api/v1/purchases/${purchase.id}`);
      return c.json(purchase, 202);
    },
  }, { errors });
  defineRoute(api, "/purchases/:id", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getPurchase(checkId(c.req.param("id")), { signal: c.req.raw.signal }));
    },
  }, { errors });
  defineRoute(api, "/purchases/:id/data", {
    GET: async (c) => {
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
    },
  }, { errors });
  defineRoute(api, "/purchases/:id/evidence", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(
        await facade.getPurchaseEvidence(checkId(c.req.param("id")), { signal: c.req.raw.signal }),
      );
    },
  }, { errors });
  defineRoute(api, "/sales", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json({ sales: await facade.listSales({ signal: c.req.raw.signal }) });
    },
  }, { errors });
  defineRoute(api, "/listings/:id/quote", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      const manifestCid = validate(ManifestCid, c.req.param("id"), { status: 400 });
      return c.json(await facade.previewQuote(manifestCid, { signal: c.req.raw.signal }));
    },
  }, { errors });
  defineRoute(api, "/listings/:id/delegates", {
    POST: async (c) => {
      const preview = wantsPreview(c);
      const manifestCid = validate(ManifestCid, c.req.param("id"), { status: 400 });
      const { peerId } = await readBody(c, DelegateBody, { maxBytes: 4096 });
      if (preview) {
        return c.json(
          await facade.previewDelegateSales(manifestCid, { peerId }, { signal: c.req.raw.signal }),
        );
      }
      return c.json(await facade.delegateSales(manifestCid, { peerId }, { signal: c.req.raw.signal }), 201);
    },
  }, { errors });
  return api;
}

/** A download name that cannot break out of the header or pick a dangerous extension's handler by itself. */
function toSafeFilename(name: string | undefined): string {
  const safe = (name ?? "").replace(/[^\w.\-]/g, "_").replace(/^[.\-]+/, "").slice(0, 100);
  return safe || "data.bin";
}

/** A purchase id from a path; 404 for anything that cannot be one. */
export function checkId(id: string | undefined): string {
  return validate(PurchaseId, id, { status: 404 });
}
