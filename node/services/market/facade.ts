/**
 * The market part of the web facade (`web/facade.ts`): buying, purchases,
 * sales, purchased data and quote previews, over the {@link Market}.
 *
 * ```ts
 * const facade = { ...createMarketFacade({ market, fetches }), getNodeInfo };
 * const { id } = await facade.buyListing(manifestCid);
 * ```
 */
import type { KosmosFacade, PurchaseView, SaleView } from "../../../web/facade.ts";
import type { Fetches } from "../transfer/mod.ts";
import type { Market } from "./mod.ts";
import type { Delegation } from "./delegate.ts";
import type { PurchaseRecord, SaleRecord } from "./store.ts";
import { computeEvidenceHash } from "./evidence.ts";
import { NotFoundError } from "../../errors.ts";

export interface MarketFacadeComponents {
  market: Market;
  fetches: Fetches;
  delegation: Delegation;
}

export type MarketFacade = Pick<
  KosmosFacade,
  | "buyListing"
  | "getPurchase"
  | "getPurchaseEvidence"
  | "listPurchases"
  | "listSales"
  | "readPurchaseData"
  | "previewQuote"
  | "delegateSales"
>;

export function createMarketFacade({ market, fetches, delegation }: MarketFacadeComponents): MarketFacade {
  function toPurchaseView(p: PurchaseRecord): PurchaseView {
    const fetch = fetches.getFetch(p.manifestCid);
    const downloaded = ["downloading", "verified", "disputed", "complete"].includes(p.status);
    const view: PurchaseView = {
      id: p.id,
      listingId: p.manifestCid,
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
      txs: p.txs.map((tx) => ({ action: tx.action, txHash: tx.hash })),
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
      listingId: s.manifestCid,
      registryListingId: s.listingId.toString(),
      status: s.status,
      price: s.quote.price.toString(),
      buyer: s.buyer,
      payout: payout.toString(),
      rights: { licence: s.licence, from: s.createdAt, until: null },
      txs: s.txs.map((tx) => ({ action: tx.action, txHash: tx.hash })),
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
    };
    if (s.error !== undefined) view.error = s.error;
    return view;
  }

  return {
    async buyListing(listingId, options = {}) {
      return toPurchaseView(await market.buy(listingId, options));
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
    async delegateSales(listingId, params, options = {}) {
      const r = await delegation.delegateSales(listingId, params.peerId, options);
      return {
        listingId: r.manifestCid,
        registryListingId: r.listingId.toString(),
        peerId: r.peerId,
        delegate: r.delegate,
        ...(r.hash && { txHash: r.hash }),
      };
    },
    async previewQuote(listingId, options = {}) {
      const q = await market.previewQuote(listingId, options);
      return {
        listingId: q.manifestCid,
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
  };
}
