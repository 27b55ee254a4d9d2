/**
 * Readings, epochs, epoch keys, live batch encryption and the epoch file of sensor streams (re-exported by
 * `streams.ts`; see there).
 *
 * ```ts
 * const check = validateReading(input, { sensor: (id) => states.get(id) });
 * const dek = await deriveEpochKey(streamSecret, epochOf(Date.now(), epochSeconds));
 * const batch = await encryptLiveBatch({ streamId, epoch, seq, readings }, dek);
 * ```
 */
import { bytesToHex, type Hex, hexToBytes, keccak256 } from "viem";
import type { ReadingRejection } from "./api/streams.ts";
import type { LiveBatch } from "./stream_messages.ts";

/** WebCrypto wants ArrayBuffer-backed views; nothing here uses shared memory. */
function buf(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}
import {
  EPOCH_KEY_TAG,
  LIVE_AAD_TAG,
  MAX_EPOCH_SECONDS,
  MAX_READING_FUTURE_MS,
  MAX_SALE_EPOCHS,
  MIN_EPOCH_SECONDS,
  parseReadingLines,
  readingLine,
  type ReadingValue,
  SENSOR_ID,
  type StreamColumn,
  StreamProtocolError,
  type StreamReading,
} from "./stream_fields.ts";

// ---------------------------------------------------------------------------------------------------------
// Readings

/** What the gateway knows of a sensor when it checks a reading. */
export interface ReadingSensorState {
  schema: readonly StreamColumn[];
  /** When set, every reading must carry a valid Ed25519 signature by this key (checked asynchronously). */
  sensorKey: Hex | null;
  /** `ts` of the sensor's last accepted reading. */
  lastTs: number | null;
  /** Readings before this time (ms) fall in a sealed epoch. */
  sealedBefore: number | null;
}

/** A checked reading; `sig` still has to pass {@link verifyReadingSignature} when the sensor has a key. */
export interface ParsedReading extends StreamReading {
  sig: Hex | null;
}

export type ReadingCheck =
  | { ok: true; reading: ParsedReading }
  | { ok: false; reason: ReadingRejection; message: string; sensorId: string | null };

export interface ValidateReadingOptions {
  /** The sensor's state, or undefined when the sensor is not registered here. */
  sensor(sensorId: string): ReadingSensorState | undefined;
  /** @default Date.now() */
  now?: number;
  /** @default MAX_READING_FUTURE_MS */
  maxFutureMs?: number;
}

function reject(reason: ReadingRejection, message: string, sensorId: string | null): ReadingCheck {
  return { ok: false, reason, message, sensorId };
}

function checkValue(value: unknown, column: StreamColumn): string | null {
  if (value === null) return null;
  switch (column.type) {
    case "integer":
      return Number.isSafeInteger(value) ? null : "must be an integer";
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? null : "must be a finite number";
    case "boolean":
      return typeof value === "boolean" ? null : "must be a boolean";
    case "string":
      return typeof value === "string" && value.length <= 256 ? null : "must be a string of at most 256";
  }
}

/**
 * Checks one incoming reading: shape, known sensor, values against the stream schema, `ts` not in the future,
 * after the sensor's last reading and not in a sealed epoch, and a signature present when the sensor has a
 * key. Returns the parsed reading or the rejection reason (the signature itself: {@link verifyReadingSignature}).
 */
