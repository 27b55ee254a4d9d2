/**
 * The owners a gateway acts for. An **identity proxy** is a secp256k1 key this node generates and
 * holds (`<dataDir>/proxies/<address>.key`, mode 0600, never logged) for a sensor owner without a
 * wallet of their own: the gateway funds it with gas (and stake tokens when it lists) and signs as it.
 * An `own` owner is a wallet of the owner's; nothing is signed for it. A takeover hands what the
 * proxy holds to the owner's wallet (registry listings, escrow balance, tokens) and erases the key.
 *
 * Table `gateway_owners` (address, label, kind, created, taken over at/by).
 */
import { type Address, createWalletClient, getAddress, http, isAddress, parseAbiItem } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { join } from "node:path";
import { KosmosError, NotFoundError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { kosmosRegistryAbi } from "../../../protocol/contracts_generated.ts";
import {
  type ChainService,
  getPayoutBalance,
  getTokenBalance,
  type KosmosClient,
  sendContractCall,
  transferToken,
  waitForReceipt,
  withdrawPayouts,
} from "../chain/mod.ts";
import { type Database, migrate } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";

const MIGRATIONS = [
  `CREATE TABLE gateway_owners (
    address TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('proxy', 'own')),
    created_at INTEGER NOT NULL,
    taken_over_at INTEGER,
    taken_over_by TEXT
  ) WITHOUT ROWID;`,
];

/** An owner as stored (never a key). */
export interface OwnerRecord {
  address: Address;
  label: string;
  kind: "proxy" | "own";
  createdAt: number;
  takenOverAt: number | null;
  takenOverBy: Address | null;
}

/** A proxy that cannot do what was asked (taken over already, or not a proxy at all). */
export class OwnerStateError extends KosmosError {
  override name = "OwnerStateError";
}

export interface OwnersComponents {
  db: Database;
  chain: ChainService;
  identity: Identity;
  dataDir: string;
  log: Logger;
}

export interface OwnersInit {
  /** Gas money a proxy is topped up to before it sends, wei. @default 0.05 ether */
  proxyGasWei?: bigint;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

/** What a takeover moved. */
export interface TakeoverAssets {
  listings: bigint[];
  withdrawn: bigint;
  tokens: bigint;
}

interface OwnerRow {
  address: string;
  label: string;
  kind: "proxy" | "own";
  created_at: number;
  taken_over_at: number | null;
  taken_over_by: string | null;
}

const MAX_LABEL = 120;
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Checks a label (0–120 characters, no control characters). */
export function checkLabel(label: unknown, what = "label"): string {
  if (typeof label !== "string" || label.length > MAX_LABEL || CONTROL.test(label)) {
    throw new TypeError(
      `${what} must be a text of at most ${MAX_LABEL} characters without control characters`,
    );
  }
  return label.trim();
}

/** Checks and checksums an address. */
export function checkAddress(value: unknown, what: string): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    throw new TypeError(`${what} must be a 0x-prefixed 20-byte address`);
  }
  return getAddress(value);
}

const TRANSFER_EVENT = parseAbiItem(
  "event Transfer(address indexed from, address indexed to, uint256 indexed tokenId)",
);

export class Owners {
  readonly #c: OwnersComponents;
  readonly #now: () => number;
  readonly #gasWei: bigint;
  readonly #accounts = new Map<string, PrivateKeyAccount>();
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(components: OwnersComponents, init: OwnersInit = {}) {
    this.#c = components;
    this.#now = init.now ?? Date.now;
    this.#gasWei = init.proxyGasWei ?? 5n * 10n ** 16n;
  }

