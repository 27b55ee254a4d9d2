/**
 * The catalog sync protocol (`/kosmos/catalog-sync/1.0.0`): how a node catches
 * up on announcements it missed while offline or before it joined.
 *
 * The requester writes one length-prefixed DAG-CBOR request
 * `{ v: 1, epoch, cursor, limit }`; the responder answers with up to `limit`
 * frames `{ announcement: <signed announcement bytes> }` (the same bytes that
 * travel by gossip) in the order it indexed them, then one final frame
 * `{ done: { epoch, cursor, more } }`. `epoch` names the responder's index and
 * `cursor` its change counter, both opaque to the requester, which stores them
 * and sends them back next time to get only what changed since; a cursor from
 * another epoch (a reset index) starts over at 0. When `more` is true the
 * requester asks again.
 *
 * The requester trusts nothing: every frame is size-capped before it is
 * buffered, the counts and total bytes of a response are capped, each
 * announcement goes through the same check as gossip, and a single invalid
 * frame ends the exchange.
 *
 * ```ts
 * const stream = await p2p.dialProtocol(peerId, CATALOG_SYNC_PROTOCOL, { signal });
 * const done = await requestSync(stream, { epoch, cursor }, { onAnnouncement: ingest, signal });
 * ```
 *
 * {@link CatalogSyncer} runs the protocol for the catalog: it syncs with peers
 * as they are identified and on every tick, at most `maxConcurrentSyncs` at
 * once, and backs off from a peer that broke the protocol.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { lpStream } from "@libp2p/utils";
import type { Connection, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { MAX_ANNOUNCEMENT_BYTES } from "../../../protocol/announcement.ts";
import { CATALOG_SYNC_PROTOCOL } from "../../../protocol/topics.ts";
import { KosmosError } from "../../errors.ts";
import { hour } from "../../constants.ts";
import type { Logger } from "../../log.ts";
import type { P2P } from "../p2p/mod.ts";
import type { CatalogStore } from "./store.ts";
import type { AnnouncementCheck } from "./validate.ts";

export const SYNC_VERSION = 1;
/** Most announcements in one response. */
export const MAX_SYNC_BATCH = 256;
/** Most announcement bytes in one response. */
export const MAX_SYNC_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Largest frame: one announcement plus its envelope. */
export const MAX_SYNC_FRAME_BYTES = MAX_ANNOUNCEMENT_BYTES + 256;
/** Largest request frame. */
export const MAX_SYNC_REQUEST_BYTES = 512;
export const MAX_EPOCH_LENGTH = 64;

/** The sync protocol was broken by the other side. */
export class SyncProtocolError extends KosmosError {
  override name = "SyncProtocolError";
}

export interface SyncRequest {
  v: 1;
  /** The responder's epoch the cursor belongs to; `null` on first contact. */
  epoch: string | null;
  /** Changes after this one are wanted; 0 for everything. */
  cursor: number;
  /** Most announcements wanted. */
  limit: number;
}

export interface SyncDone {
  epoch: string;
  cursor: number;
  more: boolean;
}

export type SyncFrame = { announcement: Uint8Array } | { done: SyncDone };

