/**
 * The dataset manifest: everything a buyer needs to fetch, check and decrypt
 * a dataset, and everything a catalog shows about it. Versioned (`v: 1`),
 * DAG-CBOR encoded and addressed by its own CIDv1 (dag-cbor, sha2-256), so the
 * manifest CID is the listing id and the seller's signed announcement of that
 * CID signs the manifest with it.
 *
 * ```ts
 * const { bytes, cid } = await encodeManifest(manifest);
 * const { manifest: same } = await decodeManifest(bytes, cid); // validates and checks the CID
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { type Address, DAG_CBOR_CODE, type ManifestCid, RAW_CODE, SHA2_256_CODE, toAddress } from "./ids.ts";
import { type Hash, isHash } from "./merkle.ts";
import {
  checkArray,
  checkInteger,
  checkKeys,
  checkObject,
  checkOneOf,
  checkString,
  FieldError,
} from "./fields.ts";

export {
  checkArray,
  checkInteger,
  checkKeys,
  checkObject,
  checkOneOf,
  checkString,
  FieldError,
} from "./fields.ts";

export const MANIFEST_VERSION = 1;

/** Listing categories; each has its own announcement topic. */
export const CATEGORIES = [
  "analytics",
  "sensors",
  "mobility",
  "energy",
  "environment",
  "health",
  "finance",
  "media",
  "commerce",
  "social",
  "other",
] as const;
export type Category = typeof CATEGORIES[number];

export const COLUMN_TYPES = ["integer", "number", "boolean", "string", "timestamp"] as const;
export type ColumnType = typeof COLUMN_TYPES[number];

/** Plaintext formats a dataset can have. */
export const FORMATS = ["csv", "ndjson", "json"] as const;
export type DatasetFormat = typeof FORMATS[number];

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_TITLE_LENGTH = 200;
export const MAX_DESCRIPTION_LENGTH = 4000;
export const MAX_LICENCE_ID_LENGTH = 64;
export const MAX_LICENCE_TEXT_LENGTH = 16 * 1024;
export const MAX_CONTENT_TYPE_LENGTH = 100;
export const MAX_FILENAME_LENGTH = 255;
export const MAX_COLUMNS = 256;
export const MAX_COLUMN_NAME_LENGTH = 128;
export const MAX_PREVIEW_ROWS = 10;
export const MAX_CELL_LENGTH = 256;
export const MAX_CONSENT_REFS = 256;
export const MAX_CONSENT_REF_LENGTH = 256;
/** 64 GiB at the default 1 MiB chunk size; keeps a manifest under ~2.5 MiB. */
export const MAX_CHUNKS = 65_536;
export const MIN_CHUNK_SIZE = 1024;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** Largest uint256, the bound of a price in token base units. */
export const MAX_UINT256 = 2n ** 256n - 1n;
/** ±8.64e15 ms, the range of a JavaScript `Date`. */
export const MAX_TIME = 8.64e15;

/** A preview cell: identifying values are replaced by {@link MASK}. */
export type Cell = string | number | boolean | null;
export const MASK = "•••";

export interface Column {
  name: string;
  type: ColumnType;
}

export interface Licence {
  /** Short id, e.g. `"kosmos-research-1"` or an SPDX-like name. */
  id: string;
  /** Full terms, when they are not a well-known id. */
  text?: string;
}

export interface PrivacyReport {
  /** k of the k-anonymity the seller applied. */
  k?: number;
  /** ε of the differential-privacy noise the seller applied, per {@link PrivacyReport.unit} when it is given. */
  epsilon?: number;
  /**
   * Whom ε protects: `"person"`, anyone in the data over the whole release (statistics releases).
   * Absent in older manifests and in reports without noise.
   */
  unit?: PrivacyUnit;
  /** Days the release covers: a person present on all of them is still covered by ε. */
  days?: number;
  /** δ of the noise: the chance the ε guarantee does not hold (0 when it always does). */
  delta?: number;
  /** Rows left out because their equivalence class had fewer than k members. */
  suppressed?: number;
  /** Fields dropped as direct identifiers. */
  dropped?: string[];
  /** How each quasi-identifier was coarsened, field → level (`"hour"`, `"region 1°"`, `"range 10"`…). */
  generalised?: Record<string, string>;
}

/** Most fields a privacy report names (dropped or generalised). */
export const MAX_PRIVACY_FIELDS = 64;
/** The privacy units a report may state. */
export const PRIVACY_UNITS = ["person"] as const;
export type PrivacyUnit = typeof PRIVACY_UNITS[number];
/** Most days a privacy report's release may cover. */
export const MAX_PRIVACY_DAYS = 366;
/** Largest δ a privacy report may state. */
export const MAX_PRIVACY_DELTA = 1e-3;

