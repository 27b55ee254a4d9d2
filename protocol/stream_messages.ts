/**
 * The frames of sensor streams (re-exported by `streams.ts`). Every decoder checks the size cap before
 * parsing, then exact keys and every field; it throws a `StreamProtocolError`.
 *
 * Gossip, DAG-CBOR, with a `type` so one topic carries several kinds:
 * - stream topic `stream/<id>`: `LiveBatch { v, type: "live", streamId, epoch, seq, iv, ct }` (from the
 *   manifest's `publisherPeer` only) and `EpochOpened { v, type: "epoch-opened", streamId, epoch, dekCommit,
 *   signature }` (gateway wallet) — {@link decodeStreamTopicMessage};
 * - `streams` topic: `StreamAnnouncement { v, type: "stream", streamId, manifest, listingId, timestamp,
 *   signature }` (the owner or gateway wallet) and `EpochSealed { v, type: "epoch-sealed", streamId, epoch,
 *   manifestCid, contentCid, rows, dekCommit, gateway, signature }` (gateway wallet) —
 *   {@link decodeStreamsTopicMessage}.
 * Signatures are EIP-191 of `keccak256(dag-cbor(message without signature))`.
 *
 * The request/response frames of the stream protocols are in `stream_protocols.ts`.
 *
 * ```ts
 * const sealed = await signEpochSealed(gatewayAccount, body);
 * const message = decodeStreamsTopicMessage(encodeEpochSealed(sealed));
 * if (message.type === "epoch-sealed") await verifyEpochSealed(message, manifest.gateway);
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import type { Address, Hex } from "viem";
import type { LocalAccount } from "viem/accounts";
import { parseCid, RAW_CODE, toManifestCid } from "./ids.ts";
import { checkAddress, checkInteger, checkKeys, checkObject, FieldError, MAX_TIME } from "./manifest.ts";
import {
  checkHexBytes,
  checkSignature,
  decodeCbor,
  MAX_EPOCH,
  MAX_EPOCH_SEALED_BYTES,
  MAX_STREAM_MANIFEST_BYTES,
  recoverBodySigner,
  signBody,
  StreamProtocolError,
  wrap,
} from "./stream_fields.ts";
import { decodeStreamManifest, type StreamManifest, verifyStreamManifest } from "./streams.ts";

export const MAX_LIVE_BATCH_BYTES = 256 * 1024;
export const MAX_EPOCH_OPENED_BYTES = 1024;
export const MAX_STREAM_ANNOUNCEMENT_BYTES = MAX_STREAM_MANIFEST_BYTES + 2048;
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export interface LiveBatch {
  v: 1;
  type: "live";
  streamId: string;
  epoch: number;
  seq: number;
  /** 12 random bytes. */
  iv: Uint8Array;
  /** AES-256-GCM of the readings' NDJSON (with the 16-byte tag). */
  ct: Uint8Array;
}

export interface EpochOpenedBody {
  v: 1;
  type: "epoch-opened";
  streamId: string;
  epoch: number;
  /** `keccak256(DEK_e)`. */
  dekCommit: Hex;
}
export interface EpochOpened extends EpochOpenedBody {
  signature: Hex;
}

export interface EpochSealedBody {
  v: 1;
  type: "epoch-sealed";
  streamId: string;
  epoch: number;
  /** The epoch's dataset manifest (null for an empty epoch: there is nothing to fetch). */
  manifestCid: string | null;
  /** CIDv1 raw sha2-256 of the epoch file. */
  contentCid: string;
  rows: number;
  dekCommit: Hex;
  /** The gateway wallet that signed; check it is the stream manifest's gateway. */
  gateway: Address;
}
export interface EpochSealed extends EpochSealedBody {
  signature: Hex;
}

export interface StreamAnnouncementBody {
  v: 1;
  type: "stream";
  streamId: string;
  /** The stream manifest's DAG-CBOR bytes (they hash to `streamId`). */
  manifest: Uint8Array;
  /** Registry listing id (decimal), once listed. */
  listingId: string | null;
  /** ms since the epoch; newer replaces older. */
  timestamp: number;
}
export interface StreamAnnouncement extends StreamAnnouncementBody {
  /** By the manifest's owner or its gateway. */
  signature: Hex;
}

export function checkStreamId(value: unknown, field = "streamId"): string {
  try {
    return toManifestCid(value);
  } catch {
    throw new FieldError(field, "must be a stream id (CIDv1 dag-cbor)");
  }
}

