/**
 * Pools (data unions): the terms an operator signs, their hash (`KosmosPools.createPool(termsHash, …)`),
 * the pool announcement gossiped on {@link POOLS_TOPIC}, and the wire format of {@link POOL_PROTOCOL}
 * (join, leave, contribute, and the announcements a peer knows).
 *
 * - Terms: `{ kind, purpose, title, description, price, licence, k, operatorFeeBps, operator, createdAt }`;
 *   `termsHash = keccak256(UTF-8 of the canonical JSON, keys sorted)` ({@link computeTermsHash}).
 * - Announcement: `{ v, poolId, terms, termsHash, peerId, timestamp, signature }`, JSON of at most
 *   {@link MAX_POOL_ANNOUNCEMENT_BYTES}; the EIP-712 signature (domain `{ name: "Kosmos Pool", version: "1" }`)
 *   by `terms.operator` covers poolId, termsHash, operator, peerId and timestamp, and the terms through their hash.
 * - Join: the contributor's wallet signs `PoolJoin { poolId, consentId, peerId }` where `peerId` is its own
 *   node, so nobody joins for someone else and the operator knows whom to ask for rows.
 * - The frames of {@link POOL_PROTOCOL} are in `pool_messages.ts`: one length-prefixed JSON message
 *   each way, size-capped before it is read, with exact keys.
 *
 *     request:  { v: 1, type: "join", poolId, contributor, consentId, signature }
 *             | { v: 1, type: "leave", poolId, contributor }
 *             | { v: 1, type: "contribute", poolId, version }
 *             | { v: 1, type: "announcements" }
 *     response: { v: 1, ok: true } | { v: 1, error: { code, message } }
 *             | { v: 1, contribution: { columns, rows, count, report } }
 *             | { v: 1, announcements: [PoolAnnouncement…] }
 *
 * ```ts
 * const terms = checkPoolTerms({ kind: "spotify", purpose: "music research", … });
 * const signed = await signPoolAnnouncement(account, { v: 1, poolId: "1", terms, termsHash: computeTermsHash(terms), peerId, timestamp: Date.now() });
 * const pool = await verifyPoolAnnouncement(decodePoolAnnouncement(encodePoolAnnouncement(signed)));
 * ```
 */
import { type Address, getAddress, type Hex, keccak256, recoverTypedDataAddress, toBytes } from "viem";
import type { LocalAccount } from "viem/accounts";
import { MAX_DESCRIPTION_LENGTH, MAX_LICENCE_ID_LENGTH, MAX_TIME, MAX_TITLE_LENGTH } from "./manifest.ts";
import {
  address,
  exactKeys,
  fail,
  hex,
  integer,
  type Obj,
  parseJson,
  peerId,
  PoolProtocolError,
  signature,
  text,
  uint,
} from "./pool_fields.ts";
import { SOURCE_KINDS, type SourceKind } from "./sources.ts";

/** Gossip topic of pool announcements. */
export const POOLS_TOPIC = "/kosmos/pools/1";
/** Join, leave, contribute, and the announcements a peer knows. */
export const POOL_PROTOCOL = "/kosmos/pool/1.0.0";
export const POOL_VERSION = 1;

export const MAX_POOL_ANNOUNCEMENT_BYTES = 8 * 1024;
export const MAX_POOL_REQUEST_BYTES = 1024;
/** Largest contribution a member sends (rows of one kind, anonymized). */
export const MAX_POOL_CONTRIBUTION_BYTES = 16 * 1024 * 1024;
/** Announcements in one `announcements` answer. */
export const MAX_POOL_ANNOUNCEMENTS = 64;
export const MAX_POOL_RESPONSE_BYTES = MAX_POOL_CONTRIBUTION_BYTES + 64 * 1024;
export const MAX_POOL_FEE_BPS = 5000;
export const MIN_POOL_K = 2;
export const MAX_POOL_K = 1000;
export const MIN_POOL_PURPOSE_LENGTH = 3;
export const MAX_POOL_PURPOSE_LENGTH = 200;
/** Columns and cell length of a contribution. */
export const MAX_CONTRIBUTION_COLUMNS = 64;
export const MAX_CONTRIBUTION_CELL_LENGTH = 1024;
export const MAX_CONTRIBUTION_ROWS = 1_000_000;
/** How far in the future an announcement's timestamp may be, ms. */
export const MAX_POOL_CLOCK_SKEW = 5 * 60 * 1000;

export const POOL_DOMAIN = { name: "Kosmos Pool", version: "1" } as const;

export const POOL_TYPES = {
  PoolAnnouncement: [
    { name: "v", type: "uint8" },
    { name: "poolId", type: "uint256" },
    { name: "termsHash", type: "bytes32" },
    { name: "operator", type: "address" },
    { name: "peerId", type: "string" },
    { name: "timestamp", type: "uint64" },
  ],
} as const;

