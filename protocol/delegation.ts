/**
 * Wire format of the delegation protocol (`/kosmos/delegate/1.0.0`). The
 * seller opens a stream, writes one length-prefixed JSON request and reads one
 * length-prefixed JSON response; then both sides close.
 *
 *     request:  { v: 1, type: "hello" }
 *             | { v: 1, type: "key", manifestCid, listingId: <decimal>, owner, sealed: { epk, iv, ct } }
 *     response: { v: 1, address, publicKey }       (to "hello": the delegate's wallet and X25519 key)
 *             | { v: 1, accepted: true }           (to "key")
 *             | { v: 1, error: { code, message } }
 *
 * How the DEK is sealed is `node/services/delegation/seal.ts`.
 *
 * ```ts
 * const bytes = encodeDelegateRequest({ v: 1, type: "hello" });
 * const request = decodeDelegateRequest(bytes); // throws SaleProtocolError
 * ```
 */
import type { Address, Hex } from "viem";
import { toManifestCid } from "./ids.ts";
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
