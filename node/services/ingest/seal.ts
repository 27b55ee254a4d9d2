/**
 * Sealing event batches to a site owner: X25519 ECDH between a fresh
 * ephemeral key and the owner's key, HKDF-SHA256 (salt = ephemeral public key
 * ‖ owner public key) into an AES-256-GCM key, with the batch id and site as
 * associated data. A proxy seals in memory before anything touches its disk;
 * only the owner's private key opens the batch.
 *
 * ```ts
 * const sealed = await sealBatch(events, { id, site: "example.com", publicKey: ownerKey });
 * const events = await openBatch(sealed, privateKey, ownPublicKey);
 * ```
 */
import {
  type AnalyticsEvent,
  checkAnalyticsEvent,
  MAX_BATCH_EVENTS,
  type SealedBatch,
} from "../../../protocol/analytics.ts";

const INFO = new TextEncoder().encode("kosmos/ingest/1 batch key");

/** Seals `events` to the X25519 `publicKey` (32 bytes). */
export async function sealBatch(
  events: AnalyticsEvent[],
  options: { id: string; site: string; publicKey: Uint8Array },
): Promise<SealedBatch> {
  const ephemeral = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const epk = new Uint8Array(await crypto.subtle.exportKey("raw", ephemeral.publicKey));
  const recipient = await crypto.subtle.importKey(
    "raw",
    options.publicKey as Uint8Array<ArrayBuffer>,
    { name: "X25519" },
    false,
    [],
  );
  const shared = await crypto.subtle.deriveBits(
    { name: "X25519", public: recipient },
    ephemeral.privateKey,
    256,
  );
  const key = await deriveKey(shared, epk, options.publicKey, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plaintext = new TextEncoder().encode(JSON.stringify(events));
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aad(options.id, options.site) },
      key,
      plaintext,
    ),
  );
  plaintext.fill(0);
  return { v: 1, id: options.id, site: options.site, epk, iv, ct };
}

/** Opens a batch sealed to this node; throws a `TypeError` when it cannot be opened or is malformed. */
export async function openBatch(
  batch: SealedBatch,
  privateKey: CryptoKey,
  publicKey: Uint8Array,
): Promise<AnalyticsEvent[]> {
  let plaintext: ArrayBuffer;
  try {
    const epk = await crypto.subtle.importKey(
      "raw",
      batch.epk as Uint8Array<ArrayBuffer>,
      { name: "X25519" },
      false,
      [],
    );
    const shared = await crypto.subtle.deriveBits({ name: "X25519", public: epk }, privateKey, 256);
    const key = await deriveKey(shared, batch.epk, publicKey, ["decrypt"]);
    plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: batch.iv as Uint8Array<ArrayBuffer>, additionalData: aad(batch.id, batch.site) },
      key,
      batch.ct as Uint8Array<ArrayBuffer>,
    );
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

async function deriveKey(
  shared: ArrayBuffer,
  epk: Uint8Array,
  recipient: Uint8Array,
  usages: KeyUsage[],
): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  const salt = new Uint8Array(64);
  salt.set(epk, 0);
  salt.set(recipient, 32);
  return await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info: INFO },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    usages,
  );
}

function aad(id: string, site: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${id}\n${site}`);
}
