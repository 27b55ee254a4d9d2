/**
 * The replication service's table (`replication`: one row per watched or
 * held dataset) and the states it reports.
 */
import { CID } from "multiformats/cid";
import { type Database, transaction } from "../db/mod.ts";
import type { Logger } from "../../log.ts";
import { datasetKeyHex } from "./neighbourhood.ts";

export type ReplicationStatus =
  /** Not counted yet. */
  | "pending"
  /** At least `target` live providers. */
  | "replicated"
  /** Fewer live providers than the target, and this node is not the one to add a replica. */
  | "under-replicated"
  /** This node is fetching a replica. */
  | "fetching"
  /** No live provider was found. */
  | "unavailable"
  /** Not counted here: this node is too far from the dataset to add a replica; the closest nodes keep it. */
  | "elsewhere";

export interface ReplicationState {
  manifestCid: string;
  target: number;
  /** Live providers at the last count, sorted; includes this node when it holds the dataset. */
  providers: string[];
  /** Whether this node holds and provides the whole dataset. */
  local: boolean;
  status: ReplicationStatus;
  /** ms since the epoch of the last count, 0 before the first. */
  checkedAt: number;
}

/** Detail of the `provide` and `unprovide` events. */
export interface ProvideDetail {
  manifestCid: string;
  /** "origin": published here; "replica": held for the network; "fetched": bought or fetched by the user. */
  role: Role;
}

export type Role = "origin" | "replica" | "fetched";

export const MIGRATIONS = [
  `CREATE TABLE replication (
    manifest_cid TEXT PRIMARY KEY,
    target INTEGER NOT NULL,
    watched INTEGER NOT NULL DEFAULT 0,
    local INTEGER NOT NULL DEFAULT 0,
    role TEXT CHECK (role IN ('origin', 'replica', 'fetched')),
    bytes INTEGER NOT NULL DEFAULT 0,
    providers TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'pending',
    checked_at INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );`,
  // The dataset's key (sha256 of the manifest CID bytes, hex), so a repair round reads only the key ranges
  // this node is close to (circle.ts), and the rows it holds without a scan. Filled by start() for older rows.
  `ALTER TABLE replication ADD COLUMN dkey TEXT;
  CREATE INDEX replication_dkey ON replication (dkey);
  CREATE INDEX replication_held ON replication (manifest_cid) WHERE local = 1 OR role IS NOT NULL;`,
];

/** What the last full repair round did (for benchmarks and the node's status). */
export interface RepairStats {
  /** Full rounds run since start. */
  rounds: number;
  /** Datasets the last full round visited (held here, or close enough to this node to replicate). */
  datasets: number;
  /** DHT lookups of providers it made. */
  lookups: number;
  /** Datasets it counted from their known providers, without a lookup (they were at their target). */
  confirmed: number;
  /** Datasets it left for the next rounds, over the lookup bound. */
  deferred: number;
  /** How long it took, ms (a paced round spreads its lookups over the repair interval). */
  durationMs: number;
}

export interface Row {
  manifest_cid: string;
  target: number;
  watched: number;
  local: number;
  role: Role | null;
  bytes: number;
  providers: string;
  status: ReplicationStatus;
  checked_at: number;
  /** ms since the epoch when this node first watched or held the dataset. */
  created_at: number;
  /** sha256 of the manifest CID bytes, 64 hex digits; null only on rows from before it was stored. */
  dkey: string | null;
}

export function toState(row: Row): ReplicationState {
  return {
    manifestCid: row.manifest_cid,
    target: row.target,
    providers: JSON.parse(row.providers),
    local: row.local === 1,
    status: row.status,
    checkedAt: row.checked_at,
  };
}

/**
 * Stores the key of rows from before keys were stored (once, at the first start after the upgrade);
 * returns the largest target of a row (0 without rows).
 */
export function keyRows(db: Database, log: Logger): number {
  const rows = db.prepare("SELECT manifest_cid FROM replication WHERE dkey IS NULL").all() as {
    manifest_cid: string;
  }[];
  const max = db.prepare("SELECT MAX(target) AS t FROM replication").get() as { t: number | null };
  if (rows.length > 0) {
    const set = db.prepare("UPDATE replication SET dkey = ? WHERE manifest_cid = ?");
    transaction(db, () => {
      for (const r of rows) set.run(datasetKeyHex(CID.parse(r.manifest_cid).bytes), r.manifest_cid);
    });
    log.info("keyed watched datasets", { count: rows.length });
  }
  return max.t ?? 0;
}
