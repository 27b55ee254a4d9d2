/**
 * Follows the registry and escrow events into SQLite: each event with its
 * block number, block hash, transaction and decoded arguments. It resumes from
 * its last block after a restart, and handles reorgs: it keeps the hashes of
 * the last `reorgDepth` blocks it read, and when the chain's hash for the
 * newest one differs it finds the highest block that still matches, deletes
 * everything above it, and reads again from there.
 *
 * ```ts
 * const indexer = createChainIndexer({ db, log, publicClient, contracts, chainId });
 * await indexer.start();          // polls in the background
 * await indexer.sync();           // or catch up now; resolves with the block indexed to
 * indexer.listEvents({ name: "Challenged" });
 * indexer.listManifestStakes();  // active stake and open challenges per manifest CID
 * ```
 */
import { type Abi, type Hex, type Log, parseEventLogs } from "viem";
import { kosmosEscrowAbi, kosmosRegistryAbi } from "../../../protocol/contracts_generated.ts";
import { type Database, migrate, transaction } from "../db/mod.ts";
import type { Logger } from "../../log.ts";
import type { ChainPublicClient, ContractAddresses } from "./client.ts";
import { bytesToCid } from "./actions/registry.ts";

const migrations = [
  `CREATE TABLE chain_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    chain_id INTEGER NOT NULL,
    registry TEXT NOT NULL,
    escrow TEXT NOT NULL,
    block INTEGER NOT NULL
  );
  CREATE TABLE chain_blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
  CREATE TABLE chain_events (
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    contract TEXT NOT NULL,
    name TEXT NOT NULL,
    listing_id TEXT,
    sale_id TEXT,
    account TEXT,
    args TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
  );
  CREATE INDEX chain_events_listing ON chain_events (listing_id, block_number);
  CREATE INDEX chain_events_account ON chain_events (account, name);
  CREATE INDEX chain_events_name ON chain_events (name, block_number);`,
];

/** The contract an event came from. */
export type IndexedContract = "registry" | "escrow";

/** Event names the indexer keeps. */
export const INDEXED_EVENTS: Record<IndexedContract, readonly string[]> = {
  registry: ["Listed", "StakeAdded", "WithdrawalRequested", "Withdrawn", "Challenged", "Resolved"],
  escrow: ["Opened", "Revealed", "Disputed", "DisputeResolved", "Completed", "Refunded", "Withdrawn"],
};

/** One stored event. Amounts and ids in `args` are decimal strings. */
export interface IndexedEvent {
  blockNumber: number;
  blockHash: Hex;
  logIndex: number;
  txHash: Hex;
  contract: IndexedContract;
  name: string;
  /** Registry listing id (decimal), when the event has one. */
  listingId?: string;
  saleId?: Hex;
  /** The account the event is about (owner, challenger, buyer, payee), lower-case. */
  account?: string;
  args: Record<string, unknown>;
}

export interface ChainIndexerComponents {
  db: Database;
  log: Logger;
  publicClient: ChainPublicClient;
  contracts: ContractAddresses;
  chainId: number;
}

export interface ChainIndexerInit {
  /** Milliseconds between polls. @default 1000 */
  pollInterval?: number;
  /** Block hashes kept to detect reorgs, i.e. the deepest reorg handled. @default 64 */
  reorgDepth?: number;
  /** Most blocks read per `eth_getLogs`. @default 2000 */
  batchSize?: number;
}

export function createChainIndexer(
  components: ChainIndexerComponents,
  init: ChainIndexerInit = {},
): ChainIndexer {
  return new ChainIndexer(components, init);
}

/** Detail of the `"indexed"` event a {@link ChainIndexer} dispatches after storing new blocks. */
export interface IndexedDetail {
  /** The last block indexed. */
  block: number;
  /** The events stored, oldest first. */
  events: IndexedEvent[];
  /** True when a reorg removed stored events since the last `"indexed"` event. */
  reorg: boolean;
}

/** The registry's listings of one manifest CID, folded from the indexed events. */
export interface ManifestStake {
  manifestCid: string;
  /** Stake on its active listings, decimal token base units. */
  stake: string;
  /** Open challenges against its active listings. */
  challenges: number;
  /** Its active listing ids (decimal), oldest first; empty once all were withdrawn or removed. */
  listingIds: string[];
  /**
   * The registry owner of its oldest active listing (from the `Listed`
   * event), the one seller the catalog accepts for the CID; absent when none is active.
   */
  owner?: string;
}