export function validateReading(value: unknown, options: ValidateReadingOptions): ReadingCheck {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return reject("malformed", "a reading must be an object", null);
  }
  const r = value as Record<string, unknown>;
  const sensorId = typeof r.sensorId === "string" && SENSOR_ID.test(r.sensorId) ? r.sensorId : null;
  if (sensorId === null) return reject("malformed", "sensorId must be a sensor id", null);
  const extra = Object.keys(r).find((k) => !["sensorId", "ts", "values", "sig"].includes(k));
  if (extra !== undefined) return reject("malformed", `unknown field "${extra.slice(0, 40)}"`, sensorId);
  const sensor = options.sensor(sensorId);
  if (sensor === undefined) {
    return reject("unknown-sensor", `sensor ${sensorId} is not registered here`, sensorId);
  }
  if (!Number.isSafeInteger(r.ts) || (r.ts as number) < 0) {
    return reject("malformed", "ts must be a non-negative integer (ms)", sensorId);
  }
  const ts = r.ts as number;
  const raw = r.values;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return reject("malformed", "values must be an object", sensorId);
  }
  const given = Object.keys(raw);
  const values: Record<string, ReadingValue> = {};
  for (const column of sensor.schema) {
    if (!Object.hasOwn(raw, column.name)) {
      return reject("malformed", `values.${column.name} is missing`, sensorId);
    }
    const v = (raw as Record<string, unknown>)[column.name];
    const problem = checkValue(v, column);
    if (problem !== null) return reject("malformed", `values.${column.name} ${problem}`, sensorId);
    values[column.name] = v as ReadingValue;
  }
  if (given.length !== sensor.schema.length) {
    const unknown = given.find((k) => !sensor.schema.some((c) => c.name === k)) ?? "";
    return reject("malformed", `values.${unknown.slice(0, 40)} is not a column of the stream`, sensorId);
  }
  let sig: Hex | null = null;
  if (r.sig !== undefined && r.sig !== null) {
    if (typeof r.sig !== "string" || !/^0x[0-9a-fA-F]{128}$/.test(r.sig)) {
      return reject("malformed", "sig must be 64 bytes of hex", sensorId);
    }
    sig = r.sig.toLowerCase() as Hex;
  }
  const now = options.now ?? Date.now();
  const maxFuture = options.maxFutureMs ?? MAX_READING_FUTURE_MS;
  if (ts > now + maxFuture) {
    return reject("future", `ts is more than ${maxFuture} ms in the future`, sensorId);
  }
  if (sensor.lastTs !== null && ts <= sensor.lastTs) {
    return reject("out-of-order", "ts is not after the sensor's last accepted reading", sensorId);
  }
  if (sensor.sealedBefore !== null && ts < sensor.sealedBefore) {
    return reject("epoch-sealed", "ts falls in an epoch already sealed", sensorId);
  }
  if (sensor.sensorKey !== null && sig === null) {
    return reject("bad-signature", "the sensor has a key: the reading must be signed", sensorId);
  }
  return { ok: true, reading: { sensorId, ts, values, sig } };
}

/** The canonical JSON of a reading: `{"sensorId":…,"ts":…,"values":{…keys sorted}}` (no `sig`). */
export function canonicalReadingJson(reading: StreamReading): string {
  return readingLine(reading);
}

/** UTF-8 of {@link canonicalReadingJson}: what a sensor signs with Ed25519. */
export function canonicalReadingBytes(reading: StreamReading): Uint8Array {
  return new TextEncoder().encode(readingLine(reading));
}

/** True when `reading.sig` is the Ed25519 signature of the canonical reading by `sensorKey`. */
export async function verifyReadingSignature(
  reading: StreamReading & { sig?: Hex | null },
  sensorKey: Hex,
): Promise<boolean> {
  if (typeof reading.sig !== "string" || !/^0x[0-9a-fA-F]{128}$/.test(reading.sig)) return false;
  if (!/^0x[0-9a-fA-F]{64}$/.test(sensorKey)) return false;
  try {
    const key = await crypto.subtle.importKey("raw", buf(hexToBytes(sensorKey)), { name: "Ed25519" }, false, [
      "verify",
    ]);
    return await crypto.subtle.verify(
      "Ed25519",
      key,
      buf(hexToBytes(reading.sig)),
      buf(canonicalReadingBytes(reading)),
    );
  } catch {
    return false;
  }
}

/** Signs a reading with a sensor's Ed25519 private key (WebCrypto); returns `sig`. */
export async function signReading(privateKey: CryptoKey, reading: StreamReading): Promise<Hex> {
  const sig = await crypto.subtle.sign("Ed25519", privateKey, buf(canonicalReadingBytes(reading)));
  return bytesToHex(new Uint8Array(sig));
}

