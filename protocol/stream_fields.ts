/**
 * The field checks, constants and small helpers every stream module shares (`streams.ts`,
 * `stream_readings.ts`, `stream_messages.ts`): each check throws a `FieldError` naming the field, and
 * {@link wrap} turns it into a {@link StreamProtocolError}. Also the reading line format: the canonical JSON
 * `{"sensorId":…,"ts":…,"values":{…keys sorted}}` used for signatures, live batches and epoch files.
 *
 * ```ts
 * const schema = wrap("stream", () => checkStreamSchema(value, "schema"));
 * const line = readingLine({ sensorId: "s1", ts: 1, values: { t: 20.5 } });
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import { type Address, type Hex, keccak256, recoverMessageAddress, sha256 } from "viem";
import type { LocalAccount } from "viem/accounts";
import { KosmosError } from "./errors.ts";
import { DAG_CBOR_CODE, RAW_CODE, SHA2_256_CODE } from "./ids.ts";
import { checkArray, checkKeys, checkObject, FieldError } from "./manifest.ts";

export const STREAM_VERSION = 1;
/** Largest epoch number accepted on the wire. */
export const MAX_EPOCH = 2 ** 48;
export const MAX_EPOCH_SEALED_BYTES = 2048;

export const MAX_STREAM_MANIFEST_BYTES = 128 * 1024;
export const MAX_STREAM_SENSORS = 256;
export const MAX_STREAM_COLUMNS = 64;
export const MAX_SENSOR_LABEL_LENGTH = 200;
export const MIN_EPOCH_SECONDS = 1;
export const MAX_EPOCH_SECONDS = 86_400;
export const DEFAULT_EPOCH_SECONDS = 3600;
/** At most this many epochs in one key sale (a month of hourly epochs). */
export const MAX_SALE_EPOCHS = 744;
/** How far into the future a reading's `ts` may be, ms. */
export const MAX_READING_FUTURE_MS = 5000;
export const MAX_READINGS_PER_BATCH = 5000;
export const MAX_INGEST_BATCH_BYTES = 1024 * 1024;
export const EPOCH_KEY_TAG = "kosmos.stream.epoch";
export const LIVE_AAD_TAG = "kosmos.stream.live";
export const PEER_ID = /^[A-Za-z0-9]{1,128}$/;
/** Column names are plain identifiers (they become SQL columns at the buyer); these are taken. */
export const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
export const RESERVED_COLUMNS = ["sensor_id", "sensorid", "ts", "epoch", "__proto__"];
export const SENSOR_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** A stream message or reading broke the format; the message says which field. */
export class StreamProtocolError extends KosmosError {
  override name = "StreamProtocolError";
}

export interface StreamColumn {
  name: string;
  type: "integer" | "number" | "boolean" | "string";
}
export const STREAM_COLUMN_TYPES = ["integer", "number", "boolean", "string"] as const;
// ---------------------------------------------------------------------------------------------------------
// Field checks (throw FieldError; the public functions wrap it in a StreamProtocolError)

