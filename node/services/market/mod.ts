/**
 * The market service: buying and selling dataset keys with the fair key sale
 * of the escrow (see DESIGN.md, "Buying: the key sale"), over the sale
 * protocol (`/kosmos/sale/1.0.0`, codecs in `protocol/sale.ts`).
 *
 * Buyer: {@link Market.buy} asks the seller's node for a quote, checks it
 * (signature by the registry owner or its delegate for the listing, price,
 * gateway, `keccak256(Z)`, `dekCommit` against the manifest AND the listing's
 * on-chain `dekCommit`, the listing's bound manifest CID, deadline) and stores
 * the purchase; from then on a state machine persisted in SQLite drives it:
 * `quoted → opened` (one transaction, with permit; the ciphertext download
 * starts) `→ revealed` (the seller's key seen on chain; a wrong key is
 * complained about and `refunded`) `→ downloading` (every chunk fetched, its
 * CID checked, decrypted, the plaintext Merkle root checked) `→ verified →
 * complete` (confirmed on chain). Nothing is confirmed before the data
 * verifies: bad data (or chunks nobody serves as the dispute deadline nears)
 * raises a bad-data dispute with the evidence's hash (`./evidence.ts`), state
 * `disputed`, then `refunded` or `complete` as the arbiter rules. Without a
 * reveal in time the node refunds itself.
 *
 * Seller: answers quote requests for datasets it published and listed (and
 * whose on-chain `dekCommit` is its key's), rate limited per peer and per
 * buyer address. Quotes nobody opened live in memory only (bounded, dropped
 * after their deadline); nonces come from a block reserved with one write.
 * The seller follows the escrow through the chain indexer's one event stream:
 * when it sees `Opened` for one of its quotes it writes the sale (with
 * `k_sale`) in one statement, then reveals, and finalizes after the dispute
 * window when the buyer never confirms. Another service may sell a set of keys
 * under one of this node's listings through the same machinery
 * ({@link Market.offerKeys}: the streams service's epoch keys): its quote is
 * kept, written, revealed and finalized like a dataset's.
 *
 * The parts: `./context.ts` (what they share), `./buyer.ts`, `./seller.ts`
 * (the quote server), `./runner.ts` (drives persisted state),
 * `./purchase_steps.ts` and `./sale_steps.ts` (the two state machines).
 *
 * Both sides resume unfinished purchases and opened sales on start, reading
 * the sales' escrow events from the indexer's store; deadlines are measured
 * by the latest block's timestamp and checked whenever the indexer sees a new
 * block.
 *
 * ```ts
 * const market = createMarket({ db, identity, p2p, chain, catalog, datasets, blocks, transfer, fetches, log });
 * await market.start();
 * const { id } = await market.buy(manifestCid);
 * await market.waitForPurchase(id, { until: "complete" });
 * const plaintext = await market.readPurchaseData(id);
 * ```
 */

import type { Manifest } from "../../../protocol/manifest.ts";
import type { QuoteOffer } from "../../../protocol/sale.ts";
import { KosmosError } from "../../errors.ts";
import { defineService } from "../../service.ts";
import { Buyer, type BuyPreview, type QuotePreview, type VerifiedQuote } from "./buyer.ts";
import { type MarketComponents, MarketContext, type MarketInit, resolveMarketInit } from "./context.ts";
import { PurchaseSteps } from "./purchase_steps.ts";
import { Runner } from "./runner.ts";
import { SaleSteps } from "./sale_steps.ts";
import { type KeyOffer, Seller } from "./seller.ts";
import type { PurchaseRecord, PurchaseStatus, SaleRecord } from "./store.ts";

export * from "../../../protocol/sale.ts";
export * from "./store.ts";
export * from "./evidence.ts";
export {
  complainSale,
  type ComplainSaleParameters,
  confirmSale,
  type ConfirmSaleParameters,
  finalizeSale,
  foldSaleEvents,
  getChainTime,
  getSaleEvents,
  type GetSaleEventsParameters,
  openSale,
  type OpenSaleParameters,
  type OpenSaleReturnType,
  type RefundReason,
  refundSale,
  revealKey,
  type RevealKeyParameters,
  type RevealKeyReturnType,
  type SaleEvents,
  type SaleWriteReturnType,
} from "../chain/mod.ts";
export {
  type BuyPreview,
  PurchaseNotReadyError,
  QuoteError,
  type QuotePreview,
  SALE_GAS,
  type VerifiedQuote,
} from "./buyer.ts";
export type { MarketComponents, MarketInit } from "./context.ts";
export { type KeyOffer, QuoteRefusalError } from "./seller.ts";

/** The `market` service: buys and sells dataset keys (see the top of this file). */
export function market(init: MarketInit = {}) {
  return defineService(
    "market",
    ["db", "identity", "p2p", "chain", "catalog", "datasets", "blocks", "transfer", "fetches", "delegation"],
    (c: MarketComponents) => new Market(c, init),
  );
}

export function createMarket(components: MarketComponents, init: MarketInit = {}): Market {
  return new Market(components, init);
}

/**
 * Dispatches `purchase` (`CustomEvent<PurchaseRecord>`) and `sale`
 * (`CustomEvent<SaleRecord>`) after every state change. Their details hold
 * secrets: never log them.
 */
