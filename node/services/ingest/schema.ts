/**
 * The ingest service's first tables: the ids of batches this node received
 * as an owner (to ignore repeats), and `ingest_outbox`, where versions before
 * sealed batches became blocks kept them as bytes (`batches.ts` moves any
 * rows left there into the block store on start, and keeps its own tables).
 * The daily visitor salts were kept here in `ingest_salts` until version 2
 * dropped that table: they live in their own file now (`visitor.ts`), never
 * beside the visitor ids. The drop runs with `secure_delete` (on for the
 * node's connection, `db/mod.ts`), so the old salts' pages are zeroed, and is
 * followed by a `wal_checkpoint(TRUNCATE)`; the day of the upgrade starts a
 * new salt (that day's visitors from before it count again once).
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
  "DROP TABLE ingest_salts;",
];

/** Creates or upgrades the ingest tables; safe to call more than once. */
export function migrateIngest(db: Database): void {
  const dropsSalts = !hasVersion(db, 2);
  migrate(db, "ingest", MIGRATIONS);
  // The dropped salts' zeroed pages replace their older copies in the WAL.
  if (dropsSalts) db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get();
}

function hasVersion(db: Database, version: number): boolean {
  return db.prepare("SELECT 1 FROM schema_migrations WHERE component = 'ingest' AND version = ?").get(
    version,
  ) !==
    undefined;
}
