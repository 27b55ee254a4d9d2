/**
 * The gossiped announcement: the public summary of a dataset listing, signed
 * by the seller's wallet with EIP-712 and published on the topic of its
 * category (see `topics.ts`). It names the manifest by CID, so the signature
 * also covers everything the manifest says.
 *
 * Wire encoding is DAG-CBOR, like the manifest: one canonical byte form per
 * message (so gossip ids are stable), compact binary, and the same strict
 * decoder. A message is at most {@link MAX_ANNOUNCEMENT_BYTES}.
 *
 * The EIP-712 domain is `{ name: "Kosmos Announcement", version: "1" }` with
 * no `chainId`: an announcement only advertises off-chain content, the same
 * listing may be sold on any chain the node settles on, and every quote and
 * sale binds its chain separately. Replaying an announcement elsewhere
 * republishes exactly what the seller signed, nothing more.
 *
 * ```ts
 * const message = await signAnnouncement(account, body);
 * const bytes = encodeAnnouncement(message);
 * const received = await verifyAnnouncement(decodeAnnouncement(bytes)); // throws unless signed by body.seller
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import { keccak256, recoverTypedDataAddress } from "viem";
import type { LocalAccount } from "viem/accounts";
import { type Address, type ManifestCid, toManifestCid } from "./ids.ts";
import {
  CATEGORIES,
  type Category,
  type Cell,
  checkAddress,
  checkArray,
  checkInteger,
  checkKeys,
  checkObject,
  checkOneOf,
  checkPreview,
  checkPrice,
  checkSchema,
  checkString,
  type Column,
  FieldError,
  MAX_CHUNKS,
  MAX_DESCRIPTION_LENGTH,
  MAX_LICENCE_ID_LENGTH,
  MAX_TIME,
  MAX_TITLE_LENGTH,
} from "./manifest.ts";

export const ANNOUNCEMENT_VERSION = 1;
/** Hard limit on an encoded announcement; larger messages are rejected before decoding. */
export const MAX_ANNOUNCEMENT_BYTES = 64 * 1024;
/** How far in the future a timestamp may be before it is rejected, in ms. */
export const MAX_CLOCK_SKEW = 5 * 60 * 1000;
export const MAX_PROVIDERS = 8;
export const MAX_PEER_ID_LENGTH = 128;

export const ANNOUNCEMENT_DOMAIN = { name: "Kosmos Announcement", version: "1" } as const;

export const ANNOUNCEMENT_TYPES = {
  Announcement: [
    { name: "v", type: "uint8" },
    { name: "manifestCid", type: "string" },
    { name: "title", type: "string" },
    { name: "description", type: "string" },
    { name: "category", type: "string" },
    { name: "price", type: "uint256" },
    { name: "seller", type: "address" },
    { name: "gateway", type: "address" },
    { name: "byteLength", type: "uint64" },
    { name: "rowCount", type: "uint64" },
    { name: "chunkCount", type: "uint32" },
    { name: "schema", type: "Column[]" },
    { name: "previewHash", type: "bytes32" },
    { name: "licence", type: "string" },
    { name: "createdAt", type: "uint64" },
    { name: "timestamp", type: "uint64" },
    { name: "providers", type: "string[]" },
  ],
  Column: [
    { name: "name", type: "string" },
    { name: "type", type: "string" },
  ],
} as const;

/** What the seller signs. */
export interface AnnouncementBody {
  v: 1;
  manifestCid: ManifestCid;
  title: string;
  description: string;
  category: Category;
  /** Decimal string of token base units. */
  price: string;
  seller: Address;
  gateway: Address;
  byteLength: number;
  rowCount: number;
  chunkCount: number;
  schema: Column[];
  /** Signed through `previewHash = keccak256(dag-cbor(preview))`. */
  preview: Cell[][];
  /** Licence id of the manifest; the full text is in the manifest. */
  licence: string;
  /** When the dataset was prepared (the manifest's `createdAt`), ms. */
  createdAt: number;
  /** When this announcement was signed, ms; newer replaces older. */
  timestamp: number;
  /** Peer ids that hold the chunks, the seller's first: a hint, the DHT is the truth. */
  providers: string[];
}

export interface Announcement extends AnnouncementBody {
  /** 65-byte secp256k1 signature, low-s, `0x`-hex. */
  signature: `0x${string}`;
}

export interface ValidateAnnouncementOptions {
  /** Current time in ms. @default Date.now() */
  now?: number;
  /** Largest accepted distance of `timestamp` into the future, ms. @default MAX_CLOCK_SKEW (5 minutes) */
  maxClockSkew?: number;
}

