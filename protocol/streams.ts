/**
 * Sensor streams: the stream manifest, the gateway's sensor attestation, readings, epochs and their keys,
 * live batch encryption and the sealed epoch file. The gossip and protocol frames are in
 * `stream_messages.ts`, re-exported here. Key sets: docs/key-sale.md ("Stream key sets").
 *
 * Exports at a glance:
 * - names: `STREAMS_TOPIC`, `streamTopic(id)`, `parseStreamTopic`, `STREAMS_PROTOCOL`, `STREAM_SALE_PROTOCOL`
 * - `StreamProtocolError`, `StreamColumn`, `StreamReading` (= `StoredReading`), `ReadingValue`
 * - manifest: `StreamSensor`, `StreamManifestBody`, `StreamManifest`, `validateStreamManifestBody`,
 *   `validateStreamManifest`, `signStreamManifest`, `verifyStreamManifest`, `encodeStreamManifest`,
 *   `decodeStreamManifest`, `MAX_STREAM_MANIFEST_BYTES` (stream id = CID of the encoded manifest)
 * - attestation: `SensorAttestation`, `sensorAttestationTypes`, `GATEWAY_DOMAIN`, `gatewayDomain`,
 *   `sensorAttestationTypedData`, `signSensorAttestation`, `verifySensorAttestation`, `attestationOf`
 * - readings: `ReadingInput`, `validateReading`, `canonicalReadingJson`, `canonicalReadingBytes`,
 *   `verifyReadingSignature`, `signReading`, `sensorPublicKeyHex`
 * - epochs: `epochOf`, `epochStart`, `epochEnd`, `spanEpochs`, `epochPrice`, `MAX_SALE_EPOCHS`
 * - keys: `deriveEpochKey`, `deriveEpochKeys`, `epochDekCommit`
 * - live: `encryptLiveBatch`, `decryptLiveBatch`, `liveAad`; epoch file: `encodeEpochFile`, `decodeEpochFile`,
 *   `contentCidOf`
 * - frames (`stream_messages.ts`): LiveBatch, EpochOpened, EpochSealed, StreamAnnouncement, StreamSaleRequest
 *   / StreamSaleResponse, EpochQueryRequest / EpochQueryResponse: `encode*`/`decode*` (+ `sign*`/`verify*` for the
 *   signed ones), each with its `MAX_*_BYTES`; `decodeStreamTopicMessage`, `decodeStreamsTopicMessage`.
 *
 * ```ts
 * const signed = await signStreamManifest(ownerAccount, body);
 * const { bytes, streamId } = encodeStreamManifest(signed);
 * const dek = await deriveEpochKey(streamSecret, epochOf(Date.now(), signed.epochSeconds));
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import { type Address, type Hex, recoverTypedDataAddress } from "viem";
import type { LocalAccount } from "viem/accounts";
import { toManifestCid } from "./ids.ts";
import type { ReadingInput, ReadingRejection } from "./api/streams.ts";
import {
  checkAddress,
  checkArray,
  checkInteger,
  checkKeys,
  checkObject,
  checkPrice,
  checkString,
  FieldError,
  MAX_DESCRIPTION_LENGTH,
  MAX_LICENCE_ID_LENGTH,
  MAX_TIME,
  MAX_TITLE_LENGTH,
} from "./manifest.ts";
import {
  checkHexBytes,
  checkPeerId,
  checkSensorId,
  checkSignature,
  checkStreamSchema,
  dagCborCidOf,
  decodeCbor,
  MAX_EPOCH_SECONDS,
  MAX_SENSOR_LABEL_LENGTH,
  MAX_STREAM_MANIFEST_BYTES,
  MAX_STREAM_SENSORS,
  MIN_EPOCH_SECONDS,
  recoverBodySigner,
  sameBytes,
  signBody,
  STREAM_VERSION,
  type StreamColumn,
  StreamProtocolError,
  wrap,
} from "./stream_fields.ts";

export type { ReadingInput, ReadingRejection };
export * from "./stream_fields.ts";
export * from "./stream_readings.ts";
export * from "./stream_messages.ts";

/** Gossip topic of stream announcements and sealed epochs (network-prefixed by the p2p service). */
export const STREAMS_TOPIC = "/kosmos/streams/1";
/** Prefix of a stream's own topic (live batches and opened epochs). */
export const STREAM_TOPIC_PREFIX = "/kosmos/stream/1/";
/** Epoch query protocol: the signed EpochSealed records of a stream in a range. */
export const STREAMS_PROTOCOL = "/kosmos/streams/1.0.0";
/** Stream key-set sale (quotes for a span of epochs). */
export const STREAM_SALE_PROTOCOL = "/kosmos/stream-sale/1.0.0";

