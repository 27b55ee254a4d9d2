/**
 * The node's two keys: a libp2p Ed25519 key (its peer id) and an EVM wallet
 * key (its address on chain). Created on first start under `<dataDir>/keys/`
 * with 0600 permissions, reused on every restart, never logged.
 *
 * ```ts
 * const identity = await loadIdentity(dataDir);
 * identity.peerId.toString(); // 12D3KooW…
 * identity.account.address;   // 0x…
 * ```
 *
 * As a node component: `identity()` in `nodeServices()` (reads `config.dataDir`).
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { PeerId, PrivateKey } from "@libp2p/interface";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { join } from "node:path";
import { ConfigError } from "../../errors.ts";
import { defineService } from "../../service.ts";

export interface Identity {
  privateKey: PrivateKey;
  peerId: PeerId;
  /** Signs transactions and typed data; the private key never leaves it. */
  account: PrivateKeyAccount;
}

/** The config field the `identity` factory reads. */
export interface IdentityComponents {
  config: { dataDir: string };
}

/** The `identity` component: the node's keys, loaded (or created) when the node is composed. */
export function identity() {
  return defineService("identity", ["config"], (c: IdentityComponents) => loadIdentity(c.config.dataDir));
}

export const NODE_KEY_FILE = "node.key";
export const WALLET_KEY_FILE = "wallet.key";

export async function loadIdentity(dataDir: string): Promise<Identity> {
  const dir = join(dataDir, "keys");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const nodeKeyBytes = await readOrCreate(
    join(dir, NODE_KEY_FILE),
    async () => privateKeyToProtobuf(await generateKeyPair("Ed25519")),
  );
  const walletKeyBytes = await readOrCreate(
    join(dir, WALLET_KEY_FILE),
    () => Promise.resolve(new TextEncoder().encode(generatePrivateKey())),
  );
  let privateKey: PrivateKey;
  try {
    privateKey = privateKeyFromProtobuf(nodeKeyBytes);
  } catch (cause) {
    throw new ConfigError(`node key ${join(dir, NODE_KEY_FILE)} is corrupt`, { cause });
  }
  const walletHex = new TextDecoder().decode(walletKeyBytes).trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(walletHex)) {
    throw new ConfigError(`wallet key ${join(dir, WALLET_KEY_FILE)} is corrupt`);
  }
  return {
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    account: privateKeyToAccount(walletHex as `0x${string}`),
  };
}

/** Reads a secret file, or creates it atomically with mode 0600. */
async function readOrCreate(path: string, create: () => Promise<Uint8Array>): Promise<Uint8Array> {
  try {
    const bytes = await Deno.readFile(path);
    const { mode } = await Deno.stat(path);
    if (mode !== null && (mode & 0o077) !== 0) await Deno.chmod(path, 0o600);
    return bytes;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new ConfigError(`cannot read key ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  const bytes = await create();
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  try {
    await file.write(bytes);
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
  return bytes;
}
