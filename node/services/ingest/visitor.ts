/**
 * Visitor ids without cookies: `HMAC-SHA256(salt, site ‖ IP ‖ user agent)`,
 * where the salt is random and changes every UTC day. The same browser on
 * the same network counts as one visitor for a day and cannot be followed
 * across days or sites; the IP itself is never stored.
 *
 * The day's salt lives in its own SQLite file, `<dataDir>/salts.db` (0600,
 * never in `kosmos.db`, where the visitor ids are), so a restart within the
 * day keeps the day's visitors. That file runs with `secure_delete` and
 * WAL, and a salt is deleted as soon as its UTC day is over (at the first
 * use on a new day, and by {@link VisitorSalts.pruneSalts} from the ingest
 * service's timer at midnight), followed by a `wal_checkpoint(TRUNCATE)`: no
 * copy of a past salt stays in the file, its `-wal` or its `-shm`, so a
 * stored visitor id can no longer be tied back to an IP address by trying
 * addresses.
 *
 * ```ts
 * const salts = new VisitorSalts({ path: `${dataDir}/salts.db` });
 * const id = await salts.getVisitorId({ site: "example.com", ip, userAgent }); // 32 hex digits
 * salts.close();
 * ```
 */
import { createHmac } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { day } from "../../constants.ts";

/** The salts file's name in the data dir. */
export const SALTS_FILE = "salts.db";

export interface VisitorSaltsInit {
  /** The salts file; `:memory:` keeps the day's salt in memory only (a restart starts a new one). @default ":memory:" */
  path?: string;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

export class VisitorSalts {
  #db: DatabaseSync;
  #now: () => number;
  #current?: { day: number; salt: Uint8Array };
  #closed = false;

  constructor(init: VisitorSaltsInit = {}) {
    this.#now = init.now ?? Date.now;
    this.#db = openSaltsFile(init.path ?? ":memory:");
  }

  /** The visitor id (32 hex digits) of a client on a site, under today's salt. */
  // deno-lint-ignore require-await -- async for callers; the HMAC runs in place (it is on every event's path)
  async getVisitorId(input: { site: string; ip: string; userAgent: string }): Promise<string> {
    // node:crypto's HMAC is synchronous and several times cheaper per call than crypto.subtle.sign.
    return createHmac("sha256", this.#getSalt())
      .update(`${input.site}\n${input.ip}\n${input.userAgent}`, "utf8")
      .digest("hex")
      .slice(0, 32);
  }

  /** Days (since the epoch) whose salts are stored, oldest first. */
  listSaltDays(): number[] {
    return (this.#db.prepare("SELECT day FROM salts ORDER BY day").all() as { day: number }[])
      .map((r) => r.day);
  }

  /**
   * Deletes the salts of every UTC day before today and empties the WAL into
   * the zeroed file; returns how many were deleted.
   */
  pruneSalts(): number {
    const today = Math.floor(this.#now() / day);
    const { changes } = this.#db.prepare("DELETE FROM salts WHERE day < ?").run(today);
    if (this.#current && this.#current.day < today) this.#current = undefined;
    if (Number(changes) > 0) {
      // Only this connection uses the file, so no reader can hold the checkpoint back.
      this.#db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get();
    }
    return Number(changes);
  }

  /** Closes the salts file. */
  close(): void {
    if (!this.#closed) this.#db.close();
    this.#closed = true;
    this.#current = undefined;
  }

  #getSalt(): Uint8Array {
    const today = Math.floor(this.#now() / day);
    if (this.#current?.day === today) return this.#current.salt;
    this.pruneSalts();
    this.#db.prepare("INSERT OR IGNORE INTO salts (day, salt) VALUES (?, ?)")
      .run(today, crypto.getRandomValues(new Uint8Array(32)));
    const { salt } = this.#db.prepare("SELECT salt FROM salts WHERE day = ?").get(today) as {
      salt: Uint8Array;
    };
    this.#current = { day: today, salt };
    return salt;
  }
}

/** Opens (creating it owner-only first) the salts file, with `secure_delete` and WAL. */
function openSaltsFile(path: string): DatabaseSync {
  const onDisk = path !== ":memory:";
  if (onDisk) {
    // Created 0600 before SQLite opens it: its -wal and -shm take the same mode.
    Deno.openSync(path, { create: true, write: true, mode: 0o600 }).close();
    Deno.chmodSync(path, 0o600);
  }
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA secure_delete = ON;
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS salts (day INTEGER PRIMARY KEY, salt BLOB NOT NULL);`);
    if (onDisk) {
      for (const file of [`${path}-wal`, `${path}-shm`]) {
        try {
          Deno.chmodSync(file, 0o600);
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
