/**
 * What a consent grant must say, checked before anything is signed or sent: a kind of source the
 * node imports, a purpose a person can read (3 to 200 printable characters), an expiry at least a
 * minute and at most five years ahead; and the EIP-712 `Grant` a contributor signs to have the node
 * relay their consent (domain "Kosmos Consent", "1", chain id, consent contract).
 *
 * ```ts
 * const grant = checkGrantFields({ kind: "spotify", purpose: "music research", expiresAt }, Date.now());
 * const typed = buildGrantTypedData({ chainId, consent, contributor, ...grant, nonce, deadline });
 * ```
 */
import { type Address, getAddress, type Hex, isAddress } from "viem";
import { consentGrantTypes, getConsentDomain, type TypedDataDomain } from "../../../protocol/quote.ts";
import { SOURCE_KINDS, type SourceKind } from "../../../protocol/sources.ts";
import { toPurposeId, toSourceId } from "../chain/mod.ts";

export const MIN_PURPOSE_LENGTH = 3;
export const MAX_PURPOSE_LENGTH = 200;
/** A consent lasts at least this long (ms). */
export const MIN_CONSENT_DURATION = 60_000;
/** … and at most this long (ms): five years of 365.25 days. */
export const MAX_CONSENT_DURATION = Math.round(5 * 365.25 * 86_400_000);
/** A signed grant may be relayed for at most this long after it is asked for (s). */
export const MAX_GRANT_DEADLINE = 7 * 86_400;

/** Control, format, surrogate, private-use and unassigned characters. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]/u;

/** A grant's checked fields and their on-chain forms. */
export interface CheckedGrant {
  kind: SourceKind;
  purpose: string;
  /** ms since the epoch, a whole second (the chain keeps seconds). */
  expiresAt: number;
  source: Hex;
  purposeId: Hex;
  /** Unix seconds. */
  expiry: bigint;
}

/** Checks a kind. */
export function checkKind(kind: unknown): SourceKind {
  if (typeof kind !== "string" || !(SOURCE_KINDS as readonly string[]).includes(kind)) {
    throw new TypeError(
      `Invalid kind ${JSON.stringify(kind)?.slice(0, 40)}: expected one of ${SOURCE_KINDS.join(", ")}`,
    );
  }
  return kind as SourceKind;
}

/** Checks a purpose text: 3 to 200 printable characters, no leading or trailing space. */
export function checkPurpose(purpose: unknown): string {
  if (typeof purpose !== "string") throw new TypeError("Invalid purpose: expected text");
  const length = [...purpose].length;
  if (length < MIN_PURPOSE_LENGTH || length > MAX_PURPOSE_LENGTH) {
    throw new RangeError(
      `Invalid purpose: ${length} characters, expected ${MIN_PURPOSE_LENGTH} to ${MAX_PURPOSE_LENGTH}`,
    );
  }
  if (UNPRINTABLE.test(purpose)) {
    throw new TypeError("Invalid purpose: it contains control or unprintable characters");
  }
  if (purpose.trim() !== purpose) throw new TypeError("Invalid purpose: it starts or ends with a space");
  return purpose;
}

/** Checks an expiry (ms since the epoch) against `now`: at least a minute, at most five years ahead. */
export function checkExpiresAt(expiresAt: unknown, now: number): number {
  if (typeof expiresAt !== "number" || !Number.isSafeInteger(expiresAt)) {
    throw new TypeError("Invalid expiresAt: expected a whole number of ms since the epoch");
  }
  if (expiresAt < now + MIN_CONSENT_DURATION) {
    throw new RangeError(
      `Invalid expiresAt ${
        new Date(Math.max(0, expiresAt)).toISOString()
      }: a consent must last at least a minute from now`,
    );
  }
  if (expiresAt > now + MAX_CONSENT_DURATION) {
    throw new RangeError(
      `Invalid expiresAt ${
        new Date(Math.min(expiresAt, 8.64e15)).toISOString()
      }: a consent lasts at most five years`,
    );
  }
  return expiresAt;
}

/** Checks the fields every grant has and derives what the contract takes. */
export function checkGrantFields(
  fields: { kind: unknown; purpose: unknown; expiresAt: unknown },
  now: number,
): CheckedGrant {
  const kind = checkKind(fields.kind);
  const purpose = checkPurpose(fields.purpose);
  const expiry = BigInt(Math.floor(checkExpiresAt(fields.expiresAt, now) / 1000));
  return {
    kind,
    purpose,
    expiresAt: Number(expiry) * 1000,
    source: toSourceId(kind),
    purposeId: toPurposeId(purpose),
    expiry,
  };
}

/** Checks an address and returns it checksummed. */
export function checkAddress(what: string, address: unknown): Address {
  if (typeof address !== "string" || !isAddress(address, { strict: false })) {
    throw new TypeError(`Invalid ${what}: expected a 0x-prefixed 20-byte address`);
  }
  return getAddress(address);
}

/** Checks a signed grant's deadline (unix seconds) against the chain's time `chainNow` (seconds). */
export function checkDeadline(deadline: unknown, chainNow: number): bigint {
  if (typeof deadline !== "number" || !Number.isSafeInteger(deadline) || deadline < 0) {
    throw new TypeError("Invalid deadline: expected whole unix seconds");
  }
  if (deadline <= chainNow) {
    throw new RangeError(
      `Invalid deadline ${deadline}: it has passed (the chain's time is ${chainNow}); sign a new grant`,
    );
  }
  if (deadline > chainNow + MAX_GRANT_DEADLINE) {
    throw new RangeError(`Invalid deadline ${deadline}: at most ${MAX_GRANT_DEADLINE} s ahead`);
  }
  return BigInt(deadline);
}

/** EIP-712 typed data of a relayed grant. */
export interface GrantTypedData {
  domain: TypedDataDomain;
  types: typeof consentGrantTypes;
  primaryType: "Grant";
  message: {
    contributor: Address;
    source: Hex;
    purpose: Hex;
    expiry: bigint;
    nonce: bigint;
    deadline: bigint;
  };
}

/** The `Grant` `contributor` signs for the consent contract `consent` on `chainId`. */
export function buildGrantTypedData(params: {
  chainId: number;
  consent: Address;
  contributor: Address;
  source: Hex;
  purposeId: Hex;
  expiry: bigint;
  nonce: bigint;
  deadline: bigint;
}): GrantTypedData {
  return {
    domain: getConsentDomain(params.chainId, params.consent),
    types: consentGrantTypes,
    primaryType: "Grant",
    message: {
      contributor: params.contributor,
      source: params.source,
      purpose: params.purposeId,
      expiry: params.expiry,
      nonce: params.nonce,
      deadline: params.deadline,
    },
  };
}
