/**
 * Wire format of the sale protocol (`/kosmos/sale/1.0.0`). The buyer opens a
 * stream, writes one length-prefixed JSON request and reads one
 * length-prefixed JSON response; then both sides close. Every frame is
 * size-capped before it is buffered and every field is checked: hex sizes,
 * decimal integers, addresses, no unknown keys.
 *
 *     request:  { v: 1, type: "quote", listingId: <manifest CID>, buyer: <address> }
 *     response: { v: 1, quote: {…decimal strings and hex…}, signature, z }
 *             | { v: 1, error: { code, message } }
 *
 * ```ts
 * const bytes = encodeSaleRequest({ v: 1, type: "quote", listingId, buyer });
 * const request = decodeSaleRequest(bytes); // throws SaleProtocolError
 * ```
 */
import type { Address, Hex } from "viem";
import type { Quote } from "./quote.ts";
import { toManifestCid } from "./ids.ts";
import { checkAddress, checkHex, hasOnlyKeys, isObject, SaleProtocolError } from "./wire_fields.ts";

export { SaleProtocolError };

export const SALE_VERSION = 1;
/** Largest request frame accepted. */
export const MAX_SALE_REQUEST_BYTES = 512;
/** Largest response frame accepted (one quote, one signature, one 32-byte Z). */
export const MAX_SALE_RESPONSE_BYTES = 2048;

/** Why a seller declined a quote request. */
export type QuoteRefusal = "bad-request" | "unknown-listing" | "not-seller" | "rate-limited" | "unavailable";

export interface QuoteRequest {
  v: 1;
  type: "quote";
  /** v1 name: the manifest CID. Build requests with {@link quoteRequestFor}, which maps it. */
  listingId: string;
  buyer: Address;
}

/** The quote request for the dataset `manifestCid`: the one place its v1 field name is mapped. */
export function quoteRequestFor(manifestCid: string, buyer: Address): QuoteRequest {
  return { v: 1, type: "quote", listingId: manifestCid, buyer };
}

export interface QuoteOffer {
  v: 1;
  quote: Quote;
  signature: Hex;
  /** `DEK ⊕ keccak256("kosmos.sale.pad" ‖ kSale ‖ 0)`; useless without `kSale`. Never log it. */
  z: Hex;
}

export interface QuoteDeclined {
  v: 1;
  error: { code: QuoteRefusal; message: string };
}

export type SaleResponse = QuoteOffer | QuoteDeclined;

const REFUSALS: readonly QuoteRefusal[] = [
  "bad-request",
  "unknown-listing",
  "not-seller",
  "rate-limited",
  "unavailable",
];

function parseJson(bytes: Uint8Array, max: number, what: string): unknown {
  if (bytes.byteLength > max) {
    throw new SaleProtocolError(`Cannot decode sale ${what}: ${bytes.byteLength} bytes, over ${max}`);
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new SaleProtocolError(`Cannot decode sale ${what}: not JSON`, { cause });
  }
}

function checkUint(value: unknown, field: string): bigint {
  if (typeof value !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(value)) {
    throw new SaleProtocolError(`Invalid ${field}: expected a decimal integer string`);
  }
  const n = BigInt(value);
  if (n >= 2n ** 256n) throw new SaleProtocolError(`Invalid ${field}: over 256 bits`);
  return n;
}

export function encodeSaleRequest(request: QuoteRequest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(request));
}

/** Decodes and checks a request; throws a {@link SaleProtocolError}. */
export function decodeSaleRequest(bytes: Uint8Array): QuoteRequest {
  const value = parseJson(bytes, MAX_SALE_REQUEST_BYTES, "request");
  if (
    !isObject(value) || !hasOnlyKeys(value, ["v", "type", "listingId", "buyer"]) ||
    value.v !== SALE_VERSION || value.type !== "quote"
  ) {
    throw new SaleProtocolError("Cannot decode sale request: bad fields");
  }
  let listingId: string;
  try {
    listingId = toManifestCid(value.listingId);
  } catch (cause) {
    throw new SaleProtocolError("Cannot decode sale request: listingId is not a manifest CID", { cause });
  }
  return { v: SALE_VERSION, type: "quote", listingId, buyer: checkAddress(value.buyer, "buyer") };
}

/** The quote with its integers as decimal strings, as it travels. */
export function quoteToJson(quote: Quote): Record<string, string> {
  return {
    listingId: quote.listingId.toString(),
    buyer: quote.buyer,
    price: quote.price.toString(),
    zHash: quote.zHash,
    kSaleHash: quote.kSaleHash,
    dekCommit: quote.dekCommit,
    gateway: quote.gateway,
    nonce: quote.nonce.toString(),
    deadline: quote.deadline.toString(),
  };
}

/** Parses a quote from its JSON form; throws a {@link SaleProtocolError}. */
export function quoteFromJson(value: unknown): Quote {
  const keys = [
    "listingId",
    "buyer",
    "price",
    "zHash",
    "kSaleHash",
    "dekCommit",
    "gateway",
    "nonce",
    "deadline",
  ];
  if (!isObject(value) || !hasOnlyKeys(value, keys)) throw new SaleProtocolError("Invalid quote: bad fields");
  return {
    listingId: checkUint(value.listingId, "quote.listingId"),
    buyer: checkAddress(value.buyer, "quote.buyer"),
    price: checkUint(value.price, "quote.price"),
    zHash: checkHex(value.zHash, 32, "quote.zHash"),
    kSaleHash: checkHex(value.kSaleHash, 32, "quote.kSaleHash"),
    dekCommit: checkHex(value.dekCommit, 32, "quote.dekCommit"),
    gateway: checkAddress(value.gateway, "quote.gateway"),
    nonce: checkUint(value.nonce, "quote.nonce"),
    deadline: checkUint(value.deadline, "quote.deadline"),
  };
}

export function encodeSaleResponse(response: SaleResponse): Uint8Array {
  const body = "error" in response ? response : { ...response, quote: quoteToJson(response.quote) };
  return new TextEncoder().encode(JSON.stringify(body));
}

/** Decodes and checks a response; throws a {@link SaleProtocolError}. */
export function decodeSaleResponse(bytes: Uint8Array): SaleResponse {
  const value = parseJson(bytes, MAX_SALE_RESPONSE_BYTES, "response");
  if (!isObject(value) || value.v !== SALE_VERSION) {
    throw new SaleProtocolError("Cannot decode sale response: bad version");
  }
  if (hasOnlyKeys(value, ["v", "error"]) && isObject(value.error)) {
    const { code, message } = value.error;
    if (
      !hasOnlyKeys(value.error, ["code", "message"]) || !REFUSALS.includes(code as QuoteRefusal) ||
      typeof message !== "string" || message.length > 300
    ) {
      throw new SaleProtocolError("Cannot decode sale response: bad error");
    }
    return { v: SALE_VERSION, error: { code: code as QuoteRefusal, message } };
  }
  if (!hasOnlyKeys(value, ["v", "quote", "signature", "z"])) {
    throw new SaleProtocolError("Cannot decode sale response: bad fields");
  }
  return {
    v: SALE_VERSION,
    quote: quoteFromJson(value.quote),
    signature: checkHex(value.signature, 65, "signature"),
    z: checkHex(value.z, 32, "z"),
  };
}
