/**
 * Sealed event batches as blocks (`/kosmos/ingest/2.0.0`). A proxy node
 * encodes each sealed batch ({@link SealedBatch}) and stores it as a
 * content-addressed block, CIDv1 raw sha2-256 over those bytes, served like
 * any dataset chunk over `/kosmos/chunks/1.0.0`. On the ingest stream it only
 * sends notices naming a block; the receiver fetches the block through the
 * chunk protocol, checks it against the CID, and answers.
 *
 * A stream carries any number of notice/reply pairs, one after the other,
 * each frame a DAG-CBOR map prefixed by its unsigned-varint length:
 *
 *     notice: { v: 2, op: "deliver" | "hold", cid: "bafkrei…", site: "example.com" }
 *     reply:  { ack: cid } | { reject: reason } | { retry: reason }
 *
 * `deliver` goes to the site owner's node: fetch, open, record, then `ack`.
 * `hold` goes to a replica: fetch, keep and provide the block, and deliver it
 * to the owner itself, so the batch survives the proxy going away. `reject`
 * means the receiver never will (not its site, unknown site, a block that is
 * not a sealed batch for that site); `retry` means not now (no valid copy
 * reachable, no room).
 *
 * `/kosmos/ingest/1.0.0` (the sealed batch bytes inline, one per stream) is
 * still served for proxies that predate blocks.
 *
 * ```ts
 * const frame = encodeBatchNotice({ v: 2, op: "deliver", cid: cid.toString(), site: "example.com" });
 * const notice = decodeBatchNotice(frame); // throws a TypeError naming the bad field
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import { isSiteDomain, MAX_SEALED_BATCH_BYTES } from "./analytics.ts";
import { parseCid, RAW_CODE } from "./ids.ts";

/** Notices of sealed batch blocks, to the site owner or to a replica. */
export const INGEST_BLOCKS_PROTOCOL = "/kosmos/ingest/2.0.0";

/** Largest sealed batch block, in bytes (the largest sealed batch). */
export const MAX_SEALED_BLOCK_BYTES = MAX_SEALED_BATCH_BYTES;

/** Largest notice or reply frame, in bytes. */
export const MAX_BATCH_NOTICE_BYTES = 1024;

/** What the receiver of a notice is asked to do with the block. */
export type BatchNoticeOp = "deliver" | "hold";

export interface BatchNotice {
  v: 2;
  op: BatchNoticeOp;
  /** CIDv1 raw sha2-256 of the encoded sealed batch, base32. */
  cid: string;
  /** The site the batch belongs to; must match the sealed batch's own `site`. */
  site: string;
}

export type BatchReply = { ack: string } | { reject: string } | { retry: string };

export function encodeBatchNotice(notice: BatchNotice): Uint8Array {
  return dagCbor.encode({ v: 2, op: notice.op, cid: notice.cid, site: notice.site });
}

/** Decodes and checks a notice; throws a `TypeError` naming the bad field. */
export function decodeBatchNotice(bytes: Uint8Array): BatchNotice {
  if (bytes.byteLength > MAX_BATCH_NOTICE_BYTES) throw new TypeError("Batch notice is too large");
  let value: Record<string, unknown>;
  try {
    value = dagCbor.decode(bytes);
  } catch {
    throw new TypeError("Batch notice is not DAG-CBOR");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Batch notice is not a map");
  }
  const keys = Object.keys(value);
  if (keys.length !== 4 || !["v", "op", "cid", "site"].every((k) => keys.includes(k)) || value.v !== 2) {
    throw new TypeError("Batch notice has bad fields");
  }
  if (value.op !== "deliver" && value.op !== "hold") throw new TypeError('Batch notice has a bad "op"');
  parseCid(value.cid, RAW_CODE, "batch CID");
  if (!isSiteDomain(value.site)) throw new TypeError('Batch notice has a bad "site"');
  return { v: 2, op: value.op, cid: value.cid as string, site: value.site };
}

export function encodeBatchReply(reply: BatchReply): Uint8Array {
  return dagCbor.encode(reply);
}

/** Decodes a receiver's reply; throws a `TypeError`. Reasons are cut to 200 characters. */
export function decodeBatchReply(bytes: Uint8Array): BatchReply {
  if (bytes.byteLength > MAX_BATCH_NOTICE_BYTES) throw new TypeError("Batch reply is too large");
  let value: Record<string, unknown>;
  try {
    value = dagCbor.decode(bytes);
  } catch {
    throw new TypeError("Batch reply is not DAG-CBOR");
  }
  if (
    typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 1
  ) {
    if (typeof value.ack === "string") return { ack: value.ack.slice(0, 128) };
    if (typeof value.reject === "string") return { reject: value.reject.slice(0, 200) };
    if (typeof value.retry === "string") return { retry: value.retry.slice(0, 200) };
  }
  throw new TypeError("Batch reply has bad fields");
}