export interface TimeRange {
  /** Earliest timestamp in the data, ms since the epoch. */
  from?: number;
  /** Latest timestamp in the data, ms since the epoch. */
  to?: number;
}

export interface Manifest {
  v: 1;
  title: string;
  description: string;
  category: Category;
  /** ms since the epoch. */
  createdAt: number;
  seller: Address;
  /** Gateway operator that ingested or vouches for the data (10 % of sales). */
  gateway: Address;
  /** Decimal string of token base units. */
  price: string;
  licence: Licence;
  format: DatasetFormat;
  contentType: string;
  filename?: string;
  chunkSize: number;
  /** Plaintext length in bytes. */
  byteLength: number;
  /** Ciphertext chunk CIDs (CIDv1, raw, sha2-256) in order. */
  chunks: CID[];
  /** {@link merkleRoot} over `keccak256(plaintext chunk)` leaves. */
  merkleRoot: Hash;
  /** `keccak256(DEK)`, checked by the buyer and the escrow contract. */
  dekCommit: Hash;
  rowCount: number;
  schema: Column[];
  timeRange?: TimeRange;
  /** A few rows, cells aligned with `schema`, identifying columns masked. */
  preview: Cell[][];
  privacy: PrivacyReport;
  /** References to consent records (e.g. consent NFT ids); may be empty. */
  consent: string[];
}

export function checkPrice(value: unknown, field: string): string {
  if (typeof value !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(value) || BigInt(value) > MAX_UINT256) {
    throw new FieldError(field, "must be a decimal string of token base units (uint256)");
  }
  return value;
}

export function checkAddress(value: unknown, field: string): Address {
  let address: Address;
  try {
    address = toAddress(value);
  } catch {
    throw new FieldError(field, "must be an EVM address");
  }
  if (address !== value) throw new FieldError(field, "must be an EIP-55 checksummed address");
  return address;
}

export function checkHash(value: unknown, field: string): Hash {
  if (!isHash(value)) throw new FieldError(field, "must be 0x and 64 lowercase hex digits");
  return value;
}

export function checkCell(value: unknown, field: string): Cell {
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new FieldError(field, "must be a finite number");
    return value;
  }
  if (typeof value === "string") return checkString(value, field, MAX_CELL_LENGTH);
  throw new FieldError(field, "must be a string, number, boolean or null");
}

export function checkSchema(value: unknown, field: string): Column[] {
  const columns = checkArray(value, field, MAX_COLUMNS).map((raw, i) => {
    const f = `${field}[${i}]`;
    const column = checkObject(raw, f);
    checkKeys(column, ["name", "type"], f);
    return {
      name: checkString(column.name, `${f}.name`, MAX_COLUMN_NAME_LENGTH, { min: 1 }),
      type: checkOneOf(column.type, `${f}.type`, COLUMN_TYPES),
    };
  });
  const names = new Set(columns.map((c) => c.name));
  if (names.size !== columns.length) throw new FieldError(field, "must not repeat a column name");
  return columns;
}

export function checkPreview(value: unknown, field: string, columns: number): Cell[][] {
  return checkArray(value, field, MAX_PREVIEW_ROWS).map((raw, r) => {
    const row = checkArray(raw, `${field}[${r}]`, MAX_COLUMNS);
    if (row.length !== columns) {
      throw new FieldError(`${field}[${r}]`, `must have ${columns} cells, one per column`);
    }
    return row.map((cell, c) => checkCell(cell, `${field}[${r}][${c}]`));
  });
}

function checkChunkCid(value: unknown, field: string): CID {
  const cid = CID.asCID(value);
  if (
    cid === null || cid.version !== 1 || cid.code !== RAW_CODE || cid.multihash.code !== SHA2_256_CODE ||
    cid.multihash.size !== 32
  ) {
    throw new FieldError(field, "must be a CIDv1 link (raw, sha2-256)");
  }
  return cid;
}

function checkFilename(value: unknown, field: string): string {
  const name = checkString(value, field, MAX_FILENAME_LENGTH, { min: 1 });
  // deno-lint-ignore no-control-regex
  if (/[\/\\\x00-\x1f]/.test(name) || name === "." || name === "..") {
    throw new FieldError(field, "must be a plain file name");
  }
  return name;
}

const MANIFEST_KEYS = [
  "v",
  "title",
  "description",
  "category",
  "createdAt",
  "seller",
  "gateway",
  "price",
  "licence",
  "format",
  "contentType",
  "filename",
  "chunkSize",
  "byteLength",
  "chunks",
  "merkleRoot",
  "dekCommit",
  "rowCount",
  "schema",
  "timeRange",
  "preview",
  "privacy",
  "consent",
] as const;

