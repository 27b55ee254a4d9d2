/**
 * The sealed batch blocks a node holds, in SQLite: one `ingest_batches` row
 * per block (its CID, site, owner, role, size and delivery state, never
 * bytes), and what the owner remembers of delivered batches
 * (`ingest_inbox` by CID, `ingest_received` by batch id for inline ones).
 * Dropping a batch deletes its row, its block and its provider record;
 * batches an older version kept as bytes in `ingest_outbox` are moved into
 * the block store on open.
 *
 * ```ts
 * const batches = new BatchStore({ db, blocks, holder, signer, log, now: Date.now });
 * await batches.open();                  // tables, then legacy rows adopted
 * batches.insertProxy(cid, site, ownerPeerId, bytes, now, replicateAt);
 * batches.due(now);                      // rows whose delivery is due
 * batches.countPending();                // rows not acked by their owner yet
 * ```
 */
import { CID } from "multiformats/cid";
import { decodeSealedBatch, encodeSealedBatch } from "../../../protocol/analytics.ts";
import { MAX_SEALED_BLOCK_BYTES, signSealedBatch } from "../../../protocol/ingest.ts";
import { type Database, migrate } from "../db/mod.ts";
import type { BlockStore } from "../blocks/mod.ts";
import type { Holder } from "../replication/mod.ts";
import type { Logger } from "../../log.ts";
import { day, hour, second } from "../../constants.ts";
import type { BatchSigner } from "./seal.ts";

/** One sealed batch block this node holds. */
export interface BatchState {
  cid: string;
  site: string;
  /** The owner's node. */
  peerId: string;
  /** "proxy": sealed here; "replica": held for another proxy. */
  role: "proxy" | "replica";
  bytes: number;
  createdAt: number;
  /** When the owner acked it; absent while it waits. */
  ackedAt?: number;
  attempts: number;
  /** Nodes this proxy handed a copy to. */
  replicas: string[];
}

const MIGRATIONS = [
  `CREATE TABLE ingest_batches (
    cid TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('proxy', 'replica')),
    bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER,
    acked_at INTEGER,
    replicas TEXT NOT NULL DEFAULT '[]',
    replicate_at INTEGER
  );
  CREATE INDEX ingest_batches_due ON ingest_batches (next_at);
  CREATE INDEX ingest_batches_peer ON ingest_batches (peer_id);
  CREATE TABLE ingest_inbox (
    cid TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL,
    site TEXT NOT NULL,
    received_at INTEGER NOT NULL
  );
  CREATE INDEX ingest_inbox_received ON ingest_inbox (received_at);`,
];

/** How long the owner remembers a delivered CID (longer than any holder keeps one). */
const INBOX_RETENTION = 90 * day;
/** Stores a batch sealed here: cid, site, peer_id, bytes, created_at, next_at, replicate_at. */
const INSERT_PROXY_BATCH =
  `INSERT OR IGNORE INTO ingest_batches (cid, site, peer_id, role, bytes, created_at, next_at, replicate_at)
   VALUES (?, ?, ?, 'proxy', ?, ?, ?, ?)`;

/** A row of `ingest_batches`, as far as a query selected it. */
export interface BatchRow {
  cid: string;
  site: string;
  peer_id: string;
  role: "proxy" | "replica";
  bytes: number;
  created_at: number;
  attempts: number;
  acked_at: number | null;
  replicas: string;
}

export interface BatchStoreComponents {
  db: Database;
  blocks: BlockStore;
  holder: Holder;
  /** Signs legacy batches on adoption. */
  signer: BatchSigner;
  log: Logger;
  /** The clock, ms. */
  now: () => number;
}

export class BatchStore {
  readonly #c: BatchStoreComponents;

  constructor(components: BatchStoreComponents) {
    this.#c = components;
  }

  /** Creates the tables and adopts batches an older version kept in SQLite. */
  async open(): Promise<void> {
    migrate(this.#c.db, "ingest-outbox", MIGRATIONS);
    await this.#adoptLegacyOutbox();
  }

  /** Every held CID. */
  heldCids(): string[] {
    return (this.#c.db.prepare("SELECT cid FROM ingest_batches").all() as { cid: string }[]).map((r) =>
      r.cid
    );
  }

  /** Records a batch sealed here, due for delivery now and for replication at `replicateAt`. */
  insertProxy(
    cid: string,
    site: string,
    peerId: string,
    bytes: number,
    now: number,
    replicateAt: number,
  ): void {
    this.#c.db.prepare(INSERT_PROXY_BATCH).run(cid, site, peerId, bytes, now, now, replicateAt);
  }

  /** Records a batch held for another proxy, due for delivery at `nextAt`. */
  insertReplica(cid: string, site: string, peerId: string, bytes: number, now: number, nextAt: number): void {
    this.#c.db.prepare(
      `INSERT OR IGNORE INTO ingest_batches (cid, site, peer_id, role, bytes, created_at, next_at)
       VALUES (?, ?, ?, 'replica', ?, ?, ?)`,
    ).run(cid, site, peerId, bytes, now, nextAt);
  }

