/**
 * Both ends of the chunk protocol. The server answers `get`/`has` requests
 * for blocks from the local {@link BlockStore} (which re-checks every CID on
 * read, so a corrupt block on disk is reported as missing, never served);
 * the client opens a {@link ChunkSession} to a peer and asks for blocks on
 * one stream, several in flight at once (answered in request order).
 */
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Connection, Stream } from "@libp2p/interface";
import type { CID } from "multiformats/cid";
import { CHUNKS_PROTOCOL } from "../../../protocol/topics.ts";
import { type BlockStore, MAX_BLOCK_SIZE } from "../blocks/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { second } from "../../constants.ts";
import { timeoutSignal } from "../../signals.ts";
import {
  decodeRequest,
  encodeRequest,
  MAX_REQUEST_BYTES,
  type Op,
  OP_GET,
  OP_HAS,
  Status,
  type StatusCode,
  statusName,
} from "../../../protocol/chunks.ts";

/** The peer answered that it does not store the block (or found it corrupt). */
export class BlockNotFoundError extends KosmosError {
  override name = "BlockNotFoundError";
}

/** The peer broke the protocol, was busy, failed, or the stream failed. */
export class ProviderError extends KosmosError {
  override name = "ProviderError";
}

/** Requests of one stream read and looked up ahead of the response being sent. */
const SERVE_AHEAD = 2;

/** A request read from a served stream: looked up, or refused as malformed. */
type Queued =
  | { op: Op; cid: CID; answer: Promise<{ status: StatusCode; bytes?: Uint8Array }> }
  | { bad: true };

/**
 * A request on a session whose earlier request failed (which closed it): the
 * provider is to blame once, for that first failure, not again for this one.
 */
export class SessionClosedError extends ProviderError {
  override name = "SessionClosedError";
}

export interface TransferComponents {
  p2p: P2P;
  blocks: BlockStore;
  log: Logger;
}

export interface TransferInit {
  /** Chunk streams served at once across all peers; further ones are answered "busy". @default 64 */
  maxStreams?: number;
  /** Inbound chunk streams per connection. @default 32 */
  maxStreamsPerConnection?: number;
  /** Outbound chunk streams per connection. @default 32 */
  maxOutboundStreamsPerConnection?: number;
  /** ms a served stream may wait for its next request. @default 10 s */
  idleTimeout?: number;
  /** ms to send one response, or to receive one on the client. @default 30 s */
  responseTimeout?: number;
}

/** Emitted as `served` after every request this node answered. */
export interface ServedDetail {
  peerId: string;
  cid: string;
  op: "get" | "has";
  status: string;
  bytes: number;
}

export interface ChunkGetOptions {
  signal?: AbortSignal;
  /**
   * Returns a buffer of exactly `byteLength` bytes, owned by the caller, for
   * the block (e.g. one recycled from an earlier block). @default a new buffer
   */
  alloc?: (byteLength: number) => Uint8Array<ArrayBuffer>;
}

export interface OpenSessionOptions {
  signal?: AbortSignal;
  /** ms to dial and negotiate the stream. @default 10 s */
  timeout?: number;
}

export function createTransfer(components: TransferComponents, init: TransferInit = {}): Transfer {
  return new Transfer(components, init);
}

/** The chunk protocol service: serves local blocks and opens client sessions. */
export class Transfer extends EventTarget {
  readonly #c: TransferComponents;
  readonly #init: Required<TransferInit>;
  #active = new Set<Stream>();
  #stopping = new AbortController();
  #requests = 0;
  #bytes = 0;

