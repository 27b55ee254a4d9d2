/**
 * The pools' tables: every pool announcement this node accepted (its own and others'), the members of
 * the pools it operates, the pools it is a member of, the versions it published and registered, and
 * the distributions of their sales (pending until `distributeSale` is mined; retried on start).
 *
 * ```ts
 * const store = new PoolStore(db);
 * store.open();
 * store.putPool(announcement);
 * store.addMember({ poolId: "1", contributor, consentId: 4n, peerId, joinedAt: Date.now() });
 * ```
 */
import type { Address, Hex } from "viem";
import { type Database, migrate } from "../db/mod.ts";
import type { PoolAnnouncement } from "../../../protocol/pools.ts";

const MIGRATIONS = [
  `CREATE TABLE pools (
    pool_id TEXT PRIMARY KEY,
    operator TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    announcement TEXT NOT NULL,
    received_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX pools_operator ON pools (operator);
  CREATE TABLE pool_members (
    pool_id TEXT NOT NULL,
    contributor TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (pool_id, contributor)
  ) STRICT;
  CREATE TABLE pool_memberships (
    pool_id TEXT PRIMARY KEY,
    operator TEXT NOT NULL,
    operator_peer TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    joined_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE pool_versions (
    listing_id TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    manifest_cid TEXT NOT NULL,
    contributors TEXT NOT NULL,
    excluded TEXT NOT NULL,
    rows INTEGER NOT NULL,
    tx_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX pool_versions_pool ON pool_versions (pool_id, created_at);
  CREATE TABLE pool_distributions (
    sale_id TEXT PRIMARY KEY,
    listing_id TEXT NOT NULL,
    to_seller TEXT NOT NULL,
    status TEXT NOT NULL,
    distribution_id TEXT,
    tx_hash TEXT,
    error TEXT,
    attempts INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX pool_distributions_status ON pool_distributions (status);`,
];

export interface MemberRecord {
  poolId: string;
  contributor: Address;
  consentId: bigint;
  peerId: string;
  joinedAt: number;
}

export interface MembershipRecord {
  poolId: string;
  operator: Address;
  operatorPeer: string;
  consentId: bigint;
  joinedAt: number;
}

export interface VersionRecord {
  listingId: bigint;
  poolId: string;
  manifestCid: string;
  contributors: { address: Address; rows: number }[];
  excluded: { address: Address; reason: string }[];
  rows: number;
  txHash: Hex;
  createdAt: number;
}

export type DistributionStatus = "pending" | "distributed" | "empty";

export interface DistributionRecord {
  saleId: Hex;
  listingId: bigint;
  toSeller: bigint;
  status: DistributionStatus;
  distributionId: bigint | null;
  txHash: Hex | null;
  error: string | null;
  attempts: number;
  updatedAt: number;
}

type Row = Record<string, string | number | null>;

export class PoolStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  open(): void {
    migrate(this.#db, "pools", MIGRATIONS);
  }