/** The raw 32-byte Ed25519 public key, hex (a sensor's `sensorKey`). */
export async function sensorPublicKeyHex(publicKey: CryptoKey): Promise<Hex> {
  return bytesToHex(new Uint8Array(await crypto.subtle.exportKey("raw", publicKey)));
}

// ---------------------------------------------------------------------------------------------------------
// Epochs, keys, live batches, epoch files

function epochMs(epochSeconds: number): number {
  if (
    !Number.isSafeInteger(epochSeconds) || epochSeconds < MIN_EPOCH_SECONDS ||
    epochSeconds > MAX_EPOCH_SECONDS
  ) {
    throw new RangeError(`epochSeconds ${epochSeconds} is not 1..${MAX_EPOCH_SECONDS}`);
  }
  return epochSeconds * 1000;
}

/** `floor(ts / epochMs)`: the epoch holding `ts` (ms). */
export function epochOf(ts: number, epochSeconds: number): number {
  return Math.floor(ts / epochMs(epochSeconds));
}

/** First ms of epoch `e`. */
export function epochStart(epoch: number, epochSeconds: number): number {
  return epoch * epochMs(epochSeconds);
}

/** First ms after epoch `e` (exclusive end). */
export function epochEnd(epoch: number, epochSeconds: number): number {
  return (epoch + 1) * epochMs(epochSeconds);
}

/** The whole epochs covering `[now, now + seconds)`; throws a `RangeError` over {@link MAX_SALE_EPOCHS}. */
export function spanEpochs(
  now: number,
  seconds: number,
  epochSeconds: number,
): { first: number; last: number } {
  if (!Number.isSafeInteger(seconds) || seconds < 1) {
    throw new RangeError("seconds must be a positive integer");
  }
  const first = epochOf(now, epochSeconds);
  const last = Math.floor((now + seconds * 1000 - 1) / epochMs(epochSeconds));
  if (last - first + 1 > MAX_SALE_EPOCHS) {
    throw new RangeError(`A span of ${last - first + 1} epochs is over ${MAX_SALE_EPOCHS}`);
  }
  return { first, last };
}

/** Price of one epoch: `ceil(pricePerHour · epochSeconds / 3600)` token base units. */
export function epochPrice(pricePerHour: string | bigint, epochSeconds: number): bigint {
  const perHour = BigInt(pricePerHour);
  return (perHour * BigInt(epochMs(epochSeconds) / 1000) + 3599n) / 3600n;
}

function secretBytes(streamSecret: Hex | Uint8Array): Uint8Array {
  const bytes = typeof streamSecret === "string" ? hexToBytes(streamSecret) : streamSecret;
  if (bytes.byteLength !== 32) throw new TypeError("A stream secret must be 32 bytes");
  return bytes;
}

