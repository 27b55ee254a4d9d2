/**
 * The consent service's records, errors and the checks of ids it is given: what a consent is as
 * the service answers it (its state read from the chain), what a grant says, and the digest an
 * ownership record names.
 */
import { type Address, bytesToHex, type Hex } from "viem";
import { CID } from "multiformats/cid";
import { KosmosError } from "../../errors.ts";
import { SHA2_256_CODE, toManifestCid } from "../../../protocol/ids.ts";
import { SOURCE_KINDS, type SourceKind } from "../../../protocol/sources.ts";
import { MAX_OWNERSHIP_CONSENTS, toSourceId } from "../chain/mod.ts";

/** The consent is held by another wallet than this node's: only its holder may revoke or use it. */
export class ConsentNotHeldError extends KosmosError {
  override name = "ConsentNotHeldError";
}

/** The consent is revoked or expired (or was never granted) where a valid one is needed. */
export class ConsentNotValidError extends KosmosError {
  override name = "ConsentNotValidError";
}

/** A relayed grant's signature is not the contributor's for these values now: forged, altered, used or late. */
export class ConsentSignatureError extends KosmosError {
  override name = "ConsentSignatureError";
}

export type ConsentState = "valid" | "revoked" | "expired";

/** A consent with its state as the chain answers now. Times in ms since the epoch. */
export interface ConsentRecord {
  tokenId: bigint;
  kind: SourceKind;
  purpose: string;
  contributor: Address;
  grantedAt: number;
  expiresAt: number;
  revokedAt: number | null;
  state: ConsentState;
  gasless: boolean;
  txHash: Hex;
  revokeTxHash: Hex | null;
}

/** A grant: direct (this node's wallet signs and pays) or relayed from the contributor's signature. */
export interface GrantFields {
  kind: SourceKind;
  purpose: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** The contributor's signature of the `Grant` of {@link Consents.grantMessage}; `deadline` in unix seconds. */
  signed?: { contributor: Address; deadline: number; signature: Hex };
}

export interface GrantMessageQuery {
  kind: SourceKind;
  purpose: string;
  expiresAt: number;
  contributor: Address;
  /** Unix seconds until which the node may relay the signature. */
  deadline: number;
}

/** The kind of source of a consent contract `source` id (lower-case hex). */
export const KIND_BY_SOURCE = new Map(SOURCE_KINDS.map((k) => [toSourceId(k).toLowerCase(), k] as const));

/** A consent id from the API: a positive decimal integer. */
export function toConsentId(id: string): bigint {
  if (typeof id !== "string" || !/^[1-9][0-9]{0,76}$/.test(id)) {
    throw new TypeError(
      `Invalid consent id ${JSON.stringify(String(id).slice(0, 80))}: expected a positive whole number`,
    );
  }
  return BigInt(id);
}

/** Checks 1 to 64 distinct positive consent ids. */
export function checkConsentIds(ids: readonly bigint[]): bigint[] {
  if (!Array.isArray(ids) || ids.length === 0) {
    throw new RangeError("Cannot record ownership: name at least one consent");
  }
  if (ids.length > MAX_OWNERSHIP_CONSENTS) {
    throw new RangeError(
      `Cannot record ownership: ${ids.length} consents, at most ${MAX_OWNERSHIP_CONSENTS}`,
    );
  }
  const seen = new Set<bigint>();
  for (const id of ids) {
    if (typeof id !== "bigint" || id < 1n) throw new TypeError(`Invalid consent id ${String(id)}`);
    if (seen.has(id)) throw new RangeError(`Cannot record ownership: consent ${id} is named twice`);
    seen.add(id);
  }
  return [...ids];
}

/** The sha-256 digest of a manifest CID's multihash: what an ownership record names. */
export function toManifestDigest(manifestCid: string): Hex {
  const cid = CID.parse(toManifestCid(manifestCid));
  if (cid.multihash.code !== SHA2_256_CODE || cid.multihash.digest.length !== 32) {
    throw new TypeError(`Invalid manifest CID "${manifestCid.slice(0, 80)}": expected a sha2-256 multihash`);
  }
  return bytesToHex(cid.multihash.digest);
}
