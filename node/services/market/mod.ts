/**
 * The market service: buying and selling dataset keys with the fair key sale
 * of the escrow (see DESIGN.md, "Buying: the key sale"), over the sale
 * protocol (`/kosmos/sale/1.0.0`, {@link ./wire.ts}).
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
 * window when the buyer never confirms.
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
import { CID } from "multiformats/cid";
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Connection, Stream } from "@libp2p/interface";
import {
  type Address,
  bytesToHex,
  getAddress,
  hashTypedData,
  type Hex,
  hexToBytes,
  keccak256,
  recoverTypedDataAddress,
  zeroAddress,
} from "viem";
import { kosmosEscrowAbi } from "../../../protocol/contracts_generated.ts";
import { type ManifestCid, toManifestCid } from "../../../protocol/ids.ts";
import type { Manifest } from "../../../protocol/manifest.ts";
import {
  computeDekCommit,
  computeSaleKeyCommit,
  decodeSaleKeys,
  encodeSaleKeys,
  getEscrowDomain,
  type Quote,
  quoteTypes,
} from "../../../protocol/quote.ts";
import { SALE_PROTOCOL } from "../../../protocol/topics.ts";
import type { Database } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import { type ChainService, getListing, type IndexedDetail, type IndexedEvent } from "../chain/mod.ts";
import { findOwnListing } from "./own_listing.ts";
import { loadManifest } from "./load_manifest.ts";
import type { Catalog } from "../catalog/mod.ts";
import type { Datasets } from "../datasets/mod.ts";
import { type BlockStore, decryptDataset, getManifest } from "../blocks/mod.ts";
import type { Fetches, Transfer } from "../transfer/mod.ts";
import { disputeSale, expireSaleDispute, isSaleDelegate } from "../chain/actions/escrow.ts";
import {
  checkDatasetData,
  computeEvidenceHash,
  type DataFailure,
  encodeDisputeEvidence,
} from "./evidence.ts";
import { TokenBuckets } from "./rate_limit.ts";
import type { DelegatedKey } from "./delegate.ts";
import type { Logger } from "../../log.ts";
import { KosmosError, NotFoundError } from "../../errors.ts";
import { minute, second } from "../../constants.ts";
import {
  complainSale,
  confirmSale,
  finalizeSale,
  foldSaleEvents,
  getChainTime,
  openSale,
  refundSale,
  revealKey,
  type SaleEvents,
} from "./actions.ts";
import {
  MarketStore,
  type MarketTx,
  type PurchaseRecord,
  type PurchaseStatus,
  saleFromJson,
  type SaleRecord,
} from "./store.ts";
import {
  decodeSaleRequest,
  decodeSaleResponse,
  encodeSaleRequest,
  encodeSaleResponse,
  MAX_SALE_REQUEST_BYTES,
  MAX_SALE_RESPONSE_BYTES,
  type QuoteOffer,
  type QuoteRefusal,
  SaleProtocolError,
  type SaleResponse,
} from "./wire.ts";

export * from "./wire.ts";
export * from "./actions.ts";
export * from "./store.ts";
export * from "./evidence.ts";

/** A quote that fails the buyer's checks, or no seller would quote. Nothing was stored or signed. */
export class QuoteError extends KosmosError {
  override name = "QuoteError";
}

/** The purchase's data cannot be read (not complete, or its key is missing). */
export class PurchaseNotReadyError extends KosmosError {
  override name = "PurchaseNotReadyError";
}

export interface MarketComponents {
  db: Database;
  identity: Identity;
  p2p: P2P;
  chain: ChainService;
  catalog: Catalog;
  datasets: Datasets;
  blocks: BlockStore;
  transfer: Transfer;
  fetches: Fetches;
  log: Logger;
  /** Listings this node sells for their owners (`./delegate.ts`). @default none */
  delegation?: { getDelegatedKey(manifestCid: string): DelegatedKey | undefined };
}

export interface MarketInit {
  /** Seconds a quote stays valid (chain time). @default 600 */
  quoteTtl?: number;
  /** A quote must stay valid at least this many seconds after it arrives. @default 30 */
  minQuoteTime?: number;
  /** ms one quote exchange may take. @default 10 s */
  quoteTimeout?: number;
  /** ms between checks of unfinished purchases and sales besides new blocks. @default 5 s */
  tickInterval?: number;
  /** Quote requests one peer, and separately one buyer address, may make at once. @default 10 */
  quoteBurst?: number;
  /** Quote requests per minute one peer (and one buyer address) regains, up to `quoteBurst`. @default 6 */
  quotesPerMinute?: number;
  /** Quotes not (yet) opened kept in memory at most; requests beyond are refused "rate-limited". @default 1024 */
  maxOpenQuotes?: number;
  /**
   * Seconds (chain time) before the dispute deadline at which a buyer whose
   * data still cannot be fetched disputes it as bad data. @default 3600
   */
  disputeMargin?: number;
  /**
   * Start downloading the ciphertext as soon as the sale is opened, while the
   * seller reveals (it is public and checked by CID; a sale that is refunded
   * leaves it in the block store). Off: the download starts after the reveal.
   * @default true
   */
  downloadBeforeReveal?: boolean;
}

/** Typical gas of the honest path, for quote previews (measured by `deno task bench gas`). */
export const SALE_GAS = { openWithPermit: 180_000n, confirm: 60_000n } as const;

/** What a buyer sees before anything is signed. Amounts in token base units. */
export interface QuotePreview {
  manifestCid: string;
  price: bigint;
  split: { seller: bigint; gateway: bigint; treasury: bigint };
  gas: { units: bigint; gasPrice: bigint; wei: bigint };
}

/** A verified quote, ready to open. */
export interface VerifiedQuote extends QuoteOffer {
  saleId: Hex;
  peerId: string;
  manifest: Manifest;
}

const ACTIVE_PURCHASE: readonly PurchaseStatus[] = [
  "quoted",
  "opened",
  "revealed",
  "downloading",
  "verified",
  "disputed",
];

/** The honest path of a purchase, in order. */
const PURCHASE_ORDER: readonly PurchaseStatus[] = [
  "quoted",
  "opened",
  "revealed",
  "downloading",
  "verified",
  "complete",
];

/** How long after opening a sale the buyer watches the chain closely for the reveal (ms). */
const CLOSE_WATCH_MS = 30 * second;