async function hmacKey(streamSecret: Hex | Uint8Array): Promise<CryptoKey> {
  return await crypto.subtle.importKey(
    "raw",
    buf(secretBytes(streamSecret)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

async function epochKeyWith(key: CryptoKey, epoch: number): Promise<Hex> {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`Epoch ${epoch} is not a whole number`);
  const tag = new TextEncoder().encode(EPOCH_KEY_TAG);
  const message = new Uint8Array(tag.byteLength + 8);
  message.set(tag);
  new DataView(message.buffer).setBigUint64(tag.byteLength, BigInt(epoch));
  return bytesToHex(new Uint8Array(await crypto.subtle.sign("HMAC", key, message)));
}

/** `DEK_e = HMAC-SHA256(streamSecret, "kosmos.stream.epoch" ‖ uint64be(e))`. Never log it. */
export async function deriveEpochKey(streamSecret: Hex | Uint8Array, epoch: number): Promise<Hex> {
  return await epochKeyWith(await hmacKey(streamSecret), epoch);
}

/** The keys of epochs `first..last`, in order. */
export async function deriveEpochKeys(
  streamSecret: Hex | Uint8Array,
  first: number,
  last: number,
): Promise<Hex[]> {
  if (last < first || last - first + 1 > MAX_SALE_EPOCHS) throw new RangeError("Bad epoch range");
  const key = await hmacKey(streamSecret);
  const keys: Hex[] = [];
  for (let e = first; e <= last; e++) keys.push(await epochKeyWith(key, e));
  return keys;
}

/** `keccak256(DEK_e)`: what EpochOpened and EpochSealed commit to (= `computeDekCommit([dek])`). */
export function epochDekCommit(dek: Hex): Hex {
  return keccak256(dek);
}

/** `utf8("kosmos.stream.live" ‖ streamId ‖ ":" ‖ epoch ‖ ":" ‖ seq)`. */
export function liveAad(streamId: string, epoch: number, seq: number): Uint8Array {
  return new TextEncoder().encode(`${LIVE_AAD_TAG}${streamId}:${epoch}:${seq}`);
}

/** NDJSON of readings in the order given, one canonical line each, `\n` after each. */
export function encodeReadingLines(readings: readonly StreamReading[]): Uint8Array {
  return new TextEncoder().encode(readings.map((r) => readingLine(r) + "\n").join(""));
}

async function aesKey(dek: Hex, usage: KeyUsage): Promise<CryptoKey> {
  const bytes = hexToBytes(dek);
  if (bytes.byteLength !== 32) throw new TypeError("An epoch key must be 32 bytes");
  return await crypto.subtle.importKey("raw", buf(bytes), "AES-GCM", false, [usage]);
}

/** Encrypts a live batch under the epoch key (AES-256-GCM, random 12-byte IV, AAD {@link liveAad}). */
export async function encryptLiveBatch(
  batch: { streamId: string; epoch: number; seq: number; readings: readonly StreamReading[] },
  dek: Hex,
): Promise<LiveBatch> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: buf(liveAad(batch.streamId, batch.epoch, batch.seq)) },
    await aesKey(dek, "encrypt"),
    buf(encodeReadingLines(batch.readings)),
  );
  return {
    v: 1,
    type: "live",
    streamId: batch.streamId,
    epoch: batch.epoch,
    seq: batch.seq,
    iv,
    ct: new Uint8Array(ct),
  };
}

/**
 * Decrypts a live batch with the epoch key and parses its lines (checked against `schema` when given).
 * Throws a {@link StreamProtocolError} when the key is wrong or the batch was altered.
 */
export async function decryptLiveBatch(
  batch: LiveBatch,
  dek: Hex,
  schema?: readonly StreamColumn[],
): Promise<StreamReading[]> {
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: buf(batch.iv),
        additionalData: buf(liveAad(batch.streamId, batch.epoch, batch.seq)),
      },
      await aesKey(dek, "decrypt"),
      buf(batch.ct),
    );
  } catch (cause) {
    throw new StreamProtocolError(
      `Cannot decrypt live batch ${batch.epoch}/${batch.seq}: wrong key or altered`,
      { cause },
    );
  }
  return parseReadingLines(new Uint8Array(plain), schema);
}

/** The epoch file: NDJSON of `readings` sorted by (ts, sensorId), one canonical line each, `\n` after each. */
export function encodeEpochFile(readings: readonly StreamReading[]): Uint8Array {
  const sorted = [...readings].sort((a, b) =>
    a.ts - b.ts || (a.sensorId < b.sensorId ? -1 : a.sensorId > b.sensorId ? 1 : 0)
  );
  return encodeReadingLines(sorted);
}

/**
 * Parses an epoch file: canonical lines in strictly increasing (ts, sensorId) order, so the bytes are exactly
 * what {@link encodeEpochFile} writes for the readings. Throws a {@link StreamProtocolError}.
 */
export function decodeEpochFile(bytes: Uint8Array, schema?: readonly StreamColumn[]): StreamReading[] {
  const readings = parseReadingLines(bytes, schema);
  for (let i = 1; i < readings.length; i++) {
    const a = readings[i - 1];
    const b = readings[i];
    if (a.ts > b.ts || (a.ts === b.ts && a.sensorId >= b.sensorId)) {
      throw new StreamProtocolError(`Invalid epoch file: line ${i + 1} is out of (ts, sensorId) order`);
    }
  }
  return readings;
}
