/**
 * The gateway's side of the stream-sale protocol (`/kosmos/stream-sale/1.0.0`): a buyer asks for the keys
 * of epochs `first..last` of a stream this node publishes; the answer is the market's `QuoteOffer` whose
 * `Z` seals exactly those epoch keys (`DEK_e = HMAC(streamSecret, "kosmos.stream.epoch" ‖ e)`) and whose
 * `dekCommit` is `keccak256(DEK_first ‖ … ‖ DEK_last)`, at `(last − first + 1) · epochPrice`. The quote is
 * signed and kept by the market (`market.offerKeys`), so the sale it opens is revealed and finalized by the
 * market's own state machine. Keys of other epochs are never derived for a request.
 *
 * ```ts
 * const sale = new StreamSaleServer({ p2p, chain, identity, market, log, streams });
 * await sale.start(); // handles STREAM_SALE_PROTOCOL
 * ```
 */
import type { Connection, Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { type Address, getAddress } from "viem";
import {
  decodeStreamSaleRequest,
  deriveEpochKeys,
  encodeStreamSaleResponse,
  epochOf,
  epochPrice,
  MAX_SALE_EPOCHS,
  MAX_STREAM_SALE_REQUEST_BYTES,
  STREAM_SALE_PROTOCOL,
  type StreamManifest,
  type StreamSaleRefusal,
  type StreamSaleResponse,
} from "../../../protocol/streams.ts";
import { type ChainService, getListing, isSaleDelegate } from "../chain/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { Market } from "../market/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { second } from "../../constants.ts";

/** How long a listing found sellable is trusted before the chain is asked again (ms). */
const LISTING_CACHE_MS = 30 * second;

/** A stream this node publishes, as the sale needs it. `secret` is the root of its epoch keys: never log it. */
export interface OwnStream {
  manifest: StreamManifest;
  listingId: bigint | null;
  secret: Uint8Array;
}

export interface StreamSaleComponents {
  p2p: P2P;
  chain: ChainService;
  identity: Identity;
  market: Pick<Market, "offerKeys">;
  log: Logger;
  /** The stream `streamId` when this node publishes it. */
  ownStream(streamId: string): OwnStream | undefined;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

/** Why this node declines to quote a span. */
class StreamQuoteRefusal extends KosmosError {
  override name = "StreamQuoteRefusal";
  readonly code: StreamSaleRefusal;
  constructor(code: StreamSaleRefusal, message: string) {
    super(message);
    this.code = code;
  }
}

/** The refusal code a failed quote is answered with. */
function refusalOf(err: unknown): StreamSaleRefusal {
  if (err instanceof StreamQuoteRefusal) return err.code;
  const name = (err as Error)?.name;
  if (name === "StreamProtocolError") return "bad-request";
  if (name === "QuoteRefusalError") {
    const code = (err as { code: string }).code;
    return code === "rate-limited" || code === "bad-request" || code === "not-seller" ? code : "unavailable";
  }
  return "unavailable";
}

export class StreamSaleServer {
  readonly #c: StreamSaleComponents;
  readonly #sellable = new Map<string, number>();
  #controller?: AbortController;

  constructor(components: StreamSaleComponents) {
    this.#c = components;
  }

  async start(): Promise<void> {
    this.#controller = new AbortController();
    await this.#c.p2p.handle(STREAM_SALE_PROTOCOL, (stream, connection) => this.#serve(stream, connection), {
      maxInboundStreams: 16,
      maxOutboundStreams: 16,
    });
  }

  async stop(): Promise<void> {
    this.#controller?.abort(new KosmosError("stream sales stopping"));
    try {
      await this.#c.p2p.unhandle(STREAM_SALE_PROTOCOL);
    } catch { /* p2p already stopped */ }
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(10 * second), this.#controller!.signal]);
    const lp = lpStream(stream, { maxDataLength: MAX_STREAM_SALE_REQUEST_BYTES });
    const peerId = connection.remotePeer.toString();
    let response: StreamSaleResponse;
    try {
      try {
        const request = decodeStreamSaleRequest((await lp.read({ signal })).subarray());
        response = await this.quote(request, peerId, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        const code = refusalOf(err);
        if (code === "unavailable") this.#c.log.warn("failed to quote a stream span", { peerId, error: err });
        else this.#c.log.debug("refused a stream span", { peerId, reason: code });
        response = { v: 1, error: { code, message: (err as Error).message.slice(0, 200) } };
      }
      await lp.write(encodeStreamSaleResponse(response), { signal });
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
    }
  }

  /**
   * The quote for epochs `first..last` of an own stream, to `buyer` (the peer `peerId`): refused unless this
   * node publishes the stream, it is listed, this wallet may sell the listing, and the span is at most
   * {@link MAX_SALE_EPOCHS} epochs not wholly older than that many epochs.
   */
  async quote(
    request: { streamId: string; first: number; last: number; buyer: Address },
    peerId: string,
    signal: AbortSignal,
  ): Promise<StreamSaleResponse> {
    const { identity, market } = this.#c;
    const { streamId, first, last } = request;
    const own = this.#c.ownStream(streamId);
    if (!own) {
      throw new StreamQuoteRefusal("unknown-stream", `this node does not publish stream "${streamId}"`);
    }
    if (own.listingId === null) {
      throw new StreamQuoteRefusal("unknown-stream", `stream "${streamId}" is not listed in the registry`);
    }
    const { manifest } = own;
    if (!(Number.isSafeInteger(first) && Number.isSafeInteger(last) && first >= 0 && last >= first)) {
      throw new StreamQuoteRefusal(
        "out-of-range",
        "the span must be epochs first ≤ last, both whole numbers",
      );
    }
    if (last - first + 1 > MAX_SALE_EPOCHS) {
      throw new StreamQuoteRefusal("out-of-range", `a sale covers at most ${MAX_SALE_EPOCHS} epochs`);
    }
    const current = epochOf((this.#c.now ?? Date.now)(), manifest.epochSeconds);
    if (last < current - MAX_SALE_EPOCHS) {
      throw new StreamQuoteRefusal("out-of-range", `epochs before ${current - MAX_SALE_EPOCHS} are not sold`);
    }
    if (getAddress(manifest.gateway) !== identity.account.address) {
      throw new StreamQuoteRefusal("not-seller", "this node is not the stream's gateway");
    }
    await this.#checkSellable(streamId, own.listingId);
    signal.throwIfAborted();
    const keys = await deriveEpochKeys(own.secret, first, last);
    const price = BigInt(last - first + 1) * epochPrice(manifest.pricePerHour, manifest.epochSeconds);
    const offer = await market.offerKeys({
      manifestCid: streamId,
      listingId: own.listingId,
      buyer: request.buyer,
      peerId,
      licence: manifest.licence,
      price,
      gateway: manifest.gateway,
      keys,
    }, { signal });
    this.#c.log.debug("quoted a stream span", { streamId, first, last, price });
    return offer;
  }

  /** The listing binds this stream and this wallet owns it or is its owner's delegate (cached 30 s). */
  async #checkSellable(streamId: string, listingId: bigint): Promise<void> {
    const at = this.#sellable.get(streamId);
    if (at !== undefined && Date.now() - at < LISTING_CACHE_MS) return;
    const client = this.#c.chain.client;
    const listing = await getListing(client, { listingId });
    if (!listing || listing.manifestCid !== streamId) {
      throw new StreamQuoteRefusal("unknown-stream", `listing ${listingId} is not stream "${streamId}"`);
    }
    const me = this.#c.identity.account.address;
    // After a takeover the listing is the owner's own; this node sells it only as their delegate.
    if (getAddress(listing.owner) !== me && !(await isSaleDelegate(client, { listingId, delegate: me }))) {
      throw new StreamQuoteRefusal("not-seller", "this node is not the listing owner's delegate");
    }
    if (this.#sellable.size > 1000) this.#sellable.clear();
    this.#sellable.set(streamId, Date.now());
  }
}