function checkManifest(value: unknown): Manifest {
  const m = checkObject(value, "manifest");
  checkKeys(m, MANIFEST_KEYS, "");
  if (m.v !== MANIFEST_VERSION) throw new FieldError("v", `must be ${MANIFEST_VERSION}`);

  const licenceIn = checkObject(m.licence, "licence");
  checkKeys(licenceIn, ["id", "text"], "licence");
  const licence: Licence = { id: checkString(licenceIn.id, "licence.id", MAX_LICENCE_ID_LENGTH, { min: 1 }) };
  if (licenceIn.text !== undefined) {
    licence.text = checkString(licenceIn.text, "licence.text", MAX_LICENCE_TEXT_LENGTH, { min: 1 });
  }

  const chunkSize = checkInteger(m.chunkSize, "chunkSize", MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  const byteLength = checkInteger(m.byteLength, "byteLength", 1, Number.MAX_SAFE_INTEGER);
  const chunks = checkArray(m.chunks, "chunks", MAX_CHUNKS, { min: 1 }).map((c, i) =>
    checkChunkCid(c, `chunks[${i}]`)
  );
  if (chunks.length !== Math.ceil(byteLength / chunkSize)) {
    throw new FieldError(
      "chunks",
      `must have ceil(byteLength / chunkSize) = ${Math.ceil(byteLength / chunkSize)} entries`,
    );
  }
  const schema = checkSchema(m.schema, "schema");

  const manifest: Manifest = {
    v: MANIFEST_VERSION,
    title: checkString(m.title, "title", MAX_TITLE_LENGTH, { min: 1 }),
    description: checkString(m.description, "description", MAX_DESCRIPTION_LENGTH),
    category: checkOneOf(m.category, "category", CATEGORIES),
    createdAt: checkInteger(m.createdAt, "createdAt", 0, MAX_TIME),
    seller: checkAddress(m.seller, "seller"),
    gateway: checkAddress(m.gateway, "gateway"),
    price: checkPrice(m.price, "price"),
    licence,
    format: checkOneOf(m.format, "format", FORMATS),
    contentType: checkString(m.contentType, "contentType", MAX_CONTENT_TYPE_LENGTH, { min: 1 }),
    chunkSize,
    byteLength,
    chunks,
    merkleRoot: checkHash(m.merkleRoot, "merkleRoot"),
    dekCommit: checkHash(m.dekCommit, "dekCommit"),
    rowCount: checkInteger(m.rowCount, "rowCount", 0, Number.MAX_SAFE_INTEGER),
    schema,
    preview: checkPreview(m.preview, "preview", schema.length),
    privacy: {},
    consent: checkArray(m.consent, "consent", MAX_CONSENT_REFS).map((c, i) =>
      checkString(c, `consent[${i}]`, MAX_CONSENT_REF_LENGTH, { min: 1 })
    ),
  };
  if (m.filename !== undefined) manifest.filename = checkFilename(m.filename, "filename");

  if (m.timeRange !== undefined) {
    const range = checkObject(m.timeRange, "timeRange");
    checkKeys(range, ["from", "to"], "timeRange");
    manifest.timeRange = {};
    if (range.from !== undefined) {
      manifest.timeRange.from = checkInteger(range.from, "timeRange.from", -MAX_TIME, MAX_TIME);
    }
    if (range.to !== undefined) {
      manifest.timeRange.to = checkInteger(range.to, "timeRange.to", -MAX_TIME, MAX_TIME);
    }
    const { from, to } = manifest.timeRange;
    if (from !== undefined && to !== undefined && from > to) {
      throw new FieldError("timeRange", "must have from ≤ to");
    }
  }

  const privacy = checkObject(m.privacy, "privacy");
  checkKeys(
    privacy,
    ["k", "epsilon", "unit", "days", "delta", "suppressed", "dropped", "generalised"],
    "privacy",
  );
  if (privacy.k !== undefined) manifest.privacy.k = checkInteger(privacy.k, "privacy.k", 1, 1_000_000_000);
  if (privacy.epsilon !== undefined) {
    if (typeof privacy.epsilon !== "number" || !Number.isFinite(privacy.epsilon) || privacy.epsilon <= 0) {
      throw new FieldError("privacy.epsilon", "must be a positive finite number");
    }
    manifest.privacy.epsilon = privacy.epsilon;
  }
  if (privacy.unit !== undefined) {
    if (!(PRIVACY_UNITS as readonly unknown[]).includes(privacy.unit)) {
      throw new FieldError("privacy.unit", `must be one of ${PRIVACY_UNITS.join(", ")}`);
    }
    manifest.privacy.unit = privacy.unit as PrivacyUnit;
  }
  if (privacy.days !== undefined) {
    manifest.privacy.days = checkInteger(privacy.days, "privacy.days", 1, MAX_PRIVACY_DAYS);
  }
  if (privacy.delta !== undefined) {
    if (
      typeof privacy.delta !== "number" || !Number.isFinite(privacy.delta) || privacy.delta < 0 ||
      privacy.delta > MAX_PRIVACY_DELTA
    ) {
      throw new FieldError("privacy.delta", `must be a number from 0 to ${MAX_PRIVACY_DELTA}`);
    }
    manifest.privacy.delta = privacy.delta;
  }
  if (privacy.suppressed !== undefined) {
    manifest.privacy.suppressed = checkInteger(
      privacy.suppressed,
      "privacy.suppressed",
      0,
      Number.MAX_SAFE_INTEGER,
    );
  }
  if (privacy.dropped !== undefined) {
    manifest.privacy.dropped = checkArray(privacy.dropped, "privacy.dropped", MAX_PRIVACY_FIELDS).map((
      f,
      i,
    ) => checkString(f, `privacy.dropped[${i}]`, MAX_COLUMN_NAME_LENGTH, { min: 1 }));
  }
  if (privacy.generalised !== undefined) {
    const generalised = checkObject(privacy.generalised, "privacy.generalised");
    const entries = Object.entries(generalised);
    if (entries.length > MAX_PRIVACY_FIELDS) {
      throw new FieldError("privacy.generalised", `must name at most ${MAX_PRIVACY_FIELDS} fields`);
    }
    manifest.privacy.generalised = Object.fromEntries(entries.map(([field, level]) => {
      checkString(field, "privacy.generalised field", MAX_COLUMN_NAME_LENGTH, { min: 1 });
      return [field, checkString(level, `privacy.generalised.${field}`, 40, { min: 1 })];
    }));
  }
  return manifest;
}

/**
 * Checks that `value` is a well-formed version 1 manifest and returns a clean
 * copy (absent optional fields have no key). Throws a `TypeError` naming the
 * first bad field.
 */
export function validateManifest(value: unknown): Manifest {
  try {
    return checkManifest(value);
  } catch (err) {
    if (err instanceof FieldError) throw new TypeError(`Invalid manifest: ${err.message}`);
    throw err;
  }
}

export interface EncodedManifest {
  bytes: Uint8Array;
  cid: CID;
  manifestCid: ManifestCid;
}

async function cidOf(bytes: Uint8Array): Promise<CID> {
  return CID.createV1(DAG_CBOR_CODE, await sha256.digest(bytes));
}

/** Validates and encodes `manifest` as DAG-CBOR, with its CID. */
export async function encodeManifest(manifest: Manifest): Promise<EncodedManifest> {
  const bytes = dagCbor.encode(validateManifest(manifest));
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new RangeError(`Cannot encode manifest: ${bytes.byteLength} bytes is over ${MAX_MANIFEST_BYTES}`);
  }
  const cid = await cidOf(bytes);
  return { bytes, cid, manifestCid: cid.toString() as ManifestCid };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Decodes and validates manifest bytes. With `expectedCid`, the bytes must
 * hash to it. The bytes must also be the canonical encoding of what they
 * decode to, so one manifest has exactly one CID.
 */
export async function decodeManifest(
  bytes: Uint8Array,
  expectedCid?: CID | string,
): Promise<EncodedManifest & { manifest: Manifest }> {
  const label = expectedCid === undefined ? "" : ` "${expectedCid.toString()}"`;
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`Cannot decode manifest${label}: expected bytes`);
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new TypeError(
      `Cannot decode manifest${label}: ${bytes.byteLength} bytes is over ${MAX_MANIFEST_BYTES}`,
    );
  }
  const cid = await cidOf(bytes);
  if (expectedCid !== undefined && cid.toString() !== expectedCid.toString()) {
    throw new TypeError(`Cannot decode manifest${label}: bytes hash to "${cid}"`);
  }
  const name = ` "${cid}"`;
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch (cause) {
    throw new TypeError(`Cannot decode manifest${name}: not DAG-CBOR (${(cause as Error).message})`, {
      cause,
    });
  }
  let manifest: Manifest;
  try {
    manifest = checkManifest(value);
  } catch (err) {
    if (err instanceof FieldError) throw new TypeError(`Cannot decode manifest${name}: ${err.message}`);
    throw err;
  }
  if (!sameBytes(dagCbor.encode(manifest), bytes)) {
    throw new TypeError(`Cannot decode manifest${name}: not in canonical DAG-CBOR form`);
  }
  return { manifest, bytes, cid, manifestCid: cid.toString() as ManifestCid };
}
