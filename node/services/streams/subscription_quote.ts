/**
 * The buyer's quote for a span of a stream: asked of the stream's gateway (the manifest's `publisherPeer`)
 * over `/kosmos/stream-sale/1.0.0`, then checked before anything is stored or signed: made out to this
 * buyer, one 32-byte word of `Z` per epoch and `keccak256(Z)` its `zHash`, the price `epochs · epoch price`,
 * the manifest's gateway, time left before the deadline, the registry listing bound to this stream with no
 * key commitment (a stream's), and the signer the listing's owner or its escrow delegate.
 *
 * ```ts
 * const offer = await requestSpanQuote({ p2p, identity, chain, quoteTimeout, minQuoteTime }, streamId, known,
 *   { first, last }, { signal });
 * ```
 */
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Address, getAddress, type Hex, keccak256, size } from "viem";
import type { QuoteOffer } from "../../../protocol/sale.ts";
import {
  decodeStreamSaleResponse,
  encodeStreamSaleRequest,
  epochPrice,
  MAX_STREAM_SALE_RESPONSE_BYTES,
  STREAM_SALE_PROTOCOL,
  type StreamManifest,
} from "../../../protocol/streams.ts";
import { type ChainService, getChainTime, getListing, verifyQuoteSigner } from "../chain/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import { KosmosError } from "../../errors.ts";

/** No valid quote for the span came back from the stream's gateway. Nothing was stored or signed. */
export class StreamQuoteError extends KosmosError {
  override name = "StreamQuoteError";
}

/** A stream this node knows (from its announcements), as a subscription needs it. */
export interface KnownStream {
  manifest: StreamManifest;
  listingId: bigint | null;
}

export interface SpanQuoteComponents {
  p2p: P2P;
  identity: Identity;
  chain: ChainService;
  /** ms one quote exchange may take. */
  quoteTimeout: number;
  /** Seconds a quote must stay valid after it arrives. */
  minQuoteTime: number;
}

/** A checked quote of epochs `first..last`, ready to open. */
export interface VerifiedSpanQuote extends QuoteOffer {
  saleId: Hex;
  peerId: string;
  first: number;
  last: number;
}

/** Asks the stream's gateway for the span's quote and checks it; throws {@link StreamQuoteError}. */
export async function requestSpanQuote(
  x: SpanQuoteComponents,
  streamId: string,
  known: KnownStream,
  span: { first: number; last: number },
  options: { signal?: AbortSignal },
): Promise<VerifiedSpanQuote> {
  const { p2p, identity } = x;
  const peerId = known.manifest.publisherPeer;
  const buyer = identity.account.address;
  const signal = AbortSignal.any(
    [AbortSignal.timeout(x.quoteTimeout), options.signal].filter((s) => s !== undefined),
  );
  let response;
  try {
    const stream = await p2p.dialProtocol(peerIdFromString(peerId), STREAM_SALE_PROTOCOL, { signal });
    const lp = lpStream(stream, { maxDataLength: MAX_STREAM_SALE_RESPONSE_BYTES });
    try {
      await lp.write(
        encodeStreamSaleRequest({
          v: 1,
          type: "subscribe",
          streamId,
          first: span.first,
          last: span.last,
          buyer,
        }),
        { signal },
      );
      response = decodeStreamSaleResponse((await lp.read({ signal })).subarray());
      await stream.close({ signal }).catch(() => {});
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    }
  } catch (cause) {
    if (options.signal?.aborted) throw cause;
    throw new StreamQuoteError(
      `Cannot subscribe to "${streamId}": its gateway did not quote (${(cause as Error).message})`,
      { cause, details: { streamId } },
    );
  }
  if ("error" in response) {
    throw new StreamQuoteError(
      `Cannot subscribe to "${streamId}": the gateway refused (${response.error.code}: ${response.error.message})`,
      { details: { streamId } },
    );
  }
  return await verifySpanQuote(x, response, { streamId, known, span, peerId, buyer });
}

/** Checks a span's quote before anything is stored or signed; throws {@link StreamQuoteError}. */
async function verifySpanQuote(
  c: SpanQuoteComponents,
  offer: QuoteOffer,
  x: {
    streamId: string;
    known: KnownStream;
    span: { first: number; last: number };
    peerId: string;
    buyer: Address;
  },
): Promise<VerifiedSpanQuote> {
  const { quote, signature, z } = offer;
  const { manifest } = x.known;
  const fail = (why: string): never => {
    throw new StreamQuoteError(`Cannot accept the quote for "${x.streamId}": ${why}`, {
      details: { streamId: x.streamId, peerId: x.peerId },
    });
  };
  const epochs = x.span.last - x.span.first + 1;
  if (getAddress(quote.buyer) !== getAddress(x.buyer)) fail("it is made out to another buyer");
  if (size(z) !== epochs * 32) fail(`Z holds ${size(z) / 32} keys, the span has ${epochs} epochs`);
  if (keccak256(z) !== quote.zHash) fail("Z does not match its hash");
  const price = BigInt(epochs) * epochPrice(manifest.pricePerHour, manifest.epochSeconds);
  if (quote.price !== price) fail(`wrong price ${quote.price}, ${epochs} epochs cost ${price}`);
  if (getAddress(quote.gateway) !== getAddress(manifest.gateway)) fail("wrong gateway");
  if (x.known.listingId !== null && quote.listingId !== x.known.listingId) {
    fail("it is for another listing");
  }
  const client = c.chain.client;
  const now = await getChainTime(client);
  if (quote.deadline < now + BigInt(c.minQuoteTime)) {
    fail(`quote expired (deadline ${quote.deadline})`);
  }
  const listing = await getListing(client, { listingId: quote.listingId });
  if (!listing || listing.manifestCid !== x.streamId) fail("the registry listing is for something else");
  if (BigInt(listing!.dekCommit) !== 0n) fail("the registry listing is not a stream's");
  const signed = await verifyQuoteSigner(client, {
    chainId: c.chain.chainId,
    quote,
    signature,
    owner: listing!.owner,
  });
  if (signed.problem !== undefined) fail(signed.problem);
  return {
    ...offer,
    saleId: signed.saleId!,
    peerId: x.peerId,
    first: x.span.first,
    last: x.span.last,
  };
}
