/**
 * The market: buying, purchases, sales, purchased data, quote previews and delegates (over
 * the {@link Market} and {@link Delegation}), and exports and deliveries of purchased rows
 * (over {@link Connectors}). The frozen v1 views name the manifest CID `listingId` and the
 * registry's number `registryListingId`; this file is where they are mapped.
 */
import type {
  DeliveryView,
  MarketApi,
  MarketTxView,
  PurchaseView,
  SaleView,
} from "../../protocol/api/market.ts";
import { NotFoundError } from "../errors.ts";
import {
  type Connectors,
  type DeliveryRecord,
  type DeliveryTarget,
  EXPORT_CONTENT_TYPES,
} from "../services/connectors/mod.ts";
import type { Delegation } from "../services/delegation/mod.ts";
import type { Fetches } from "../services/fetches/mod.ts";
import {
  computeEvidenceHash,
  type Market,
  type MarketTx,
  type PurchaseRecord,
  type SaleRecord,
} from "../services/market/mod.ts";

export interface MarketApiComponents {
  market: Market;
  fetches: Fetches;
  delegation: Delegation;
  connectors: Connectors;
}

export function createMarketApi({ market, fetches, delegation, connectors }: MarketApiComponents): MarketApi {
  function toPurchaseView(p: PurchaseRecord): PurchaseView {
    const fetch = fetches.getFetch(p.manifestCid);
    const downloaded = ["downloading", "verified", "disputed", "complete"].includes(p.status);
    const view: PurchaseView = {
      id: p.id,
      listingId: p.manifestCid, // v1 name: the manifest CID
      registryListingId: p.listingId.toString(),
      status: p.status,
      progress: {
        chunksVerified: downloaded && fetch ? fetch.chunksVerified : 0,
        chunksTotal: fetch?.chunksTotal ?? 0,
      },
      price: p.quote.price.toString(),
      seller: p.seller,
      gateway: p.quote.gateway,
      saleId: p.saleId,
      rights: { licence: p.licence, from: p.createdAt, until: null },
      txs: p.txs.map(toMarketTxView),
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
    };
    if (p.error !== undefined) view.error = p.error;
    if (p.evidence !== undefined) view.hasEvidence = true;
    return view;
  }

  function toSaleView(s: SaleRecord, payout: bigint): SaleView {
    const view: SaleView = {
      saleId: s.saleId,
      listingId: s.manifestCid, // v1 name: the manifest CID
      registryListingId: s.listingId.toString(),
      status: s.status,
      price: s.quote.price.toString(),
      buyer: s.buyer,
      payout: payout.toString(),
      rights: { licence: s.licence, from: s.createdAt, until: null },
      txs: s.txs.map(toMarketTxView),
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
    };
    if (s.error !== undefined) view.error = s.error;
    return view;
  }

  return {
    async buyListing(manifestCid, options = {}) {
      return toPurchaseView(await market.buy(manifestCid, options));
    },
    // deno-lint-ignore require-await
    async getPurchase(id) {
      return toPurchaseView(market.getPurchase(id));
    },
    // deno-lint-ignore require-await
    async getPurchaseEvidence(id) {
      const p = market.getPurchase(id);
      if (p.evidence === undefined) {
        throw new NotFoundError(`Purchase ${id} has no dispute evidence`, { details: { id } });
      }
      return { evidence: p.evidence, evidenceHash: computeEvidenceHash(p.evidence) };
    },
    // deno-lint-ignore require-await
    async listPurchases() {
      return market.listPurchases().map(toPurchaseView);
    },
    async listSales() {
      const sales = market.listSales();
      const payouts = await Promise.all(sales.map((s) => market.payoutOf(s)));
      return sales.map((s, i) => toSaleView(s, payouts[i]));
    },
    async readPurchaseData(id, options = {}) {
      const { stream, manifest } = await market.readPurchaseData(id, options);
      return {
        stream,
        contentType: manifest.contentType,
        ...(manifest.filename !== undefined && { filename: manifest.filename }),
        byteLength: manifest.byteLength,
      };
    },
    async delegateSales(manifestCid, params, options = {}) {
      const r = await delegation.delegateSales(manifestCid, params.peerId, options);
      return {
        listingId: r.manifestCid, // v1 name: the manifest CID
        registryListingId: r.listingId.toString(),
        peerId: r.peerId,
        delegate: r.delegate,
        ...(r.hash && { txHash: r.hash }),
      };
    },
    async previewQuote(manifestCid, options = {}) {
      const q = await market.previewQuote(manifestCid, options);
      return {
        listingId: q.manifestCid, // v1 name: the manifest CID
        price: q.price.toString(),
        split: {
          seller: q.split.seller.toString(),
          gateway: q.split.gateway.toString(),
          treasury: q.split.treasury.toString(),
        },
        gas: {
          units: q.gas.units.toString(),
          gasPrice: q.gas.gasPrice.toString(),
          wei: q.gas.wei.toString(),
        },
      };
    },

    async exportPurchase(id, { format }, options = {}) {
      const { stream, filename } = await connectors.exportPurchase(id, { format, signal: options.signal });
      return { stream, contentType: EXPORT_CONTENT_TYPES[format], filename };
    },
    async startDelivery(purchaseId, params, options = {}) {
      const target: DeliveryTarget = params.connector === "directory"
        ? { connector: "directory", dir: params.dir }
        : { connector: "webhook", url: params.url };
      return toDeliveryView(
        await connectors.startDelivery(purchaseId, target, { format: params.format, signal: options.signal }),
      );
    },
    // deno-lint-ignore require-await
    async listDeliveries() {
      return connectors.listDeliveries().map(toDeliveryView);
    },
  };
}

/** A delivery as the API shows it, field by field. */
function toDeliveryView(d: DeliveryRecord): DeliveryView {
  return {
    id: d.id,
    purchaseId: d.purchaseId,
    connector: d.connector,
    target: d.target,
    format: d.format,
    status: d.status,
    attempts: d.attempts,
    lastError: d.lastError,
    batches: d.batches,
    rows: d.rows,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

function toMarketTxView(tx: MarketTx): MarketTxView {
  return {
    action: tx.action,
    txHash: tx.hash,
    ...(tx.gasUsed !== undefined && { gasUsed: tx.gasUsed }),
    ...(tx.effectiveGasPrice !== undefined && { effectiveGasPrice: tx.effectiveGasPrice }),
  };
}
