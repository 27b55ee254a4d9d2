/**
 * The rewards service's tables: what it read of the chain's events (pools, versions, sales, reward
 * distributions, mining epochs, this wallet's claims) up to its cursor, and the epochs the mining
 * publisher has dealt with. Amounts and ids are decimal strings; times unix seconds. See `mod.ts`.
 */
import type { Hex } from "viem";
import { type Database, migrate, transaction } from "../db/mod.ts";

const MIGRATIONS = [
  `CREATE TABLE rewards_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    chain_id INTEGER NOT NULL,
    contracts TEXT NOT NULL,
    block INTEGER NOT NULL
  );
  CREATE TABLE rewards_pools (pool_id TEXT PRIMARY KEY, operator TEXT NOT NULL, fee_bps INTEGER NOT NULL);
  CREATE TABLE rewards_versions (
    listing_id TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    contributors TEXT NOT NULL,
    rows TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL
  );
  CREATE TABLE rewards_sales (
    sale_id TEXT PRIMARY KEY,
    listing_id TEXT,
    to_seller TEXT,
    completed_at INTEGER,
    block_number INTEGER,
    log_index INTEGER
  );
  CREATE INDEX rewards_sales_completed ON rewards_sales (completed_at);
  CREATE TABLE rewards_distributions (
    distribution_id TEXT PRIMARY KEY,
    funder TEXT NOT NULL,
    root TEXT NOT NULL,
    total TEXT NOT NULL
  );
  CREATE TABLE rewards_sale_distributions (
    distribution_id TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    sale_id TEXT NOT NULL,
    listing_id TEXT NOT NULL,
    total TEXT NOT NULL
  );
  CREATE TABLE rewards_epochs (
    epoch INTEGER PRIMARY KEY,
    distribution_id TEXT NOT NULL,
    root TEXT NOT NULL,
    total TEXT NOT NULL
  );
  CREATE TABLE rewards_claims (
    distribution_id TEXT NOT NULL,
    leaf_index TEXT NOT NULL,
    account TEXT NOT NULL,
    amount TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    PRIMARY KEY (distribution_id, leaf_index)
  );
  CREATE TABLE rewards_published (
    epoch INTEGER PRIMARY KEY,
    distribution_id TEXT,
    total TEXT NOT NULL,
    tx_hash TEXT,
    recorded_at INTEGER NOT NULL
  );`,
];

export interface PoolRow {
  poolId: bigint;
  operator: `0x${string}`;
  feeBps: number;
}

export interface VersionRow {
  listingId: bigint;
  poolId: bigint;
  contributors: `0x${string}`[];
  rows: bigint[];
  blockNumber: number;
  logIndex: number;
}

/** An escrow sale: `listingId` from `Opened`, the rest from `Completed` (absent until then). */
export interface SaleRow {
  saleId: Hex;
  listingId?: bigint;
  toSeller?: bigint;
  /** Block time of `Completed`, unix seconds. */
  completedAt?: number;
  blockNumber?: number;
  logIndex?: number;
}

export interface DistributionRow {
  distributionId: bigint;
  funder: `0x${string}`;
  root: Hex;
  total: bigint;
}

export interface SaleDistributionRow {
  distributionId: bigint;
  poolId: bigint;
  saleId: Hex;
  listingId: bigint;
  total: bigint;
}

export interface EpochRow {
  epoch: number;
  distributionId: bigint;
  root: Hex;
  total: bigint;
}

export interface ClaimRow {
  distributionId: bigint;
  index: bigint;
  account: `0x${string}`;
  amount: bigint;
  txHash: Hex;
}

/** An epoch the publisher dealt with: published (`distributionId`) or empty (no rows sold, nothing sent). */
export interface PublishedRow {
  epoch: number;
  distributionId: bigint | null;
  total: bigint;
  txHash: Hex | null;
}

/** Everything one scan of the chain found, stored at once with the new cursor. */
export interface ScanBatch {
  pools: PoolRow[];
  versions: VersionRow[];
  opened: { saleId: Hex; listingId: bigint }[];
  completed: Required<Omit<SaleRow, "listingId">>[];
  distributions: DistributionRow[];
  saleDistributions: SaleDistributionRow[];
  epochs: EpochRow[];
  claims: ClaimRow[];
}

type Row = Record<string, string | number | null>;