/** Dispatches `"indexed"` ({@link IndexedDetail}) after each batch it stores. */
export class ChainIndexer extends EventTarget {
  #c: ChainIndexerComponents;
  #pollInterval: number;
  #reorgDepth: number;
  #batchSize: number;
  #queue: Promise<unknown> = Promise.resolve();
  #controller?: AbortController;
  #loop?: Promise<void>;
  #reorg = false;

  constructor(components: ChainIndexerComponents, init: ChainIndexerInit = {}) {
    super();
    this.#c = components;
    this.#pollInterval = init.pollInterval ?? 1000;
    this.#reorgDepth = init.reorgDepth ?? 64;
    this.#batchSize = init.batchSize ?? 2000;
    migrate(components.db, "chain", migrations);
    this.#resetWhenContractsChanged();
  }

  /** The last block indexed; -1 before the first sync. */
  get block(): number {
    const row = this.#c.db.prepare("SELECT block FROM chain_cursor WHERE id = 1").get() as
      | { block: number }
      | undefined;
    return row?.block ?? -1;
  }

  /** Starts polling in the background (it does not wait for the first sync). */
  start(): Promise<void> {
    if (this.#loop) return Promise.resolve();
    const controller = new AbortController();
    this.#controller = controller;
    this.#loop = (async () => {
      while (!controller.signal.aborted) {
        try {
          await this.sync({ signal: controller.signal });
        } catch (err) {
          if (controller.signal.aborted) break;
          this.#c.log.warn("failed to index chain events", { error: (err as Error).message });
        }
        await delay(this.#pollInterval, controller.signal);
      }
    })();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#controller?.abort();
    await this.#loop;
    await this.#queue.catch(() => {});
    this.#loop = undefined;
  }

  /** Catches up with the chain's head now; resolves with the last block indexed. */
  sync(options: { signal?: AbortSignal } = {}): Promise<number> {
    const run = this.#queue.catch(() => {}).then(() => this.#syncOnce(options.signal));
    this.#queue = run;
    return run;
  }