export class Market extends EventTarget {
  readonly #x: MarketContext;
  readonly #buyer: Buyer;
  readonly #seller: Seller;
  readonly #runner: Runner;

  constructor(components: MarketComponents, init: MarketInit = {}) {
    super();
    this.#x = new MarketContext(components, resolveMarketInit(init), this);
    this.#seller = new Seller(this.#x);
    const purchases = new PurchaseSteps(this.#x, (on) => this.#runner.watchClosely(on));
    this.#runner = new Runner(this.#x, { seller: this.#seller, purchases, sales: new SaleSteps(this.#x) });
    this.#buyer = new Buyer(this.#x, this.#runner);
  }

  async start(): Promise<void> {
    this.#x.open();
    await this.#seller.start();
    this.#runner.start();
    const purchases = this.#x.store.listPurchases({ unfinished: true }).length;
    const sales = this.#x.store.listSales({ unfinished: true }).length;
    if (purchases + sales > 0) this.#x.c.log.info("resumed unfinished sales", { purchases, sales });
  }

  async stop(): Promise<void> {
    this.#runner.halt();
    this.#x.controller?.abort(new KosmosError("market stopping"));
    this.#runner.unsubscribe();
    await this.#seller.unhandle();
    await this.#runner.settled();
    this.#seller.clear();
  }

  /** Quotes this node handed out that nobody has opened yet (held in memory only). */
  get openQuotes(): number {
    return this.#seller.openQuotes;
  }

  /**
   * Quotes a set of keys another service sells under one of this node's listings (or one it is the
   * owner's delegate for): a stream's epoch keys. The quote is kept like a dataset's, so when the buyer
   * opens it the sale is written, revealed and finalized by the same state machine. Holds the keys only
   * inside `Z`; throws `QuoteRefusalError` when the rate limits refuse.
   */
  offerKeys(offer: KeyOffer, options: { signal?: AbortSignal } = {}): Promise<QuoteOffer> {
    return this.#seller.offerKeys(offer, options);
  }

  /** Price, fee split and estimated gas of buying a listing, before anything is signed. */
  previewQuote(manifestCid: string, options: { signal?: AbortSignal } = {}): Promise<QuotePreview> {
    return this.#buyer.previewQuote(manifestCid, options);
  }

  /**
   * What buying a listing would cost, from a real quote estimated on the
   * chain; signs nothing on chain. {@link buy} then opens that quote.
   */
  previewBuy(manifestCid: string, options: { signal?: AbortSignal } = {}): Promise<BuyPreview> {
    return this.#buyer.previewBuy(manifestCid, options);
  }

  /**
   * Asks the listing's seller (or a provider that sells for it) for a quote
   * and checks it. Throws a `QuoteError` (or a `SaleProtocolError`) and
   * stores nothing when no valid quote comes back.
   */
  requestQuote(manifestCid: string, options: { signal?: AbortSignal } = {}): Promise<VerifiedQuote> {
    return this.#buyer.requestQuote(manifestCid, options);
  }

  /**
   * Buys a listing (by manifest CID): quotes, stores the purchase and drives
   * it in the background. A listing already bought (or being bought) is never
   * paid twice: its purchase is returned instead.
   */
  buy(manifestCid: string, options: { signal?: AbortSignal } = {}): Promise<PurchaseRecord> {
    return this.#buyer.buy(manifestCid, options);
  }

  getPurchase(id: string): PurchaseRecord {
    return this.#buyer.getPurchase(id);
  }

  listPurchases(): PurchaseRecord[] {
    return this.#x.store.listPurchases();
  }

  /** Sales of this node's datasets that were opened on chain, newest first. */
  listSales(): SaleRecord[] {
    return this.#x.store.listSales();
  }

  getSale(saleId: string): SaleRecord | undefined {
    return this.#x.store.getSale(saleId);
  }

  /** The escrow's shares of a sale's price for the seller and the gateway, in basis points (read once). */
  payoutSplit(): Promise<{ sellerBps: bigint; gatewayBps: bigint }> {
    return this.#buyer.payoutSplit();
  }

  /**
   * What `sale` pays this node's wallet, in token wei: the seller's share when
   * it sells the dataset, plus the gateway's when it brokered the sale (a node
   * selling its own listing is both, by default).
   */
  payoutOf(sale: SaleRecord): Promise<bigint> {
    return this.#buyer.payoutOf(sale);
  }

  /**
   * Resolves when the purchase reaches `until` (or a later state of the
   * honest path); rejects when it ends in another terminal state first.
   * @default until "complete", timeout 60 s
   */
  waitForPurchase(
    id: string,
    options: { until?: PurchaseStatus; timeout?: number; signal?: AbortSignal } = {},
  ): Promise<PurchaseRecord> {
    return this.#buyer.waitForPurchase(id, options);
  }

  /** The verified plaintext of a complete purchase, streamed (chunk CIDs and Merkle root checked). */
  readPurchaseData(
    id: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ stream: ReadableStream<Uint8Array>; manifest: Manifest }> {
    return this.#buyer.readPurchaseData(id, options);
  }
}