/** `/kosmos/stream/1/<streamId>`. */
export function streamTopic(streamId: string): string {
  return STREAM_TOPIC_PREFIX + toManifestCid(streamId);
}

/** The stream id of a stream topic, or `undefined`. */
export function parseStreamTopic(topic: string): string | undefined {
  if (!topic.startsWith(STREAM_TOPIC_PREFIX)) return undefined;
  try {
    return toManifestCid(topic.slice(STREAM_TOPIC_PREFIX.length));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Sensor attestation (EIP-712, signed by the gateway operator's wallet)

export const GATEWAY_DOMAIN = { name: "Kosmos Gateway", version: "1" } as const;

export const sensorAttestationTypes = {
  SensorAttestation: [
    { name: "sensorId", type: "string" },
    { name: "owner", type: "address" },
    { name: "gateway", type: "address" },
    { name: "sensorKey", type: "bytes32" },
    { name: "issuedAt", type: "uint64" },
  ],
} as const;

export interface SensorAttestation {
  sensorId: string;
  owner: Address;
  gateway: Address;
  /** Ed25519 public key (32 bytes hex), or null: then `bytes32(0)` is signed. */
  sensorKey: Hex | null;
  /** ms since the epoch. */
  issuedAt: number;
}

const ZERO_32 = `0x${"0".repeat(64)}` as Hex;

export function gatewayDomain(chainId: number) {
  return { ...GATEWAY_DOMAIN, chainId };
}

function checkAttestation(value: unknown): SensorAttestation {
  return wrap("sensor attestation", () => {
    const a = checkObject(value, "attestation");
    checkKeys(a, ["sensorId", "owner", "gateway", "sensorKey", "issuedAt"], "");
    return {
      sensorId: checkSensorId(a.sensorId, "sensorId"),
      owner: checkAddress(a.owner, "owner"),
      gateway: checkAddress(a.gateway, "gateway"),
      sensorKey: a.sensorKey === null ? null : checkHexBytes(a.sensorKey, 32, "sensorKey"),
      issuedAt: checkInteger(a.issuedAt, "issuedAt", 0, MAX_TIME),
    };
  });
}

/** The EIP-712 typed data of an attestation, exactly as signed and verified. */
export function sensorAttestationTypedData(attestation: SensorAttestation, chainId: number) {
  const a = checkAttestation(attestation);
  return {
    domain: gatewayDomain(chainId),
    types: sensorAttestationTypes,
    primaryType: "SensorAttestation" as const,
    message: {
      sensorId: a.sensorId,
      owner: a.owner,
      gateway: a.gateway,
      sensorKey: a.sensorKey ?? ZERO_32,
      issuedAt: BigInt(a.issuedAt),
    },
  };
}

/** Signs with the gateway's wallet; `account` must be `attestation.gateway`. */
export async function signSensorAttestation(
  account: Pick<LocalAccount, "address" | "signTypedData">,
  attestation: SensorAttestation,
  chainId: number,
): Promise<Hex> {
  const data = sensorAttestationTypedData(attestation, chainId);
  if (account.address.toLowerCase() !== data.message.gateway.toLowerCase()) {
    throw new TypeError(
      `Cannot attest sensor ${attestation.sensorId}: ${account.address} is not its gateway`,
    );
  }
  return (await account.signTypedData(data)).toLowerCase() as Hex;
}

/** True when `signature` is `attestation.gateway`'s signature of it on `chainId`. */
export async function verifySensorAttestation(
  attestation: SensorAttestation,
  signature: Hex,
  chainId: number,
): Promise<boolean> {
  try {
    const data = sensorAttestationTypedData(attestation, chainId);
    const signer = await recoverTypedDataAddress({ ...data, signature });
    return signer === data.message.gateway;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Stream manifest (DAG-CBOR; its CID is the stream id; signed by the owner with personal_sign of its keccak)

export interface StreamSensor {
  sensorId: string;
  label: string;
  owner: Address;
  sensorKey: Hex | null;
  issuedAt: number;
  /** The gateway's EIP-712 signature of the sensor's attestation. */
  attestation: Hex;
}

export interface StreamManifestBody {
  v: 1;
  title: string;
  description: string;
  owner: Address;
  gateway: Address;
  /** The gateway node's peer id: the only accepted publisher of live batches. */
  publisherPeer: string;
  sensors: StreamSensor[];
  schema: StreamColumn[];
  /** Token base units per hour, decimal. */
  pricePerHour: string;
  epochSeconds: number;
  licence: string;
  /** ms since the epoch. */
  createdAt: number;
}

export interface StreamManifest extends StreamManifestBody {
  /** The owner's EIP-191 signature of `keccak256(dag-cbor(body))`. */
  signature: Hex;
}

const MANIFEST_KEYS = [
  "v",
  "title",
  "description",
  "owner",
  "gateway",
  "publisherPeer",
  "sensors",
  "schema",
  "pricePerHour",
  "epochSeconds",
  "licence",
  "createdAt",
];

function checkManifestBody(m: Record<string, unknown>): StreamManifestBody {
  if (m.v !== STREAM_VERSION) throw new FieldError("v", `must be ${STREAM_VERSION}`);
  const owner = checkAddress(m.owner, "owner");
  const sensors = checkArray(m.sensors, "sensors", MAX_STREAM_SENSORS, { min: 1 }).map((raw, i) => {
    const f = `sensors[${i}]`;
    const s = checkObject(raw, f);
    checkKeys(s, ["sensorId", "label", "owner", "sensorKey", "issuedAt", "attestation"], f);
    const sensor: StreamSensor = {
      sensorId: checkSensorId(s.sensorId, `${f}.sensorId`),
      label: checkString(s.label, `${f}.label`, MAX_SENSOR_LABEL_LENGTH),
      owner: checkAddress(s.owner, `${f}.owner`),
      sensorKey: s.sensorKey === null ? null : checkHexBytes(s.sensorKey, 32, `${f}.sensorKey`),
      issuedAt: checkInteger(s.issuedAt, `${f}.issuedAt`, 0, MAX_TIME),
      attestation: checkSignature(s.attestation, `${f}.attestation`),
    };
    if (sensor.owner !== owner) throw new FieldError(`${f}.owner`, "must be the stream's owner");
    return sensor;
  });
  if (new Set(sensors.map((s) => s.sensorId)).size !== sensors.length) {
    throw new FieldError("sensors", "must not repeat a sensor");
  }
  return {
    v: STREAM_VERSION,
    title: checkString(m.title, "title", MAX_TITLE_LENGTH, { min: 1 }),
    description: checkString(m.description, "description", MAX_DESCRIPTION_LENGTH),
    owner,
    gateway: checkAddress(m.gateway, "gateway"),
    publisherPeer: checkPeerId(m.publisherPeer, "publisherPeer"),
    sensors,
    schema: checkStreamSchema(m.schema, "schema"),
    pricePerHour: checkPrice(m.pricePerHour, "pricePerHour"),
    epochSeconds: checkInteger(m.epochSeconds, "epochSeconds", MIN_EPOCH_SECONDS, MAX_EPOCH_SECONDS),
    licence: checkString(m.licence, "licence", MAX_LICENCE_ID_LENGTH, { min: 1 }),
    createdAt: checkInteger(m.createdAt, "createdAt", 0, MAX_TIME),
  };
}

/** Checks an unsigned manifest body; returns a clean copy or throws a {@link StreamProtocolError}. */
export function validateStreamManifestBody(value: unknown): StreamManifestBody {
  return wrap("stream manifest", () => {
    const m = checkObject(value, "manifest");
    checkKeys(m, MANIFEST_KEYS, "");
    return checkManifestBody(m);
  });
}

/** Checks a signed manifest's fields (not its signatures: see {@link verifyStreamManifest}). */
export function validateStreamManifest(value: unknown): StreamManifest {
  return wrap("stream manifest", () => {
    const m = checkObject(value, "manifest");
    checkKeys(m, [...MANIFEST_KEYS, "signature"], "");
    return { ...checkManifestBody(m), signature: checkSignature(m.signature) };
  });
}

/** Signs a manifest body with the owner's wallet; `account` must be `body.owner`. */
export async function signStreamManifest(
  account: Pick<LocalAccount, "address" | "signMessage">,
  body: StreamManifestBody,
): Promise<StreamManifest> {
  const clean = validateStreamManifestBody(body);
  if (account.address.toLowerCase() !== clean.owner.toLowerCase()) {
    throw new TypeError(`Cannot sign stream manifest: ${account.address} is not its owner ${clean.owner}`);
  }
  return validateStreamManifest({ ...clean, signature: await signBody(account, clean) });
}

/**
 * Validates `value`, checks the owner's signature and every sensor's attestation (signed by the manifest's
 * gateway on `chainId`). Returns the clean manifest or throws a {@link StreamProtocolError}.
 */
export async function verifyStreamManifest(value: unknown, chainId: number): Promise<StreamManifest> {
  const manifest = validateStreamManifest(value);
  const { signature, ...body } = manifest;
  const signer = await recoverBodySigner(body, signature);
  if (signer !== manifest.owner) {
    throw new StreamProtocolError(`Invalid stream manifest: not signed by its owner ${manifest.owner}`);
  }
  for (const s of manifest.sensors) {
    const ok = await verifySensorAttestation(attestationOf(manifest, s), s.attestation, chainId);
    if (!ok) {
      throw new StreamProtocolError(
        `Invalid stream manifest: sensor ${s.sensorId} is not attested by the gateway ${manifest.gateway}`,
      );
    }
  }
  return manifest;
}

/** The attestation a manifest's sensor entry carries. */
export function attestationOf(
  manifest: Pick<StreamManifestBody, "gateway">,
  s: StreamSensor,
): SensorAttestation {
  return {
    sensorId: s.sensorId,
    owner: s.owner,
    gateway: manifest.gateway,
    sensorKey: s.sensorKey,
    issuedAt: s.issuedAt,
  };
}

/** Validates and encodes a signed manifest; the stream id is the CID of the bytes. */
export function encodeStreamManifest(manifest: StreamManifest): { bytes: Uint8Array; streamId: string } {
  const bytes = dagCbor.encode(validateStreamManifest(manifest));
  if (bytes.byteLength > MAX_STREAM_MANIFEST_BYTES) {
    throw new RangeError(`Cannot encode stream manifest: ${bytes.byteLength} bytes, over the cap`);
  }
  return { bytes, streamId: dagCborCidOf(bytes) };
}

/**
 * Decodes and validates manifest bytes (not the signatures); with `expectedStreamId`, the bytes must hash to
 * it. The bytes must be the canonical encoding, so a stream has one id.
 */
export function decodeStreamManifest(
  bytes: Uint8Array,
  expectedStreamId?: string,
): { manifest: StreamManifest; bytes: Uint8Array; streamId: string } {
  if (!(bytes instanceof Uint8Array)) {
    throw new StreamProtocolError("Cannot decode stream manifest: not bytes");
  }
  if (bytes.byteLength > MAX_STREAM_MANIFEST_BYTES) {
    throw new StreamProtocolError(`Cannot decode stream manifest: ${bytes.byteLength} bytes, over the cap`);
  }
  const streamId = dagCborCidOf(bytes);
  if (expectedStreamId !== undefined && streamId !== expectedStreamId) {
    throw new StreamProtocolError(`Cannot decode stream manifest: bytes hash to ${streamId}`);
  }
  const manifest = validateStreamManifest(decodeCbor(bytes, "stream manifest"));
  if (!sameBytes(dagCbor.encode(manifest), bytes)) {
    throw new StreamProtocolError("Cannot decode stream manifest: not canonical DAG-CBOR");
  }
  return { manifest, bytes, streamId };
}
