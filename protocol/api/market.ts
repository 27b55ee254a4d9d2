/**
 * The HTTP API contract, the market: purchases, sales, delegates, exports and deliveries.
 * Views are the JSON bodies the routes answer with; `MarketApi` is what the node implements.
 */

import * as v from "valibot";
import { isPlainObject, manifestCid, parsed, searchParams, strictBody } from "./schema.ts";

/**
 * Status of a purchase (buyer) or a sale (seller), in the order of the honest
 * path: the buyer downloads and verifies the data before it confirms. A buyer
 * whose data does not verify disputes the sale ("disputed") until the arbiter
 * rules ("refunded" or "complete").
 */
export type PurchaseStatus =
  | "quoted"
  | "opened"
  | "revealed"
  | "downloading"
  | "verified"
  | "disputed"
  | "complete"
  | "refunded"
  | "failed";

/** A transaction a node sent for a purchase or sale. */
export interface MarketTxView {
  action: "open" | "reveal" | "confirm" | "complain" | "dispute" | "refund" | "finalize";
  txHash: `0x${string}`;
  /** Gas the transaction used and the price paid per gas (wei), from its receipt; decimal strings. */
  gasUsed?: string;
  effectiveGasPrice?: string;
}

/** `GET /api/v1/purchases/:id`. Amounts in token base units, decimal strings. */
export interface PurchaseView {
  id: string;
  /** v1 name: the manifest CID. */
  listingId: string;
  /** The registry's listing id (decimal). */
  registryListingId: string;
  status: PurchaseStatus;
  progress: { chunksVerified: number; chunksTotal: number };
  price: string;
  seller: `0x${string}`;
  gateway: `0x${string}`;
  saleId: `0x${string}`;
  /** Usage rights bought: the licence, from the purchase on, with no end. */
  rights: { licence: string; from: number; until: null };
  txs: MarketTxView[];
  error?: string;
  /** True when this node disputed the sale; its evidence is at `GET /api/v1/purchases/:id/evidence`. */
  hasEvidence?: boolean;
  createdAt: number;
  updatedAt: number;
}

/** `GET /api/v1/sales`: a sale of this node's dataset. */
export interface SaleView {
  saleId: `0x${string}`;
  /** v1 name: the manifest CID. */
  listingId: string;
  registryListingId: string;
  status: Exclude<PurchaseStatus, "verified" | "downloading">;
  price: string;
  buyer: `0x${string}`;
  /**
   * What the sale pays this node's wallet, in token wei: the seller's share
   * when it sells, plus the gateway's when it brokered the sale.
   */
  payout: string;
  rights: { licence: string; from: number; until: null };
  txs: MarketTxView[];
  error?: string;
  createdAt: number;
  updatedAt: number;
}

/** `POST /api/v1/listings/:id/delegates`: a node now selling one of this node's listings. */
export interface DelegateView {
  /** v1 name: the manifest CID. */
  listingId: string;
  registryListingId: string;
  peerId: string;
  /** The delegate's wallet, approved on the escrow. */
  delegate: `0x${string}`;
  /** The approval transaction, when one was sent. */
  txHash?: `0x${string}`;
}

/** `GET /api/v1/listings/:id/quote`: what buying costs, before anything is signed. */
export interface QuotePreviewView {
  /** v1 name: the manifest CID. */
  listingId: string;
  price: string;
  split: { seller: string; gateway: string; treasury: string };
  gas: { units: string; gasPrice: string; wei: string };
}

/** Formats of `GET /api/v1/purchases/:id/export` and of deliveries. */
export type ExportFormat = "csv" | "ndjson";

/** Where `POST /api/v1/purchases/:id/deliveries` sends a purchase's rows. */
export type DeliveryTargetInput =
  | { connector: "directory"; /** Absolute path. */ dir: string }
  | { connector: "webhook"; /** `http:` or `https:`. */ url: string };

/** `GET /api/v1/deliveries`: a purchase's rows delivered, in batches, to a connector. */
export interface DeliveryView {
  id: string;
  purchaseId: string;
  connector: DeliveryTargetInput["connector"];
  /** The directory, or the webhook URL without its query. */
  target: string;
  format: ExportFormat;
  status: "pending" | "delivered" | "failed";
  /** Tries made, over all batches. */
  attempts: number;
  lastError: string | null;
  /** Batches delivered. */
  batches: number;
  rows: number;
  createdAt: number;
  updatedAt: number;
}

