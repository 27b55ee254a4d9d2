/**
 * The ingest service's first tables: daily visitor salts, the ids of batches
 * this node received as an owner (to ignore repeats), and `ingest_outbox`,
 * where versions before sealed batches became blocks kept them as bytes
 * (`batches.ts` moves any rows left there into the block store on start, and
 * keeps its own tables).
 */
import { type Database, migrate } from "../db/mod.ts";

const MIGRATIONS = [
  `CREATE TABLE ingest_salts (
    day INTEGER PRIMARY KEY,
    salt BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE ingest_outbox (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    bytes BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL
  );
  CREATE INDEX ingest_outbox_due ON ingest_outbox (next_at);
  CREATE TABLE ingest_received (
    id TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL
  );`,
];

/** Creates or upgrades the ingest tables; safe to call more than once. */
export function migrateIngest(db: Database): void {
  migrate(db, "ingest", MIGRATIONS);
}