  /** Runs the migrations. */
  open(): void {
    migrate(this.#c.db, "gateway_owners", MIGRATIONS);
  }

  get #dir(): string {
    return join(this.#c.dataDir, "proxies");
  }

  /** Creates an identity proxy: a new key on disk (0600) and its row. */
  async createProxy(label: unknown): Promise<OwnerRecord> {
    const checked = checkLabel(label);
    await Deno.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    const path = join(this.#dir, `${account.address}.key`);
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    try {
      await file.write(new TextEncoder().encode(key));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
    this.#c.db.prepare(
      "INSERT INTO gateway_owners (address, label, kind, created_at) VALUES (?, ?, 'proxy', ?)",
    ).run(account.address, checked, this.#now());
    this.#accounts.set(account.address, account);
    this.#c.log.info("created an identity proxy", { address: account.address });
    return this.get(account.address)!;
  }

  /** The row of `address`, adding it as an `own` owner (a wallet of theirs) when unknown. */
  ensureOwn(address: Address, label = ""): OwnerRecord {
    this.#c.db.prepare(
      "INSERT INTO gateway_owners (address, label, kind, created_at) VALUES (?, ?, 'own', ?) ON CONFLICT DO NOTHING",
    ).run(address, checkLabel(label), this.#now());
    return this.get(address)!;
  }

  get(address: string): OwnerRecord | undefined {
    const row = this.#c.db.prepare("SELECT * FROM gateway_owners WHERE address = ?").get(
      isAddress(address, { strict: false }) ? getAddress(address) : address,
    ) as OwnerRow | undefined;
    return row && toRecord(row);
  }

  list(): OwnerRecord[] {
    return (this.#c.db.prepare("SELECT * FROM gateway_owners ORDER BY created_at, address")
      .all() as unknown as OwnerRow[]).map(toRecord);
  }

  /** Whether this node holds the key of `address` (a proxy not taken over). */
  isProxy(address: string): boolean {
    const owner = this.get(address);
    return owner?.kind === "proxy" && owner.takenOverAt === null;
  }

  /** The proxy's account; {@link OwnerStateError} when `address` is not a proxy this node holds. */
  async account(address: Address): Promise<PrivateKeyAccount> {
    const owner = this.get(address);
    if (!owner) throw new NotFoundError(`No owner ${address} at this gateway`);
    if (!this.isProxy(address)) {
      throw new OwnerStateError(`Owner ${address} is not an identity proxy this gateway holds the key of`);
    }
    const cached = this.#accounts.get(owner.address);
    if (cached) return cached;
    const text = (await Deno.readTextFile(join(this.#dir, `${owner.address}.key`))).trim();
    if (!/^0x[0-9a-f]{64}$/i.test(text)) {
      throw new OwnerStateError(`The key file of proxy ${address} is corrupt`);
    }
    const account = privateKeyToAccount(text as `0x${string}`);
    if (account.address !== owner.address) {
      throw new OwnerStateError(`The key file of proxy ${address} holds another key`);
    }
    this.#accounts.set(owner.address, account);
    return account;
  }

  /** A chain client that signs as the proxy `address`. */
  async client(address: Address): Promise<KosmosClient> {
    const chain = this.#c.chain;
    const base = chain.client;
    const walletClient = createWalletClient({
      chain: chain.walletClient.chain,
      transport: http(chain.rpcUrl, { timeout: 30_000 }),
      account: await this.account(address),
      pollingInterval: chain.publicClient.pollingInterval,
    });
    return { ...base, walletClient };
  }

  /** Runs `fn` after the proxy's earlier writes have settled (one nonce sequence per proxy). */
  exclusive<T>(address: Address, fn: () => Promise<T>): Promise<T> {
    const run = (this.#queues.get(address) ?? Promise.resolve()).catch(() => {}).then(fn);
    this.#queues.set(address, run);
    return run;
  }

  /** Tops the proxy's gas money up to `proxyGasWei` from this node's wallet when it has less than half. */
  async fundGas(address: Address, options: { signal?: AbortSignal } = {}): Promise<void> {
    const chain = this.#c.chain;
    const balance = await chain.publicClient.getBalance({ address });
    if (balance * 2n >= this.#gasWei) return;
    options.signal?.throwIfAborted();
    await chain.exclusive(async () => {
      const hash = await chain.walletClient.sendTransaction({ to: address, value: this.#gasWei - balance });
      await waitForReceipt(chain.client, hash, {
        action: `fund proxy ${address} with gas`,
        signal: options.signal,
      });
    });
    this.#c.log.info("funded an identity proxy with gas", { address });
  }

  /** Sends `amount` tokens from this node's wallet to the proxy (a listing's stake). */
  async fundTokens(address: Address, amount: bigint, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (amount <= 0n) return;
    const chain = this.#c.chain;
    await chain.exclusive(() => transferToken(chain.client, { to: address, amount, signal: options.signal }));
    this.#c.log.info("funded an identity proxy with tokens", { address, amount: amount.toString() });
  }

  /**
   * Moves everything proxy `address` holds to `to`: each registry listing token it owns
   * (`transferFrom`), its escrow balance (withdrawn) and its tokens. Safe to run again after a
   * failure: what was moved is not found again.
   */
  async transferAssets(
    address: Address,
    to: Address,
    options: { signal?: AbortSignal } = {},
  ): Promise<TakeoverAssets> {
    const client = await this.client(address);
    await this.fundGas(address, options);
    return await this.exclusive(address, async () => {
      const listings = await this.#listingsOf(client, address);
      for (const listingId of listings) {
        options.signal?.throwIfAborted();
        await sendContractCall(client, {
          address: client.contracts.registry,
          abi: kosmosRegistryAbi,
          functionName: "transferFrom",
          args: [address, to, listingId],
        }, { action: `hand listing ${listingId} over to ${to}`, signal: options.signal });
      }
      let withdrawn = 0n;
      if (await getPayoutBalance(client, { address }) > 0n) {
        withdrawn = (await withdrawPayouts(client, { signal: options.signal })).amount;
      }
      const tokens = await getTokenBalance(client, { address });
      if (tokens > 0n) await transferToken(client, { to, amount: tokens, signal: options.signal });
      return { listings, withdrawn, tokens };
    });
  }

  /** Marks the proxy taken over by `to` and erases its key (overwritten, then removed). */
  async finishTakeover(address: Address, to: Address): Promise<OwnerRecord> {
    const path = join(this.#dir, `${address}.key`);
    try {
      const size = (await Deno.stat(path)).size;
      await Deno.writeFile(path, new Uint8Array(size));
      await Deno.remove(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    this.#accounts.delete(address);
    this.#c.db.prepare(
      "UPDATE gateway_owners SET kind = 'own', taken_over_at = ?, taken_over_by = ? WHERE address = ?",
    ).run(this.#now(), to, address);
    this.ensureOwn(to);
    this.#c.log.info("handed an identity proxy over to its owner", { address, to });
    return this.get(address)!;
  }

  /** Registry listing tokens `owner` holds now (from the `Transfer` logs, checked with `ownerOf`). */
  async #listingsOf(client: KosmosClient, owner: Address): Promise<bigint[]> {
    const logs = await client.publicClient.getLogs({
      address: client.contracts.registry,
      event: TRANSFER_EVENT,
      args: { to: owner },
      fromBlock: 0n,
      toBlock: "latest",
    });
    const ids = [...new Set(logs.map((l) => l.args.tokenId!))];
    const held: bigint[] = [];
    for (const id of ids) {
      const current = await client.publicClient.readContract({
        address: client.contracts.registry,
        abi: kosmosRegistryAbi,
        functionName: "ownerOf",
        args: [id],
      });
      if (current.toLowerCase() === owner.toLowerCase()) held.push(id);
    }
    return held.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

function toRecord(row: OwnerRow): OwnerRecord {
  return {
    address: row.address as Address,
    label: row.label,
    kind: row.kind,
    createdAt: row.created_at,
    takenOverAt: row.taken_over_at,
    takenOverBy: row.taken_over_by as Address | null,
  };
}
