/**
 * The seller's side of the market: the quote server of `/kosmos/sale/1.0.0`.
 * It answers quote requests for datasets this node published and listed (and
 * whose on-chain `dekCommit` is its key's) or sells as a delegate, rate
 * limited per peer and per buyer address. Quotes nobody opened live in memory
 * only (bounded, dropped after their deadline); nonces come from a block
 * reserved with one write. When the runner sees `Opened` for one of its quotes,
 * {@link Seller.onOpened} writes the sale (with `k_sale`) in one statement.
 * The sale's state machine is `./sale_steps.ts`.
 *
 * ```ts
 * const seller = new Seller(x);
 * await seller.start(); // handles SALE_PROTOCOL
 * ```
 */
import type { Connection, Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { type Address, bytesToHex, getAddress, hashTypedData, type Hex, keccak256 } from "viem";
import { toManifestCid } from "../../../protocol/ids.ts";
import {
  computeDekCommit,
  computeSaleKeyCommit,
  encodeSaleKeys,
  getEscrowDomain,
  type Quote,
  quoteTypes,
} from "../../../protocol/quote.ts";
import { SALE_PROTOCOL } from "../../../protocol/topics.ts";
import {
  decodeSaleRequest,
  encodeSaleResponse,
  MAX_SALE_REQUEST_BYTES,
  type QuoteOffer,
  type QuoteRefusal,
  type SaleResponse,
} from "../../../protocol/sale.ts";
import { findOwnListing, getListing, type IndexedEvent, isSaleDelegate, saleFromJson } from "../chain/mod.ts";
import { getManifest } from "../blocks/mod.ts";
import type { DelegatedKey } from "../delegation/mod.ts";
import { TokenBuckets } from "./rate_limit.ts";
import { KosmosError } from "../../errors.ts";
import { minute, second } from "../../constants.ts";
import type { MarketComponents, MarketContext, ResolvedMarketInit } from "./context.ts";
import type { MarketStore, SaleRecord } from "./store.ts";

/** How long a listing found sellable is trusted before the chain is asked again (ms). */
const LISTING_CACHE_MS = 30 * second;

/** A quote handed to a buyer and not opened yet: memory only. Holds `kSale`: never log it. */
interface OpenQuote {
  record: Omit<SaleRecord, "status" | "sale" | "txs" | "createdAt" | "updatedAt">;
  /** Wall-clock ms after which nobody can open it any more (its deadline, with a margin). */
  expiresAt: number;
}

export class Seller {
  readonly #x: MarketContext;
  /** Quotes handed out and not opened, by sale id. */
  readonly #quotes = new Map<Hex, OpenQuote>();
  readonly #perPeer: TokenBuckets;
  readonly #perBuyer: TokenBuckets;
  /** The block of quote nonces reserved in the database, `[next, end)`. */
  #nonces?: { next: bigint; end: bigint };
  /** Listings found sellable recently, by manifest CID. */
  readonly #sellable = new Map<string, { listingId: bigint; at: number }>();

  constructor(x: MarketContext) {
    this.#x = x;
    const buckets = { burst: x.init.quoteBurst, perMinute: x.init.quotesPerMinute };
    this.#perPeer = new TokenBuckets(buckets);
    this.#perBuyer = new TokenBuckets(buckets);
  }

  get #c(): MarketComponents {
    return this.#x.c;
  }

  get #init(): ResolvedMarketInit {
    return this.#x.init;
  }

  get #db(): MarketStore {
    return this.#x.store;
  }

  /** Starts answering quote requests. */
  async start(): Promise<void> {
    await this.#c.p2p.handle(SALE_PROTOCOL, (stream, connection) => this.#serve(stream, connection), {
      maxInboundStreams: 16,
      maxOutboundStreams: 16,
    });
  }

  /** Stops answering quote requests. */
  async unhandle(): Promise<void> {
    try {
      await this.#c.p2p.unhandle(SALE_PROTOCOL);
    } catch { /* p2p already stopped */ }
  }

  /** Forgets every quote not opened (the market stopped). */
  clear(): void {
    this.#quotes.clear();
  }

  /** Quotes this node handed out that nobody has opened yet (held in memory only). */
  get openQuotes(): number {
    return this.#quotes.size;
  }

  /** A quote of this node was opened: the sale is written (with `kSale`) before anything is revealed. */
  onOpened(event: IndexedEvent): void {
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
    this.#x.emit("sale", record);
  }

  dropExpiredQuotes(): void {
    const now = Date.now();
    for (const [saleId, q] of this.#quotes) if (q.expiresAt < now) this.#quotes.delete(saleId);
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.any([
      AbortSignal.timeout(this.#init.quoteTimeout),
      this.#x.controller!.signal,
    ]);
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
        // The v1 field `listingId` carries the manifest CID.
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
    const { datasets, blocks } = this.#c;
    this.#admit(buyer, peerId);
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
    return await this.#sign({
      manifestCid,
      listingId,
      buyer,
      peerId,
      licence: manifest.licence.id,
      price: BigInt(manifest.price),
      gateway: manifest.gateway,
      keys: [dekHex],
    }, signal);
  }

  /**
   * Quotes a set of keys this node sells under `listingId` as its owner or delegate (a stream's epoch
   * keys): the same limits, nonces and memory as a dataset's quote, so the runner writes the sale on
   * `Opened`, reveals and finalizes it. The caller has checked what it sells and at what price.
   * Throws a {@link QuoteRefusalError} (`rate-limited`) when the limits refuse.
   */
  async offerKeys(params: KeyOffer, options: { signal?: AbortSignal } = {}): Promise<QuoteOffer> {
    if (params.keys.length === 0) throw new RangeError("Cannot offer keys: no key given");
    this.#admit(params.buyer, params.peerId);
    const signal = AbortSignal.any(
      [AbortSignal.timeout(this.#init.quoteTimeout), options.signal].filter((s) => s !== undefined),
    );
    return await this.#sign(params, signal);
  }

  /** The per-peer, per-buyer and open-quote limits; a refused request costs nothing more. */
  #admit(buyer: Address, peerId: string): void {
    const me = this.#c.identity.account.address;
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
    this.dropExpiredQuotes();
    if (this.#quotes.size >= this.#init.maxOpenQuotes) {
      throw new QuoteRefusalError("rate-limited", "too many quotes are open; try again later");
    }
  }

  /** Seals `keys` under a fresh `kSale`, signs the quote and keeps it (memory only) until opened. */
  async #sign(params: KeyOffer, signal: AbortSignal): Promise<QuoteOffer> {
    const { identity, chain } = this.#c;
    const client = chain.client;
    const kSale = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
    const z = encodeSaleKeys(params.keys, kSale);
    const now = await this.#x.chainNow();
    const quote: Quote = {
      listingId: params.listingId,
      buyer: getAddress(params.buyer),
      price: params.price,
      zHash: keccak256(z),
      kSaleHash: computeSaleKeyCommit(kSale),
      dekCommit: computeDekCommit(params.keys),
      gateway: params.gateway,
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
        manifestCid: params.manifestCid,
        listingId: params.listingId,
        buyer: quote.buyer,
        buyerPeer: params.peerId,
        licence: params.licence,
        quote,
        kSale,
      },
      // Kept a minute past its deadline: the indexer may see the Opened event late.
      expiresAt: Date.now() + Number(quote.deadline - now) * second + minute,
    });
    this.#c.log.debug("quoted sale", {
      trace: saleId.slice(0, 18),
      manifestCid: params.manifestCid,
      listingId: params.listingId,
      buyer: params.buyer,
      price: quote.price,
      keys: params.keys.length,
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
}

/**
 * What {@link Seller.offerKeys} sells: `keys` (32-byte hex each, never logged) under registry listing
 * `listingId`, recorded as the sale of `manifestCid` (a stream's id for a stream's epochs).
 */
export interface KeyOffer {
  manifestCid: string;
  listingId: bigint;
  buyer: Address;
  /** The buyer's node (rate limits and the sale record). */
  peerId: string;
  licence: string;
  price: bigint;
  gateway: Address;
  keys: Hex[];
}

/** Why this node declines to quote, as sent to the buyer. */
export class QuoteRefusalError extends KosmosError {
  override name = "QuoteRefusalError";
  readonly code: QuoteRefusal;
  constructor(code: QuoteRefusal, message: string) {
    super(message);
    this.code = code;
  }
}