  has(cid: string): boolean {
    return this.#c.db.prepare("SELECT 1 FROM ingest_batches WHERE cid = ?").get(cid) !== undefined;
  }

  /** Bytes held for other proxies. */
  replicaBytes(): number {
    return (this.#c.db.prepare(
      "SELECT COALESCE(SUM(bytes), 0) AS n FROM ingest_batches WHERE role = 'replica'",
    )
      .get() as { n: number }).n;
  }

  /** Batches this node holds that their owner has not acked yet. */
  countPending(): number {
    return (this.#c.db.prepare("SELECT COUNT(*) AS n FROM ingest_batches WHERE acked_at IS NULL").get() as {
      n: number;
    }).n;
  }

  /** Every batch block this node holds, oldest first. */
  listBatches(): BatchState[] {
    const rows = this.#c.db.prepare(
      `SELECT cid, site, peer_id, role, bytes, created_at, attempts, acked_at, replicas
       FROM ingest_batches ORDER BY created_at, cid`,
    ).all() as unknown as BatchRow[];
    return rows.map((r) => {
      const state: BatchState = {
        cid: r.cid,
        site: r.site,
        peerId: r.peer_id,
        role: r.role,
        bytes: r.bytes,
        createdAt: r.created_at,
        attempts: r.attempts,
        replicas: JSON.parse(r.replicas),
      };
      if (r.acked_at !== null) state.ackedAt = r.acked_at;
      return state;
    });
  }

  /** Makes every unacked batch due for delivery, and replication where it waits for it, at `now`. */
  makeAllDue(now: number): void {
    this.#c.db.prepare("UPDATE ingest_batches SET next_at = ? WHERE acked_at IS NULL").run(now);
    this.#c.db.prepare(
      "UPDATE ingest_batches SET replicate_at = ? WHERE acked_at IS NULL AND replicate_at IS NOT NULL",
    ).run(now);
  }

  /** `peerId` (re)connected: what waits for it, and unreplicated batches that failed once, are due now. */
  makeDueFor(peerId: string, now: number): boolean {
    const { db } = this.#c;
    const owed = db.prepare(
      "UPDATE ingest_batches SET next_at = ? WHERE peer_id = ? AND acked_at IS NULL AND next_at > ?",
    ).run(now, peerId, now);
    const unreplicated = db.prepare(
      `UPDATE ingest_batches SET replicate_at = ? WHERE role = 'proxy' AND acked_at IS NULL
       AND replicate_at > ? AND attempts > 0`,
    ).run(now, now);
    return Number(owed.changes) + Number(unreplicated.changes) > 0;
  }

  /** When the next delivery or replication is due, or null. */
  nextDueAt(): number | null {
    return (this.#c.db.prepare(
      `SELECT MIN(t) AS next FROM (
         SELECT MIN(next_at) AS t FROM ingest_batches WHERE acked_at IS NULL
         UNION ALL SELECT MIN(replicate_at) FROM ingest_batches WHERE acked_at IS NULL AND role = 'proxy')`,
    ).get() as { next: number | null }).next;
  }

  /** Unacked batches due for delivery at `now`, oldest first (at most 256). */
  dueForDelivery(now: number): BatchRow[] {
    return this.#c.db.prepare(
      `SELECT cid, site, peer_id, role, attempts FROM ingest_batches
       WHERE acked_at IS NULL AND next_at <= ? ORDER BY created_at LIMIT 256`,
    ).all(now) as unknown as BatchRow[];
  }

  /** Unacked batches sealed here whose replication is due at `now`, oldest first (at most 64). */
  dueForReplication(now: number): BatchRow[] {
    return this.#c.db.prepare(
      `SELECT cid, site, peer_id, replicas FROM ingest_batches WHERE role = 'proxy' AND acked_at IS NULL
       AND replicate_at IS NOT NULL AND replicate_at <= ? ORDER BY created_at LIMIT 64`,
    ).all(now) as unknown as BatchRow[];
  }

  /** The row's `cid`, `role` and `attempts`, or undefined. */
  get(cid: string): BatchRow | undefined {
    return this.#c.db.prepare("SELECT cid, role, attempts FROM ingest_batches WHERE cid = ?").get(cid) as
      | BatchRow
      | undefined;
  }

  /** The owner acked `cid` at `now`. */
  markAcked(cid: string, now: number): void {
    this.#c.db.prepare(
      "UPDATE ingest_batches SET acked_at = ?, next_at = NULL, replicate_at = NULL WHERE cid = ?",
    )
      .run(now, cid);
  }

  /** Delays the next delivery of `row`; an unreachable owner also makes its replication due now. */
  backOff(row: BatchRow, unreachable: boolean, maxRetryDelay: number): void {
    const delay = Math.min(maxRetryDelay, second * 2 ** Math.min(row.attempts, 16));
    const now = this.#c.now();
    this.#c.db.prepare(
      `UPDATE ingest_batches SET attempts = attempts + 1, next_at = ?,
         replicate_at = CASE WHEN ? AND replicate_at IS NOT NULL THEN MIN(replicate_at, ?) ELSE replicate_at END
       WHERE cid = ?`,
    ).run(now + delay, unreachable ? 1 : 0, now, row.cid);
  }

  /** The nodes holding a copy of `cid`; `replicateAt` null when there are enough. */
  setReplicas(cid: string, replicas: string[], replicateAt: number | null): void {
    this.#c.db.prepare("UPDATE ingest_batches SET replicas = ?, replicate_at = ? WHERE cid = ?")
      .run(JSON.stringify(replicas), replicateAt, cid);
  }

  /** Forgets a held batch: its row, its block and its provider record. */
  async drop(cid: string): Promise<void> {
    const parsed = CID.parse(cid);
    this.#c.db.prepare("DELETE FROM ingest_batches WHERE cid = ?").run(cid);
    await this.#c.blocks.delete(parsed);
    await this.#c.holder.release(parsed);
  }

  /**
   * Drops batches acked more than `retention` ago and unacked ones older than
   * `maxBatchAge`, and forgets delivered CIDs after 90 days.
   */
  async prune(options: { retention: number; maxBatchAge: number }): Promise<void> {
    const { db, log } = this.#c;
    const now = this.#c.now();
    const acked = db.prepare("SELECT cid FROM ingest_batches WHERE acked_at IS NOT NULL AND acked_at < ?")
      .all(now - options.retention) as { cid: string }[];
    const expired = db.prepare("SELECT cid FROM ingest_batches WHERE acked_at IS NULL AND created_at < ?")
      .all(now - options.maxBatchAge) as { cid: string }[];
    for (const { cid } of [...acked, ...expired]) await this.drop(cid);
    if (expired.length > 0) log.warn("dropped batches their owner never acked", { count: expired.length });
    db.prepare("DELETE FROM ingest_inbox WHERE received_at < ?").run(now - INBOX_RETENTION);
  }

  /** As the owner: whether the batch block `cid` was delivered here. */
  wasDelivered(cid: string): boolean {
    return this.#c.db.prepare("SELECT 1 FROM ingest_inbox WHERE cid = ?").get(cid) !== undefined;
  }

  /** As the owner: remembers a delivered batch block. */
  recordDelivered(cid: string, batchId: string, site: string, now: number): void {
    this.#c.db.prepare(
      "INSERT OR IGNORE INTO ingest_inbox (cid, batch_id, site, received_at) VALUES (?, ?, ?, ?)",
    ).run(cid, batchId, site, now);
  }

  /** As the owner: whether the inline batch `id` was received here. */
  wasReceived(id: string): boolean {
    return this.#c.db.prepare("SELECT 1 FROM ingest_received WHERE id = ?").get(id) !== undefined;
  }

  /** As the owner: remembers an inline batch. */
  recordReceived(id: string, now: number): void {
    this.#c.db.prepare("INSERT OR IGNORE INTO ingest_received (id, received_at) VALUES (?, ?)").run(id, now);
  }

  /**
   * Moves batches an older version kept as bytes in `ingest_outbox` into the
   * block store, one at a time, so a crash half way loses nothing.
   */
  async #adoptLegacyOutbox(): Promise<void> {
    const { db, blocks, log } = this.#c;
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ingest_outbox'")
      .get();
    if (!exists) return;
    const next = db.prepare(
      "SELECT id, site, peer_id, bytes, created_at FROM ingest_outbox ORDER BY created_at LIMIT 1",
    );
    const insert = db.prepare(INSERT_PROXY_BATCH);
    const remove = db.prepare("DELETE FROM ingest_outbox WHERE id = ?");
    let adopted = 0;
    let dropped = 0;
    for (;;) {
      const row = next.get() as
        | { id: string; site: string; peer_id: string; bytes: Uint8Array; created_at: number }
        | undefined;
      if (!row) break;
      // Owners take signed batches only: sign what this node sealed then. Its events
      // waited at most a flush interval, so an hour before the row was written bounds them.
      const bytes = await this.#signLegacy(row.bytes, row.created_at);
      if (bytes && bytes.byteLength <= MAX_SEALED_BLOCK_BYTES) {
        const cid = await blocks.put(bytes);
        const now = this.#c.now();
        insert.run(cid.toString(), row.site, row.peer_id, bytes.byteLength, row.created_at, now, now);
        adopted++;
      } else dropped++; // its owner would have refused it as too large or malformed, as before
      remove.run(row.id);
    }
    if (adopted + dropped > 0) log.info("moved sealed batches into the block store", { adopted, dropped });
  }

  /** A legacy unsigned sealed batch, signed by this node for the hour before `createdAt`; undefined if malformed. */
  async #signLegacy(bytes: Uint8Array, createdAt: number): Promise<Uint8Array | undefined> {
    try {
      const batch = decodeSealedBatch(bytes);
      return encodeSealedBatch(
        await signSealedBatch(batch, this.#c.signer, { from: Math.max(0, createdAt - hour), to: createdAt }),
      );
    } catch {
      return undefined;
    }
  }
}