export function wrap<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FieldError || err instanceof TypeError) {
      throw new StreamProtocolError(`Invalid ${what}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

export function checkSensorId(value: unknown, field: string): string {
  if (typeof value !== "string" || !SENSOR_ID.test(value)) {
    throw new FieldError(field, "must be 1 to 128 of A-Z a-z 0-9 . _ : - (starting with a letter or digit)");
  }
  return value;
}

export function checkPeerId(value: unknown, field: string): string {
  if (typeof value !== "string" || !PEER_ID.test(value)) throw new FieldError(field, "must be a peer id");
  return value;
}

/** Lowercase hex of exactly `bytes` bytes. */
export function checkHexBytes(value: unknown, bytes: number, field: string): Hex {
  if (typeof value !== "string" || value.length !== 2 + 2 * bytes || !/^0x[0-9a-f]*$/.test(value)) {
    throw new FieldError(field, `must be 0x and ${2 * bytes} lowercase hex digits`);
  }
  return value as Hex;
}

/** A 65-byte canonical (low-s) secp256k1 signature in lowercase hex. */
export function checkSignature(value: unknown, field = "signature"): Hex {
  const sig = checkHexBytes(value, 65, field);
  const s = BigInt("0x" + sig.slice(66, 130));
  const v = parseInt(sig.slice(130), 16);
  if (s === 0n || s > HALF_N || (v !== 27 && v !== 28)) {
    throw new FieldError(field, "must be a canonical (low-s) signature");
  }
  return sig;
}

export function checkStreamSchema(value: unknown, field: string): StreamColumn[] {
  const columns = checkArray(value, field, MAX_STREAM_COLUMNS, { min: 1 }).map((raw, i) => {
    const f = `${field}[${i}]`;
    const column = checkObject(raw, f);
    checkKeys(column, ["name", "type"], f);
    if (typeof column.name !== "string" || !COLUMN_NAME.test(column.name)) {
      throw new FieldError(`${f}.name`, "must be an identifier (letters, digits, _; at most 63)");
    }
    if (RESERVED_COLUMNS.includes(column.name.toLowerCase())) {
      throw new FieldError(`${f}.name`, `must not be ${RESERVED_COLUMNS.join(", ")}`);
    }
    if (!(STREAM_COLUMN_TYPES as readonly unknown[]).includes(column.type)) {
      throw new FieldError(`${f}.type`, `must be one of ${STREAM_COLUMN_TYPES.join(", ")}`);
    }
    return { name: column.name, type: column.type as StreamColumn["type"] };
  });
  if (new Set(columns.map((c) => c.name.toLowerCase())).size !== columns.length) {
    throw new FieldError(field, "must not repeat a column name");
  }
  return columns;
}

/** `keccak256(dag-cbor(body))`: what the owner signs (EIP-191) for a manifest or a stream message body. */
export function bodyHash(body: object): Hex {
  return keccak256(dagCbor.encode(body));
}

/** Signs a validated body with `account` (EIP-191 of its {@link bodyHash}). */
export async function signBody(account: Pick<LocalAccount, "signMessage">, body: object): Promise<Hex> {
  return (await account.signMessage({ message: { raw: bodyHash(body) } })).toLowerCase() as Hex;
}

/** The address that signed `body`, or null when the signature does not recover. */
export async function recoverBodySigner(body: object, signature: Hex): Promise<Address | null> {
  try {
    return await recoverMessageAddress({ message: { raw: bodyHash(body) }, signature });
  } catch {
    return null;
  }
}

/** CIDv1 (dag-cbor, sha2-256) of DAG-CBOR bytes, base32. */
export function dagCborCidOf(bytes: Uint8Array): string {
  return CID.createV1(DAG_CBOR_CODE, createDigest(SHA2_256_CODE, sha256(bytes, "bytes"))).toString();
}

/** CIDv1 (raw, sha2-256) of `bytes`: the `contentCid` of an epoch file. */
export function contentCidOf(bytes: Uint8Array): string {
  return CID.createV1(RAW_CODE, createDigest(SHA2_256_CODE, sha256(bytes, "bytes"))).toString();
}

export function decodeCbor(bytes: Uint8Array, what: string): unknown {
  try {
    return dagCbor.decode(bytes);
  } catch (cause) {
    throw new StreamProtocolError(`Cannot decode ${what}: not DAG-CBOR`, { cause });
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export type ReadingValue = number | string | boolean | null;

/** One reading as stored, sent live and written to epoch files (also called `StoredReading`). */
export interface StreamReading {
  sensorId: string;
  /** ms since the epoch. */
  ts: number;
  values: Record<string, ReadingValue>;
}
export type StoredReading = StreamReading;

/** The canonical JSON line of a reading: keys in order sensorId, ts, values; `values` keys sorted. */
export function readingLine(reading: StreamReading): string {
  const keys = Object.keys(reading.values).sort();
  const values = keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(reading.values[k])}`).join(",");
  return `{"sensorId":${JSON.stringify(reading.sensorId)},"ts":${
    JSON.stringify(reading.ts)
  },"values":{${values}}}`;
}

function checkLineValue(value: unknown, column: StreamColumn | undefined): boolean {
  if (value === null) return true;
  if (column === undefined) {
    return typeof value === "boolean" || typeof value === "string" ||
      (typeof value === "number" && Number.isFinite(value));
  }
  switch (column.type) {
    case "integer":
      return Number.isSafeInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "string":
      return typeof value === "string";
  }
}

/**
 * Parses reading NDJSON (every line canonical, `\n` after each); with `schema`, each reading's values must be
 * exactly its columns with their types. Throws a {@link StreamProtocolError} naming the line.
 */
export function parseReadingLines(bytes: Uint8Array, schema?: readonly StreamColumn[]): StreamReading[] {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new StreamProtocolError("Invalid readings: not UTF-8", { cause });
  }
  if (text === "") return [];
  if (!text.endsWith("\n")) throw new StreamProtocolError("Invalid readings: the last line has no newline");
  const lines = text.slice(0, -1).split("\n");
  return lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (cause) {
      throw new StreamProtocolError(`Invalid readings: line ${i + 1} is not JSON`, { cause });
    }
    const r = value as Record<string, unknown>;
    const ok = typeof value === "object" && value !== null && !Array.isArray(value) &&
      Object.keys(r).length === 3 && typeof r.sensorId === "string" && SENSOR_ID.test(r.sensorId) &&
      Number.isSafeInteger(r.ts) && (r.ts as number) >= 0 && typeof r.values === "object" &&
      r.values !== null && !Array.isArray(r.values);
    if (!ok) throw new StreamProtocolError(`Invalid readings: line ${i + 1} is not a reading`);
    const values = r.values as Record<string, unknown>;
    const names = Object.keys(values);
    if (schema !== undefined && names.length !== schema.length) {
      throw new StreamProtocolError(`Invalid readings: line ${i + 1} does not have the stream's columns`);
    }
    for (const name of names) {
      const column = schema?.find((c) => c.name === name);
      if ((schema !== undefined && column === undefined) || !checkLineValue(values[name], column)) {
        throw new StreamProtocolError(
          `Invalid readings: line ${i + 1} has a bad value ${JSON.stringify(name.slice(0, 40))}`,
        );
      }
    }
    const reading = {
      sensorId: r.sensorId as string,
      ts: r.ts as number,
      values: values as Record<string, ReadingValue>,
    };
    if (readingLine(reading) !== line) {
      throw new StreamProtocolError(`Invalid readings: line ${i + 1} is not in canonical form`);
    }
    return reading;
  });
}
