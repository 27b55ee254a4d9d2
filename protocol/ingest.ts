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
 * Every sealed batch is signed by the proxy that sealed it (version 2 of
 * {@link SealedBatch}): its node key signs {@link sealedBatchSigningBytes},
 * a tagged message binding the hash of the sealed batch, its site, the time
 * window of its events and the proxy's peer id. The owner checks the
 * signature before it opens anything, counts events per proxy and refuses
 * unsigned batches, badly signed ones and those of blocked proxies.
 *
 * ```ts
 * const frame = encodeBatchNotice({ v: 2, op: "deliver", cid: cid.toString(), site: "example.com" });
 * const notice = decodeBatchNotice(frame); // throws a TypeError naming the bad field
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import { peerIdFromString } from "@libp2p/peer-id";
import { isSiteDomain, MAX_SEALED_BATCH_BYTES, type SealedBatch } from "./analytics.ts";
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

// --- proxy signatures ----------------------------------------------------------

/** Tag of the message a proxy signs over a sealed batch; nothing else is signed with it. */
const PROXY_SIGNATURE_TAG = "kosmos/ingest/proxy-signature/1";

/**
 * What a proxy signs: the tag, then SHA-256 of the DAG-CBOR of the sealed
 * part (`{ v: 2, id, site, epk, iv, ct }`), the site, the window and the proxy's peer id.
 */
export async function sealedBatchSigningBytes(
  batch: Pick<SealedBatch, "id" | "site" | "epk" | "iv" | "ct">,
  signed: { proxy: string; from: number; to: number },
): Promise<Uint8Array> {
  const sealed = dagCbor.encode({
    v: 2,
    id: batch.id,
    site: batch.site,
    epk: batch.epk,
    iv: batch.iv,
    ct: batch.ct,
  });
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", sealed as Uint8Array<ArrayBuffer>));
  const hex = Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
  return new TextEncoder().encode(
    `${PROXY_SIGNATURE_TAG}\n${hex}\n${batch.site}\n${signed.from}\n${signed.to}\n${signed.proxy}`,
  );
}

/** Signs a sealed batch as `proxy` (whose node key `key` is), for events within `from`…`to`. */
export async function signSealedBatch(
  batch: SealedBatch,
  signer: { proxy: string; key: { sign(data: Uint8Array): Uint8Array | Promise<Uint8Array> } },
  window: { from: number; to: number },
): Promise<SealedBatch> {
  const signed = { proxy: signer.proxy, from: window.from, to: window.to };
  const sig = await signer.key.sign(await sealedBatchSigningBytes(batch, signed));
  return { v: 2, id: batch.id, site: batch.site, epk: batch.epk, iv: batch.iv, ct: batch.ct, ...signed, sig };
}

/**
 * Checks that a sealed batch is signed by the proxy it names; returns that
 * proxy's peer id, or throws a `TypeError` saying why it is refused.
 */
export async function verifySealedBatch(batch: SealedBatch): Promise<string> {
  if (batch.v !== 2 || batch.proxy === undefined || batch.sig === undefined) {
    throw new TypeError("Sealed batch is not signed by a proxy");
  }
  let publicKey;
  try {
    publicKey = peerIdFromString(batch.proxy).publicKey;
  } catch {
    throw new TypeError("Sealed batch names a proxy that is not a peer id");
  }
  const message = await sealedBatchSigningBytes(batch, {
    proxy: batch.proxy,
    from: batch.from!,
    to: batch.to!,
  });
  let valid = false;
  try {
    valid = publicKey !== undefined && await publicKey.verify(message, batch.sig);
  } catch { /* a malformed signature is a bad one */ }
  if (!valid) throw new TypeError("Sealed batch's proxy signature does not verify");
  return batch.proxy;
}