/** How long a listing found sellable is trusted before the chain is asked again (ms). */
const LISTING_CACHE_MS = 30 * second;

/** A quote handed to a buyer and not opened yet: memory only. Holds `kSale`: never log it. */
interface OpenQuote {
  record: Omit<SaleRecord, "status" | "sale" | "txs" | "createdAt" | "updatedAt">;
  /** Wall-clock ms after which nobody can open it any more (its deadline, with a margin). */
  expiresAt: number;
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
  readonly #c: MarketComponents;
  readonly #init: Required<MarketInit>;
  #store?: MarketStore;
  #controller?: AbortController;
  #timer?: ReturnType<typeof setInterval>;
  #closeWatch?: ReturnType<typeof setInterval>;
  #running = new Map<string, { again: boolean; done: Promise<void> }>();
  #split?: Promise<{ sellerBps: bigint; gatewayBps: bigint }>;
  #arbitrationWindow?: Promise<number>;
  /** Quotes handed out and not opened, by sale id. */
  readonly #quotes = new Map<Hex, OpenQuote>();
  readonly #perPeer: TokenBuckets;
  readonly #perBuyer: TokenBuckets;
  /** The block of quote nonces reserved in the database, `[next, end)`. */
  #nonces?: { next: bigint; end: bigint };
  /** Listings found sellable recently, by manifest CID. */
  readonly #sellable = new Map<string, { listingId: bigint; at: number }>();
  /** The chain's time, read at most once per new block (and per second). */
  #now?: { at: number; value: Promise<bigint> };