export const POOL_JOIN_TYPES = {
  PoolJoin: [
    { name: "poolId", type: "uint256" },
    { name: "consentId", type: "uint256" },
    { name: "peerId", type: "string" },
  ],
} as const;

/** What an operator offers: one kind of source, for one purpose, at one k and fee. */
export interface PoolTerms {
  kind: SourceKind;
  purpose: string;
  title: string;
  description: string;
  /** Decimal string of token base units: the price of each version. */
  price: string;
  licence: string;
  k: number;
  /** The operator's share of each sale's seller share, basis points (0..5000). */
  operatorFeeBps: number;
  operator: Address;
  /** ms since the epoch. */
  createdAt: number;
}

export interface PoolAnnouncementBody {
  v: 1;
  /** `KosmosPools` pool id, decimal. */
  poolId: string;
  terms: PoolTerms;
  termsHash: Hex;
  /** The operator's node, which members join over {@link POOL_PROTOCOL}. */
  peerId: string;
  /** ms since the epoch; newer replaces older. */
  timestamp: number;
}

export interface PoolAnnouncement extends PoolAnnouncementBody {
  signature: Hex;
}

const TERMS_KEYS = [
  "kind",
  "purpose",
  "title",
  "description",
  "price",
  "licence",
  "k",
  "operatorFeeBps",
  "operator",
  "createdAt",
] as const;

/** Checks terms field by field; returns a clean copy or throws a {@link PoolProtocolError} naming the field. */
export function checkPoolTerms(value: unknown): PoolTerms {
  const t = exactKeys(value, TERMS_KEYS, "pool terms");
  if (!(SOURCE_KINDS as readonly unknown[]).includes(t.kind)) {
    fail(`Invalid terms.kind: must be one of ${SOURCE_KINDS.join(", ")}`);
  }
  const purpose = text(t.purpose, "terms.purpose", MIN_POOL_PURPOSE_LENGTH, MAX_POOL_PURPOSE_LENGTH);
  if (purpose.trim() !== purpose) fail("Invalid terms.purpose: must not start or end with a space");
  const title = text(t.title, "terms.title", 1, MAX_TITLE_LENGTH);
  const licence = text(t.licence, "terms.licence", 1, MAX_LICENCE_ID_LENGTH);
  if (/\s/.test(licence)) fail("Invalid terms.licence: must be a licence id without spaces");
  return {
    kind: t.kind as SourceKind,
    purpose,
    title,
    description: text(t.description, "terms.description", 0, MAX_DESCRIPTION_LENGTH, false),
    price: uint(t.price, "terms.price"),
    licence,
    k: integer(t.k, "terms.k", MIN_POOL_K, MAX_POOL_K),
    operatorFeeBps: integer(t.operatorFeeBps, "terms.operatorFeeBps", 0, MAX_POOL_FEE_BPS),
    operator: address(t.operator, "terms.operator"),
    createdAt: integer(t.createdAt, "terms.createdAt", 0, MAX_TIME),
  };
}

