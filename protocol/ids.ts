/**
 * Branded identifiers shared by every wire format. Each has exactly one
 * validating constructor; a value of the branded type has been through it.
 *
 * ```ts
 * const cid = toManifestCid("bafyrei…"); // CIDv1, dag-cbor, sha2-256, base32
 * const seller = toAddress("0xabc…");     // EIP-55 checksummed
 * ```
 */
import { CID } from "multiformats/cid";
import { getAddress, isAddress } from "viem";

/** CIDv1 string (base32) of a DAG-CBOR manifest hashed with sha2-256. */
export type ManifestCid = string & { readonly __brand: "ManifestCid" };
/**
 * Id of a dataset listing. A listing is its manifest, so the id is the
 * manifest CID string: content addressing makes it globally unique without a
 * registry, and anyone holding the id can fetch and check what it names.
 */
export type ListingId = string & { readonly __brand: "ListingId" };
/** EVM address, `0x` + 40 hex digits in EIP-55 checksum form. */
export type Address = `0x${string}` & { readonly __brand: "Address" };

/** Multicodec code of DAG-CBOR. */
export const DAG_CBOR_CODE = 0x71;
/** Multicodec code of raw bytes. */
export const RAW_CODE = 0x55;
/** Multihash code of sha2-256. */
export const SHA2_256_CODE = 0x12;

/** Longest CID string accepted anywhere (a CIDv1 sha2-256 in base32 is 59). */
export const MAX_CID_LENGTH = 100;

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? value.slice(0, 80) + "…" : value);
  return value === null ? "null" : typeof value;
}

/**
 * Parses `value` as a CIDv1 string with the given codec and a sha2-256
 * multihash, in its canonical base32 form. Returns the parsed CID.
 */
export function parseCid(value: unknown, codec: number, what = "CID"): CID {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_CID_LENGTH) {
    throw new TypeError(`Invalid ${what} ${describe(value)}: expected a CIDv1 string`);
  }
  let cid: CID;
  try {
    cid = CID.parse(value);
  } catch (cause) {
    throw new TypeError(`Invalid ${what} ${describe(value)}: not a CID`, { cause });
  }
  if (cid.version !== 1) throw new TypeError(`Invalid ${what} ${describe(value)}: expected CIDv1`);
  if (cid.code !== codec) {
    throw new TypeError(
      `Invalid ${what} ${describe(value)}: codec 0x${cid.code.toString(16)} is not 0x${codec.toString(16)}`,
    );
  }
  if (cid.multihash.code !== SHA2_256_CODE || cid.multihash.size !== 32) {
    throw new TypeError(`Invalid ${what} ${describe(value)}: hash must be sha2-256`);
  }
  if (cid.toString() !== value) {
    throw new TypeError(`Invalid ${what} ${describe(value)}: not in canonical base32 form`);
  }
  return cid;
}

/** Validates a manifest CID string (CIDv1, dag-cbor, sha2-256, base32). */
export function toManifestCid(value: unknown): ManifestCid {
  parseCid(value, DAG_CBOR_CODE, "manifest CID");
  return value as ManifestCid;
}

/** Validates a listing id, which is the manifest CID string of the dataset. */
export function toListingId(value: unknown): ListingId {
  parseCid(value, DAG_CBOR_CODE, "listing id");
  return value as ListingId;
}

/**
 * Validates an EVM address and returns its EIP-55 checksummed form. All-lower
 * and all-upper hex are accepted; mixed case must carry a correct checksum.
 */
export function toAddress(value: unknown): Address {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(value)) {
    throw new TypeError(`Invalid address ${describe(value)}: expected 0x and 40 hex digits`);
  }
  const hex = value.slice(2);
  const uniformCase = hex === hex.toLowerCase() || hex === hex.toUpperCase();
  if (!uniformCase && !isAddress(value, { strict: true })) {
    throw new TypeError(`Invalid address ${describe(value)}: bad EIP-55 checksum`);
  }
  return getAddress(`0x${hex.toLowerCase()}`) as Address;
}