function checkBytes(value: unknown, field: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.byteLength < min || value.byteLength > max) {
    throw new FieldError(field, `must be ${min} to ${max} bytes`);
  }
  return value;
}

export function checkCap(bytes: Uint8Array, max: number, what: string): void {
  if (!(bytes instanceof Uint8Array)) throw new StreamProtocolError(`Cannot decode ${what}: not bytes`);
  if (bytes.byteLength > max) {
    throw new StreamProtocolError(`Cannot decode ${what}: ${bytes.byteLength} bytes, over ${max}`);
  }
}

export function encodeCapped(value: unknown, max: number, what: string): Uint8Array {
  const bytes = dagCbor.encode(value);
  if (bytes.byteLength > max) {
    throw new RangeError(`Cannot encode ${what}: ${bytes.byteLength} bytes, over ${max}`);
  }
  return bytes;
}

/** Parses DAG-CBOR `bytes` of at most `max` (refused before parsing) and hands the value to `validate`. */
export function decodeCapped<T>(
  bytes: Uint8Array,
  max: number,
  what: string,
  validate: (value: unknown) => T,
): T {
  checkCap(bytes, max, what);
  return validate(decodeCbor(bytes, what));
}

export function message(value: unknown, type: string, keys: string[]): Record<string, unknown> {
  const m = checkObject(value, "message");
  checkKeys(m, keys, "");
  for (const k of keys) if (!(k in m)) throw new FieldError(k, "is missing");
  if (m.v !== 1) throw new FieldError("v", "must be 1");
  if (m.type !== type) throw new FieldError("type", `must be ${type}`);
  return m;
}

// --- LiveBatch ---------------------------------------------------------------------------------------------

export function validateLiveBatch(value: unknown): LiveBatch {
  return wrap("live batch", () => {
    const m = message(value, "live", ["v", "type", "streamId", "epoch", "seq", "iv", "ct"]);
    return {
      v: 1,
      type: "live",
      streamId: checkStreamId(m.streamId),
      epoch: checkInteger(m.epoch, "epoch", 0, MAX_EPOCH),
      seq: checkInteger(m.seq, "seq", 0, MAX_SEQ),
      iv: checkBytes(m.iv, "iv", 12, 12),
      ct: checkBytes(m.ct, "ct", 16, MAX_LIVE_BATCH_BYTES),
    };
  });
}

export function encodeLiveBatch(batch: LiveBatch): Uint8Array {
  return encodeCapped(validateLiveBatch(batch), MAX_LIVE_BATCH_BYTES, "live batch");
}

export function decodeLiveBatch(bytes: Uint8Array): LiveBatch {
  return decodeCapped(bytes, MAX_LIVE_BATCH_BYTES, "live batch", validateLiveBatch);
}

// --- EpochOpened -------------------------------------------------------------------------------------------

const OPENED_KEYS = ["v", "type", "streamId", "epoch", "dekCommit"];

function checkOpenedBody(m: Record<string, unknown>): EpochOpenedBody {
  return {
    v: 1,
    type: "epoch-opened",
    streamId: checkStreamId(m.streamId),
    epoch: checkInteger(m.epoch, "epoch", 0, MAX_EPOCH),
    dekCommit: checkHexBytes(m.dekCommit, 32, "dekCommit"),
  };
}

export function validateEpochOpened(value: unknown): EpochOpened {
  return wrap("epoch opened", () => {
    const m = message(value, "epoch-opened", [...OPENED_KEYS, "signature"]);
    return { ...checkOpenedBody(m), signature: checkSignature(m.signature) };
  });
}

/** Signs with the gateway's wallet. */
export async function signEpochOpened(
  account: Pick<LocalAccount, "signMessage">,
  body: EpochOpenedBody,
): Promise<EpochOpened> {
  const clean = wrap("epoch opened", () => checkOpenedBody(message(body, "epoch-opened", OPENED_KEYS)));
  return validateEpochOpened({ ...clean, signature: await signBody(account, clean) });
}

/** Validates and checks the signer is `gateway` (the stream manifest's). */
export async function verifyEpochOpened(value: unknown, gateway: Address): Promise<EpochOpened> {
  const m = validateEpochOpened(value);
  const { signature, ...body } = m;
  const signer = await recoverBodySigner(body, signature);
  if (signer === null || signer.toLowerCase() !== gateway.toLowerCase()) {
    throw new StreamProtocolError(`Invalid epoch opened ${m.epoch}: not signed by the gateway ${gateway}`);
  }
  return m;
}