const BODY_KEYS: readonly string[] = [
  ...ANNOUNCEMENT_TYPES.Announcement.map((f) => f.name as string).filter((k) => k !== "previewHash"),
  "preview",
];
/** Half the secp256k1 group order: signatures with a larger s are malleated copies. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

function checkSignature(value: unknown): `0x${string}` {
  if (typeof value !== "string" || !/^0x[0-9a-f]{130}$/.test(value)) {
    throw new FieldError("signature", "must be 0x and 130 lowercase hex digits");
  }
  const s = BigInt("0x" + value.slice(66, 130));
  const v = parseInt(value.slice(130), 16);
  if (s === 0n || s > HALF_N || (v !== 27 && v !== 28)) {
    throw new FieldError("signature", "must be a canonical (low-s) signature");
  }
  return value as `0x${string}`;
}

function checkBody(
  value: unknown,
  options: ValidateAnnouncementOptions,
  allowed: readonly string[],
): AnnouncementBody {
  const a = checkObject(value, "announcement");
  checkKeys(a, allowed, "");
  if (a.v !== ANNOUNCEMENT_VERSION) throw new FieldError("v", `must be ${ANNOUNCEMENT_VERSION}`);
  let manifestCid: ManifestCid;
  try {
    manifestCid = toManifestCid(a.manifestCid);
  } catch {
    throw new FieldError("manifestCid", "must be a manifest CID (CIDv1, dag-cbor, sha2-256, base32)");
  }
  const now = options.now ?? Date.now();
  const skew = options.maxClockSkew ?? MAX_CLOCK_SKEW;
  const schema = checkSchema(a.schema, "schema");
  const body: AnnouncementBody = {
    v: ANNOUNCEMENT_VERSION,
    manifestCid,
    title: checkString(a.title, "title", MAX_TITLE_LENGTH, { min: 1 }),
    description: checkString(a.description, "description", MAX_DESCRIPTION_LENGTH),
    category: checkOneOf(a.category, "category", CATEGORIES),
    price: checkPrice(a.price, "price"),
    seller: checkAddress(a.seller, "seller"),
    gateway: checkAddress(a.gateway, "gateway"),
    byteLength: checkInteger(a.byteLength, "byteLength", 1, Number.MAX_SAFE_INTEGER),
    rowCount: checkInteger(a.rowCount, "rowCount", 0, Number.MAX_SAFE_INTEGER),
    chunkCount: checkInteger(a.chunkCount, "chunkCount", 1, MAX_CHUNKS),
    schema,
    preview: checkPreview(a.preview, "preview", schema.length),
    licence: checkString(a.licence, "licence", MAX_LICENCE_ID_LENGTH, { min: 1 }),
    createdAt: checkInteger(a.createdAt, "createdAt", 0, MAX_TIME),
    timestamp: checkInteger(a.timestamp, "timestamp", 0, MAX_TIME),
    providers: checkArray(a.providers, "providers", MAX_PROVIDERS).map((p, i) => {
      const id = checkString(p, `providers[${i}]`, MAX_PEER_ID_LENGTH, { min: 1 });
      if (!/^[A-Za-z0-9]+$/.test(id)) throw new FieldError(`providers[${i}]`, "must be a peer id");
      return id;
    }),
  };
  if (body.timestamp > now + skew) throw new FieldError("timestamp", `is more than ${skew} ms in the future`);
  if (body.createdAt > body.timestamp) throw new FieldError("createdAt", "must not be after timestamp");
  return body;
}

function rethrow(prefix: string, err: unknown): never {
  if (err instanceof FieldError) throw new TypeError(`${prefix}: ${err.message}`);
  throw err;
}

function subject(value: unknown): string {
  const cid = (value as { manifestCid?: unknown } | null)?.manifestCid;
  return typeof cid === "string" && cid.length <= 100 ? ` "${cid}"` : "";
}

/**
 * Checks schema, sizes and clock skew of a signed announcement (not the
 * signature: see {@link verifyAnnouncement}). Returns a clean copy.
 */
export function validateAnnouncement(
  value: unknown,
  options: ValidateAnnouncementOptions = {},
): Announcement {
  try {
    const body = checkBody(value, options, [...BODY_KEYS, "signature"]);
    return { ...body, signature: checkSignature((value as Record<string, unknown>).signature) };
  } catch (err) {
    rethrow(`Invalid announcement${subject(value)}`, err);
  }
}

/** Checks an unsigned body; see {@link validateAnnouncement}. */
export function validateAnnouncementBody(
  value: unknown,
  options: ValidateAnnouncementOptions = {},
): AnnouncementBody {
  try {
    return checkBody(value, options, BODY_KEYS);
  } catch (err) {
    rethrow(`Invalid announcement${subject(value)}`, err);
  }
}

