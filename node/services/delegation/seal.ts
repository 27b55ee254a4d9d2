/**
 * The sealing of a dataset key to a delegate. The DEK is sealed like ingest
 * batches (`../ingest/seal.ts`): X25519 ECDH with a fresh ephemeral key,
 * HKDF-SHA256 (salt = ephemeral ‖ recipient public key) into AES-256-GCM, with
 * the manifest CID and listing id as associated data so a sealed key cannot be
 * replayed for another listing.
 *
 * ```ts
 * const sealed = await sealDek(dek, { publicKey, manifestCid, listingId });
 * const dek = await openDek(sealed, key, { manifestCid, listingId }); // throws TypeError
 * ```
 */
import { bytesToHex, hexToBytes } from "viem";
import type { SealedDek } from "../../../protocol/delegation.ts";
import type { EncryptionKey } from "../sites/mod.ts";
import { openSealed, sealTo } from "../../sealed_box.ts";

const INFO = new TextEncoder().encode("kosmos/market/1 delegated key");

export interface SealContext {
  manifestCid: string;
  listingId: bigint;
}

/** Seals a 32-byte DEK to the X25519 `publicKey` (32 bytes), bound to the listing. */
export async function sealDek(
  dek: Uint8Array,
  options: SealContext & { publicKey: Uint8Array },
): Promise<SealedDek> {
  const box = await sealTo(options.publicKey, dek, { info: INFO, additionalData: aad(options) });
  return { epk: bytesToHex(box.epk), iv: bytesToHex(box.iv), ct: bytesToHex(box.ct) };
}

/** Opens a DEK sealed to `key`; throws a `TypeError` when it was not sealed to it for this listing. */
export async function openDek(
  sealed: SealedDek,
  key: EncryptionKey,
  context: SealContext,
): Promise<Uint8Array> {
  try {
    const box = { epk: hexToBytes(sealed.epk), iv: hexToBytes(sealed.iv), ct: hexToBytes(sealed.ct) };
    const dek = await openSealed(box, key, { info: INFO, additionalData: aad(context) });
    if (dek.byteLength !== 32) throw new RangeError("expected 32 bytes");
    return dek;
  } catch (cause) {
    throw new TypeError("Cannot open the delegated key: not sealed to this node for this listing", { cause });
  }
}

function aad(context: SealContext): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${context.manifestCid}\n${context.listingId}`);
}