/** What a responder serves from: its epoch and a reader of its changes. */
export interface SyncSource {
  epoch: string;
  readChanges(
    cursor: number,
    options: { limit: number; maxBytes: number },
  ): { announcements: Uint8Array[]; cursor: number; more: boolean };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

function hasOnlyKeys(value: Record<string, unknown>, keys: string[]): boolean {
  return Object.keys(value).every((k) => keys.includes(k)) && keys.every((k) => k in value);
}

function isCursor(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isEpoch(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_EPOCH_LENGTH;
}

function decodeCbor(bytes: Uint8Array, what: string): unknown {
  try {
    return dagCbor.decode(bytes);
  } catch (cause) {
    throw new SyncProtocolError(`Cannot decode sync ${what}: not DAG-CBOR`, { cause });
  }
}

export function encodeSyncRequest(request: SyncRequest): Uint8Array {
  return dagCbor.encode(request);
}

/** Decodes and checks a request; throws a {@link SyncProtocolError}. */
export function decodeSyncRequest(bytes: Uint8Array): SyncRequest {
  if (bytes.byteLength > MAX_SYNC_REQUEST_BYTES) {
    throw new SyncProtocolError("Cannot decode sync request: too large");
  }
  const value = decodeCbor(bytes, "request");
  if (
    !isObject(value) || !hasOnlyKeys(value, ["v", "epoch", "cursor", "limit"]) || value.v !== SYNC_VERSION ||
    !(value.epoch === null || isEpoch(value.epoch)) || !isCursor(value.cursor) ||
    typeof value.limit !== "number" || !Number.isSafeInteger(value.limit) || value.limit < 1
  ) {
    throw new SyncProtocolError("Cannot decode sync request: bad fields");
  }
  return { v: SYNC_VERSION, epoch: value.epoch, cursor: value.cursor, limit: value.limit };
}

export function encodeSyncFrame(frame: SyncFrame): Uint8Array {
  return dagCbor.encode(frame);
}

/** Decodes and checks a response frame; throws a {@link SyncProtocolError}. */
export function decodeSyncFrame(bytes: Uint8Array): SyncFrame {
  if (bytes.byteLength > MAX_SYNC_FRAME_BYTES) {
    throw new SyncProtocolError("Cannot decode sync frame: too large");
  }
  const value = decodeCbor(bytes, "frame");
  if (isObject(value) && hasOnlyKeys(value, ["announcement"]) && value.announcement instanceof Uint8Array) {
    return { announcement: value.announcement };
  }
  if (isObject(value) && hasOnlyKeys(value, ["done"]) && isObject(value.done)) {
    const done = value.done;
    if (
      hasOnlyKeys(done, ["epoch", "cursor", "more"]) && isEpoch(done.epoch) && isCursor(done.cursor) &&
      typeof done.more === "boolean"
    ) {
      return { done: { epoch: done.epoch, cursor: done.cursor, more: done.more } };
    }
  }
  throw new SyncProtocolError("Cannot decode sync frame: bad fields");
}

export interface ServeSyncOptions {
  signal?: AbortSignal;
}

/** Answers one sync request on an inbound stream, then closes it. */
export async function serveSync(
  stream: Stream,
  source: SyncSource,
  options: ServeSyncOptions = {},
): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_SYNC_REQUEST_BYTES });
  const request = decodeSyncRequest((await lp.read({ signal: options.signal })).subarray());
  const cursor = request.epoch === source.epoch ? request.cursor : 0;
  const batch = source.readChanges(cursor, {
    limit: Math.min(request.limit, MAX_SYNC_BATCH),
    maxBytes: MAX_SYNC_RESPONSE_BYTES,
  });
  for (const announcement of batch.announcements) {
    await lp.write(encodeSyncFrame({ announcement }), { signal: options.signal });
  }
  await lp.write(encodeSyncFrame({ done: { epoch: source.epoch, cursor: batch.cursor, more: batch.more } }), {
    signal: options.signal,
  });
  await stream.close({ signal: options.signal });
}

export interface RequestSyncOptions {
  /** Checks and indexes one announcement; a `reject` ends the exchange with a {@link SyncProtocolError}. */
  onAnnouncement: (bytes: Uint8Array) => Promise<AnnouncementCheck>;
  signal?: AbortSignal;
}

export interface RequestSyncResult extends SyncDone {
  accepted: number;
  ignored: number;
}

/**
 * Sends one request on an outbound stream and consumes the response, frame by
 * frame. Throws a {@link SyncProtocolError} when the responder breaks the
 * protocol or sends an invalid announcement. Closes the stream either way.
 */
