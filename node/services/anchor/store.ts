/**
 * The anchor service's tables: the leaves waiting for a batch (durable, so a restart anchors them) and the
 * batches (root, the proof of each leaf, and once mined the transaction, block and contract timestamp).
 *
 * ```ts
 * const store = new AnchorStore(db);
 * store.addLeaf(cid, leaf, Date.now());
 * const batch = store.buildBatch({ max: 4096, label: "kosmos anchor", now: Date.now() }); // or undefined
 * ```
 */
import type { Hex } from "viem";
import { merkleProof, merkleRoot } from "../../../protocol/merkle.ts";
import { type Database, migrate, transaction } from "../db/mod.ts";

const MIGRATIONS = [
  `CREATE TABLE anchor_batches (
    id INTEGER PRIMARY KEY,
    root TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    leaves INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    tx_hash TEXT,
    block_number TEXT,
    anchored_at INTEGER,
    chain_id INTEGER,
    anchor TEXT
  );
  CREATE TABLE anchor_leaves (
    cid TEXT PRIMARY KEY,
    leaf TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    batch_id INTEGER REFERENCES anchor_batches(id),
    proof TEXT
  );
  CREATE INDEX anchor_leaves_pending ON anchor_leaves(batch_id, added_at);`,
];

export interface BatchRow {
  id: number;
  root: Hex;
  label: string;
  leaves: number;
  createdAt: number;
  txHash: Hex | null;
  blockNumber: string | null;
  anchoredAt: number | null;
  chainId: number | null;
  anchor: Hex | null;
}

export interface LeafRow {
  cid: string;
  leaf: Hex;
  addedAt: number;
  batchId: number | null;
  proof: Hex[] | null;
}

interface RawBatch {
  id: number;
  root: string;
  label: string;
  leaves: number;
  created_at: number;
  tx_hash: string | null;
  block_number: string | null;
  anchored_at: number | null;
  chain_id: number | null;
  anchor: string | null;
}

function toBatch(r: RawBatch): BatchRow {
  return {
    id: r.id,
    root: r.root as Hex,
    label: r.label,
    leaves: r.leaves,
    createdAt: r.created_at,
    txHash: r.tx_hash as Hex | null,
    blockNumber: r.block_number,
    anchoredAt: r.anchored_at,
    chainId: r.chain_id,
    anchor: r.anchor as Hex | null,
  };
}

export class AnchorStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
    migrate(db, "anchor", MIGRATIONS);
  }

  /** Adds a pending leaf; `false` when the CID is already known (pending or batched). */
  addLeaf(cid: string, leaf: Hex, now: number): boolean {
    const r = this.#db.prepare("INSERT OR IGNORE INTO anchor_leaves (cid, leaf, added_at) VALUES (?, ?, ?)")
      .run(cid, leaf, now);
    return Number(r.changes) > 0;
  }

  leaf(cid: string): LeafRow | undefined {
    const r = this.#db.prepare("SELECT cid, leaf, added_at, batch_id, proof FROM anchor_leaves WHERE cid = ?")
      .get(cid) as
        | { cid: string; leaf: string; added_at: number; batch_id: number | null; proof: string | null }
        | undefined;
    if (!r) return undefined;
    return {
      cid: r.cid,
      leaf: r.leaf as Hex,
      addedAt: r.added_at,
      batchId: r.batch_id,
      proof: r.proof === null ? null : JSON.parse(r.proof) as Hex[],
    };
  }

  batch(id: number): BatchRow | undefined {
    const r = this.#db.prepare("SELECT * FROM anchor_batches WHERE id = ?").get(id) as RawBatch | undefined;
    return r ? toBatch(r) : undefined;
  }

  /** Batches built but not recorded as anchored, oldest first. */
  unanchoredBatches(): BatchRow[] {
    return (this.#db.prepare("SELECT * FROM anchor_batches WHERE anchored_at IS NULL ORDER BY id")
      .all() as unknown as RawBatch[]).map(toBatch);
  }

  pendingCount(): number {
    return Number(
      (this.#db.prepare("SELECT count(*) AS n FROM anchor_leaves WHERE batch_id IS NULL").get() as {
        n: number;
      }).n,
    );
  }

  counts(): { pending: number; batched: number; anchored: number; batches: number } {
    const r = this.#db.prepare(
      `SELECT
        (SELECT count(*) FROM anchor_leaves WHERE batch_id IS NULL) AS pending,
        (SELECT count(*) FROM anchor_leaves l JOIN anchor_batches b ON b.id = l.batch_id
          WHERE b.anchored_at IS NULL) AS batched,
        (SELECT count(*) FROM anchor_leaves l JOIN anchor_batches b ON b.id = l.batch_id
          WHERE b.anchored_at IS NOT NULL) AS anchored,
        (SELECT count(*) FROM anchor_batches) AS batches`,
    ).get() as { pending: number; batched: number; anchored: number; batches: number };
    return {
      pending: Number(r.pending),
      batched: Number(r.batched),
      anchored: Number(r.anchored),
      batches: Number(r.batches),
    };
  }

  /**
   * Takes up to `max` pending leaves (oldest first) into a new batch: a sorted-pair Merkle tree over the
   * distinct leaves in ascending order, every leaf's proof stored with it, in one transaction. `undefined`
   * when nothing is pending. A root equal to an earlier batch's (the same leaves again) is not possible: a
   * CID is a leaf once.
   */
  buildBatch(options: { max: number; label: string; now: number }): BatchRow | undefined {
    return transaction(this.#db, () => {
      const rows = this.#db.prepare(
        "SELECT cid, leaf FROM anchor_leaves WHERE batch_id IS NULL ORDER BY added_at, cid LIMIT ?",
      ).all(options.max) as { cid: string; leaf: string }[];
      if (rows.length === 0) return undefined;
      const leaves = [...new Set(rows.map((r) => r.leaf as Hex))].sort();
      const root = merkleRoot(leaves);
      const id = Number(
        this.#db.prepare(
          "INSERT INTO anchor_batches (root, label, leaves, created_at) VALUES (?, ?, ?, ?)",
        ).run(root, options.label, rows.length, options.now).lastInsertRowid,
      );
      const index = new Map(leaves.map((leaf, i) => [leaf, i]));
      const update = this.#db.prepare("UPDATE anchor_leaves SET batch_id = ?, proof = ? WHERE cid = ?");
      for (const r of rows) {
        update.run(id, JSON.stringify(merkleProof(leaves, index.get(r.leaf as Hex)!)), r.cid);
      }
      return this.batch(id);
    });
  }

  /** Records where and when a batch's root was anchored. */
  markAnchored(
    id: number,
    at: { txHash: Hex; blockNumber: bigint; anchoredAt: number; chainId: number; anchor: Hex },
  ): void {
    this.#db.prepare(
      `UPDATE anchor_batches SET tx_hash = ?, block_number = ?, anchored_at = ?, chain_id = ?, anchor = ?
        WHERE id = ?`,
    ).run(at.txHash, at.blockNumber.toString(), at.anchoredAt, at.chainId, at.anchor, id);
  }
}
