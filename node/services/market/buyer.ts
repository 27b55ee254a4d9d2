/**
 * The buyer's side of the market: previews and requests quotes, checks them
 * (signature by the registry owner or its delegate for the listing, price,
 * gateway, `keccak256(Z)`, `dekCommit` against the manifest AND the listing's
 * on-chain `dekCommit`, the listing's bound manifest CID, deadline), stores a
 * purchase and hands it to the runner; waits for purchases and reads their
 * verified data. The purchase's state machine is `./purchase_steps.ts`.
 *
 * ```ts
 * const offer = await buyer.requestQuote(manifestCid); // throws QuoteError
 * const { id } = await buyer.buy(manifestCid);
 * ```
 */
import { CID } from "multiformats/cid";
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Address, getAddress, type Hex, keccak256, zeroAddress } from "viem";
import { kosmosEscrowAbi } from "../../../protocol/contracts_generated.ts";
import { toManifestCid } from "../../../protocol/ids.ts";
import type { Manifest } from "../../../protocol/manifest.ts";
import { SALE_PROTOCOL } from "../../../protocol/topics.ts";
import {
  decodeSaleResponse,
  encodeSaleRequest,
  MAX_SALE_RESPONSE_BYTES,
  type QuoteOffer,
  quoteRequestFor,
  SaleProtocolError,
  type SaleResponse,
} from "../../../protocol/sale.ts";
import {
  estimateFeesPerGas,
  estimateSaleFee,
  type FeeEstimate,
  getChainTime,
  getListing,
  MEASURED_CONFIRM_GAS,
  MEASURED_OPEN_GAS,
  toFeeEstimate,
  verifyQuoteSigner,
} from "../chain/mod.ts";
import { decryptDataset, getManifest } from "../blocks/mod.ts";
import { loadManifest } from "../transfer/mod.ts";
import { KosmosError, NotFoundError } from "../../errors.ts";
import { second } from "../../constants.ts";
import type { MarketComponents, MarketContext, ResolvedMarketInit } from "./context.ts";
import { PreviewedQuotes } from "./previewed_quotes.ts";
import type { MarketStore, PurchaseRecord, PurchaseStatus, SaleRecord } from "./store.ts";

/** A quote that fails the buyer's checks, or no seller would quote. Nothing was stored or signed. */
export class QuoteError extends KosmosError {
  override name = "QuoteError";
}

/** The purchase's data cannot be read (not complete, or its key is missing). */
export class PurchaseNotReadyError extends KosmosError {
  override name = "PurchaseNotReadyError";
}

/**
 * Gas of the buyer's transactions as measured on our contracts (a seller's
 * first sale; later ones open for about 105,400), for the price preview shown
 * before a seller is asked for a quote. Buying previews the fee of the real
 * quote on the chain instead ({@link Buyer.previewBuy}).
 */
export const SALE_GAS = { openWithPermit: MEASURED_OPEN_GAS, confirm: MEASURED_CONFIRM_GAS } as const;

/** What buying would cost, from a real quote estimated on the chain; nothing signed on chain. */
export interface BuyPreview {
  manifestCid: string;
  /** The purchase of this listing this node already has: buying again pays nothing. */
  existing?: PurchaseRecord;
  /** The quote buying would open (kept until it expires, so confirming opens this very quote). */
  quote?: VerifiedQuote["quote"];
  fee: FeeEstimate;
  /** Gas of `openWithPermit` and of `confirm`, and where the latter comes from. */
  gas?: { open: bigint; confirm: bigint; confirmSource: "simulated" | "measured" };
}

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

/** The honest path of a purchase, in order. */
const PURCHASE_ORDER: readonly PurchaseStatus[] = [
  "quoted",
  "opened",
  "revealed",
  "downloading",
  "verified",
  "complete",
];

export class Buyer {
  readonly #x: MarketContext;
  readonly #runner: { kickPurchase(id: string): void };
  #split?: Promise<{ sellerBps: bigint; gatewayBps: bigint }>;
  /** Quotes of previewed buys, by manifest CID, for the buy that follows. */
  readonly #previewed = new PreviewedQuotes();

  constructor(x: MarketContext, runner: { kickPurchase(id: string): void }) {
    this.#x = x;
    this.#runner = runner;
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
   * What buying `manifestCid` would cost: asks its seller for a real quote
   * (which signs nothing on chain), checks it, and estimates `openWithPermit`
   * and `confirm` on it on the chain (`estimateSaleFee`). The quote is kept
   * until it nears its deadline, so {@link buy} opens the quote previewed. A
   * listing already bought answers its purchase and a fee of nothing.
   */
  async previewBuy(manifestCid: string, options: { signal?: AbortSignal } = {}): Promise<BuyPreview> {
    const cid = toManifestCid(manifestCid);
    const existing = this.#db.findPurchase(cid);
    if (existing) {
      const fees = await estimateFeesPerGas(this.#c.chain.client);
      return { manifestCid: cid, existing, fee: toFeeEstimate(0n, fees) };
    }
    const offer = await this.requestQuote(cid, options);
    const estimate = await estimateSaleFee(this.#c.chain.client, offer);
    this.#previewed.keep(cid, offer);
    return {
      manifestCid: cid,
      quote: offer.quote,
      fee: estimate.fee,
      gas: { open: estimate.open, confirm: estimate.confirm.gas, confirmSource: estimate.confirm.source },
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
        this.#x.setPurchase(existing.id, { status: "downloading", error: null });
      }
      this.#runner.kickPurchase(existing.id);
      return this.#db.getPurchase(existing.id)!;
    }
    const now = await getChainTime(this.#c.chain.client);
    const offer = this.#previewed.take(cid, now, this.#init.minQuoteTime) ??
      await this.requestQuote(cid, options);
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
    this.#x.emit("purchase", purchase);
    this.#runner.kickPurchase(id);
    return purchase;
  }

  getPurchase(id: string): PurchaseRecord {
    const purchase = this.#db.getPurchase(id);
    if (!purchase) throw new NotFoundError(`No purchase "${id}" on this node`, { details: { id } });
    return purchase;
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
    this.#x.events.addEventListener("purchase", onEvent);
    signal.addEventListener("abort", onAbort);
    try {
      check();
      return await promise;
    } finally {
      this.#x.events.removeEventListener("purchase", onEvent);
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
    const stream = await this.#c.p2p.dialProtocol(peerIdFromString(peerId), SALE_PROTOCOL, { signal });
    const lp = lpStream(stream, { maxDataLength: MAX_SALE_RESPONSE_BYTES });
    try {
      const buyer = this.#c.identity.account.address;
      await lp.write(encodeSaleRequest(quoteRequestFor(manifestCid, buyer)), { signal });
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
    const signed = await verifyQuoteSigner(client, {
      chainId: this.#c.chain.chainId,
      quote,
      signature,
      owner: onChain!.owner,
    });
    if (signed.problem !== undefined) fail(signed.problem);
    // The manifest is fetched by its CID (decodeManifest checks the bytes against it), and that CID is the
    // one the listing binds on chain; its dekCommit must be the quote's and the listing's.
    const manifest = await loadManifest(this.#c, ctx.manifestCid, { peerId: ctx.peerId, signal: ctx.signal });
    if (manifest.dekCommit !== quote.dekCommit) fail("its key commitment differs from the manifest's");
    return { ...offer, saleId: signed.saleId!, peerId: ctx.peerId, manifest };
  }
}
