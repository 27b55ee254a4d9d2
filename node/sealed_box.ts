/**
 * Sealing bytes to a node's X25519 public key: an ephemeral X25519 key per
 * message, HKDF-SHA256 (salt = ephemeral key || recipient key, `info` naming
 * the purpose) and AES-256-GCM with caller-chosen associated data. Used for
 * analytics batches sent to a site owner and for dataset keys handed to a
 * sales delegate; each passes its own `info`, so a box made for one purpose
 * never opens as the other.
 *
 * ```ts
 * const box = await sealTo(publicKey, bytes, { info, additionalData });
 * const bytesAgain = await openSealed(box, { privateKey, publicKey }, { info, additionalData });
 * ```
 */

export interface SealedBox {
  /** The sender's ephemeral X25519 public key (32 bytes). */
  epk: Uint8Array;
  /** AES-GCM nonce (12 bytes). */
  iv: Uint8Array;
  /** Ciphertext with its 16-byte tag. */
  ct: Uint8Array;
}

export interface SealContext {
  /** HKDF info: what the box is for. */
  info: Uint8Array;
  /** Bound into the ciphertext: what the box belongs to. */
  additionalData: Uint8Array;
}

/** Seals `plaintext` to the X25519 `publicKey` (32 bytes). */
export async function sealTo(
  publicKey: Uint8Array,
  plaintext: Uint8Array,
  context: SealContext,
): Promise<SealedBox> {
  const ephemeral = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const epk = new Uint8Array(await crypto.subtle.exportKey("raw", ephemeral.publicKey));
  const recipient = await crypto.subtle.importKey("raw", buffer(publicKey), { name: "X25519" }, false, []);
  const shared = await crypto.subtle.deriveBits(
    { name: "X25519", public: recipient },
    ephemeral.privateKey,
    256,
  );
  const key = await deriveKey(shared, epk, publicKey, context.info, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: buffer(context.additionalData) },
      key,
      buffer(plaintext),
    ),
  );
  return { epk, iv, ct };
}

/** Opens a box sealed to this key pair; rejects (with WebCrypto's error) when it cannot. */
export async function openSealed(
  box: SealedBox,
  keys: { privateKey: CryptoKey; publicKey: Uint8Array },
  context: SealContext,
): Promise<Uint8Array> {
  const epk = await crypto.subtle.importKey("raw", buffer(box.epk), { name: "X25519" }, false, []);
  const shared = await crypto.subtle.deriveBits({ name: "X25519", public: epk }, keys.privateKey, 256);
  const key = await deriveKey(shared, box.epk, keys.publicKey, context.info, ["decrypt"]);
  return new Uint8Array(
    await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: buffer(box.iv), additionalData: buffer(context.additionalData) },
      key,
      buffer(box.ct),
    ),
  );
}

async function deriveKey(
  shared: ArrayBuffer,
  epk: Uint8Array,
  recipient: Uint8Array,
  info: Uint8Array,
  usages: KeyUsage[],
): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  const salt = new Uint8Array(64);
  salt.set(epk, 0);
  salt.set(recipient, 32);
  return await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info: buffer(info) },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    usages,
  );
}

function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}