  /** Stored events, oldest first. */
  listEvents(filter: {
    contract?: IndexedContract;
    name?: string;
    listingId?: string;
    saleId?: Hex;
    account?: string;
    /** @default 1000 */
    limit?: number;
  } = {}): IndexedEvent[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.contract) where.push("contract = ?"), params.push(filter.contract);
    if (filter.name) where.push("name = ?"), params.push(filter.name);
    if (filter.listingId) where.push("listing_id = ?"), params.push(filter.listingId);
    if (filter.saleId) where.push("sale_id = ?"), params.push(filter.saleId.toLowerCase());
    if (filter.account) where.push("account = ?"), params.push(filter.account.toLowerCase());
    params.push(filter.limit ?? 1000);
    const rows = this.#c.db.prepare(
      `SELECT * FROM chain_events ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY block_number, log_index LIMIT ?`,
    ).all(...params) as unknown as EventRow[];
    return rows.map(fromRow);
  }

  /** Registry listing ids an event mentions, filtered like {@link listEvents}. */
  listListingIds(filter: { name?: string; account?: string } = {}): bigint[] {
    const where = ["contract = 'registry'", "listing_id IS NOT NULL"];
    const params: string[] = [];
    if (filter.name) where.push("name = ?"), params.push(filter.name);
    if (filter.account) where.push("account = ?"), params.push(filter.account.toLowerCase());
    const rows = this.#c.db.prepare(
      `SELECT DISTINCT listing_id AS id FROM chain_events WHERE ${where.join(" AND ")}`,
    ).all(...params) as { id: string }[];
    return rows.map((r) => BigInt(r.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Active stake, open challenges and active listings per manifest CID, from
   * the registry events indexed so far: of every listed CID, or only of the
   * CIDs of `listingIds`.
   */
  listManifestStakes(filter: { listingIds?: readonly string[] } = {}): ManifestStake[] {
    const db = this.#c.db;
    const listed = db.prepare(
      "SELECT listing_id AS id, args FROM chain_events WHERE contract = 'registry' AND name = 'Listed'",
    ).all() as { id: string; args: string }[];
    const cidOf = new Map(listed.map((r) => [r.id, bytesToCid(JSON.parse(r.args).cid)]));
    const cids = filter.listingIds
      ? new Set(filter.listingIds.map((id) => cidOf.get(id)).filter((cid) => cid !== undefined))
      : new Set(cidOf.values());
    const ids = [...cidOf].filter(([, cid]) => cids.has(cid)).map(([id]) => id);
    if (ids.length === 0) return [];
    const rows = db.prepare(
      `SELECT listing_id AS id, name, args FROM chain_events
       WHERE contract = 'registry' AND listing_id IN (${ids.map(() => "?").join(", ")})
       ORDER BY block_number, log_index`,
    ).all(...ids) as { id: string; name: string; args: string }[];
    const state = new Map<string, { stake: bigint; challenges: number; active: boolean; owner?: string }>();
    for (const r of rows) {
      const args = JSON.parse(r.args) as Record<string, string | boolean>;
      const s = state.get(r.id) ?? { stake: 0n, challenges: 0, active: false };
      if (r.name === "Listed") {
        Object.assign(s, { stake: BigInt(args.stake as string), active: true, owner: args.owner as string });
      } else if (r.name === "StakeAdded") s.stake = BigInt(args.stake as string);
      else if (r.name === "Challenged") s.challenges = Number(args.count);
      else if (r.name === "Withdrawn" || (r.name === "Resolved" && args.bad)) s.active = false;
      else if (r.name === "Resolved") s.challenges = 0;
      state.set(r.id, s);
    }
    const byCid = new Map<string, ManifestStake>();
    for (const cid of cids) byCid.set(cid, { manifestCid: cid, stake: "0", challenges: 0, listingIds: [] });
    const sorted = ids.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
    for (const id of sorted) {
      const s = state.get(id)!;
      if (!s.active) continue;
      const m = byCid.get(cidOf.get(id)!)!;
      m.stake = (BigInt(m.stake) + s.stake).toString();
      m.challenges += s.challenges;
      m.listingIds.push(id);
      m.owner ??= s.owner;
    }
    return [...byCid.values()];
  }

  #resetWhenContractsChanged(): void {
    const { db, contracts, chainId } = this.#c;
    const row = db.prepare("SELECT chain_id, registry, escrow FROM chain_cursor WHERE id = 1").get() as
      | { chain_id: number; registry: string; escrow: string }
      | undefined;
    if (
      row && row.chain_id === chainId && row.registry === contracts.registry &&
      row.escrow === contracts.escrow
    ) return;
    transaction(db, () => {
      db.exec("DELETE FROM chain_events; DELETE FROM chain_blocks; DELETE FROM chain_cursor;");
      db.prepare("INSERT INTO chain_cursor (id, chain_id, registry, escrow, block) VALUES (1, ?, ?, ?, -1)")
        .run(chainId, contracts.registry, contracts.escrow);
    });
    if (row) this.#c.log.info("reset the chain index for new contracts", { registry: contracts.registry });
  }

  async #syncOnce(signal?: AbortSignal): Promise<number> {
    const { publicClient } = this.#c;
    signal?.throwIfAborted();
    const head = Number(await publicClient.getBlockNumber({ cacheTime: 0 }));
    await this.#rollBackReorg(head);
    let cursor = this.block;
    while (cursor < head) {
      signal?.throwIfAborted();
      const from = cursor + 1;
      const to = Math.min(cursor + this.#batchSize, head);
      const block = await publicClient.getBlock({ blockNumber: BigInt(to) });
      const logs = await publicClient.getLogs({
        address: [this.#c.contracts.registry, this.#c.contracts.escrow],
        fromBlock: BigInt(from),
        toBlock: BigInt(to),
      });
      if (logs.some((l) => l.blockNumber === block.number && l.blockHash !== block.hash)) {
        // The chain changed while we read; the next round finds the fork.
        return cursor;
      }
      this.#store(logs, to, block.hash);
      cursor = to;
    }
    return cursor;
  }

  #store(logs: Log[], to: number, toHash: Hex): void {
    const { db, contracts } = this.#c;
    const events = [
      ...decode(
        logs.filter((l) => sameAddress(l.address, contracts.registry)),
        kosmosRegistryAbi,
        "registry",
      ),
      ...decode(logs.filter((l) => sameAddress(l.address, contracts.escrow)), kosmosEscrowAbi, "escrow"),
    ];
    const insertEvent = db.prepare(
      `INSERT OR REPLACE INTO chain_events
       (block_number, log_index, block_hash, tx_hash, contract, name, listing_id, sale_id, account, args)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertBlock = db.prepare("INSERT OR REPLACE INTO chain_blocks (number, hash) VALUES (?, ?)");
    transaction(db, () => {
      for (const e of events) {
        insertEvent.run(
          e.blockNumber,
          e.logIndex,
          e.blockHash,
          e.txHash,
          e.contract,
          e.name,
          e.listingId ?? null,
          e.saleId ?? null,
          e.account ?? null,
          JSON.stringify(e.args),
        );
        insertBlock.run(e.blockNumber, e.blockHash);
      }
      insertBlock.run(to, toHash);
      db.prepare("DELETE FROM chain_blocks WHERE number <= ?").run(to - this.#reorgDepth);
      db.prepare("UPDATE chain_cursor SET block = ? WHERE id = 1").run(to);
    });
    if (events.length) this.#c.log.debug("indexed chain events", { count: events.length, block: to });
    const reorg = this.#reorg;
    this.#reorg = false;
    this.dispatchEvent(new CustomEvent<IndexedDetail>("indexed", { detail: { block: to, events, reorg } }));
  }

  /** Finds the highest kept block whose hash the chain still has and deletes everything above it. */
  async #rollBackReorg(head: number): Promise<void> {
    const { db, publicClient, log } = this.#c;
    const kept = db.prepare("SELECT number, hash FROM chain_blocks ORDER BY number DESC").all() as {
      number: number;
      hash: string;
    }[];
    if (kept.length === 0) return;
    let fork: number | undefined;
    for (const [i, { number, hash }] of kept.entries()) {
      const current = number <= head
        ? (await publicClient.getBlock({ blockNumber: BigInt(number) }).catch(() => undefined))?.hash
        : undefined;
      if (current === hash) {
        if (i === 0) return;
        fork = number;
        break;
      }
    }
    // Deeper than the kept hashes: start again below the oldest one kept.
    fork ??= kept.at(-1)!.number - 1;
    const from = this.block;
    transaction(db, () => {
      db.prepare("DELETE FROM chain_events WHERE block_number > ?").run(fork);
      db.prepare("DELETE FROM chain_blocks WHERE number > ?").run(fork);
      db.prepare("UPDATE chain_cursor SET block = ? WHERE id = 1").run(fork);
    });
    this.#reorg = true;
    log.warn("rolled back a chain reorg", { from, to: fork });
  }
}

interface EventRow {
  block_number: number;
  log_index: number;
  block_hash: string;
  tx_hash: string;
  contract: IndexedContract;
  name: string;
  listing_id: string | null;
  sale_id: string | null;
  account: string | null;
  args: string;
}

function fromRow(r: EventRow): IndexedEvent {
  return {
    blockNumber: r.block_number,
    blockHash: r.block_hash as Hex,
    logIndex: r.log_index,
    txHash: r.tx_hash as Hex,
    contract: r.contract,
    name: r.name,
    ...(r.listing_id !== null && { listingId: r.listing_id }),
    ...(r.sale_id !== null && { saleId: r.sale_id as Hex }),
    ...(r.account !== null && { account: r.account }),
    args: JSON.parse(r.args),
  };
}

function decode(logs: Log[], abi: Abi, contract: IndexedContract): IndexedEvent[] {
  const wanted = INDEXED_EVENTS[contract];
  const decoded = parseEventLogs({ abi, logs, strict: false }) as unknown as (Log & {
    eventName: string;
    args: Record<string, unknown>;
  })[];
  return decoded.filter((l) => wanted.includes(l.eventName)).map((l) => {
    const args = toJson(l.args) as Record<string, unknown>;
    const a = l.args;
    const account = (a.owner ?? a.challenger ?? a.buyer ?? a.account) as string | undefined;
    return {
      blockNumber: Number(l.blockNumber),
      blockHash: l.blockHash!,
      logIndex: l.logIndex!,
      txHash: l.transactionHash!,
      contract,
      name: l.eventName,
      ...(a.listingId !== undefined && { listingId: String(a.listingId) }),
      ...(a.saleId !== undefined && { saleId: a.saleId as Hex }),
      ...(account !== undefined && { account: account.toLowerCase() }),
      args,
    };
  });
}

/** Decoded arguments as JSON: bigints become decimal strings. */
function toJson(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
