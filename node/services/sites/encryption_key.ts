/**
 * The node's X25519 encryption key pair, to which analytics proxies seal
 * event batches for this node's sites. Created on first use as
 * `<dataDir>/keys/encryption.key` (PKCS#8, mode 0600) and reused after that.
 *
 * ```ts
 * const key = await loadEncryptionKey(dataDir);
 * key.publicKey; // 32 bytes, announced with each site
 * ```
 */
import { join } from "node:path";
import { ConfigError } from "../../errors.ts";

export const ENCRYPTION_KEY_FILE = "encryption.key";

export interface EncryptionKey {
  /** Raw X25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** Non-extractable; usable for `deriveBits` only. */
  privateKey: CryptoKey;
}

export async function loadEncryptionKey(dataDir: string): Promise<EncryptionKey> {
  const dir = join(dataDir, "keys");
  const path = join(dir, ENCRYPTION_KEY_FILE);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  let pkcs8: Uint8Array;
  try {
    pkcs8 = await Deno.readFile(path);
    const { mode } = await Deno.stat(path);
    if (mode !== null && (mode & 0o077) !== 0) await Deno.chmod(path, 0o600);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new ConfigError(`cannot read key ${path}: ${(err as Error).message}`, { cause: err });
    }
    const pair = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]) as CryptoKeyPair;
    pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    try {
      await file.write(pkcs8);
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  }
  try {
    const extractable = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8 as Uint8Array<ArrayBuffer>,
      {
        name: "X25519",
      },
      true,
      ["deriveBits"],
    );
    const jwk = await crypto.subtle.exportKey("jwk", extractable);
    const publicKey = Uint8Array.from(
      atob(jwk.x!.replace(/-/g, "+").replace(/_/g, "/")),
      (c) => c.charCodeAt(0),
    );
    const privateKey = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8 as Uint8Array<ArrayBuffer>,
      {
        name: "X25519",
      },
      false,
      ["deriveBits"],
    );
    return { publicKey, privateKey };
  } catch (cause) {
    throw new ConfigError(`encryption key ${path} is corrupt`, { cause });
  }
}
