/**
 * Wire format of the delegation protocol (`/kosmos/delegate/1.0.0`) and the
 * sealing of a dataset key to a delegate. The seller opens a stream, writes
 * one length-prefixed JSON request and reads one length-prefixed JSON
 * response; then both sides close.
 *
 *     request:  { v: 1, type: "hello" }
 *             | { v: 1, type: "key", manifestCid, listingId: <decimal>, owner, sealed: { epk, iv, ct } }
 *     response: { v: 1, address, publicKey }       (to "hello": the delegate's wallet and X25519 key)
 *             | { v: 1, accepted: true }           (to "key")
 *             | { v: 1, error: { code, message } }
 *
 * The DEK is sealed like ingest batches (`../ingest/seal.ts`): X25519 ECDH
 * with a fresh ephemeral key, HKDF-SHA256 (salt = ephemeral ‖ recipient public
 * key) into AES-256-GCM, with the manifest CID and listing id as associated
 * data so a sealed key cannot be replayed for another listing.
 *
 * ```ts
 * const sealed = await sealDek(dek, { publicKey, manifestCid, listingId });
 * const dek = await openDek(sealed, key, { manifestCid, listingId }); // throws TypeError
 * ```
 */
import { type Address, bytesToHex, type Hex, hexToBytes } from "viem";
import { toManifestCid } from "../../../protocol/ids.ts";
import type { EncryptionKey } from "../sites/encryption_key.ts";
import { openSealed, sealTo } from "../../sealed_box.ts";
import { checkAddress, checkHex, hasOnlyKeys, isObject, SaleProtocolError } from "./wire_fields.ts";

export const DELEGATE_PROTOCOL = "/kosmos/delegate/1.0.0";
/** Largest frame either side accepts. */
export const MAX_DELEGATE_FRAME_BYTES = 1024;

export type DelegateRefusal = "bad-request" | "rejected" | "unavailable";
const REFUSALS: readonly DelegateRefusal[] = ["bad-request", "rejected", "unavailable"];

/** A DEK sealed to one delegate's X25519 key. */
export interface SealedDek {
  epk: Hex;
  iv: Hex;
  ct: Hex;
}

export type DelegateRequest =
  | { v: 1; type: "hello" }
  | { v: 1; type: "key"; manifestCid: string; listingId: bigint; owner: Address; sealed: SealedDek };

export type DelegateResponse =
  | { v: 1; address: Address; publicKey: Hex }
  | { v: 1; accepted: true }
  | { v: 1; error: { code: DelegateRefusal; message: string } };

const INFO = new TextEncoder().encode("kosmos/market/1 delegated key");

function parse(bytes: Uint8Array, what: string): Record<string, unknown> {
  if (bytes.byteLength > MAX_DELEGATE_FRAME_BYTES) {
    throw new SaleProtocolError(`Cannot decode delegate ${what}: ${bytes.byteLength} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new SaleProtocolError(`Cannot decode delegate ${what}: not JSON`, { cause });
  }
  if (!isObject(value) || value.v !== 1) {
    throw new SaleProtocolError(`Cannot decode delegate ${what}: bad version`);
  }
  return value;
}

export function encodeDelegateRequest(request: DelegateRequest): Uint8Array {
  const body = request.type === "key" ? { ...request, listingId: request.listingId.toString() } : request;
  return new TextEncoder().encode(JSON.stringify(body));
}

/** Decodes and checks a request; throws a `SaleProtocolError`. */
export function decodeDelegateRequest(bytes: Uint8Array): DelegateRequest {
  const value = parse(bytes, "request");
  if (value.type === "hello" && hasOnlyKeys(value, ["v", "type"])) return { v: 1, type: "hello" };
  if (
    value.type !== "key" ||
    !hasOnlyKeys(value, ["v", "type", "manifestCid", "listingId", "owner", "sealed"]) ||
    !isObject(value.sealed) || !hasOnlyKeys(value.sealed, ["epk", "iv", "ct"])
  ) {
    throw new SaleProtocolError("Cannot decode delegate request: bad fields");
  }
  if (typeof value.listingId !== "string" || !/^(0|[1-9][0-9]{0,76})$/.test(value.listingId)) {
    throw new SaleProtocolError("Invalid listingId: expected a decimal integer string");
  }
  let manifestCid: string;
  try {
    manifestCid = toManifestCid(value.manifestCid);
  } catch (cause) {
    throw new SaleProtocolError("Cannot decode delegate request: manifestCid is not a manifest CID", {
      cause,
    });
  }
  return {
    v: 1,
    type: "key",
    manifestCid,
    listingId: BigInt(value.listingId),
    owner: checkAddress(value.owner, "owner"),
    sealed: {
      epk: checkHex(value.sealed.epk, 32, "sealed.epk"),
      iv: checkHex(value.sealed.iv, 12, "sealed.iv"),
      ct: checkHex(value.sealed.ct, 48, "sealed.ct"),
    },
  };
}

export function encodeDelegateResponse(response: DelegateResponse): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(response));
}

/** Decodes and checks a response; throws a `SaleProtocolError`. */
export function decodeDelegateResponse(bytes: Uint8Array): DelegateResponse {
  const value = parse(bytes, "response");
  if (hasOnlyKeys(value, ["v", "address", "publicKey"])) {
    return {
      v: 1,
      address: checkAddress(value.address, "address"),
      publicKey: checkHex(value.publicKey, 32, "publicKey"),
    };
  }
  if (hasOnlyKeys(value, ["v", "accepted"]) && value.accepted === true) return { v: 1, accepted: true };
  if (hasOnlyKeys(value, ["v", "error"]) && isObject(value.error)) {
    const { code, message } = value.error;
    if (
      hasOnlyKeys(value.error, ["code", "message"]) && REFUSALS.includes(code as DelegateRefusal) &&
      typeof message === "string" && message.length <= 300
    ) {
      return { v: 1, error: { code: code as DelegateRefusal, message } };
    }
  }
  throw new SaleProtocolError("Cannot decode delegate response: bad fields");
}

interface SealContext {
  manifestCid: string;
  listingId: bigint;
}

/** Seals a 32-byte DEK to the X25519 `publicKey` (32 bytes), bound to the listing. */
export async function sealDek(
  dek: Uint8Array,
  options: SealContext & { publicKey: Uint8Array },
): Promise<SealedDek> {
  const box = await sealTo(options.publicKey, dek, { info: INFO, additionalData: aad(options) });
  return { epk: bytesToHex(box.epk), iv: bytesToHex(box.iv), ct: bytesToHex(box.ct) };
}

/** Opens a DEK sealed to `key`; throws a `TypeError` when it was not sealed to it for this listing. */
export async function openDek(
  sealed: SealedDek,
  key: EncryptionKey,
  context: SealContext,
): Promise<Uint8Array> {
  try {
    const box = { epk: hexToBytes(sealed.epk), iv: hexToBytes(sealed.iv), ct: hexToBytes(sealed.ct) };
    const dek = await openSealed(box, key, { info: INFO, additionalData: aad(context) });
    if (dek.byteLength !== 32) throw new RangeError("expected 32 bytes");
    return dek;
  } catch (cause) {
    throw new TypeError("Cannot open the delegated key: not sealed to this node for this listing", { cause });
  }
}

function aad(context: SealContext): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${context.manifestCid}\n${context.listingId}`);
}