export async function requestSync(
  stream: Stream,
  request: Omit<SyncRequest, "v">,
  options: RequestSyncOptions,
): Promise<RequestSyncResult> {
  const { signal } = options;
  const limit = Math.min(request.limit, MAX_SYNC_BATCH);
  const lp = lpStream(stream, {
    maxDataLength: MAX_SYNC_FRAME_BYTES,
    // A responder writes a whole batch before the requester reads it (up to
    // MAX_SYNC_RESPONSE_BYTES); a smaller buffer ends the stream mid-batch.
    maxBufferSize: MAX_SYNC_RESPONSE_BYTES + 2 * MAX_SYNC_FRAME_BYTES,
  });
  let accepted = 0;
  let ignored = 0;
  let bytes = 0;
  try {
    await lp.write(encodeSyncRequest({ v: SYNC_VERSION, ...request, limit }), { signal });
    for (let frames = 0;; frames++) {
      let raw: Uint8Array;
      try {
        raw = (await lp.read({ signal })).subarray();
      } catch (cause) {
        if (signal?.aborted) throw cause;
        throw new SyncProtocolError(`Cannot read sync response: ${(cause as Error).message}`, { cause });
      }
      const frame = decodeSyncFrame(raw);
      if ("done" in frame) {
        await stream.close({ signal }).catch(() => {});
        return { ...frame.done, accepted, ignored };
      }
      if (frames >= limit) {
        throw new SyncProtocolError(`Cannot read sync response: more than ${limit} announcements`);
      }
      bytes += frame.announcement.byteLength;
      if (bytes > MAX_SYNC_RESPONSE_BYTES) {
        throw new SyncProtocolError(`Cannot read sync response: more than ${MAX_SYNC_RESPONSE_BYTES} bytes`);
      }
      const check = await options.onAnnouncement(frame.announcement);
      if (check.result === "reject") {
        throw new SyncProtocolError(`Cannot accept synced announcement: ${check.reason}`);
      }
      if (check.result === "accept") accepted++;
      else ignored++;
    }
  } catch (err) {
    stream.abort(err as Error);
    throw err;
  }
}

export interface SyncWithResult {
  accepted: number;
  ignored: number;
  /** The peer had more when `maxSyncRounds` ended this sync: the syncer goes on with it at once. */
  more: boolean;
}

/** What the syncer reads from its catalog. */
export interface SyncContext {
  p2p: P2P;
  log: Logger;
  init: {
    syncTimeout: number;
    maxSyncRounds: number;
    maxConcurrentSyncs: number;
    resyncAfter: number;
    maxAge: number;
  };
  /** The catalog's index; throws before the catalog has started. */
  index(): CatalogStore;
  /** The running catalog's signal; undefined before its first start. */
  signal(): AbortSignal | undefined;
  /** Checks and indexes one synced announcement like gossip. Never throws. */
  ingest(bytes: Uint8Array, from: string): Promise<AnnouncementCheck>;
}

/** How long a responder that sent an invalid announcement is not asked again. */
const BAD_PEER_BACKOFF = hour;

/** The catalog's side of the sync protocol, as requester and responder. */
export class CatalogSyncer {
  readonly #ctx: SyncContext;
  #syncing = new Map<string, Promise<void>>();
  #lastSync = new Map<string, number>();
  #badUntil = new Map<string, number>();

  constructor(context: SyncContext) {
    this.#ctx = context;
  }