export function encodeEpochOpened(m: EpochOpened): Uint8Array {
  return encodeCapped(validateEpochOpened(m), MAX_EPOCH_OPENED_BYTES, "epoch opened");
}

export function decodeEpochOpened(bytes: Uint8Array): EpochOpened {
  return decodeCapped(bytes, MAX_EPOCH_OPENED_BYTES, "epoch opened", validateEpochOpened);
}

// --- EpochSealed -------------------------------------------------------------------------------------------

const SEALED_KEYS = [
  "v",
  "type",
  "streamId",
  "epoch",
  "manifestCid",
  "contentCid",
  "rows",
  "dekCommit",
  "gateway",
];

function checkSealedBody(m: Record<string, unknown>): EpochSealedBody {
  const rows = checkInteger(m.rows, "rows", 0, Number.MAX_SAFE_INTEGER);
  let manifestCid: string | null = null;
  if (m.manifestCid !== null) {
    try {
      manifestCid = toManifestCid(m.manifestCid);
    } catch {
      throw new FieldError("manifestCid", "must be a manifest CID or null");
    }
  } else if (rows > 0) throw new FieldError("manifestCid", "must be set when rows > 0");
  let contentCid: string;
  try {
    contentCid = parseCid(m.contentCid, RAW_CODE, "contentCid").toString();
  } catch {
    throw new FieldError("contentCid", "must be a CIDv1 raw sha2-256");
  }
  if (contentCid !== m.contentCid) throw new FieldError("contentCid", "must be in base32");
  return {
    v: 1,
    type: "epoch-sealed",
    streamId: checkStreamId(m.streamId),
    epoch: checkInteger(m.epoch, "epoch", 0, MAX_EPOCH),
    manifestCid,
    contentCid,
    rows,
    dekCommit: checkHexBytes(m.dekCommit, 32, "dekCommit"),
    gateway: checkAddress(m.gateway, "gateway"),
  };
}

export function validateEpochSealed(value: unknown): EpochSealed {
  return wrap("epoch sealed", () => {
    const m = message(value, "epoch-sealed", [...SEALED_KEYS, "signature"]);
    return { ...checkSealedBody(m), signature: checkSignature(m.signature) };
  });
}

/** Signs with the gateway's wallet; `account` must be `body.gateway`. */
export async function signEpochSealed(
  account: Pick<LocalAccount, "address" | "signMessage">,
  body: EpochSealedBody,
): Promise<EpochSealed> {
  const clean = wrap("epoch sealed", () => checkSealedBody(message(body, "epoch-sealed", SEALED_KEYS)));
  if (account.address.toLowerCase() !== clean.gateway.toLowerCase()) {
    throw new TypeError(`Cannot sign epoch sealed: ${account.address} is not the gateway ${clean.gateway}`);
  }
  return validateEpochSealed({ ...clean, signature: await signBody(account, clean) });
}

/**
 * Validates and checks the signature recovers to the message's `gateway`, and, when given, that this is
 * `expectedGateway` (the stream manifest's).
 */
export async function verifyEpochSealed(value: unknown, expectedGateway?: Address): Promise<EpochSealed> {
  const m = validateEpochSealed(value);
  const { signature, ...body } = m;
  const signer = await recoverBodySigner(body, signature);
  if (signer !== m.gateway) {
    throw new StreamProtocolError(`Invalid epoch sealed ${m.epoch}: not signed by ${m.gateway}`);
  }
  if (expectedGateway !== undefined && expectedGateway.toLowerCase() !== m.gateway.toLowerCase()) {
    throw new StreamProtocolError(
      `Invalid epoch sealed ${m.epoch}: ${m.gateway} is not the stream's gateway`,
    );
  }
  return m;
}

export function encodeEpochSealed(m: EpochSealed): Uint8Array {
  return encodeCapped(validateEpochSealed(m), MAX_EPOCH_SEALED_BYTES, "epoch sealed");
}

export function decodeEpochSealed(bytes: Uint8Array): EpochSealed {
  return decodeCapped(bytes, MAX_EPOCH_SEALED_BYTES, "epoch sealed", validateEpochSealed);
}

// --- StreamAnnouncement ------------------------------------------------------------------------------------