export class RewardsStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Runs the migrations; forgets everything read when the chain or the contracts changed. */
  open(chainId: number, contracts: string): void {
    migrate(this.#db, "rewards", MIGRATIONS);
    const row = this.#db.prepare("SELECT chain_id, contracts FROM rewards_cursor WHERE id = 1").get() as
      | { chain_id: number; contracts: string }
      | undefined;
    if (row && row.chain_id === chainId && row.contracts === contracts) return;
    transaction(this.#db, () => {
      for (
        const table of [
          "cursor",
          "pools",
          "versions",
          "sales",
          "distributions",
          "sale_distributions",
          "epochs",
          "claims",
          "published",
        ]
      ) this.#db.exec(`DELETE FROM rewards_${table}`);
      this.#db.prepare("INSERT INTO rewards_cursor (id, chain_id, contracts, block) VALUES (1, ?, ?, -1)")
        .run(chainId, contracts);
    });
  }

  /** The last block scanned; -1 before the first scan. */
  get block(): number {
    const row = this.#db.prepare("SELECT block FROM rewards_cursor WHERE id = 1").get() as
      | { block: number }
      | undefined;
    return row?.block ?? -1;
  }

  /** Stores what a scan found and moves the cursor to `block`, in one transaction. */
  store(batch: ScanBatch, block: number): void {
    const db = this.#db;
    transaction(db, () => {
      const pool = db.prepare(
        "INSERT OR REPLACE INTO rewards_pools (pool_id, operator, fee_bps) VALUES (?, ?, ?)",
      );
      for (const p of batch.pools) pool.run(p.poolId.toString(), p.operator, p.feeBps);
      const version = db.prepare(
        `INSERT OR REPLACE INTO rewards_versions (listing_id, pool_id, contributors, rows, block_number, log_index)
         VALUES (?, ?, ?, ?, ?, ?)`,
      );
      for (const v of batch.versions) {
        version.run(
          v.listingId.toString(),
          v.poolId.toString(),
          JSON.stringify(v.contributors),
          JSON.stringify(v.rows.map(String)),
          v.blockNumber,
          v.logIndex,
        );
      }
      const opened = db.prepare(
        `INSERT INTO rewards_sales (sale_id, listing_id) VALUES (?, ?)
         ON CONFLICT (sale_id) DO UPDATE SET listing_id = excluded.listing_id`,
      );
      for (const o of batch.opened) opened.run(o.saleId.toLowerCase(), o.listingId.toString());
      const completed = db.prepare(
        `INSERT INTO rewards_sales (sale_id, to_seller, completed_at, block_number, log_index) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (sale_id) DO UPDATE SET to_seller = excluded.to_seller, completed_at = excluded.completed_at,
           block_number = excluded.block_number, log_index = excluded.log_index`,
      );
      for (const c of batch.completed) {
        completed.run(
          c.saleId.toLowerCase(),
          c.toSeller.toString(),
          c.completedAt,
          c.blockNumber,
          c.logIndex,
        );
      }
      const distribution = db.prepare(
        "INSERT OR REPLACE INTO rewards_distributions (distribution_id, funder, root, total) VALUES (?, ?, ?, ?)",
      );
      for (const d of batch.distributions) {
        distribution.run(d.distributionId.toString(), d.funder, d.root.toLowerCase(), d.total.toString());
      }
      const sale = db.prepare(
        `INSERT OR REPLACE INTO rewards_sale_distributions (distribution_id, pool_id, sale_id, listing_id, total)
         VALUES (?, ?, ?, ?, ?)`,
      );
      for (const s of batch.saleDistributions) {
        sale.run(
          s.distributionId.toString(),
          s.poolId.toString(),
          s.saleId.toLowerCase(),
          s.listingId.toString(),
          s.total.toString(),
        );
      }
      const epoch = db.prepare(
        "INSERT OR REPLACE INTO rewards_epochs (epoch, distribution_id, root, total) VALUES (?, ?, ?, ?)",
      );
      for (const e of batch.epochs) {
        epoch.run(e.epoch, e.distributionId.toString(), e.root.toLowerCase(), e.total.toString());
      }
      for (const c of batch.claims) this.putClaim(c);
      db.prepare("UPDATE rewards_cursor SET block = ? WHERE id = 1").run(block);
    });
  }

  /** Records a claim of this wallet (sent here, or found in a `Claimed` log); the first one recorded stays. */
  putClaim(c: ClaimRow): void {
    this.#db.prepare(
      `INSERT OR IGNORE INTO rewards_claims (distribution_id, leaf_index, account, amount, tx_hash)
       VALUES (?, ?, ?, ?, ?)`,
    ).run(c.distributionId.toString(), c.index.toString(), c.account, c.amount.toString(), c.txHash);
  }

  getPool(poolId: bigint): PoolRow | undefined {
    const r = this.#db.prepare("SELECT * FROM rewards_pools WHERE pool_id = ?").get(poolId.toString()) as
      | Row
      | undefined;
    return r && { poolId, operator: r.operator as `0x${string}`, feeBps: Number(r.fee_bps) };
  }

  getVersion(listingId: bigint): VersionRow | undefined {
    const r = this.#db.prepare("SELECT * FROM rewards_versions WHERE listing_id = ?").get(
      listingId.toString(),
    ) as
      | Row
      | undefined;
    return r && toVersion(r);
  }

  getSale(saleId: Hex): SaleRow | undefined {
    const r = this.#db.prepare("SELECT * FROM rewards_sales WHERE sale_id = ?").get(saleId.toLowerCase()) as
      | Row
      | undefined;
    return r && toSale(r);
  }

  getDistribution(distributionId: bigint): DistributionRow | undefined {
    const r = this.#db.prepare("SELECT * FROM rewards_distributions WHERE distribution_id = ?")
      .get(distributionId.toString()) as Row | undefined;
    return r && {
      distributionId,
      funder: r.funder as `0x${string}`,
      root: r.root as Hex,
      total: BigInt(r.total as string),
    };
  }

  listSaleDistributions(): SaleDistributionRow[] {
    const rows = this.#db.prepare("SELECT * FROM rewards_sale_distributions").all() as Row[];
    return rows.map((r) => ({
      distributionId: BigInt(r.distribution_id as string),
      poolId: BigInt(r.pool_id as string),
      saleId: r.sale_id as Hex,
      listingId: BigInt(r.listing_id as string),
      total: BigInt(r.total as string),
    })).sort((a, b) => compare(a.distributionId, b.distributionId));
  }

  listEpochs(): EpochRow[] {
    const rows = this.#db.prepare("SELECT * FROM rewards_epochs ORDER BY epoch").all() as Row[];
    return rows.map((r) => ({
      epoch: Number(r.epoch),
      distributionId: BigInt(r.distribution_id as string),
      root: r.root as Hex,
      total: BigInt(r.total as string),
    }));
  }

  getClaim(distributionId: bigint, index: bigint): ClaimRow | undefined {
    const r = this.#db.prepare("SELECT * FROM rewards_claims WHERE distribution_id = ? AND leaf_index = ?")
      .get(distributionId.toString(), index.toString()) as Row | undefined;
    return r && {
      distributionId,
      index,
      account: r.account as `0x${string}`,
      amount: BigInt(r.amount as string),
      txHash: r.tx_hash as Hex,
    };
  }

  /**
   * Completed sales whose block time is in `[from, to)` of a listing registered as a pool version
   * before the sale completed (an earlier block, or earlier in the same block), oldest first, with
   * that version's contributors and rows.
   */
  listSoldVersions(from: number, to: number): { sale: SaleRow; version: VersionRow }[] {
    const rows = this.#db.prepare(
      `SELECT s.sale_id, s.listing_id, s.to_seller, s.completed_at, s.block_number, s.log_index,
              v.listing_id AS v_listing_id, v.pool_id AS v_pool_id, v.contributors AS v_contributors,
              v.rows AS v_rows, v.block_number AS v_block_number, v.log_index AS v_log_index
       FROM rewards_sales s JOIN rewards_versions v ON v.listing_id = s.listing_id
       WHERE s.completed_at >= ? AND s.completed_at < ?
         AND (v.block_number < s.block_number OR (v.block_number = s.block_number AND v.log_index < s.log_index))
       ORDER BY s.block_number, s.log_index`,
    ).all(from, to) as Row[];
    return rows.map((r) => ({
      sale: toSale(r),
      version: toVersion({
        listing_id: r.v_listing_id,
        pool_id: r.v_pool_id,
        contributors: r.v_contributors,
        rows: r.v_rows,
        block_number: r.v_block_number,
        log_index: r.v_log_index,
      }),
    }));
  }

  /** Records an epoch the publisher published or found empty; the first record of an epoch stays. */
  putPublished(p: PublishedRow): void {
    this.#db.prepare(
      `INSERT OR IGNORE INTO rewards_published (epoch, distribution_id, total, tx_hash, recorded_at)
       VALUES (?, ?, ?, ?, ?)`,
    ).run(p.epoch, p.distributionId?.toString() ?? null, p.total.toString(), p.txHash, Date.now());
  }

  /** The epochs the publisher dealt with, in order. */
  listPublished(): PublishedRow[] {
    const rows = this.#db.prepare("SELECT * FROM rewards_published ORDER BY epoch").all() as Row[];
    return rows.map((r) => ({
      epoch: Number(r.epoch),
      distributionId: r.distribution_id === null ? null : BigInt(r.distribution_id as string),
      total: BigInt(r.total as string),
      txHash: r.tx_hash as Hex | null,
    }));
  }

  /** The next epoch the publisher has not dealt with (0 before the first). */
  nextUnrecordedEpoch(): number {
    const r = this.#db.prepare("SELECT MAX(epoch) AS e FROM rewards_published").get() as { e: number | null };
    return r.e === null ? 0 : r.e + 1;
  }
}

function toVersion(r: Row): VersionRow {
  return {
    listingId: BigInt(r.listing_id as string),
    poolId: BigInt(r.pool_id as string),
    contributors: JSON.parse(r.contributors as string),
    rows: (JSON.parse(r.rows as string) as string[]).map(BigInt),
    blockNumber: Number(r.block_number),
    logIndex: Number(r.log_index),
  };
}

function toSale(r: Row): SaleRow {
  return {
    saleId: r.sale_id as Hex,
    ...(r.listing_id !== null && { listingId: BigInt(r.listing_id as string) }),
    ...(r.to_seller !== null && { toSeller: BigInt(r.to_seller as string) }),
    ...(r.completed_at !== null && { completedAt: Number(r.completed_at) }),
    ...(r.block_number !== null && { blockNumber: Number(r.block_number) }),
    ...(r.log_index !== null && { logIndex: Number(r.log_index) }),
  };
}

export function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