  constructor(components: TransferComponents, init: TransferInit) {
    super();
    this.#c = components;
    this.#init = {
      maxStreams: init.maxStreams ?? 64,
      maxStreamsPerConnection: init.maxStreamsPerConnection ?? 32,
      maxOutboundStreamsPerConnection: init.maxOutboundStreamsPerConnection ?? 32,
      idleTimeout: init.idleTimeout ?? 10 * second,
      responseTimeout: init.responseTimeout ?? 30 * second,
    };
  }

  /** Requests answered and block bytes sent since start. */
  get stats(): { requests: number; bytes: number } {
    return { requests: this.#requests, bytes: this.#bytes };
  }

  /** Chunk streams being served right now. */
  get activeStreams(): number {
    return this.#active.size;
  }

  async start(): Promise<void> {
    this.#stopping = new AbortController();
    await this.#c.p2p.handle(
      CHUNKS_PROTOCOL,
      (stream, connection) => this.#serve(stream, connection),
      {
        maxInboundStreams: this.#init.maxStreamsPerConnection,
        maxOutboundStreams: this.#init.maxOutboundStreamsPerConnection,
      },
    );
  }

  async stop(): Promise<void> {
    this.#stopping.abort(new ProviderError("transfer service stopped"));
    for (const stream of this.#active) stream.abort(new ProviderError("transfer service stopped"));
    this.#active.clear();
    try {
      await this.#c.p2p.unhandle(CHUNKS_PROTOCOL);
    } catch { /* libp2p already stopped */ }
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const { log } = this.#c;
    const peerId = connection.remotePeer.toString();
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES });
    if (this.#active.size >= this.#init.maxStreams) {
      log.debug("refused chunk stream: too many", { peerId, active: this.#active.size });
      try {
        using t = timeoutSignal(this.#init.responseTimeout, this.#stopping.signal);
        await lp.write(Uint8Array.of(Status.busy), { signal: t.signal });
        await stream.close({ signal: t.signal });
      } catch (err) {
        stream.abort(err as Error);
      }
      return;
    }
    this.#active.add(stream);
    // Requests are read and looked up ahead of the responses (at most
    // SERVE_AHEAD waiting besides the one being sent), which go out in
    // request order: a client that pipelines its requests on one stream gets
    // the next block read and re-checked while this one is sent.
    const queue: Queued[] = [];
    let wakeWriter: (() => void) | undefined;
    let wakeReader: (() => void) | undefined;
    let reading = true;
    let stopped = false;
    // Fired when no response is being sent and no request came for idleTimeout ms.
    const idle = new AbortController();
    const readSignal = AbortSignal.any([idle.signal, this.#stopping.signal]);
    const reader = (async () => {
      try {
        while (!stopped) {
          if (queue.length >= SERVE_AHEAD) {
            await new Promise<void>((resolve) => wakeReader = resolve);
            continue;
          }
          let frame;
          try {
            frame = await lp.read({ signal: readSignal });
          } catch (err) {
            if ((err as Error).name === "UnexpectedEOFError") return; // the client is done
            throw err;
          }
          try {
            const { op, cid } = decodeRequest(frame.subarray());
            queue.push({ op, cid, answer: this.#lookup(op, cid) });
          } catch (err) {
            log.debug("rejected chunk request", { peerId, error: err });
            queue.push({ bad: true });
            return;
          }
          wakeWriter?.();
        }
      } finally {
        reading = false;
        wakeWriter?.();
      }
    })().then(() => undefined, (err: Error) => err);
    try {
      while (true) {
        const item = queue.shift();
        if (!item) {
          if (!reading) break;
          using t = timeoutSignal(this.#init.idleTimeout);
          const onIdle = () => idle.abort(t.signal.reason);
          t.signal.addEventListener("abort", onIdle, { once: true });
          try {
            await new Promise<void>((resolve) => wakeWriter = resolve);
          } finally {
            t.signal.removeEventListener("abort", onIdle);
          }
          wakeWriter = undefined;
          continue;
        }
        wakeReader?.();
        wakeReader = undefined;
        if ("bad" in item) {
          using t = timeoutSignal(this.#init.responseTimeout, this.#stopping.signal);
          await lp.write(Uint8Array.of(Status.badRequest), { signal: t.signal });
          break;
        }
        const { op, cid } = item;
        const { status, bytes } = await item.answer;
        using t = timeoutSignal(this.#init.responseTimeout, this.#stopping.signal);
        if (bytes) await lp.writeV([Uint8Array.of(status), bytes], { signal: t.signal });
        else await lp.write(Uint8Array.of(status), { signal: t.signal });
        this.#requests++;
        this.#bytes += bytes?.byteLength ?? 0;
        this.dispatchEvent(
          new CustomEvent<ServedDetail>("served", {
            detail: {
              peerId,
              cid: cid.toString(),
              op: op === OP_GET ? "get" : "has",
              status: statusName(status),
              bytes: bytes?.byteLength ?? 0,
            },
          }),
        );
      }
      const readError = await reader;
      if (readError) throw readError;
      using t = timeoutSignal(this.#init.responseTimeout, this.#stopping.signal);
      await stream.close({ signal: t.signal });
    } catch (err) {
      log.debug("aborted chunk stream", { peerId, error: err });
      stream.abort(err as Error);
    } finally {
      stopped = true;
      wakeReader?.();
      this.#active.delete(stream);
    }
  }

  async #lookup(op: Op, cid: CID): Promise<{ status: StatusCode; bytes?: Uint8Array }> {
    try {
      if (op === OP_HAS) return { status: (await this.#c.blocks.has(cid)) ? Status.ok : Status.notFound };
      return { status: Status.ok, bytes: await this.#c.blocks.get(cid) };
    } catch (err) {
      const name = (err as Error).name;
      if (name === "NotFoundError" || name === "CorruptBlockError") return { status: Status.notFound };
      this.#c.log.warn("failed to read block", { cid: cid.toString(), error: err });
      return { status: Status.error };
    }
  }

  /** Opens a stream to `peerId` for a series of block requests. */
  async openSession(peerId: string, options: OpenSessionOptions = {}): Promise<ChunkSession> {
    using t = timeoutSignal(options.timeout ?? 10 * second, options.signal);
    let stream: Stream;
    try {
      stream = await this.#c.p2p.dialProtocol(peerIdFromString(peerId), CHUNKS_PROTOCOL, {
        signal: t.signal,
      });
    } catch (cause) {
      throw new ProviderError(`Cannot open chunk stream to ${peerId}: ${(cause as Error).message}`, {
        cause,
        details: { peerId },
      });
    }
    return new ChunkSession(peerId, stream, this.#init.responseTimeout);
  }
}

/**
 * The pieces of `list` copied once into a buffer of exactly their length,
 * which the caller owns (and may transfer to another thread).
 */
function toOwnedBytes(
  list: Iterable<Uint8Array> & { byteLength: number },
  alloc?: (byteLength: number) => Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> {
  const out = alloc?.(list.byteLength) ?? new Uint8Array(list.byteLength);
  if (out.byteLength !== list.byteLength) {
    throw new RangeError("Cannot copy a block into a buffer of another size");
  }
  let offset = 0;
  for (const piece of list) {
    out.set(piece, offset);
    offset += piece.byteLength;
  }
  return out;
}

/**
 * One client stream to one peer. Requests may overlap: they are sent at once,
 * one after the other, and their responses are read in the same order (the
 * server answers in request order), so several blocks are in flight on one
 * stream.
 */
export class ChunkSession {
  readonly peerId: string;
  readonly #stream: Stream;
  readonly #lp;
  readonly #timeout: number;
  /** Settles when the last request so far has been written. */
  #written: Promise<unknown> = Promise.resolve();
  /** Settles when the last request so far has read its response (or failed). */
  #answered: Promise<void> = Promise.resolve();
  #inFlight = 0;
  #closed = false;

  constructor(peerId: string, stream: Stream, timeout: number) {
    this.peerId = peerId;
    this.#stream = stream;
    this.#timeout = timeout;
    this.#lp = lpStream(stream, { maxDataLength: MAX_BLOCK_SIZE, maxBufferSize: MAX_BLOCK_SIZE + 1024 });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Requests sent or waiting to be, not yet answered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * The block's bytes as the peer sent them (NOT yet checked against `cid`),
   * in a buffer of their own (so they can be transferred to a hashing
   * thread). Throws {@link BlockNotFoundError} or {@link ProviderError}.
   */
  async get(cid: CID, options: ChunkGetOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
    return (await this.#request(OP_GET, cid, options))!;
  }

  /** Whether the peer stores the block. */
  async has(cid: CID, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    try {
      await this.#request(OP_HAS, cid, options);
      return true;
    } catch (err) {
      if ((err as Error).name === "BlockNotFoundError") return false;
      throw err;
    }
  }

  async #request(op: Op, cid: CID, options: ChunkGetOptions): Promise<Uint8Array<ArrayBuffer> | undefined> {
    if (this.#closed) throw new ProviderError(`Cannot request "${cid}" from ${this.peerId}: session closed`);
    this.#inFlight++;
    using t = timeoutSignal(this.#timeout, options.signal);
    const written = this.#written.then(() => this.#lp.write(encodeRequest(op, cid), { signal: t.signal }));
    this.#written = written.catch(() => {});
    const previous = this.#answered;
    const answered = Promise.withResolvers<void>();
    this.#answered = answered.promise;
    try {
      await written;
      // The responses to the requests sent before this one come first.
      await previous;
      if (this.#closed) {
        throw new SessionClosedError(`Cannot get "${cid}" from ${this.peerId}: an earlier request failed`, {
          details: { peerId: this.peerId },
        });
      }
      const head = (await this.#lp.read({ signal: t.signal })).subarray();
      if (head.byteLength !== 1) throw new ProviderError(`bad response header of ${head.byteLength} bytes`);
      const status = head[0];
      if (status === Status.notFound) {
        throw new BlockNotFoundError(`Peer ${this.peerId} does not have "${cid}"`, {
          details: { peerId: this.peerId },
        });
      }
      if (status !== Status.ok) throw new ProviderError(`peer answered ${statusName(status)}`);
      if (op === OP_HAS) return undefined;
      return toOwnedBytes(await this.#lp.read({ signal: t.signal }), options.alloc);
    } catch (err) {
      const name = (err as Error).name;
      if (name === "BlockNotFoundError" || name === "SessionClosedError") throw err;
      this.abort(err as Error);
      if ((err as Error).name === "ProviderError") {
        throw new ProviderError(`Cannot get "${cid}" from ${this.peerId}: ${(err as Error).message}`, {
          details: { peerId: this.peerId },
        });
      }
      throw new ProviderError(`Cannot get "${cid}" from ${this.peerId}: ${(err as Error).message}`, {
        cause: err,
        details: { peerId: this.peerId },
      });
    } finally {
      this.#inFlight--;
      answered.resolve();
    }
  }

  /** Ends the stream politely. */
  async close(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    using t = timeoutSignal(5 * second, options.signal);
    try {
      await this.#stream.close({ signal: t.signal });
    } catch (err) {
      this.#stream.abort(err as Error);
    }
  }

  abort(err: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream.abort(err);
  }
}