/** The EIP-712 message for `body`, exactly as signed and verified. */
export function toTypedMessage(body: AnnouncementBody) {
  return {
    v: body.v,
    manifestCid: body.manifestCid,
    title: body.title,
    description: body.description,
    category: body.category,
    price: BigInt(body.price),
    seller: body.seller,
    gateway: body.gateway,
    byteLength: BigInt(body.byteLength),
    rowCount: BigInt(body.rowCount),
    chunkCount: body.chunkCount,
    schema: body.schema.map((c) => ({ name: c.name, type: c.type })),
    previewHash: keccak256(dagCbor.encode(body.preview)),
    licence: body.licence,
    createdAt: BigInt(body.createdAt),
    timestamp: BigInt(body.timestamp),
    providers: body.providers,
  };
}

/** The part of an account this module needs: a local (private key) account or any EIP-712 signer. */
export type AnnouncementSigner = Pick<LocalAccount, "address" | "signTypedData">;

/** Validates `body` and signs it with the seller's wallet; `account` must be `body.seller`. */
export async function signAnnouncement(
  account: AnnouncementSigner,
  body: AnnouncementBody,
  options: ValidateAnnouncementOptions = {},
): Promise<Announcement> {
  const clean = validateAnnouncementBody(body, options);
  if (account.address.toLowerCase() !== clean.seller.toLowerCase()) {
    throw new TypeError(
      `Cannot sign announcement "${clean.manifestCid}": account ${account.address} is not the seller ${clean.seller}`,
    );
  }
  const signature = await account.signTypedData({
    domain: ANNOUNCEMENT_DOMAIN,
    types: ANNOUNCEMENT_TYPES,
    primaryType: "Announcement",
    message: toTypedMessage(clean),
  });
  return validateAnnouncement({ ...clean, signature: signature.toLowerCase() }, options);
}

/**
 * Validates `message` and checks that its signature recovers to `seller`.
 * Returns the clean announcement or throws a `TypeError` saying why not.
 */
export async function verifyAnnouncement(
  message: unknown,
  options: ValidateAnnouncementOptions = {},
): Promise<Announcement> {
  const announcement = validateAnnouncement(message, options);
  let signer: string;
  try {
    signer = await recoverTypedDataAddress({
      domain: ANNOUNCEMENT_DOMAIN,
      types: ANNOUNCEMENT_TYPES,
      primaryType: "Announcement",
      message: toTypedMessage(announcement),
      signature: announcement.signature,
    });
  } catch (cause) {
    throw new TypeError(`Cannot verify announcement "${announcement.manifestCid}": bad signature`, { cause });
  }
  if (signer !== announcement.seller) {
    throw new TypeError(
      `Cannot verify announcement "${announcement.manifestCid}": signed by ${signer}, not the seller ${announcement.seller}`,
    );
  }
  return announcement;
}

/** Validates (not verifies) and encodes as DAG-CBOR; throws a `RangeError` over {@link MAX_ANNOUNCEMENT_BYTES}. */
export function encodeAnnouncement(
  message: Announcement,
  options: ValidateAnnouncementOptions = {},
): Uint8Array {
  const clean = validateAnnouncement(message, options);
  const bytes = dagCbor.encode(clean);
  if (bytes.byteLength > MAX_ANNOUNCEMENT_BYTES) {
    throw new RangeError(
      `Cannot encode announcement "${clean.manifestCid}": ${bytes.byteLength} bytes is over ${MAX_ANNOUNCEMENT_BYTES}`,
    );
  }
  return bytes;
}

/**
 * Decodes and validates announcement bytes (size first, then DAG-CBOR, then
 * fields and clock skew). The signature is checked by {@link verifyAnnouncement}.
 */
export function decodeAnnouncement(
  bytes: Uint8Array,
  options: ValidateAnnouncementOptions = {},
): Announcement {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("Cannot decode announcement: expected bytes");
  if (bytes.byteLength > MAX_ANNOUNCEMENT_BYTES) {
    throw new TypeError(
      `Cannot decode announcement: ${bytes.byteLength} bytes is over ${MAX_ANNOUNCEMENT_BYTES}`,
    );
  }
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch (cause) {
    throw new TypeError(`Cannot decode announcement: not DAG-CBOR (${(cause as Error).message})`, { cause });
  }
  try {
    const body = checkBody(value, options, [...BODY_KEYS, "signature"]);
    return { ...body, signature: checkSignature((value as Record<string, unknown>).signature) };
  } catch (err) {
    rethrow(`Cannot decode announcement${subject(value)}`, err);
  }
}
