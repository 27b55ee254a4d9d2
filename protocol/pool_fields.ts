/**
 * The field checks the pool codecs share (`pools.ts`, `pool_messages.ts`): each throws a
 * {@link PoolProtocolError} naming the field.
 *
 * ```ts
 * const a = exactKeys(value, ["v", "poolId"], "request");
 * const poolId = uint(a.poolId, "poolId", { positive: true });
 * ```
 */
import { type Address, getAddress, type Hex, isAddress } from "viem";
import { KosmosError } from "./errors.ts";
import { MAX_UINT256 } from "./manifest.ts";

export const MAX_POOL_PEER_ID_LENGTH = 128;

/** A peer broke the pool protocol, or a pool message is malformed. */
export class PoolProtocolError extends KosmosError {
  override name = "PoolProtocolError";
}

export type Obj = Record<string, unknown>;

export function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function fail(message: string): never {
  throw new PoolProtocolError(message);
}

export function exactKeys(value: unknown, keys: readonly string[], what: string): Obj {
  if (!isObject(value)) fail(`Invalid ${what}: expected an object`);
  for (const k of Object.keys(value)) {
    if (!keys.includes(k)) fail(`Invalid ${what}: unknown field "${k.slice(0, 40)}"`);
  }
  for (const k of keys) if (!(k in value)) fail(`Invalid ${what}: missing field "${k}"`);
  return value;
}

// deno-lint-ignore no-control-regex
export const CONTROL = /[\u0000-\u001f\u007f]/;

export function text(value: unknown, field: string, min: number, max: number, oneLine = true): string {
  if (typeof value !== "string") fail(`Invalid ${field}: expected a string`);
  if (value.length < min || value.length > max) fail(`Invalid ${field}: must be ${min} to ${max} characters`);
  if (oneLine && CONTROL.test(value)) fail(`Invalid ${field}: must be one line of printable text`);
  return value;
}

export function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(`Invalid ${field}: must be a whole number from ${min} to ${max}`);
  }
  return value;
}

export function uint(value: unknown, field: string, { positive = false } = {}): string {
  if (typeof value !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(value) || BigInt(value) > MAX_UINT256) {
    fail(`Invalid ${field}: expected a decimal uint256 string`);
  }
  if (positive && value === "0") fail(`Invalid ${field}: must be positive`);
  return value;
}

export function address(value: unknown, field: string): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    fail(`Invalid ${field}: expected an address`);
  }
  return getAddress(value);
}

export function hex(value: unknown, bytes: number, field: string): Hex {
  if (typeof value !== "string" || value.length !== 2 + 2 * bytes || !/^0x[0-9a-fA-F]*$/.test(value)) {
    fail(`Invalid ${field}: expected ${bytes} bytes of hex`);
  }
  return value.toLowerCase() as Hex;
}

export function peerId(value: unknown, field: string): string {
  const id = text(value, field, 1, MAX_POOL_PEER_ID_LENGTH);
  if (!/^[A-Za-z0-9]+$/.test(id)) fail(`Invalid ${field}: expected a peer id`);
  return id;
}

/** Half the secp256k1 group order: signatures with a larger s are malleated copies. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

export function signature(value: unknown, field: string): Hex {
  const sig = hex(value, 65, field);
  const s = BigInt("0x" + sig.slice(66, 130));
  const v = parseInt(sig.slice(130), 16);
  if (s === 0n || s > HALF_N || (v !== 27 && v !== 28)) fail(`Invalid ${field}: not a canonical signature`);
  return sig;
}

export function parseJson(bytes: Uint8Array, max: number, what: string): unknown {
  if (!(bytes instanceof Uint8Array)) fail(`Cannot decode ${what}: expected bytes`);
  if (bytes.byteLength > max) fail(`Cannot decode ${what}: ${bytes.byteLength} bytes, over ${max}`);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new PoolProtocolError(`Cannot decode ${what}: not JSON`, { cause });
  }
}
