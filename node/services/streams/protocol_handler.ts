/**
 * The epoch query protocol `/kosmos/streams/1.0.0` (network-prefixed): the asking node writes one DAG-CBOR
 * request `{ v: 1, streamId, from, to }`, the serving node answers with the signed `EpochSealed` records it
 * stored for that stream in `[from, to]` (at most 1000, ascending) and closes. Any node that stored them
 * answers — replicas included — so a buyer finds a stream's history with the gateway offline. The asker
 * trusts nothing: the response is size-capped before it is parsed, and each record is verified against the
 * stream's gateway (`StreamCatalog.ingestSealed`) before it is stored.
 *
 * The same protocol lists the streams a node knows (`{ v: 1, type: "streams", after?, limit }` → the signed
 * announcements it stored, by stream id, in pages of at most 64 and about 1 MiB; at most `listBurst`
 * requests at once per peer, refilled at `listPerMinute`), so a node that joins learns the streams announced
 * before it without waiting for their next gossip. Each announcement received is checked exactly like a
 * gossiped one (`StreamCatalog.ingestAnnouncement`); the first invalid one ends the exchange.
 *
 * ```ts
 * const epochs = new StreamsProtocol({ p2p, catalog, log });
 * await epochs.start();
 * await epochs.queryPeer(peerId, { streamId, from: 0, to: 10 }); // { stored: 3, received: 3 }
 * await epochs.queryPeers({ streamId, from: 0, to: 10 });       // asks peers until the range is covered
 * await epochs.syncStreams(peerId);                              // { received: 12, stored: 12 }
 * ```
 */