  constructor(components: MarketComponents, init: MarketInit = {}) {
    super();
    this.#c = components;
    this.#init = {
      quoteTtl: init.quoteTtl ?? 600,
      minQuoteTime: init.minQuoteTime ?? 30,
      quoteTimeout: init.quoteTimeout ?? 10 * second,
      tickInterval: init.tickInterval ?? 5 * second,
      quoteBurst: init.quoteBurst ?? 10,
      quotesPerMinute: init.quotesPerMinute ?? 6,
      maxOpenQuotes: init.maxOpenQuotes ?? 1024,
      disputeMargin: init.disputeMargin ?? 3600,
      downloadBeforeReveal: init.downloadBeforeReveal ?? true,
    };
    if (!Number.isSafeInteger(this.#init.maxOpenQuotes) || this.#init.maxOpenQuotes < 1) {
      throw new RangeError(`Invalid maxOpenQuotes ${this.#init.maxOpenQuotes}: expected a positive integer`);
    }
    if (!(this.#init.disputeMargin >= 0)) {
      throw new RangeError(`Invalid disputeMargin ${this.#init.disputeMargin}: expected seconds ≥ 0`);
    }
    const buckets = { burst: this.#init.quoteBurst, perMinute: this.#init.quotesPerMinute };
    this.#perPeer = new TokenBuckets(buckets);
    this.#perBuyer = new TokenBuckets(buckets);
  }

  get #db(): MarketStore {
    if (!this.#store) throw new Error("Cannot use the market before start()");
    return this.#store;
  }

  async start(): Promise<void> {
    this.#store ??= new MarketStore(this.#c.db);
    this.#controller = new AbortController();
    await this.#c.p2p.libp2p.handle(SALE_PROTOCOL, (stream, connection) => this.#serve(stream, connection), {
      maxInboundStreams: 16,
      maxOutboundStreams: 16,
    });
    if (this.#c.chain.contracts) {
      this.#c.chain.indexer.addEventListener("indexed", this.#onIndexed);
      this.#timer = setInterval(() => this.#tick(), this.#init.tickInterval);
      this.#tick();
    }
    const purchases = this.#db.listPurchases({ unfinished: true }).length;
    const sales = this.#db.listSales({ unfinished: true }).length;
    if (purchases + sales > 0) this.#c.log.info("resumed unfinished sales", { purchases, sales });
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#watchClosely(false);
    this.#timer = undefined;
    this.#controller?.abort(new KosmosError("market stopping"));
    try {
      if (this.#c.chain.contracts) this.#c.chain.indexer.removeEventListener("indexed", this.#onIndexed);
    } catch { /* chain already stopped */ }
    try {
      await this.#c.p2p.libp2p.unhandle(SALE_PROTOCOL);
    } catch { /* p2p already stopped */ }
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
    this.#quotes.clear();
  }

  /** Quotes this node handed out that nobody has opened yet (held in memory only). */
  get openQuotes(): number {
    return this.#quotes.size;
  }

  // ---------------------------------------------------------------- buyer

  /** Price, fee split and estimated gas of buying a listing, before anything is signed. */
  async previewQuote(manifestCid: string, options: { signal?: AbortSignal } = {}): Promise<QuotePreview> {
    options.signal?.throwIfAborted();
    const listing = this.#c.catalog.getListing(manifestCid);
    const client = this.#c.chain.client;
    const [{ sellerBps, gatewayBps }, gasPrice] = await Promise.all([
      this.payoutSplit(),
      client.publicClient.getGasPrice(),
    ]);
    const price = BigInt(listing.price);
    const seller = price * sellerBps / 10_000n;
    const gateway = (listing.gateway as string) === zeroAddress ? 0n : price * gatewayBps / 10_000n;
    const units = SALE_GAS.openWithPermit + SALE_GAS.confirm;
    return {
      manifestCid: listing.manifestCid,
      price,
      split: { seller, gateway, treasury: price - seller - gateway },
      gas: { units, gasPrice, wei: units * gasPrice },
    };
  }

  /**
   * Asks the listing's seller (or a provider that sells for it) for a quote
   * and checks it. Throws a {@link QuoteError} (or a `SaleProtocolError`) and
   * stores nothing when no valid quote comes back.
   */
  async requestQuote(manifestCid: string, options: { signal?: AbortSignal } = {}): Promise<VerifiedQuote> {
    const cid = toManifestCid(manifestCid);
    const listing = this.#c.catalog.getListing(cid);
    const me = this.#c.identity.account.address;
    const self = this.#c.p2p.peerId.toString();
    const failures: string[] = [];
    for await (const peerId of this.#findSellers(cid, listing.providers, self, options.signal)) {
      let response: SaleResponse;
      try {
        response = await this.#exchange(peerId, cid, options);
      } catch (err) {
        if (options.signal?.aborted) throw err;
        if (err instanceof SaleProtocolError) throw err;
        failures.push(`${peerId.slice(-8)}: ${(err as Error).message}`);
        continue;
      }
      if ("error" in response) {
        failures.push(`${peerId.slice(-8)}: ${response.error.code}: ${response.error.message}`);
        continue;
      }
      return await this.#verifyOffer(response, {
        peerId,
        manifestCid: cid,
        me,
        listing,
        signal: options.signal,
      });
    }
    if (failures.length === 0) throw new QuoteError(`Cannot buy "${cid}": no node is known to sell it`);
    throw new QuoteError(`Cannot buy "${cid}": no seller quoted (${failures.join("; ")})`, {
      details: { manifestCid: cid },
    });
  }

  /**
   * Buys a listing (by manifest CID): quotes, stores the purchase and drives
   * it in the background. A listing already bought (or being bought) is never
   * paid twice: its purchase is returned instead.
   */
  async buy(manifestCid: string, options: { signal?: AbortSignal } = {}): Promise<PurchaseRecord> {
    const cid = toManifestCid(manifestCid);
    const existing = this.#db.findPurchase(cid);
    if (existing) {
      if (existing.status === "failed") {
        this.#setPurchase(existing.id, { status: "downloading", error: null });
      }
      this.#kickPurchase(existing.id);
      return this.#db.getPurchase(existing.id)!;
    }
    const offer = await this.requestQuote(cid, options);
    const again = this.#db.findPurchase(cid);
    if (again) return again;
    const listing = this.#c.catalog.getListing(cid);
    const id = crypto.randomUUID();
    const purchase = this.#db.insertPurchase({
      id,
      manifestCid: cid,
      listingId: offer.quote.listingId,
      seller: listing.seller,
      sellerPeer: offer.peerId,
      licence: listing.licence,
      status: "quoted",
      saleId: offer.saleId,
      quote: offer.quote,
      signature: offer.signature,
      z: offer.z,
    });
    this.#c.log.info("accepted quote", {
      trace: id,
      manifestCid: cid,
      listingId: offer.quote.listingId,
      price: offer.quote.price,
      seller: listing.seller,
    });
    this.dispatchEvent(new CustomEvent("purchase", { detail: purchase }));
    this.#kickPurchase(id);
    return purchase;
  }

  getPurchase(id: string): PurchaseRecord {
    const purchase = this.#db.getPurchase(id);
    if (!purchase) throw new NotFoundError(`No purchase "${id}" on this node`, { details: { id } });
    return purchase;
  }

  listPurchases(): PurchaseRecord[] {
    return this.#db.listPurchases();
  }

  /** Sales of this node's datasets that were opened on chain, newest first. */
  listSales(): SaleRecord[] {
    return this.#db.listSales();
  }

  /** The escrow's shares of a sale's price for the seller and the gateway, in basis points (read once). */
  payoutSplit(): Promise<{ sellerBps: bigint; gatewayBps: bigint }> {
    if (!this.#split) {
      const client = this.#c.chain.client;
      const escrow = { address: client.contracts.escrow, abi: kosmosEscrowAbi } as const;
      const split = Promise.all([
        client.publicClient.readContract({ ...escrow, functionName: "sellerBps" }),
        client.publicClient.readContract({ ...escrow, functionName: "gatewayBps" }),
      ]).then(([sellerBps, gatewayBps]) => ({ sellerBps, gatewayBps }));
      split.catch(() => {
        if (this.#split === split) this.#split = undefined; // read again next time
      });
      this.#split = split;
    }
    return this.#split;
  }

  /**
   * What `sale` pays this node's wallet, in token wei: the seller's share when
   * it sells the dataset, plus the gateway's when it brokered the sale (a node
   * selling its own listing is both, by default).
   */
  async payoutOf(sale: SaleRecord): Promise<bigint> {
    const { sellerBps, gatewayBps } = await this.payoutSplit();
    const me = this.#c.identity.account.address.toLowerCase();
    const price = sale.quote.price;
    let payout = 0n;
    if ((sale.sale?.seller ?? me).toLowerCase() === me) payout += price * sellerBps / 10_000n;
    if (sale.quote.gateway.toLowerCase() === me) payout += price * gatewayBps / 10_000n;
    return payout;
  }

  getSale(saleId: string): SaleRecord | undefined {
    return this.#db.getSale(saleId);
  }

  /**
   * Resolves when the purchase reaches `until` (or a later state of the
   * honest path); rejects when it ends in another terminal state first.
   * @default until "complete", timeout 60 s
   */
  async waitForPurchase(
    id: string,
    options: { until?: PurchaseStatus; timeout?: number; signal?: AbortSignal } = {},
  ): Promise<PurchaseRecord> {
    const until = options.until ?? "complete";
    const order = PURCHASE_ORDER;
    const signal = AbortSignal.any([AbortSignal.timeout(options.timeout ?? 60 * second), options.signal]
      .filter((s) => s !== undefined));
    const { promise, resolve, reject } = Promise.withResolvers<PurchaseRecord>();
    const check = () => {
      const p = this.#db.getPurchase(id);
      if (!p) return reject(new NotFoundError(`No purchase "${id}" on this node`));
      if (p.status === until) return resolve(p);
      const reached = order.indexOf(p.status) >= order.indexOf(until) && order.indexOf(until) >= 0;
      if (reached) return resolve(p);
      if (p.status === "refunded" || p.status === "failed" || p.status === "complete") {
        reject(new KosmosError(`Purchase ${id} ended ${p.status}${p.error ? `: ${p.error}` : ""}`));
      }
    };
    const onEvent = (e: Event) => {
      if ((e as CustomEvent<PurchaseRecord>).detail.id === id) check();
    };
    const onAbort = () => reject(new KosmosError(`Timed out waiting for purchase ${id} to be ${until}`));
    this.addEventListener("purchase", onEvent);
    signal.addEventListener("abort", onAbort);
    try {
      check();
      return await promise;
    } finally {
      this.removeEventListener("purchase", onEvent);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** The verified plaintext of a complete purchase, streamed (chunk CIDs and Merkle root checked). */
  async readPurchaseData(
    id: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ stream: ReadableStream<Uint8Array>; manifest: Manifest }> {
    const p = this.getPurchase(id);
    if (p.status !== "complete" || !p.dek) {
      throw new PurchaseNotReadyError(`Purchase ${id} is ${p.status}; its data is readable once complete`);
    }
    const manifest = await getManifest(this.#c.blocks, toManifestCid(p.manifestCid));
    return {
      stream: decryptDataset(this.#c.blocks, manifest, { dek: p.dek, signal: options.signal }),
      manifest,
    };
  }

  /**
   * Nodes to ask for a quote: the listing's providers, then nodes the DHT
   * finds holding the dataset (a delegate selling for an offline seller).
   */
  async *#findSellers(
    manifestCid: string,
    providers: string[],
    self: string,
    signal?: AbortSignal,
  ): AsyncGenerator<string> {
    const seen = new Set([self]);
    for (const peerId of providers) {
      if (seen.has(peerId)) continue;
      seen.add(peerId);
      yield peerId;
    }
    const lookup = AbortSignal.any(
      [AbortSignal.timeout(this.#init.quoteTimeout), signal].filter((s) => s !== undefined),
    );
    const found: string[] = [];
    try {
      const routing = this.#c.p2p.libp2p.contentRouting;
      for await (const provider of routing.findProviders(CID.parse(manifestCid), { signal: lookup })) {
        const peerId = provider.id.toString();
        if (seen.has(peerId)) continue;
        seen.add(peerId);
        found.push(peerId);
        if (found.length >= 20) break;
      }
    } catch (err) {
      if (signal?.aborted) throw err;
      this.#c.log.debug("failed to find sellers", { manifestCid, error: err });
    }
    yield* found;
  }

  async #exchange(
    peerId: string,
    manifestCid: string,
    options: { signal?: AbortSignal },
  ): Promise<SaleResponse> {
    const signal = AbortSignal.any(
      [AbortSignal.timeout(this.#init.quoteTimeout), options.signal].filter((s) => s !== undefined),
    );
    const stream = await this.#c.p2p.libp2p.dialProtocol(peerIdFromString(peerId), SALE_PROTOCOL, { signal });
    const lp = lpStream(stream, { maxDataLength: MAX_SALE_RESPONSE_BYTES });
    try {
      const buyer = this.#c.identity.account.address;
      await lp.write(encodeSaleRequest({ v: 1, type: "quote", listingId: manifestCid, buyer }), { signal });
      let bytes: Uint8Array;
      try {
        bytes = (await lp.read({ signal })).subarray();
      } catch (cause) {
        if (signal.aborted) throw cause;
        throw new SaleProtocolError(`Cannot read the quote: ${(cause as Error).message}`, { cause });
      }
      const response = decodeSaleResponse(bytes);
      await stream.close({ signal }).catch(() => {});
      return response;
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    }
  }

  async #verifyOffer(
    offer: QuoteOffer,
    ctx: {
      peerId: string;
      manifestCid: string;
      me: Address;
      listing: { price: string; gateway: Address; seller: Address };
      signal?: AbortSignal;
    },
  ): Promise<VerifiedQuote> {
    const { quote, signature, z } = offer;
    const fail = (why: string) => {
      throw new QuoteError(`Cannot accept the quote for "${ctx.manifestCid}": ${why}`, {
        details: { manifestCid: ctx.manifestCid, peerId: ctx.peerId },
      });
    };
    if (getAddress(quote.buyer) !== getAddress(ctx.me)) fail("it is made out to another buyer");
    if (quote.price !== BigInt(ctx.listing.price)) {
      fail(`wrong price ${quote.price}, the listing asks ${ctx.listing.price}`);
    }
    if (getAddress(quote.gateway) !== getAddress(ctx.listing.gateway)) fail("wrong gateway");
    if (keccak256(z) !== quote.zHash) fail("Z does not match its hash");
    const client = this.#c.chain.client;
    const now = await getChainTime(client);
    if (quote.deadline < now + BigInt(this.#init.minQuoteTime)) {
      fail(`quote expired (deadline ${quote.deadline})`);
    }
    const onChain = await getListing(client, { listingId: quote.listingId });
    if (!onChain || onChain.manifestCid !== ctx.manifestCid) {
      fail("the registry listing is for another dataset");
    }
    if (getAddress(onChain!.owner) !== getAddress(ctx.listing.seller)) {
      fail("the listing's owner is not its seller");
    }
    if (onChain!.dekCommit.toLowerCase() !== quote.dekCommit.toLowerCase()) {
      fail("its key commitment differs from the one the listing was staked with");
    }
    const domain = getEscrowDomain(this.#c.chain.chainId, client.contracts.escrow);
    const typed = { domain, types: quoteTypes, primaryType: "Quote" as const, message: quote };
    let signer: Address | undefined;
    try {
      signer = await recoverTypedDataAddress({ ...typed, signature });
    } catch {
      fail("bad signature");
    }
    if (getAddress(signer!) !== getAddress(onChain!.owner)) {
      const delegate = await isSaleDelegate(client, { listingId: quote.listingId, delegate: signer! });
      if (!delegate) fail("bad signature: not signed by the listing's owner or its delegate");
    }
    // The manifest is fetched by its CID (decodeManifest checks the bytes against it), and that CID is the
    // one the listing binds on chain; its dekCommit must be the quote's and the listing's.
    const manifest = await loadManifest(this.#c, ctx.manifestCid, { peerId: ctx.peerId, signal: ctx.signal });
    if (manifest.dekCommit !== quote.dekCommit) fail("its key commitment differs from the manifest's");
    return { ...offer, saleId: hashTypedData(typed), peerId: ctx.peerId, manifest };
  }

  // ---------------------------------------------------------------- seller

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.#init.quoteTimeout), this.#controller!.signal]);
    const lp = lpStream(stream, { maxDataLength: MAX_SALE_REQUEST_BYTES });
    const peerId = connection.remotePeer.toString();
    const refuse = (code: QuoteRefusal, message: string): SaleResponse => ({
      v: 1,
      error: { code, message },
    });
    let response: SaleResponse;
    try {
      let request;
      try {
        request = decodeSaleRequest((await lp.read({ signal })).subarray());
      } catch (err) {
        if (signal.aborted) throw err;
        response = refuse("bad-request", (err as Error).message.slice(0, 200));
        this.#c.log.debug("refused sale request", { peerId, error: err });
        await lp.write(encodeSaleResponse(response), { signal });
        await stream.close({ signal });
        return;
      }
      try {
        response = await this.#quote(request.listingId, request.buyer, peerId, signal);
      } catch (err) {
        const code: QuoteRefusal = err instanceof QuoteRefusalError ? err.code : "unavailable";
        response = refuse(code, (err as Error).message.slice(0, 200));
        if (code === "unavailable") this.#c.log.warn("failed to quote", { peerId, error: err });
        else if (code === "rate-limited") {
          this.#c.log.debug("refused a quote request", { peerId, reason: code });
        }
      }
      await lp.write(encodeSaleResponse(response), { signal });
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
    }
  }

  async #quote(
    manifestCid: string,
    buyer: Address,
    peerId: string,
    signal: AbortSignal,
  ): Promise<QuoteOffer> {
    const { identity, datasets, chain, blocks } = this.#c;
    const me = identity.account.address;
    if (getAddress(buyer) === getAddress(me)) {
      throw new QuoteRefusalError("bad-request", "a node cannot buy from itself");
    }
    // Limits first: a refused request costs no lookup, no chain call, no signature, no storage.
    if (!this.#perPeer.take(peerId)) {
      throw new QuoteRefusalError("rate-limited", "too many quote requests from this peer; try again later");
    }
    if (!this.#perBuyer.take(getAddress(buyer))) {
      throw new QuoteRefusalError("rate-limited", "too many quote requests for this buyer; try again later");
    }
    this.#dropExpiredQuotes();
    if (this.#quotes.size >= this.#init.maxOpenQuotes) {
      throw new QuoteRefusalError("rate-limited", "too many quotes are open; try again later");
    }
    const own = datasets.getDatasetKey(manifestCid);
    const delegated = own ? undefined : this.#c.delegation?.getDelegatedKey(manifestCid);
    const dek = own ?? delegated?.dek;
    if (!dek) throw new QuoteRefusalError("not-seller", `this node does not sell "${manifestCid}"`);
    const dekHex = bytesToHex(dek);
    const dekCommit = computeDekCommit([dekHex]);
    const manifest = await getManifest(blocks, toManifestCid(manifestCid));
    if (manifest.dekCommit !== dekCommit) {
      throw new QuoteRefusalError("not-seller", "this node's key does not match the manifest");
    }
    const listingId = await this.#findSellableListing(manifestCid, dekCommit, delegated);
    signal.throwIfAborted();
    const client = chain.client;
    const kSale = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
    const z = encodeSaleKeys([dekHex], kSale);
    const now = await this.#chainNow();
    const quote: Quote = {
      listingId,
      buyer: getAddress(buyer),
      price: BigInt(manifest.price),
      zHash: keccak256(z),
      kSaleHash: computeSaleKeyCommit(kSale),
      dekCommit,
      gateway: manifest.gateway,
      // Nonces are consumed per signer: the owner and each delegate have their own.
      nonce: this.#takeNonce(),
      deadline: now + BigInt(this.#init.quoteTtl),
    };
    const typed = {
      domain: getEscrowDomain(chain.chainId, client.contracts.escrow),
      types: quoteTypes,
      primaryType: "Quote" as const,
      message: quote,
    };
    const signature = await identity.account.signTypedData(typed);
    const saleId = hashTypedData(typed);
    signal.throwIfAborted();
    if (this.#quotes.size >= this.#init.maxOpenQuotes) {
      throw new QuoteRefusalError("rate-limited", "too many quotes are open; try again later");
    }
    this.#quotes.set(saleId, {
      record: {
        saleId,
        manifestCid,
        listingId,
        buyer: quote.buyer,
        buyerPeer: peerId,
        licence: manifest.licence.id,
        quote,
        kSale,
      },
      // Kept a minute past its deadline: the indexer may see the Opened event late.
      expiresAt: Date.now() + Number(quote.deadline - now) * second + minute,
    });
    this.#c.log.debug("quoted sale", {
      trace: saleId.slice(0, 18),
      manifestCid,
      listingId,
      buyer,
      price: quote.price,
    });
    return { v: 1, quote, signature, z };
  }

  /** The next quote nonce of this node's wallet; one database write per 256. */
  #takeNonce(): bigint {
    if (!this.#nonces || this.#nonces.next >= this.#nonces.end) {
      const start = this.#db.reserveNonces(this.#c.identity.account.address, 256);
      this.#nonces = { next: start, end: start + 256n };
    }
    return this.#nonces.next++;
  }

  #dropExpiredQuotes(): void {
    const now = Date.now();
    for (const [saleId, q] of this.#quotes) if (q.expiresAt < now) this.#quotes.delete(saleId);
  }

  /**
   * The registry listing this node may quote `manifestCid` under: its own
   * (or, for a delegated key, its owner's with this wallet approved), whose
   * on-chain `dekCommit` is this node's key's. Remembered for a short while.
   */
  async #findSellableListing(
    manifestCid: string,
    dekCommit: Hex,
    delegated: DelegatedKey | undefined,
  ): Promise<bigint> {
    const cached = this.#sellable.get(manifestCid);
    if (cached && Date.now() - cached.at < LISTING_CACHE_MS) return cached.listingId;
    const client = this.#c.chain.client;
    let listingId: bigint | undefined;
    if (delegated) {
      const listing = await getListing(client, { listingId: delegated.listingId });
      if (
        listing && listing.manifestCid === delegated.manifestCid &&
        getAddress(listing.owner) === delegated.owner
      ) {
        const me = this.#c.identity.account.address;
        if (!(await isSaleDelegate(client, { listingId: delegated.listingId, delegate: me }))) {
          throw new QuoteRefusalError("not-seller", "this node is no longer the listing owner's delegate");
        }
        listingId = delegated.listingId;
      }
    } else {
      listingId = await findOwnListing(this.#c, manifestCid);
    }
    if (listingId === undefined) {
      throw new QuoteRefusalError("unknown-listing", `"${manifestCid}" is not listed in the registry`);
    }
    const listing = await getListing(client, { listingId });
    if (!listing || listing.dekCommit.toLowerCase() !== dekCommit.toLowerCase()) {
      throw new QuoteRefusalError(
        "not-seller",
        `listing ${listingId} was staked with another key commitment than this node's key`,
      );
    }
    if (this.#sellable.size > 1000) this.#sellable.clear();
    this.#sellable.set(manifestCid, { listingId, at: Date.now() });
    return listingId;
  }

  /** The latest block's timestamp, read once per new block (at most once a second otherwise). */
  #chainNow(): Promise<bigint> {
    const now = performance.now();
    if (!this.#now || now - this.#now.at > second) {
      const value = getChainTime(this.#c.chain.client);
      const entry = { at: now, value };
      value.catch(() => {
        if (this.#now === entry) this.#now = undefined;
      });
      this.#now = entry;
    }
    return this.#now.value;
  }

  /** What the chain indexer has stored about a sale (no chain call). */
  #saleEvents(saleId: Hex): SaleEvents {
    const events = this.#c.chain.indexer.listEvents({ contract: "escrow", saleId, limit: 100 });
    return foldSaleEvents(
      saleId,
      events.map((e) => ({
        eventName: e.name,
        args: e.args,
        hash: e.txHash,
        blockNumber: BigInt(e.blockNumber),
      })),
    );
  }

  /** A quote of this node was opened: the sale is written (with `kSale`) before anything is revealed. */
  #onOpened(event: IndexedEvent): void {
    const saleId = event.saleId!.toLowerCase() as Hex;
    const open = this.#quotes.get(saleId);
    if (!open) return;
    this.#quotes.delete(saleId);
    if (this.#db.getSale(saleId)) return;
    const sale = saleFromJson(event.args.sale as Record<string, unknown>);
    const record = this.#db.insertSale({ ...open.record, status: "opened", sale });
    this.#c.log.info("moved sale to opened", {
      trace: saleId.slice(0, 18),
      manifestCid: record.manifestCid,
      listingId: record.listingId,
      buyer: record.buyer,
      price: record.quote.price,
    });
    this.dispatchEvent(new CustomEvent("sale", { detail: record }));
  }

  /** The escrow's arbitration window in seconds (read once). */
  #getArbitrationWindow(): Promise<number> {
    if (!this.#arbitrationWindow) {
      const client = this.#c.chain.client;
      const read = client.publicClient.readContract({
        address: client.contracts.escrow,
        abi: kosmosEscrowAbi,
        functionName: "arbitrationWindow",
      }).then(Number);
      read.catch(() => {
        if (this.#arbitrationWindow === read) this.#arbitrationWindow = undefined;
      });
      this.#arbitrationWindow = read;
    }
    return this.#arbitrationWindow;
  }

  // ---------------------------------------------------------------- state machines

  /** The one subscription to the escrow: the indexer's batches of new events. */
  #onIndexed = (evt: Event) => {
    const { events } = (evt as CustomEvent<IndexedDetail>).detail;
    this.#now = undefined; // a new block: read the chain's time again
    for (const e of events) {
      if (e.contract !== "escrow" || e.name !== "Opened" || !e.saleId) continue;
      try {
        this.#onOpened(e);
      } catch (err) {
        this.#c.log.warn("failed to record an opened sale", { trace: e.saleId.slice(0, 18), error: err });
      }
    }
    this.#dropExpiredQuotes();
    this.#tick();
  };

  #tick(): void {
    if (!this.#controller || this.#controller.signal.aborted) return;
    let awaitingReveal = false;
    for (const p of this.#db.listPurchases({ unfinished: true })) {
      if (p.status === "opened" && Date.now() - p.updatedAt < CLOSE_WATCH_MS) awaitingReveal = true;
      if (p.status !== "downloading") this.#kickPurchase(p.id);
      else if (!this.#running.has(`p:${p.id}`)) this.#kickPurchase(p.id);
    }
    for (const s of this.#db.listSales({ unfinished: true })) this.#kickSale(s.saleId);
    this.#watchClosely(awaitingReveal);
  }

  /**
   * While this node's own purchase waits for the seller's reveal (its first
   * moments), asks the indexer for new blocks every 100 ms instead of at its
   * usual pace: one cheap call, whatever the number of purchases.
   */
  #watchClosely(on: boolean): void {
    if (on && !this.#closeWatch) {
      this.#closeWatch = setInterval(() => {
        this.#c.chain.indexer.sync().catch(() => {});
      }, 100);
    } else if (!on && this.#closeWatch) {
      clearInterval(this.#closeWatch);
      this.#closeWatch = undefined;
    }
  }

  #kickPurchase(id: string): void {
    this.#kick(`p:${id}`, () => this.#stepPurchase(id));
  }

  #kickSale(saleId: string): void {
    this.#kick(`s:${saleId}`, () => this.#stepSale(saleId));
  }

  /** Runs `step` until it reports no progress; one runner per key, re-run when kicked meanwhile. */
  #kick(key: string, step: () => Promise<boolean>): void {
    const running = this.#running.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        while (this.#controller && !this.#controller.signal.aborted) {
          entry.again = false;
          let progressed = false;
          try {
            progressed = await step();
          } catch (err) {
            if (this.#controller?.signal.aborted) break;
            this.#c.log.warn("failed a sale step; will retry", { trace: key.slice(2, 20), error: err });
          }
          if (!progressed && !entry.again) break;
        }
      } finally {
        this.#running.delete(key);
      }
    })();
    this.#running.set(key, entry);
  }

  #setPurchase(id: string, update: Parameters<MarketStore["updatePurchase"]>[1]): PurchaseRecord {
    const before = this.#db.getPurchase(id);
    const p = this.#db.updatePurchase(id, update);
    if (update.status && before?.status !== update.status) {
      this.#c.log.info(`moved purchase to ${update.status}`, {
        trace: id,
        manifestCid: p.manifestCid,
        ...(p.error && update.error !== null && { reason: p.error }),
        ...(update.tx && { tx: update.tx.hash }),
      });
    }
    this.dispatchEvent(new CustomEvent("purchase", { detail: p }));
    return p;
  }

  #setSale(saleId: string, update: Parameters<MarketStore["updateSale"]>[1]): SaleRecord {
    const before = this.#db.getSale(saleId);
    const s = this.#db.updateSale(saleId, update);
    if (update.status && before?.status !== update.status) {
      this.#c.log.info(`moved sale to ${update.status}`, {
        trace: saleId.slice(0, 18),
        manifestCid: s.manifestCid,
        ...(update.tx && { tx: update.tx.hash }),
      });
    }
    this.dispatchEvent(new CustomEvent("sale", { detail: s }));
    return s;
  }

  /** Sends a transaction from this node's wallet, one at a time. */
  #send<T extends { hash: Hex }>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = this.#controller!.signal;
    return this.#c.chain.exclusive(() => {
      signal.throwIfAborted();
      return fn(signal);
    });
  }

  /** Starts downloading a purchase's ciphertext (public, checked by CID) from its providers and seller. */
  #prefetch(p: PurchaseRecord): void {
    let providers: string[] = [];
    try {
      providers = this.#c.catalog.getListing(p.manifestCid).providers;
    } catch { /* the DHT finds providers */ }
    try {
      this.#c.fetches.startFetch(p.manifestCid, { providers: [...new Set([...providers, p.sellerPeer])] });
    } catch (err) {
      this.#c.log.debug("failed to start the download", { trace: p.id, error: err });
    }
  }

  /** One step of a purchase; true when it moved. */
  async #stepPurchase(id: string): Promise<boolean> {
    const p = this.#db.getPurchase(id);
    if (!p || !ACTIVE_PURCHASE.includes(p.status)) return false;
    const client = this.#c.chain.client;
    const tx = (action: MarketTx["action"], hash: Hex): MarketTx => ({ action, hash });
    const events = this.#saleEvents(p.saleId);
    if (p.status !== "quoted" && p.status !== "opened") {
      if (events.refunded) {
        const why = {
          "not-revealed": "the seller did not reveal the key in time",
          "wrong-key": "the seller's key did not match the dataset's commitment; refunded after a complaint",
          "bad-data": "the arbiter found the data bad; refunded",
        }[events.refunded.reason];
        this.#setPurchase(id, { status: "refunded", error: why });
        return false;
      }
      if (events.completed && (p.status === "verified" || p.status === "disputed")) {
        this.#setPurchase(id, {
          status: "complete",
          ...(p.status === "disputed" && {
            error: events.disputeResolved?.expired
              ? "the arbiter did not rule in time; the sale completed for the seller"
              : "the arbiter found the data good; the sale completed",
          }),
        });
        return false;
      }
    }
    switch (p.status) {
      case "quoted": {
        if (events.opened) {
          this.#setPurchase(id, {
            status: "opened",
            sale: events.opened.sale,
            openedBlock: events.opened.blockNumber,
          });
          if (this.#init.downloadBeforeReveal) this.#prefetch(p);
          return true;
        }
        if (await this.#chainNow() > p.quote.deadline) {
          this.#setPurchase(id, { status: "failed", error: "the quote expired before the sale was opened" });
          return false;
        }
        const opened = await this.#send((signal) =>
          openSale(client, { quote: p.quote, signature: p.signature, signal })
        );
        this.#setPurchase(id, {
          status: "opened",
          sale: opened.sale,
          openedBlock: opened.blockNumber,
          tx: tx("open", opened.hash),
        });
        if (this.#init.downloadBeforeReveal) this.#prefetch(p);
        this.#watchClosely(true);
        return true;
      }
      case "opened": {
        if (events.refunded) {
          this.#setPurchase(id, { status: "refunded", error: "the seller did not reveal the key in time" });
          return false;
        }
        if (events.revealed) {
          this.#setPurchase(id, {
            status: "revealed",
            kSale: events.revealed.kSale,
            sale: { ...p.sale!, disputeDeadline: events.revealed.disputeDeadline },
          });
          return true;
        }
        if (await this.#chainNow() > BigInt(p.sale!.revealDeadline)) {
          const r = await this.#send((signal) =>
            refundSale(client, { saleId: p.saleId, sale: p.sale!, signal })
          );
          this.#setPurchase(id, {
            status: "refunded",
            error: "the seller did not reveal the key in time",
            tx: tx("refund", r.hash),
          });
        }
        return false;
      }
      case "revealed": {
        const [dek] = decodeSaleKeys(p.z, p.kSale!);
        if (keccak256(dek) === p.sale!.dekCommit && computeDekCommit([dek]) === p.quote.dekCommit) {
          // The key is right. Nothing is confirmed until the data it opens verifies.
          this.#setPurchase(id, { status: "downloading", dek: hexToBytes(dek) });
          return true;
        }
        this.#c.log.warn("found the revealed key wrong; complaining", {
          trace: id,
          manifestCid: p.manifestCid,
        });
        const r = await this.#send((signal) =>
          complainSale(client, { saleId: p.saleId, sale: p.sale!, kSale: p.kSale!, z: p.z, signal })
        );
        this.#setPurchase(id, {
          status: "refunded",
          error: "the seller's key did not match the dataset's commitment; refunded after a complaint",
          tx: tx("complain", r.hash),
        });
        return false;
      }
      case "downloading": {
        if (events.disputed) {
          // Disputed before a restart: the evidence is stored, the sale is frozen.
          this.#setPurchase(id, {
            status: "disputed",
            sale: { ...p.sale!, disputedAt: events.disputed.disputedAt },
          });
          return true;
        }
        return await this.#download(p);
      }
      case "verified": {
        if (events.disputed) return false; // an old dispute awaits its ruling (handled above when it ends)
        if (events.completed) {
          this.#setPurchase(id, { status: "complete", error: null });
          return false;
        }
        const r = await this.#send((signal) =>
          confirmSale(client, { saleId: p.saleId, sale: p.sale!, signal })
        );
        this.#setPurchase(id, { status: "complete", error: null, tx: tx("confirm", r.hash) });
        return false;
      }
      case "disputed":
        return false; // the arbiter's ruling (Refunded or Completed) ends it, above
    }
    return false;
  }

  /**
   * Fetches every chunk of a revealed purchase and checks it with the key;
   * moves to `verified`, or disputes the sale when the data is bad or still
   * missing as the dispute deadline nears.
   */
  async #download(p: PurchaseRecord): Promise<boolean> {
    const signal = this.#controller!.signal;
    const cid = toManifestCid(p.manifestCid);
    const deadline = BigInt(p.sale!.disputeDeadline);
    const lastChance = deadline - BigInt(this.#init.disputeMargin);
    const now = await this.#chainNow();
    if (this.#c.fetches.getFetch(cid)?.status !== "complete") {
      this.#prefetch(p);
      const left = Number(lastChance - now);
      if (left <= 0 && now <= deadline) return await this.#dispute(p, await this.#findMissing(cid));
      try {
        // Waits a few seconds at a time so that a deadline measured by chain time is seen.
        await this.#c.fetches.waitForFetch(cid, {
          signal,
          timeout: Math.min(Math.max(left, 1) * second, 5 * second),
        });
      } catch (err) {
        if (signal.aborted) throw err;
        this.#c.log.debug("waiting for the purchase's data", { trace: p.id, reason: (err as Error).message });
        return false; // the next tick starts the fetch again and looks at the deadline
      }
    }
    const manifest = await getManifest(this.#c.blocks, cid);
    const check = await checkDatasetData(this.#c.blocks, manifest, p.dek!, { signal });
    if (check.ok) {
      this.#setPurchase(p.id, { status: "verified", error: null });
      return true;
    }
    if (now > deadline || this.#saleEvents(p.saleId).completed) {
      // Too late to dispute (this node was away for the whole window): say so, do not send a doomed dispute.
      this.#setPurchase(p.id, {
        status: "failed",
        error:
          `the data is bad (${check.failure.message}) but the dispute window closed before it was checked`,
      });
      return false;
    }
    return await this.#dispute(p, check.failure);
  }

  /** The first chunk of a dataset the block store lacks, as a failure ("unavailable"). */
  async #findMissing(cid: ManifestCid): Promise<DataFailure> {
    let manifest: Manifest;
    try {
      manifest = await getManifest(this.#c.blocks, cid);
    } catch {
      return { what: "unavailable", message: "no provider served the manifest before the dispute deadline" };
    }
    for (const [index, chunk] of manifest.chunks.entries()) {
      if (!(await this.#c.blocks.has(chunk))) {
        return {
          what: "unavailable",
          chunk: index,
          cid: chunk.toString(),
          message: `no provider served chunk ${index} before the dispute deadline`,
        };
      }
    }
    return { what: "unavailable", message: "the download did not finish before the dispute deadline" };
  }

  /** Raises a bad-data dispute: the evidence is stored first, then its hash goes on chain. */
  async #dispute(p: PurchaseRecord, failure: DataFailure): Promise<boolean> {
    const evidence = p.evidence ?? encodeDisputeEvidence({
      v: 1,
      saleId: p.saleId,
      manifestCid: p.manifestCid,
      failure,
      z: p.z,
      kSale: p.kSale!,
    });
    if (!p.evidence) this.#setPurchase(p.id, { evidence });
    this.#c.log.warn("found the bought data bad; disputing", {
      trace: p.id,
      manifestCid: p.manifestCid,
      reason: failure.what,
      ...(failure.chunk !== undefined && { chunk: failure.chunk }),
    });
    const client = this.#c.chain.client;
    const r = await this.#send((signal) =>
      disputeSale(client, {
        saleId: p.saleId,
        sale: p.sale!,
        evidenceHash: computeEvidenceHash(evidence),
        signal,
      })
    );
    this.#setPurchase(p.id, {
      status: "disputed",
      sale: r.sale,
      error: `the data is bad (${failure.message}); disputed, awaiting the arbiter`,
      tx: { action: "dispute", hash: r.hash },
    });
    return true;
  }

  /** One step of a sale; true when it moved. */
  async #stepSale(saleId: string): Promise<boolean> {
    const s = this.#db.getSale(saleId);
    if (!s || !["quoted", "opened", "revealed", "disputed"].includes(s.status)) return false;
    const client = this.#c.chain.client;
    const events = this.#saleEvents(s.saleId);
    if (events.refunded) {
      const why = {
        "not-revealed": "not revealed in time",
        "wrong-key": "the buyer complained",
        "bad-data": "the arbiter found the data bad",
      }[events.refunded.reason];
      this.#setSale(saleId, { status: "refunded", error: why });
      return false;
    }
    if (events.completed) {
      this.#setSale(saleId, { status: "complete" });
      return false;
    }
    const now = await this.#chainNow();
    switch (s.status) {
      case "quoted": {
        // Written by an older version, before quotes were kept in memory.
        if (events.opened) {
          this.#setSale(saleId, { status: "opened", sale: events.opened.sale });
          return true;
        }
        if (now > s.quote.deadline) {
          this.#setSale(saleId, { status: "failed", error: "the quote expired unopened" });
        }
        return false;
      }
      case "opened": {
        if (events.revealed) {
          this.#setSale(saleId, {
            status: "revealed",
            sale: { ...s.sale!, disputeDeadline: events.revealed.disputeDeadline },
          });
          return true;
        }
        if (now > BigInt(s.sale!.revealDeadline)) return false;
        const r = await this.#send((signal) =>
          revealKey(client, { saleId: s.saleId, sale: s.sale!, kSale: s.kSale, signal })
        );
        this.#setSale(saleId, { status: "revealed", sale: r.sale, tx: { action: "reveal", hash: r.hash } });
        return true;
      }
      case "revealed": {
        if (events.disputed) {
          this.#setSale(saleId, {
            status: "disputed",
            sale: { ...s.sale!, disputedAt: events.disputed.disputedAt },
            error: "the buyer disputed the data; awaiting the arbiter",
          });
          return true;
        }
        if (now <= BigInt(s.sale!.disputeDeadline)) return false;
        const r = await this.#send((signal) =>
          finalizeSale(client, { saleId: s.saleId, sale: s.sale!, signal })
        );
        this.#setSale(saleId, { status: "complete", tx: { action: "finalize", hash: r.hash } });
        return false;
      }
      case "disputed": {
        // Without a ruling in time the sale completes for the seller; anyone may end it, so this node does.
        const window = await this.#getArbitrationWindow();
        if (now <= BigInt(s.sale!.disputedAt) + BigInt(window)) return false;
        const r = await this.#send((signal) =>
          expireSaleDispute(client, { saleId: s.saleId, sale: s.sale!, signal })
        );
        this.#setSale(saleId, {
          status: "complete",
          error: "the arbiter did not rule in time",
          tx: { action: "finalize", hash: r.hash },
        });
        return false;
      }
    }
    return false;
  }
}

/** Why this node declines to quote, as sent to the buyer. */
class QuoteRefusalError extends KosmosError {
  override name = "QuoteRefusalError";
  readonly code: QuoteRefusal;
  constructor(code: QuoteRefusal, message: string) {
    super(message);
    this.code = code;
  }
}
