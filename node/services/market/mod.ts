/**
 * The market service: buying and selling dataset keys with the fair key sale
 * of the escrow (see DESIGN.md, "Buying: the key sale"), over the sale
 * protocol (`/kosmos/sale/1.0.0`, {@link ./wire.ts}).
 *
 * Buyer: {@link Market.buy} asks the seller's node for a quote, checks it
 * (signature by the registry owner or its delegate, price, gateway, listing,
 * `keccak256(Z)`, `dekCommit` against the manifest, deadline) and stores the
 * purchase; from then on a state machine persisted in SQLite drives it:
 * `quoted → opened` (one transaction, with permit) `→ revealed` (the seller's
 * key seen on chain) `→ verified` (DEK checked, confirmed; or a complaint and
 * `refunded`) `→ downloading → complete` (chunks from any provider, decrypted
 * with the Merkle check). Without a reveal in time the node refunds itself.
 *
 * Seller: answers quote requests for datasets it published and listed,
 * watches the escrow for its quotes being opened, reveals `k_sale`, and
 * finalizes after the dispute window when the buyer never confirms.
 *
 * Both sides resume unfinished purchases and sales on start; deadlines are
 * measured by the latest block's timestamp and checked whenever the indexer
 * sees a new block.
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
import { toManifestCid } from "../../../protocol/ids.ts";
import type { Manifest } from "../../../protocol/manifest.ts";
import {
  computeDekCommit,
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
import { type ChainService, getListing, type IndexedDetail } from "../chain/mod.ts";
import { findOwnListing } from "./own_listing.ts";
import { loadManifest } from "./load_manifest.ts";
import type { Catalog } from "../catalog/mod.ts";
import type { Datasets } from "../datasets/mod.ts";
import { type BlockStore, decryptDataset, getManifest } from "../blocks/mod.ts";
import type { Fetches, Transfer } from "../transfer/mod.ts";
import { isSaleDelegate } from "../chain/actions/escrow.ts";
import type { DelegatedKey } from "./delegate.ts";
import type { Logger } from "../../log.ts";
import { KosmosError, NotFoundError } from "../../errors.ts";
import { second } from "../../constants.ts";
import {
  complainSale,
  confirmSale,
  finalizeSale,
  getChainTime,
  getSaleEvents,
  openSale,
  refundSale,
  revealKey,
} from "./actions.ts";
import {
  MarketStore,
  type MarketTx,
  type PurchaseRecord,
  type PurchaseStatus,
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
  "verified",
  "downloading",
];

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
  #running = new Map<string, { again: boolean; done: Promise<void> }>();
  #split?: Promise<{ sellerBps: bigint; gatewayBps: bigint }>;

  constructor(components: MarketComponents, init: MarketInit = {}) {
    super();
    this.#c = components;
    this.#init = {
      quoteTtl: init.quoteTtl ?? 600,
      minQuoteTime: init.minQuoteTime ?? 30,
      quoteTimeout: init.quoteTimeout ?? 10 * second,
      tickInterval: init.tickInterval ?? 5 * second,
    };
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
    this.#timer = undefined;
    this.#controller?.abort(new KosmosError("market stopping"));
    try {
      if (this.#c.chain.contracts) this.#c.chain.indexer.removeEventListener("indexed", this.#onIndexed);
    } catch { /* chain already stopped */ }
    try {
      await this.#c.p2p.libp2p.unhandle(SALE_PROTOCOL);
    } catch { /* p2p already stopped */ }
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
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
        this.#setPurchase(existing.id, { status: "verified", error: null });
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
    const order = ["quoted", "opened", "revealed", "verified", "downloading", "complete"];
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
    const domain = getEscrowDomain(this.#c.chain.chainId, client.contracts.escrow);
    const typed = { domain, types: quoteTypes, primaryType: "Quote" as const, message: quote };
    let signer: Address | undefined;
    try {
      signer = await recoverTypedDataAddress({ ...typed, signature });
    } catch {
      fail("bad signature");
    }
    if (getAddress(signer!) !== getAddress(onChain!.owner)) {
      const delegate = await isSaleDelegate(client, { owner: onChain!.owner, delegate: signer! });
      if (!delegate) fail("bad signature: not signed by the listing's owner or its delegate");
    }
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
    const own = datasets.getDatasetKey(manifestCid);
    const delegated = own ? undefined : this.#c.delegation?.getDelegatedKey(manifestCid);
    const dek = own ?? delegated?.dek;
    if (!dek) throw new QuoteRefusalError("not-seller", `this node does not sell "${manifestCid}"`);
    const manifest = await getManifest(blocks, toManifestCid(manifestCid));
    const client = chain.client;
    const listingId = delegated
      ? await this.#checkDelegatedListing(delegated)
      : await findOwnListing(this.#c, manifestCid);
    if (listingId === undefined) {
      throw new QuoteRefusalError("unknown-listing", `"${manifestCid}" is not listed in the registry`);
    }
    signal.throwIfAborted();
    const kSale = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
    const dekHex = bytesToHex(dek);
    const z = encodeSaleKeys([dekHex], kSale);
    const now = await getChainTime(client);
    const quote: Quote = {
      listingId,
      buyer: getAddress(buyer),
      price: BigInt(manifest.price),
      zHash: keccak256(z),
      kSaleHash: keccak256(kSale),
      dekCommit: computeDekCommit([dekHex]),
      gateway: manifest.gateway,
      // A delegate's nonces live above 2^64, keyed by its wallet, so they never meet the owner's.
      nonce: delegated ? (BigInt(me) << 64n) | this.#db.takeNonce(delegated.owner) : this.#db.takeNonce(me),
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
    const sale = this.#db.insertSale({
      saleId,
      manifestCid,
      listingId,
      buyer: quote.buyer,
      buyerPeer: peerId,
      licence: manifest.licence.id,
      status: "quoted",
      quote,
      kSale,
    });
    this.#c.log.info("quoted sale", {
      trace: saleId.slice(0, 18),
      manifestCid,
      listingId,
      buyer,
      price: quote.price,
    });
    this.dispatchEvent(new CustomEvent("sale", { detail: sale }));
    return { v: 1, quote, signature, z };
  }

  /** The listing of a delegated key, when its owner still owns it and still approves this wallet. */
  async #checkDelegatedListing(delegated: DelegatedKey): Promise<bigint | undefined> {
    const client = this.#c.chain.client;
    const listing = await getListing(client, { listingId: delegated.listingId });
    if (!listing || listing.manifestCid !== delegated.manifestCid) return undefined;
    if (getAddress(listing.owner) !== delegated.owner) return undefined;
    const me = this.#c.identity.account.address;
    if (!(await isSaleDelegate(client, { owner: delegated.owner, delegate: me }))) {
      throw new QuoteRefusalError("not-seller", "this node is no longer the listing owner's delegate");
    }
    return delegated.listingId;
  }

  // ---------------------------------------------------------------- state machines

  #onIndexed = (evt: Event) => {
    const { events } = (evt as CustomEvent<IndexedDetail>).detail;
    void events;
    this.#tick();
  };

  #tick(): void {
    if (!this.#controller || this.#controller.signal.aborted) return;
    for (const p of this.#db.listPurchases({ unfinished: true })) {
      if (p.status !== "downloading") this.#kickPurchase(p.id);
      else if (!this.#running.has(`p:${p.id}`)) this.#kickPurchase(p.id);
    }
    for (const s of this.#db.listSales({ unfinished: true })) this.#kickSale(s.saleId);
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

  /** One step of a purchase; true when it moved. */
  async #stepPurchase(id: string): Promise<boolean> {
    const p = this.#db.getPurchase(id);
    if (!p || !ACTIVE_PURCHASE.includes(p.status)) return false;
    const client = this.#c.chain.client;
    const tx = (action: MarketTx["action"], hash: Hex): MarketTx => ({ action, hash });
    switch (p.status) {
      case "quoted": {
        const events = await getSaleEvents(client, { saleId: p.saleId });
        if (events.opened) {
          this.#setPurchase(id, {
            status: "opened",
            sale: events.opened.sale,
            openedBlock: events.opened.blockNumber,
          });
          return true;
        }
        if (await getChainTime(client) > p.quote.deadline) {
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
        return true;
      }
      case "opened": {
        const events = await getSaleEvents(client, { saleId: p.saleId, fromBlock: p.openedBlock });
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
        if (await getChainTime(client) > BigInt(p.sale!.revealDeadline)) {
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
        const events = await getSaleEvents(client, { saleId: p.saleId, fromBlock: p.openedBlock });
        if (events.refunded) {
          this.#setPurchase(id, { status: "refunded" });
          return false;
        }
        if (keccak256(dek) === p.sale!.dekCommit && computeDekCommit([dek]) === p.quote.dekCommit) {
          if (events.completed) {
            this.#setPurchase(id, { status: "verified", dek: hexToBytes(dek) });
            return true;
          }
          const r = await this.#send((signal) =>
            confirmSale(client, { saleId: p.saleId, sale: p.sale!, signal })
          );
          this.#setPurchase(id, { status: "verified", dek: hexToBytes(dek), tx: tx("confirm", r.hash) });
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
      case "verified": {
        let providers: string[] = [];
        try {
          providers = this.#c.catalog.getListing(p.manifestCid).providers;
        } catch { /* the DHT finds providers */ }
        this.#c.fetches.startFetch(p.manifestCid, { providers: [...new Set([...providers, p.sellerPeer])] });
        this.#setPurchase(id, { status: "downloading" });
        return true;
      }
      case "downloading": {
        const signal = this.#controller!.signal;
        try {
          this.#c.fetches.startFetch(p.manifestCid);
          await this.#c.fetches.waitForFetch(p.manifestCid, { signal });
          const manifest = await getManifest(this.#c.blocks, toManifestCid(p.manifestCid));
          const reader = decryptDataset(this.#c.blocks, manifest, { dek: p.dek!, signal }).getReader();
          while (!(await reader.read()).done) { /* checks every chunk and the Merkle root */ }
        } catch (err) {
          if (signal.aborted) throw err;
          this.#setPurchase(id, { status: "failed", error: (err as Error).message });
          return false;
        }
        this.#setPurchase(id, { status: "complete", error: null });
        return false;
      }
    }
    return false;
  }

  /** One step of a sale; true when it moved. */
  async #stepSale(saleId: string): Promise<boolean> {
    const s = this.#db.getSale(saleId);
    if (!s || !["quoted", "opened", "revealed"].includes(s.status)) return false;
    const client = this.#c.chain.client;
    const events = await getSaleEvents(client, { saleId: s.saleId });
    if (events.refunded) {
      this.#setSale(saleId, {
        status: "refunded",
        error: events.refunded.complained ? "the buyer complained" : "not revealed in time",
      });
      return false;
    }
    if (events.completed) {
      this.#setSale(saleId, { status: "complete" });
      return false;
    }
    const now = await getChainTime(client);
    switch (s.status) {
      case "quoted": {
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
        if (now <= BigInt(s.sale!.disputeDeadline)) return false;
        const r = await this.#send((signal) =>
          finalizeSale(client, { saleId: s.saleId, sale: s.sale!, signal })
        );
        this.#setSale(saleId, { status: "complete", tx: { action: "finalize", hash: r.hash } });
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