import type { Connection, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { lpStream } from "@libp2p/utils";
import {
  decodeEpochQueryResponse,
  decodeEpochSealed,
  decodeStreamAnnouncement,
  decodeStreamListResponse,
  decodeStreamsRequest,
  encodeEpochQueryRequest,
  encodeEpochQueryResponse,
  encodeStreamListRequest,
  encodeStreamListResponse,
  type EpochQueryResponse,
  MAX_EPOCH_QUERY_REQUEST_BYTES,
  MAX_EPOCH_QUERY_RESPONSE_BYTES,
  MAX_EPOCH_QUERY_RESULTS,
  MAX_STREAM_LIST_RESPONSE_BYTES,
  MAX_STREAM_LIST_RESULTS,
  STREAM_LIST_PAGE_BYTES,
  type StreamAnnouncement,
  type StreamListRequest,
  type StreamListResponse,
  STREAMS_PROTOCOL,
} from "../../../protocol/streams.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { second } from "../../constants.ts";
import { timeoutSignal } from "../../signals.ts";
import { TokenBuckets } from "../../token_buckets.ts";
import type { StreamCatalog } from "./catalog.ts";

/** A peer broke the epoch query protocol or answered with an error. */
export class EpochQueryError extends KosmosError {
  override name = "EpochQueryError";
}

export interface StreamsProtocolComponents {
  p2p: Pick<P2P, "handle" | "unhandle" | "dialProtocol" | "protocolPeers" | "peers">;
  catalog: Pick<
    StreamCatalog,
    "listEpochs" | "knownStream" | "ingestSealed" | "ingestAnnouncement" | "store"
  >;
  log: Logger;
}

export interface StreamsProtocolInit {
  /** ms one exchange may take. @default 10 s */
  timeout?: number;
  /** Requests served at once per connection. @default 4 */
  maxInboundStreams?: number;
  /** Stream list requests one peer may make at once (refilled at `listPerMinute`). @default 10 */
  listBurst?: number;
  /** Stream list requests one peer may make per minute, sustained. @default 30 */
  listPerMinute?: number;
  /** Most pages asked of one peer in a {@link StreamsProtocol.syncStreams}. @default 16 */
  maxListPages?: number;
}

export interface EpochRange {
  streamId: string;
  from: number;
  to: number;
}

/** Serves and asks for sealed epochs over `/kosmos/streams/1.0.0`. */
export class StreamsProtocol {
  readonly #c: StreamsProtocolComponents;
  readonly #timeout: number;
  readonly #maxInbound: number;
  readonly #maxListPages: number;
  readonly #lists: TokenBuckets;
  #controller?: AbortController;

  constructor(components: StreamsProtocolComponents, init: StreamsProtocolInit = {}) {
    this.#c = components;
    this.#timeout = init.timeout ?? 10 * second;
    this.#maxInbound = init.maxInboundStreams ?? 4;
    this.#maxListPages = init.maxListPages ?? 16;
    this.#lists = new TokenBuckets({
      burst: init.listBurst ?? 10,
      rate: (init.listPerMinute ?? 30) / 60,
      maxKeys: 10_000,
    });
  }

  async start(): Promise<void> {
    this.#controller = new AbortController();
    await this.#c.p2p.handle(STREAMS_PROTOCOL, (stream, connection) => void this.#serve(stream, connection), {
      maxInboundStreams: this.#maxInbound,
      maxOutboundStreams: 4,
    });
  }

  async stop(): Promise<void> {
    this.#controller?.abort(new Error("streams protocol stopped"));
    try {
      await this.#c.p2p.unhandle(STREAMS_PROTOCOL);
    } catch { /* p2p already stopped */ }
  }

  /** The answer to one request, from what this node stored. */
  answer(range: EpochRange): EpochQueryResponse {
    if (!this.#c.catalog.knownStream(range.streamId)) {
      return { v: 1, error: { code: "unknown-stream", message: "this node knows no such stream" } };
    }
    const rows = this.#c.catalog.listEpochs(range.streamId, range.from, range.to, MAX_EPOCH_QUERY_RESULTS);
    return { v: 1, epochs: rows.map((r) => decodeEpochSealed(r.sealedBytes)) };
  }

  /**
   * One page of the signed announcements stored here, by stream id after `request.after`: at most
   * `request.limit`, and no more once {@link STREAM_LIST_PAGE_BYTES} are reached; `next` when more remain.
   */
  answerStreams(request: Pick<StreamListRequest, "after" | "limit">): StreamListResponse {
    const limit = Math.min(request.limit, MAX_STREAM_LIST_RESULTS);
    const rows = this.#c.catalog.store.listAnnouncements(request.after, limit + 1);
    const streams: StreamAnnouncement[] = [];
    let bytes = 0;
    for (const row of rows.slice(0, limit)) {
      if (streams.length > 0 && bytes + row.bytes.byteLength > STREAM_LIST_PAGE_BYTES) break;
      try {
        streams.push(decodeStreamAnnouncement(row.bytes));
        bytes += row.bytes.byteLength;
      } catch (err) {
        this.#c.log.warn("skipped a stored announcement that does not decode", {
          streamId: row.streamId,
          error: err,
        });
      }
    }
    const more = streams.length > 0 && rows.length > streams.length;
    return more ? { v: 1, streams, next: streams.at(-1)!.streamId } : { v: 1, streams };
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.#timeout), this.#controller!.signal]);
    const peerId = connection.remotePeer.toString();
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_EPOCH_QUERY_REQUEST_BYTES });
      let response: Uint8Array;
      try {
        const request = decodeStreamsRequest((await lp.read({ signal })).subarray());
        if (!("type" in request)) response = encodeEpochQueryResponse(this.answer(request));
        else if (!this.#lists.take(peerId)) {
          response = encodeStreamListResponse({
            v: 1,
            error: { code: "rate-limited", message: "too many stream list requests; ask again later" },
          });
        } else response = encodeStreamListResponse(this.answerStreams(request));
      } catch (err) {
        if (signal.aborted) throw err;
        this.#c.log.debug("refused a streams request", { peerId, error: err });
        response = encodeEpochQueryResponse({
          v: 1,
          error: { code: "bad-request", message: (err as Error).message.slice(0, 200) },
        });
      }
      await lp.write(response, { signal });
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
      this.#c.log.debug("failed to serve an epoch query", { peerId, error: err });
    }
  }

  /**
   * Asks one peer for the sealed epochs of a range and stores the ones that verify. Throws an
   * {@link EpochQueryError} when the peer breaks the protocol, refuses, or sends a record that fails.
   */
  async queryPeer(
    peerId: string,
    range: EpochRange,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ received: number; stored: number }> {
    using t = timeoutSignal(this.#timeout, options.signal);
    const signal = t.signal;
    const stream = await this.#c.p2p.dialProtocol(peerIdFromString(peerId), STREAMS_PROTOCOL, { signal });
    let response: EpochQueryResponse;
    try {
      const lp = lpStream(stream, {
        maxDataLength: MAX_EPOCH_QUERY_RESPONSE_BYTES,
        maxBufferSize: MAX_EPOCH_QUERY_RESPONSE_BYTES + 1024,
      });
      await lp.write(encodeEpochQueryRequest({ v: 1, ...range }), { signal });
      try {
        response = decodeEpochQueryResponse((await lp.read({ signal })).subarray());
      } catch (cause) {
        if (signal.aborted) throw cause;
        throw new EpochQueryError(`Cannot read the epochs from ${peerId}: ${(cause as Error).message}`, {
          cause,
        });
      }
      await stream.close({ signal }).catch(() => {});
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    }
    if ("error" in response) {
      throw new EpochQueryError(`${peerId} refused the epoch query: ${response.error.code}`, {
        details: { code: response.error.code },
      });
    }
    let stored = 0;
    for (const sealed of response.epochs) {
      if (sealed.streamId !== range.streamId || sealed.epoch < range.from || sealed.epoch > range.to) {
        throw new EpochQueryError(`${peerId} answered with an epoch outside the range asked`);
      }
      const check = await this.#c.catalog.ingestSealed(sealed);
      if (check.result === "reject") {
        throw new EpochQueryError(`${peerId} answered with an invalid epoch: ${check.reason}`);
      }
      if (check.result === "accept") stored++;
    }
    return { received: response.epochs.length, stored };
  }

  /**
   * Asks one peer for the streams it knows, page after page (at most `maxListPages`), and stores every
   * announcement that checks like gossip. Throws an {@link EpochQueryError} when the peer breaks the
   * protocol, refuses, or sends an invalid announcement (nothing of it is stored). Stops early when this
   * node's limit of new streams from the peer is reached.
   */
  async syncStreams(
    peerId: string,
    options: { signal?: AbortSignal; limit?: number } = {},
  ): Promise<{ received: number; stored: number }> {
    let after: string | undefined;
    let received = 0;
    let stored = 0;
    for (let page = 0; page < this.#maxListPages; page++) {
      const request: StreamListRequest = {
        v: 1,
        type: "streams",
        limit: options.limit ?? MAX_STREAM_LIST_RESULTS,
        ...(after === undefined ? {} : { after }),
      };
      const response = await this.#listPage(peerId, request, options.signal);
      if ("error" in response) {
        throw new EpochQueryError(`${peerId} refused the stream list: ${response.error.code}`, {
          details: { code: response.error.code },
        });
      }
      let limited = false;
      for (const announcement of response.streams) {
        if (after !== undefined && announcement.streamId <= after) {
          throw new EpochQueryError(`${peerId} answered the stream list out of order`);
        }
        received++;
        const check = await this.#c.catalog.ingestAnnouncement(announcement, peerId);
        if (check.result === "reject") {
          throw new EpochQueryError(`${peerId} answered with an invalid announcement: ${check.reason}`);
        }
        if (check.result === "accept") stored++;
        else if (check.reason === "rate limited") limited = true;
      }
      if (response.next === undefined || limited) break;
      after = response.next;
    }
    return { received, stored };
  }

  async #listPage(
    peerId: string,
    request: StreamListRequest,
    outer?: AbortSignal,
  ): Promise<StreamListResponse> {
    using t = timeoutSignal(this.#timeout, outer);
    const signal = t.signal;
    const stream = await this.#c.p2p.dialProtocol(peerIdFromString(peerId), STREAMS_PROTOCOL, { signal });
    try {
      const lp = lpStream(stream, {
        maxDataLength: MAX_STREAM_LIST_RESPONSE_BYTES,
        maxBufferSize: MAX_STREAM_LIST_RESPONSE_BYTES + 1024,
      });
      await lp.write(encodeStreamListRequest(request), { signal });
      let response: StreamListResponse;
      try {
        response = decodeStreamListResponse((await lp.read({ signal })).subarray());
      } catch (cause) {
        if (signal.aborted) throw cause;
        throw new EpochQueryError(`Cannot read the streams from ${peerId}: ${(cause as Error).message}`, {
          cause,
        });
      }
      await stream.close({ signal }).catch(() => {});
      return response;
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    }
  }

  /**
   * Asks the connected peers that speak the protocol, one after the other, until every epoch of the range
   * is stored here (or every peer was asked). Returns how many epochs were newly stored.
   */
  async queryPeers(
    range: EpochRange,
    options: { signal?: AbortSignal; isCovered?: () => boolean } = {},
  ): Promise<number> {
    const covered = options.isCovered ??
      (() =>
        this.#c.catalog.listEpochs(range.streamId, range.from, range.to).length >= range.to - range.from + 1);
    let stored = 0;
    for (const peerId of await this.#c.p2p.protocolPeers(STREAMS_PROTOCOL)) {
      if (covered()) break;
      options.signal?.throwIfAborted();
      try {
        stored += (await this.queryPeer(peerId, range, options)).stored;
      } catch (err) {
        if (options.signal?.aborted) throw err;
        this.#c.log.debug("failed to query epochs", { peerId, streamId: range.streamId, error: err });
      }
    }
    return stored;
  }
}
