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
 * const stream = await libp2p.dialProtocol(peerId, CATALOG_SYNC_PROTOCOL, { signal });
 * const done = await requestSync(stream, { epoch, cursor }, { onAnnouncement: ingest, signal });
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import { lpStream } from "@libp2p/utils";
import type { Stream } from "@libp2p/interface";
import { MAX_ANNOUNCEMENT_BYTES } from "../../../protocol/announcement.ts";
import { KosmosError } from "../../errors.ts";
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
    maxBufferSize: 2 * MAX_SYNC_FRAME_BYTES,
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
