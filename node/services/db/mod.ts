/**
 * The node's SQLite database (`node:sqlite`, WAL, `secure_delete` on: a
 * deleted row is zeroed in the file, not only unlinked) and versioned migrations.
 * Each service owns its tables and hands its migrations to {@link migrate};
 * applied versions are recorded per component in `schema_migrations`, so a
 * restart applies only what is new.
 *
 * ```ts
 * const db = openDatabase(`${dataDir}/kosmos.db`);
 * migrate(db, "catalog", ["CREATE TABLE listings (id TEXT PRIMARY KEY)"]);
 * ```
 *
 * As a node component: `db()` in `nodeServices()` opens `<dataDir>/kosmos.db`
 * when the node is composed and closes it when the node stops.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { ConfigError } from "../../errors.ts";
import { defineService } from "../../service.ts";

export type Database = DatabaseSync;
export type Statement = ReturnType<Database["prepare"]>;

/**
 * A cache of prepared statements over `db`: the returned function prepares each SQL text once.
 * Only for fixed query text (the cache is never emptied), e.g. the statements run once per listing.
 */
export function statementCache(db: Database): (sql: string) => Statement {
  const statements = new Map<string, Statement>();
  return (sql) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, statement = db.prepare(sql));
    return statement;
  };
}

/** The config field the `db` factory reads. */
export interface DbComponents {
  config: { dataDir: string };
}

/** The `db` component: `<dataDir>/kosmos.db`, closed by `close()` when the node stops. */
export function db(init: OpenDatabaseOptions = {}) {
  return defineService("db", ["config"], (c: DbComponents): Database => {
    try {
      return openDatabase(join(c.config.dataDir, "kosmos.db"), init);
    } catch (cause) {
      throw new ConfigError(`cannot open database in ${c.config.dataDir}: ${(cause as Error).message}`, {
        cause,
      });
    }
  });
}

export interface OpenDatabaseOptions {
  /** Milliseconds a writer waits for a lock. @default 5000 */
  busyTimeout?: number;
}

export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Database {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    PRAGMA foreign_keys = ON;
    PRAGMA secure_delete = ON;
    PRAGMA busy_timeout = ${Math.trunc(options.busyTimeout ?? 5000)};
    CREATE TABLE IF NOT EXISTS schema_migrations (
      component TEXT NOT NULL,
      version INTEGER NOT NULL,
      applied_at INTEGER NOT NULL,
      PRIMARY KEY (component, version)
    );`);
  restrictPermissions(path);
  return db;
}

/**
 * Copies the WAL into the database file and truncates it to zero bytes
 * (`PRAGMA wal_checkpoint(TRUNCATE)`), so a row deleted (and, with
 * `secure_delete`, zeroed in the file) leaves no older copy of its page in
 * `-wal`. A reader still inside the WAL holds that back: it tries again until
 * `timeout` ms have passed, and resolves whether the WAL is empty now.
 */
export async function truncateWal(db: Database, options: { timeout?: number } = {}): Promise<boolean> {
  const deadline = Date.now() + (options.timeout ?? 10_000);
  // Waiting on readers here would block the event loop for the busy timeout: ask, and wait between asks.
  const { timeout: busy } = db.prepare("PRAGMA busy_timeout").get() as { timeout: number };
  for (;;) {
    db.exec("PRAGMA busy_timeout = 0");
    let row: { busy: number } | undefined;
    try {
      row = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get() as { busy: number } | undefined;
    } finally {
      db.exec(`PRAGMA busy_timeout = ${busy}`);
    }
    if (!row || row.busy === 0) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The database holds secrets (dataset keys): owner-only, like the key files. */
function restrictPermissions(path: string): void {
  if (path === ":memory:" || path.startsWith("file:")) return;
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      Deno.chmodSync(file, 0o600);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

/**
 * Applies `migrations[i]` as version `i + 1` of `component`, each in its own
 * transaction, skipping versions already applied. Migrations are append-only:
 * never edit one that has shipped.
 */
export function migrate(db: Database, component: string, migrations: readonly string[]): number {
  const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations WHERE component = ?")
    .get(component) as { v: number | null } | undefined;
  const current = row?.v ?? 0;
  if (current > migrations.length) {
    throw new RangeError(
      `Cannot migrate "${component}": database is at version ${current}, this build knows ${migrations.length}`,
    );
  }
  const record = db.prepare(
    "INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)",
  );
  for (let version = current + 1; version <= migrations.length; version++) {
    transaction(db, () => {
      db.exec(migrations[version - 1]);
      record.run(component, version, Date.now());
    });
  }
  return migrations.length;
}

/** Runs `fn` inside `BEGIN IMMEDIATE … COMMIT`, rolling back when it throws. */
export function transaction<T>(db: Database, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
