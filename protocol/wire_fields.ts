/**
 * Field checks shared by the market's wire formats (`sale.ts`,
 * `delegation.ts`, the evidence): each throws a {@link SaleProtocolError} naming the field.
 *
 * ```ts
 * if (!isObject(value) || !hasOnlyKeys(value, ["v", "buyer"])) throw new SaleProtocolError("bad fields");
 * const buyer = checkAddress(value.buyer, "buyer");
 * ```
 */
import { type Address, getAddress, type Hex, isAddress } from "viem";
import { KosmosError } from "./errors.ts";

/** The other side broke the sale protocol (malformed, oversized or unexpected frame). */
export class SaleProtocolError extends KosmosError {
  override name = "SaleProtocolError";
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `value` has exactly `keys`. */
export function hasOnlyKeys(value: Record<string, unknown>, keys: string[]): boolean {
  return Object.keys(value).every((k) => keys.includes(k)) && keys.every((k) => k in value);
}

/** Lower-case hex, of exactly `bytes` bytes unless `undefined`. */
export function checkHex(value: unknown, bytes: number | undefined, field: string): Hex {
  if (typeof value !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(value)) {
    throw new SaleProtocolError(`Invalid ${field}: expected hex`);
  }
  if (bytes !== undefined && value.length !== 2 + 2 * bytes) {
    throw new SaleProtocolError(`Invalid ${field}: expected ${bytes} bytes`);
  }
  return value.toLowerCase() as Hex;
}

/** A checksummed address. */
export function checkAddress(value: unknown, field: string): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    throw new SaleProtocolError(`Invalid ${field}: expected an address`);
  }
  return getAddress(value);
}