  /**
   * Asks `peerId` for the announcements this node has not seen from it, until
   * it has nothing more (or `maxSyncRounds`, then `more` is true). Every
   * announcement is checked like gossip; each round has `syncTimeout` and
   * keeps its cursor, so a slow sync resumes where it stopped. Throws a
   * `SyncProtocolError` if the peer sends anything invalid.
   */
  async syncWith(peerId: string, options: { signal?: AbortSignal } = {}): Promise<SyncWithResult> {
    const { p2p, init } = this.#ctx;
    const peer = peerIdFromString(peerId);
    const total = { accepted: 0, ignored: 0, more: false };
    const index = this.#ctx.index();
    for (let round = 0; round < init.maxSyncRounds; round++) {
      const timeout = AbortSignal.timeout(init.syncTimeout);
      const signal = AbortSignal.any(
        [timeout, options.signal, this.#ctx.signal()].filter((s) => s !== undefined),
      );
      const known = index.getSyncCursor(peerId);
      const stream = await p2p.dialProtocol(peer, CATALOG_SYNC_PROTOCOL, { signal });
      const done = await requestSync(stream, {
        epoch: known?.epoch ?? null,
        cursor: known?.cursor ?? 0,
        limit: MAX_SYNC_BATCH,
      }, { onAnnouncement: (bytes) => this.#ctx.ingest(bytes, peerId), signal });
      index.setSyncCursor(peerId, done.epoch, done.cursor);
      total.accepted += done.accepted;
      total.ignored += done.ignored;
      total.more = done.more;
      if (!done.more) break;
    }
    this.#ctx.log.debug("synced catalog", { peerId, ...total });
    return total;
  }

  /** Answers one sync request from a peer. Never throws. */
  async serve(stream: Stream, connection: Connection): Promise<void> {
    const store = this.#ctx.index();
    const { syncTimeout, maxAge } = this.#ctx.init;
    const signal = AbortSignal.any([AbortSignal.timeout(syncTimeout), this.#ctx.signal()!]);
    const source = {
      epoch: store.epoch,
      readChanges: (cursor: number, options: { limit: number; maxBytes: number }) =>
        store.readChanges(cursor, { ...options, notBefore: Date.now() - maxAge }),
    };
    try {
      await serveSync(stream, source, { signal });
    } catch (err) {
      stream.abort(err as Error);
      this.#ctx.log.debug("failed to serve catalog sync", {
        peerId: connection.remotePeer.toString(),
        error: err,
      });
    }
  }

  /** Syncs with `peerId` if it speaks the sync protocol (see {@link maybeSync}). */
  async syncIfSupported(peerId: string): Promise<void> {
    try {
      const peer = await this.#ctx.p2p.libp2p.peerStore.get(peerIdFromString(peerId));
      if (peer.protocols.includes(this.#ctx.p2p.protocolId(CATALOG_SYNC_PROTOCOL))) this.maybeSync(peerId);
    } catch { /* not identified yet: peer:identify will follow */ }
  }

  /** Starts a sync with `peerId` unless one ran recently, is running, or the peer misbehaved. */
  maybeSync(peerId: string): void {
    const now = Date.now();
    const { init, log } = this.#ctx;
    const running = this.#ctx.signal();
    if (!running || running.aborted) return;
    if (this.#syncing.has(peerId) || this.#syncing.size >= init.maxConcurrentSyncs) return;
    if ((this.#badUntil.get(peerId) ?? 0) > now) return;
    if (now - (this.#lastSync.get(peerId) ?? -Infinity) < init.resyncAfter) return;
    this.#lastSync.set(peerId, now);
    let more = false;
    const run = this.syncWith(peerId).then(
      (result) => {
        // Only a sync that brought new listings goes on at once: a peer cannot keep this node busy with nothing.
        more = result.more && result.accepted > 0;
        if (result.accepted > 0) log.info("synced catalog", { peerId, ...result });
      },
      (err) => {
        if (err instanceof SyncProtocolError) {
          this.#badUntil.set(peerId, Date.now() + BAD_PEER_BACKOFF);
          log.warn("dropped catalog sync with misbehaving peer", { peerId, error: err });
        } else {
          log.debug("failed to sync catalog", { peerId, error: err });
        }
      },
    ).finally(() => {
      this.#syncing.delete(peerId);
      // A joiner's catalog is larger than one sync: go on from the cursor now, not at the next tick.
      if (more) {
        this.#lastSync.delete(peerId);
        this.maybeSync(peerId);
      }
    });
    this.#syncing.set(peerId, run);
  }

  /** Forgets the back-offs that ended by `now`. */
  forgetBackoffs(now: number): void {
    for (const [peerId, until] of this.#badUntil) if (until <= now) this.#badUntil.delete(peerId);
  }

  /** Resolves once the syncs running now have settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#syncing.values()]);
  }
}
