/**
 * Sealing event batches to a site owner: X25519 ECDH between a fresh
 * ephemeral key and the owner's key, HKDF-SHA256 (salt = ephemeral public key
 * ‖ owner public key) into an AES-256-GCM key, with the batch id and site as
 * associated data. A proxy seals in memory before anything touches its disk;
 * only the owner's private key opens the batch. The proxy then signs the
 * sealed batch with its node key (`signSealedBatch`, `protocol/ingest.ts`)
 * over its hash, site and the time window of its events.
 *
 * ```ts
 * const sealed = await sealBatch(events, { id, site: "example.com", publicKey: ownerKey });
 * const events = await openBatch(sealed, privateKey, ownPublicKey);
 * const blocks = await sealBlocks(events, { site: "example.com", publicKey: ownerKey, signer }); // [{ id, bytes }]
 * ```
 */
import { openSealed, sealTo } from "../../sealed_box.ts";
import {
  type AnalyticsEvent,
  checkAnalyticsEvent,
  encodeSealedBatch,
  MAX_BATCH_EVENTS,
  type SealedBatch,
} from "../../../protocol/analytics.ts";
import { MAX_SEALED_BLOCK_BYTES, signSealedBatch } from "../../../protocol/ingest.ts";

/** The proxy that signs what it seals: its peer id and node key. */
export interface BatchSigner {
  proxy: string;
  key: { sign(data: Uint8Array): Uint8Array | Promise<Uint8Array> };
}

const INFO = new TextEncoder().encode("kosmos/ingest/1 batch key");

/** Seals `events` to the X25519 `publicKey` (32 bytes). */
export async function sealBatch(
  events: AnalyticsEvent[],
  options: { id: string; site: string; publicKey: Uint8Array },
): Promise<SealedBatch> {
  const plaintext = new TextEncoder().encode(JSON.stringify(events));
  const box = await sealTo(options.publicKey, plaintext, {
    info: INFO,
    additionalData: aad(options.id, options.site),
  });
  plaintext.fill(0);
  return { v: 1, id: options.id, site: options.site, ...box };
}

/** One sealed batch, encoded: the bytes of its block. */
export interface SealedBlock {
  /** The batch id (32 hex digits), fresh for each block. */
  id: string;
  /** `encodeSealedBatch()` of the sealed batch: ciphertext and public fields only. */
  bytes: Uint8Array;
}

/**
 * Seals `events` to the X25519 `publicKey` as one or more encoded batches,
 * each under a fresh batch id, signed by `signer` and at most `maxBytes`
 * long: a batch that would be larger is split in halves (and those again)
 * before sealing. Throws a `RangeError` when a single event does not fit.
 */
export async function sealBlocks(
  events: AnalyticsEvent[],
  options: {
    site: string;
    publicKey: Uint8Array;
    signer: BatchSigner;
    /** @default MAX_SEALED_BLOCK_BYTES */ maxBytes?: number;
  },
): Promise<SealedBlock[]> {
  const maxBytes = options.maxBytes ?? MAX_SEALED_BLOCK_BYTES;
  if (events.length === 0) return [];
  if (events.length > MAX_BATCH_EVENTS) {
    const half = Math.ceil(events.length / 2);
    return [
      ...await sealBlocks(events.slice(0, half), options),
      ...await sealBlocks(events.slice(half), options),
    ];
  }
  const id = randomBatchId();
  const sealed = await sealBatch(events, { id, site: options.site, publicKey: options.publicKey });
  const times = events.map((e) => e.ts);
  const bytes = encodeSealedBatch(
    await signSealedBatch(sealed, options.signer, { from: Math.min(...times), to: Math.max(...times) }),
  );
  if (bytes.byteLength <= maxBytes) return [{ id, bytes }];
  if (events.length === 1) {
    throw new RangeError(
      `Cannot seal an event of ${bytes.byteLength} bytes: blocks hold at most ${maxBytes}`,
    );
  }
  const half = Math.ceil(events.length / 2);
  return [
    ...await sealBlocks(events.slice(0, half), options),
    ...await sealBlocks(events.slice(half), options),
  ];
}

/** A fresh random batch id: 16 bytes as 32 hex digits. */
export function randomBatchId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

/** Opens a batch sealed to this node; throws a `TypeError` when it cannot be opened or is malformed. */
export async function openBatch(
  batch: SealedBatch,
  privateKey: CryptoKey,
  publicKey: Uint8Array,
): Promise<AnalyticsEvent[]> {
  let plaintext: Uint8Array;
  try {
    plaintext = await openSealed(batch, { privateKey, publicKey }, {
      info: INFO,
      additionalData: aad(batch.id, batch.site),
    });
  } catch (cause) {
    throw new TypeError("Cannot open sealed batch: not sealed to this node's key", { cause });
  }
  let events: unknown;
  try {
    events = JSON.parse(new TextDecoder().decode(plaintext));
  } catch (cause) {
    throw new TypeError("Cannot open sealed batch: not JSON", { cause });
  }
  if (!Array.isArray(events) || events.length === 0 || events.length > MAX_BATCH_EVENTS) {
    throw new TypeError("Cannot open sealed batch: expected 1 to 1000 events");
  }
  return events.map(checkAnalyticsEvent);
}

function aad(id: string, site: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${id}\n${site}`);
}