const ANNOUNCEMENT_KEYS = ["v", "type", "streamId", "manifest", "listingId", "timestamp"];

function checkAnnouncementBody(m: Record<string, unknown>): StreamAnnouncementBody {
  const streamId = checkStreamId(m.streamId);
  const manifest = checkBytes(m.manifest, "manifest", 1, MAX_STREAM_MANIFEST_BYTES);
  if (m.listingId !== null && (typeof m.listingId !== "string" || !/^[1-9][0-9]{0,77}$/.test(m.listingId))) {
    throw new FieldError("listingId", "must be a positive decimal string or null");
  }
  return {
    v: 1,
    type: "stream",
    streamId,
    manifest,
    listingId: m.listingId,
    timestamp: checkInteger(m.timestamp, "timestamp", 0, MAX_TIME),
  };
}

export function validateStreamAnnouncement(value: unknown): StreamAnnouncement {
  return wrap("stream announcement", () => {
    const m = message(value, "stream", [...ANNOUNCEMENT_KEYS, "signature"]);
    return { ...checkAnnouncementBody(m), signature: checkSignature(m.signature) };
  });
}

/** Signs with the owner's (or the gateway's) wallet. */
export async function signStreamAnnouncement(
  account: Pick<LocalAccount, "signMessage">,
  body: StreamAnnouncementBody,
): Promise<StreamAnnouncement> {
  const clean = wrap(
    "stream announcement",
    () => checkAnnouncementBody(message(body, "stream", ANNOUNCEMENT_KEYS)),
  );
  return validateStreamAnnouncement({ ...clean, signature: await signBody(account, clean) });
}

/**
 * Validates, decodes the manifest (its bytes must hash to `streamId`), verifies it (owner signature and
 * attestations on `chainId`) and checks the announcement is signed by the manifest's owner or gateway.
 */
export async function verifyStreamAnnouncement(
  value: unknown,
  chainId: number,
): Promise<{ announcement: StreamAnnouncement; manifest: StreamManifest }> {
  const a = validateStreamAnnouncement(value);
  const { manifest } = decodeStreamManifest(a.manifest, a.streamId);
  await verifyStreamManifest(manifest, chainId);
  const { signature, ...body } = a;
  const signer = await recoverBodySigner(body, signature);
  if (signer !== manifest.owner && signer !== manifest.gateway) {
    throw new StreamProtocolError(
      `Invalid stream announcement ${a.streamId}: not signed by its owner or gateway`,
    );
  }
  return { announcement: a, manifest };
}

export function encodeStreamAnnouncement(a: StreamAnnouncement): Uint8Array {
  return encodeCapped(validateStreamAnnouncement(a), MAX_STREAM_ANNOUNCEMENT_BYTES, "stream announcement");
}

export function decodeStreamAnnouncement(bytes: Uint8Array): StreamAnnouncement {
  return decodeCapped(
    bytes,
    MAX_STREAM_ANNOUNCEMENT_BYTES,
    "stream announcement",
    validateStreamAnnouncement,
  );
}

// --- Topic demultiplexing ----------------------------------------------------------------------------------

function typeOf(value: unknown): unknown {
  return typeof value === "object" && value !== null ? (value as { type?: unknown }).type : undefined;
}

/** A message of a stream's own topic: a live batch or an opened epoch (validated, not verified). */
export function decodeStreamTopicMessage(bytes: Uint8Array): LiveBatch | EpochOpened {
  return decodeCapped(bytes, MAX_LIVE_BATCH_BYTES, "stream topic message", (value) => {
    if (typeOf(value) === "live") return validateLiveBatch(value);
    if (typeOf(value) === "epoch-opened") return validateEpochOpened(value);
    throw new StreamProtocolError("Cannot decode stream topic message: type must be live or epoch-opened");
  });
}

/** A message of the `streams` topic: an announcement or a sealed epoch (validated, not verified). */
export function decodeStreamsTopicMessage(bytes: Uint8Array): StreamAnnouncement | EpochSealed {
  return decodeCapped(bytes, MAX_STREAM_ANNOUNCEMENT_BYTES, "streams topic message", (value) => {
    if (typeOf(value) === "stream") return validateStreamAnnouncement(value);
    if (typeOf(value) === "epoch-sealed") return validateEpochSealed(value);
    throw new StreamProtocolError("Cannot decode streams topic message: type must be stream or epoch-sealed");
  });
}

export * from "./stream_protocols.ts";