export interface MarketApi {
  /**
   * Buying. `buyListing` quotes and starts the key sale (a listing already bought returns its
   * purchase). Failures: `QuoteError`, `SaleProtocolError` (no valid quote), `NotFoundError`,
   * `PurchaseNotReadyError` (data of a purchase not complete).
   */
  buyListing(manifestCid: string, options?: { signal?: AbortSignal }): Promise<PurchaseView>;
  getPurchase(id: string, options?: { signal?: AbortSignal }): Promise<PurchaseView>;
  /**
   * The bad-data evidence of a disputed purchase: the JSON text the dispute committed to and its
   * keccak256. It holds the sale key: owner only. `NotFoundError` when the purchase has none.
   */
  getPurchaseEvidence(
    id: string,
    options?: { signal?: AbortSignal },
  ): Promise<{ evidence: string; evidenceHash: `0x${string}` }>;
  listPurchases(options?: { signal?: AbortSignal }): Promise<PurchaseView[]>;
  listSales(options?: { signal?: AbortSignal }): Promise<SaleView[]>;
  /** The verified plaintext of a complete purchase. */
  readPurchaseData(
    id: string,
    options?: { signal?: AbortSignal },
  ): Promise<
    { stream: ReadableStream<Uint8Array>; contentType: string; filename?: string; byteLength: number }
  >;
  previewQuote(manifestCid: string, options?: { signal?: AbortSignal }): Promise<QuotePreviewView>;
  /**
   * Lets another node quote and reveal keys for one of this node's listings while it is offline.
   * Throws `TypeError` (bad peer id), `NotFoundError` (not this node's listing), `DelegationError`.
   */
  delegateSales(
    manifestCid: string,
    params: { peerId: string },
    options?: { signal?: AbortSignal },
  ): Promise<DelegateView>;
  /** The rows of a complete purchase re-encoded as CSV or NDJSON, streamed; throws like `readPurchaseData`. */
  exportPurchase(
    id: string,
    params: { format: ExportFormat },
    options?: { signal?: AbortSignal },
  ): Promise<{ stream: ReadableStream<Uint8Array>; contentType: string; filename: string }>;
  /**
   * Starts delivering a complete purchase's rows to a connector in the background.
   * Throws `TypeError` for a bad target, and like `readPurchaseData`.
   */
  startDelivery(
    purchaseId: string,
    params: DeliveryTargetInput & { format?: ExportFormat },
    options?: { signal?: AbortSignal },
  ): Promise<DeliveryView>;
  /** Every delivery, newest first. */
  listDeliveries(options?: { signal?: AbortSignal }): Promise<DeliveryView[]>;
}

/** `POST /api/v1/purchases`. v1 name: `listingId` is the manifest CID. */
export const BuyBody = strictBody({ listingId: manifestCid }, { example: '{ "listingId": "bafy…" }' });

/** `POST /api/v1/listings/:id/delegates` */
export const DelegateBody = v.pipe(
  v.custom<{ peerId: string }>(
    (body) =>
      isPlainObject(body) && Object.keys(body).length === 1 && typeof body.peerId === "string" &&
      body.peerId.length > 0 && body.peerId.length <= 100,
    'Expected a JSON object like { "peerId": "12D3KooW…" }',
  ),
  v.transform((body) => ({ peerId: body.peerId })),
);

/** A purchase id in a path; anything else is a purchase this node does not have (404). */
export const PurchaseId = v.custom<string>(
  (id) => typeof id === "string" && /^[0-9a-f-]{36}$/.test(id),
  (issue) => `No purchase "${String(issue.input ?? "").slice(0, 40)}" on this node`,
);

const FORMATS: readonly string[] = ["csv", "ndjson"];
const TARGET_FIELDS: Record<DeliveryTargetInput["connector"], readonly string[]> = {
  directory: ["connector", "dir", "format"],
  webhook: ["connector", "url", "format"],
};

/** `?format=` of `GET /api/v1/purchases/:id/export`: csv unless it says ndjson. */
export const ExportParams = searchParams({
  format: v.pipe(
    v.optional(v.string(), "csv"),
    v.check(
      (format) => FORMATS.includes(format),
      (issue) => `Unknown format "${String(issue.input).slice(0, 20)}"; use csv or ndjson`,
    ),
    v.transform((format) => format as ExportFormat),
  ),
});

/** Checks a delivery body; throws a `TypeError` naming the field. */
export function parseDeliveryTarget(body: unknown): DeliveryTargetInput & { format?: ExportFormat } {
  const bad = (message: string) => new TypeError(message);
  if (!isPlainObject(body)) {
    throw bad('Expected a JSON object like { "connector": "webhook", "url": "https://…" }');
  }
  const b = body;
  if (b.connector !== "directory" && b.connector !== "webhook") {
    throw bad('"connector" must be "directory" or "webhook"');
  }
  const extra = Object.keys(b).find((key) =>
    !TARGET_FIELDS[b.connector as DeliveryTargetInput["connector"]].includes(key)
  );
  if (extra !== undefined) {
    throw bad(`Unknown field "${extra.slice(0, 40)}" for the ${b.connector} connector`);
  }
  let format: ExportFormat | undefined;
  if (b.format !== undefined) {
    if (typeof b.format !== "string" || !FORMATS.includes(b.format)) {
      throw bad('"format" must be "csv" or "ndjson"');
    }
    format = b.format as ExportFormat;
  }
  const withFormat = format === undefined ? {} : { format };
  if (b.connector === "directory") {
    if (typeof b.dir !== "string" || b.dir === "" || b.dir.length > 4096 || b.dir.includes("\0")) {
      throw bad('"dir" must be a directory path');
    }
    if (!b.dir.startsWith("/")) throw bad(`"dir" must be an absolute path, got "${b.dir.slice(0, 80)}"`);
    return { connector: "directory", dir: b.dir, ...withFormat };
  }
  if (typeof b.url !== "string" || b.url.length > 2048) throw bad('"url" must be an http(s) URL');
  let url: URL;
  try {
    url = new URL(b.url);
  } catch {
    throw bad('"url" must be an http(s) URL');
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw bad(`"url" must be http or https, not ${url.protocol.slice(0, 20)}`);
  }
  return { connector: "webhook", url: b.url, ...withFormat };
}

/** `POST /api/v1/purchases/:id/deliveries` */
export const DeliveryBody = parsed(parseDeliveryTarget);