/** The canonical JSON of terms: keys sorted, no spaces. */
export function canonicalTermsJson(terms: PoolTerms): string {
  const clean = checkPoolTerms(terms);
  const sorted = Object.fromEntries(Object.entries(clean).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify(sorted);
}

/** `keccak256` of the UTF-8 of {@link canonicalTermsJson}: the hash `createPool` records. */
export function computeTermsHash(terms: PoolTerms): Hex {
  return keccak256(toBytes(canonicalTermsJson(terms)));
}

const ANNOUNCEMENT_KEYS = ["v", "poolId", "terms", "termsHash", "peerId", "timestamp"] as const;

function checkAnnouncementBody(value: Obj, now: number, skew: number): PoolAnnouncementBody {
  if (value.v !== POOL_VERSION) fail(`Invalid pool announcement: v must be ${POOL_VERSION}`);
  const body: PoolAnnouncementBody = {
    v: POOL_VERSION,
    poolId: uint(value.poolId, "poolId", { positive: true }),
    terms: checkPoolTerms(value.terms),
    termsHash: hex(value.termsHash, 32, "termsHash"),
    peerId: peerId(value.peerId, "peerId"),
    timestamp: integer(value.timestamp, "timestamp", 0, MAX_TIME),
  };
  if (body.timestamp > now + skew) fail("Invalid pool announcement: timestamp is in the future");
  if (computeTermsHash(body.terms) !== body.termsHash) {
    fail(`Invalid pool announcement of pool ${body.poolId}: termsHash is not the hash of its terms`);
  }
  return body;
}

export interface PoolAnnouncementOptions {
  /** @default Date.now() */
  now?: number;
  /** @default MAX_POOL_CLOCK_SKEW */
  maxClockSkew?: number;
}

/** Checks an announcement's fields and that its termsHash is its terms' (not the signature). */
export function validatePoolAnnouncement(
  value: unknown,
  options: PoolAnnouncementOptions = {},
): PoolAnnouncement {
  const a = exactKeys(value, [...ANNOUNCEMENT_KEYS, "signature"], "pool announcement");
  const body = checkAnnouncementBody(
    a,
    options.now ?? Date.now(),
    options.maxClockSkew ?? MAX_POOL_CLOCK_SKEW,
  );
  return { ...body, signature: signature(a.signature, "signature") };
}

function typedAnnouncement(body: PoolAnnouncementBody) {
  return {
    domain: POOL_DOMAIN,
    types: POOL_TYPES,
    primaryType: "PoolAnnouncement" as const,
    message: {
      v: body.v,
      poolId: BigInt(body.poolId),
      termsHash: body.termsHash,
      operator: body.terms.operator,
      peerId: body.peerId,
      timestamp: BigInt(body.timestamp),
    },
  };
}

/** Signs with the operator's wallet; `account` must be `terms.operator`. */
export async function signPoolAnnouncement(
  account: Pick<LocalAccount, "address" | "signTypedData">,
  body: PoolAnnouncementBody,
  options: PoolAnnouncementOptions = {},
): Promise<PoolAnnouncement> {
  const clean = checkAnnouncementBody(
    exactKeys(body, ANNOUNCEMENT_KEYS, "pool announcement"),
    options.now ?? Date.now(),
    options.maxClockSkew ?? MAX_POOL_CLOCK_SKEW,
  );
  if (getAddress(account.address) !== clean.terms.operator) {
    throw new TypeError(`Cannot sign pool ${clean.poolId}: ${account.address} is not its operator`);
  }
  const sig = await account.signTypedData(typedAnnouncement(clean));
  return validatePoolAnnouncement({ ...clean, signature: sig.toLowerCase() }, options);
}

/** Validates and checks that the signature recovers to the operator; throws a {@link PoolProtocolError}. */
export async function verifyPoolAnnouncement(
  value: unknown,
  options: PoolAnnouncementOptions = {},
): Promise<PoolAnnouncement> {
  const a = validatePoolAnnouncement(value, options);
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({ ...typedAnnouncement(a), signature: a.signature });
  } catch (cause) {
    throw new PoolProtocolError(`Cannot verify pool announcement ${a.poolId}: bad signature`, { cause });
  }
  if (signer !== a.terms.operator) {
    fail(
      `Cannot verify pool announcement ${a.poolId}: signed by ${signer}, not the operator ${a.terms.operator}`,
    );
  }
  return a;
}

export function encodePoolAnnouncement(a: PoolAnnouncement): Uint8Array {
  const bytes = new TextEncoder().encode(
    JSON.stringify(validatePoolAnnouncement(a, { maxClockSkew: Infinity })),
  );
  if (bytes.byteLength > MAX_POOL_ANNOUNCEMENT_BYTES) {
    throw new RangeError(
      `Cannot encode pool announcement ${a.poolId}: over ${MAX_POOL_ANNOUNCEMENT_BYTES} bytes`,
    );
  }
  return bytes;
}

/** Decodes and validates (not verifies) an announcement's bytes. */
export function decodePoolAnnouncement(
  bytes: Uint8Array,
  options: PoolAnnouncementOptions = {},
): PoolAnnouncement {
  return validatePoolAnnouncement(
    parseJson(bytes, MAX_POOL_ANNOUNCEMENT_BYTES, "pool announcement"),
    options,
  );
}

/** The EIP-712 typed data a contributor's wallet signs to join `poolId` with `consentId` from node `peerId`. */
export function poolJoinTypedData(params: { poolId: bigint; consentId: bigint; peerId: string }) {
  return {
    domain: POOL_DOMAIN,
    types: POOL_JOIN_TYPES,
    primaryType: "PoolJoin" as const,
    message: { poolId: params.poolId, consentId: params.consentId, peerId: params.peerId },
  };
}

/** Whether `signature` is `contributor`'s join of `poolId` with `consentId` from node `peerId`. */
export async function verifyPoolJoin(
  params: { poolId: bigint; consentId: bigint; peerId: string; contributor: Address; signature: Hex },
): Promise<boolean> {
  try {
    const signer = await recoverTypedDataAddress({
      ...poolJoinTypedData(params),
      signature: params.signature,
    });
    return signer === getAddress(params.contributor);
  } catch {
    return false;
  }
}

export { MAX_POOL_PEER_ID_LENGTH, PoolProtocolError } from "./pool_fields.ts";
// The protocol's frames; `pool_messages.ts` reads this module's constants only when called.
export * from "./pool_messages.ts";
