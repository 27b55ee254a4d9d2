/**
 * The extension service's tables: `extension_pairings` (code digest, created and expiry times; a
 * row is deleted when its code is used) and `extension_tokens` (id, token digest, created and last
 * used times; deleted when revoked).
 */
import { type Database, migrate, transaction } from "../db/mod.ts";

const MIGRATIONS = [
  `CREATE TABLE extension_pairings (
    code_hash TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE extension_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
  ) WITHOUT ROWID;`,
];

/** A paired extension as stored (never its token). */
export interface ExtensionTokenRecord {
  id: string;
  createdAt: number;
  lastUsedAt: number | null;
}

interface TokenRow {
  id: string;
  created_at: number;
  last_used_at: number | null;
}

export class ExtensionStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  open(): void {
    migrate(this.#db, "extension", MIGRATIONS);
  }

  /** Stores a code digest; drops expired codes, and the oldest beyond `maxPending - 1`. */
  addPairing(codeHash: string, now: number, expiresAt: number, maxPending: number): void {
    transaction(this.#db, () => {
      this.#db.prepare("DELETE FROM extension_pairings WHERE expires_at <= ?").run(now);
      const pending = this.#db.prepare(
        "SELECT code_hash FROM extension_pairings ORDER BY created_at, code_hash",
      )
        .all() as { code_hash: string }[];
      const drop = this.#db.prepare("DELETE FROM extension_pairings WHERE code_hash = ?");
      for (const row of pending.slice(0, Math.max(0, pending.length - (maxPending - 1)))) {
        drop.run(row.code_hash);
      }
      this.#db.prepare("INSERT INTO extension_pairings (code_hash, created_at, expires_at) VALUES (?, ?, ?)")
        .run(codeHash, now, expiresAt);
    });
  }

  /**
   * Uses up the code whose digest is `codeHash` and stores a token in the same transaction; false
   * (and nothing stored) when no such code is pending or it has expired.
   */
  redeemPairing(codeHash: string, now: number, token: { id: string; hash: string }): boolean {
    return transaction(this.#db, () => {
      const row = this.#db.prepare("DELETE FROM extension_pairings WHERE code_hash = ? RETURNING expires_at")
        .get(codeHash) as { expires_at: number } | undefined;
      if (!row || row.expires_at <= now) return false;
      this.#db.prepare("INSERT INTO extension_tokens (id, token_hash, created_at) VALUES (?, ?, ?)")
        .run(token.id, token.hash, now);
      return true;
    });
  }

  /** Codes pending now. */
  countPairings(now: number): number {
    return (this.#db.prepare("SELECT COUNT(*) AS n FROM extension_pairings WHERE expires_at > ?").get(
      now,
    ) as {
      n: number;
    }).n;
  }

  /** The token with digest `hash`, marking it used at `now`; undefined when there is none. */
  useToken(hash: string, now: number): ExtensionTokenRecord | undefined {
    const row = this.#db.prepare(
      "UPDATE extension_tokens SET last_used_at = ? WHERE token_hash = ? RETURNING id, created_at, last_used_at",
    ).get(now, hash) as TokenRow | undefined;
    return row && toRecord(row);
  }

  listTokens(): ExtensionTokenRecord[] {
    const rows = this.#db.prepare(
      "SELECT id, created_at, last_used_at FROM extension_tokens ORDER BY created_at, id",
    )
      .all() as unknown as TokenRow[];
    return rows.map(toRecord);
  }

  /** Deletes a token; false when there is none with this id. */
  deleteToken(id: string): boolean {
    return Number(this.#db.prepare("DELETE FROM extension_tokens WHERE id = ?").run(id).changes) > 0;
  }
}

function toRecord(row: TokenRow): ExtensionTokenRecord {
  return { id: row.id, createdAt: row.created_at, lastUsedAt: row.last_used_at };
}