  /** Stores `a` unless a newer announcement of the pool is kept; returns whether it was stored. */
  putPool(a: PoolAnnouncement, receivedAt = Date.now()): boolean {
    const r = this.#db.prepare(
      `INSERT INTO pools (pool_id, operator, timestamp, announcement, received_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (pool_id) DO UPDATE SET timestamp = excluded.timestamp, announcement = excluded.announcement,
         received_at = excluded.received_at
       WHERE excluded.timestamp > pools.timestamp AND excluded.operator = pools.operator`,
    ).run(a.poolId, a.terms.operator, a.timestamp, JSON.stringify(a), receivedAt);
    return Number(r.changes) > 0;
  }

  getPool(poolId: string): PoolAnnouncement | undefined {
    const row = this.#db.prepare(`SELECT announcement FROM pools WHERE pool_id = ?`).get(poolId) as
      | Row
      | undefined;
    return row ? JSON.parse(row.announcement as string) : undefined;
  }

  /** Newest first, at most `limit`. */
  listPools(options: { operator?: Address; limit?: number } = {}): PoolAnnouncement[] {
    const rows = (options.operator
      ? this.#db.prepare(
        `SELECT announcement FROM pools WHERE operator = ? ORDER BY CAST(pool_id AS INTEGER) DESC LIMIT ?`,
      )
        .all(options.operator, options.limit ?? 1000)
      : this.#db.prepare(`SELECT announcement FROM pools ORDER BY CAST(pool_id AS INTEGER) DESC LIMIT ?`)
        .all(options.limit ?? 1000)) as Row[];
    return rows.map((r) => JSON.parse(r.announcement as string));
  }

  countPools(): number {
    return Number((this.#db.prepare(`SELECT count(*) AS n FROM pools`).get() as Row).n);
  }

  addMember(m: MemberRecord): void {
    this.#db.prepare(
      `INSERT INTO pool_members (pool_id, contributor, consent_id, peer_id, joined_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (pool_id, contributor) DO UPDATE SET consent_id = excluded.consent_id, peer_id = excluded.peer_id`,
    ).run(m.poolId, m.contributor, m.consentId.toString(), m.peerId, m.joinedAt);
  }

  removeMember(poolId: string, contributor: Address): boolean {
    const r = this.#db.prepare(`DELETE FROM pool_members WHERE pool_id = ? AND contributor = ?`).run(
      poolId,
      contributor,
    );
    return Number(r.changes) > 0;
  }

  getMember(poolId: string, contributor: Address): MemberRecord | undefined {
    const row = this.#db.prepare(`SELECT * FROM pool_members WHERE pool_id = ? AND contributor = ?`)
      .get(poolId, contributor) as Row | undefined;
    return row ? toMember(row) : undefined;
  }

  listMembers(poolId: string): MemberRecord[] {
    return (this.#db.prepare(`SELECT * FROM pool_members WHERE pool_id = ? ORDER BY joined_at, contributor`)
      .all(poolId) as Row[]).map(toMember);
  }

  countMembers(poolId: string): number {
    return Number(
      (this.#db.prepare(`SELECT count(*) AS n FROM pool_members WHERE pool_id = ?`).get(poolId) as Row).n,
    );
  }

  putMembership(m: MembershipRecord): void {
    this.#db.prepare(
      `INSERT INTO pool_memberships (pool_id, operator, operator_peer, consent_id, joined_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (pool_id) DO UPDATE SET operator = excluded.operator, operator_peer = excluded.operator_peer,
         consent_id = excluded.consent_id, joined_at = excluded.joined_at`,
    ).run(m.poolId, m.operator, m.operatorPeer, m.consentId.toString(), m.joinedAt);
  }

  getMembership(poolId: string): MembershipRecord | undefined {
    const row = this.#db.prepare(`SELECT * FROM pool_memberships WHERE pool_id = ?`).get(poolId) as
      | Row
      | undefined;
    return row
      ? {
        poolId: row.pool_id as string,
        operator: row.operator as Address,
        operatorPeer: row.operator_peer as string,
        consentId: BigInt(row.consent_id as string),
        joinedAt: row.joined_at as number,
      }
      : undefined;
  }

  removeMembership(poolId: string): boolean {
    return Number(this.#db.prepare(`DELETE FROM pool_memberships WHERE pool_id = ?`).run(poolId).changes) > 0;
  }

  addVersion(v: VersionRecord): void {
    this.#db.prepare(
      `INSERT INTO pool_versions (listing_id, pool_id, manifest_cid, contributors, excluded, rows, tx_hash, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      v.listingId.toString(),
      v.poolId,
      v.manifestCid,
      JSON.stringify(v.contributors),
      JSON.stringify(v.excluded),
      v.rows,
      v.txHash,
      v.createdAt,
    );
  }

  getVersion(listingId: bigint): VersionRecord | undefined {
    const row = this.#db.prepare(`SELECT * FROM pool_versions WHERE listing_id = ?`).get(
      listingId.toString(),
    ) as
      | Row
      | undefined;
    return row ? toVersion(row) : undefined;
  }

  listVersions(poolId: string): VersionRecord[] {
    return (this.#db.prepare(`SELECT * FROM pool_versions WHERE pool_id = ? ORDER BY created_at DESC`)
      .all(poolId) as Row[]).map(toVersion);
  }

  /** Adds a pending distribution for a completed sale; false when the sale is known already. */
  addDistribution(saleId: Hex, listingId: bigint, toSeller: bigint, now = Date.now()): boolean {
    const r = this.#db.prepare(
      `INSERT OR IGNORE INTO pool_distributions (sale_id, listing_id, to_seller, status, attempts, updated_at)
       VALUES (?, ?, ?, 'pending', 0, ?)`,
    ).run(saleId.toLowerCase(), listingId.toString(), toSeller.toString(), now);
    return Number(r.changes) > 0;
  }

  getDistribution(saleId: Hex): DistributionRecord | undefined {
    const row = this.#db.prepare(`SELECT * FROM pool_distributions WHERE sale_id = ?`).get(
      saleId.toLowerCase(),
    ) as
      | Row
      | undefined;
    return row ? toDistribution(row) : undefined;
  }

  listDistributions(filter: { status?: DistributionStatus; listingId?: bigint } = {}): DistributionRecord[] {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.status) where.push("status = ?"), params.push(filter.status);
    if (filter.listingId !== undefined) {
      where.push("listing_id = ?"), params.push(filter.listingId.toString());
    }
    return (this.#db.prepare(
      `SELECT * FROM pool_distributions ${
        where.length ? `WHERE ${where.join(" AND ")}` : ""
      } ORDER BY updated_at`,
    ).all(...params) as Row[]).map(toDistribution);
  }

  finishDistribution(
    saleId: Hex,
    result: { status: "distributed" | "empty"; distributionId?: bigint; txHash?: Hex },
  ): void {
    this.#db.prepare(
      `UPDATE pool_distributions SET status = ?, distribution_id = ?, tx_hash = ?, error = NULL, updated_at = ?
       WHERE sale_id = ?`,
    ).run(
      result.status,
      result.distributionId?.toString() ?? null,
      result.txHash ?? null,
      Date.now(),
      saleId.toLowerCase(),
    );
  }

  failDistribution(saleId: Hex, error: string): void {
    this.#db.prepare(
      `UPDATE pool_distributions SET error = ?, attempts = attempts + 1, updated_at = ? WHERE sale_id = ?`,
    ).run(error.slice(0, 500), Date.now(), saleId.toLowerCase());
  }
}

function toMember(row: Row): MemberRecord {
  return {
    poolId: row.pool_id as string,
    contributor: row.contributor as Address,
    consentId: BigInt(row.consent_id as string),
    peerId: row.peer_id as string,
    joinedAt: row.joined_at as number,
  };
}

function toVersion(row: Row): VersionRecord {
  return {
    listingId: BigInt(row.listing_id as string),
    poolId: row.pool_id as string,
    manifestCid: row.manifest_cid as string,
    contributors: JSON.parse(row.contributors as string),
    excluded: JSON.parse(row.excluded as string),
    rows: row.rows as number,
    txHash: row.tx_hash as Hex,
    createdAt: row.created_at as number,
  };
}

function toDistribution(row: Row): DistributionRecord {
  return {
    saleId: row.sale_id as Hex,
    listingId: BigInt(row.listing_id as string),
    toSeller: BigInt(row.to_seller as string),
    status: row.status as DistributionStatus,
    distributionId: row.distribution_id === null ? null : BigInt(row.distribution_id as string),
    txHash: row.tx_hash as Hex | null,
    error: row.error as string | null,
    attempts: row.attempts as number,
    updatedAt: row.updated_at as number,
  };
}
