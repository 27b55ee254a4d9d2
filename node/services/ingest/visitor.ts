/**
 * Visitor ids without cookies: `HMAC-SHA256(salt, site ‖ IP ‖ user agent)`,
 * where the salt is random and changes every UTC day. The same browser on
 * the same network counts as one visitor for a day and cannot be followed
 * across days or sites; the IP itself is never stored. Salts live in SQLite
 * (owner-only file) so a restart keeps the day's visitors; each is deleted
 * 48 hours after it was created.
 *
 * ```ts
 * const salts = new VisitorSalts(db);
 * const id = await salts.getVisitorId({ site: "example.com", ip, userAgent }); // 32 hex digits
 * ```
 */
import type { Database } from "../db/mod.ts";
import { day, hour } from "../../constants.ts";
import { migrateIngest } from "./schema.ts";

/** How long a salt is kept after it was created. */
export const SALT_RETENTION = 48 * hour;

export interface VisitorSaltsInit {
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

export class VisitorSalts {
  #db: Database;
  #now: () => number;
  #current?: { day: number; key: CryptoKey };

  constructor(db: Database, init: VisitorSaltsInit = {}) {
    this.#db = db;
    this.#now = init.now ?? Date.now;
    migrateIngest(db);
  }

  /** The visitor id (32 hex digits) of a client on a site, under today's salt. */
  async getVisitorId(input: { site: string; ip: string; userAgent: string }): Promise<string> {
    const key = await this.#getKey();
    const data = new TextEncoder().encode(`${input.site}\n${input.ip}\n${input.userAgent}`);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
    let hex = "";
    for (let i = 0; i < 16; i++) hex += mac[i].toString(16).padStart(2, "0");
    return hex;
  }

  /** Days (since the epoch) whose salts are stored, oldest first. */
  listSaltDays(): number[] {
    return (this.#db.prepare("SELECT day FROM ingest_salts ORDER BY day").all() as { day: number }[])
      .map((r) => r.day);
  }

  /** Deletes salts older than {@link SALT_RETENTION}; returns how many. */
  pruneSalts(): number {
    const result = this.#db.prepare("DELETE FROM ingest_salts WHERE created_at <= ?")
      .run(this.#now() - SALT_RETENTION);
    return Number(result.changes);
  }

  async #getKey(): Promise<CryptoKey> {
    const now = this.#now();
    const today = Math.floor(now / day);
    if (this.#current?.day === today) return this.#current.key;
    this.#db.prepare("INSERT OR IGNORE INTO ingest_salts (day, salt, created_at) VALUES (?, ?, ?)")
      .run(today, crypto.getRandomValues(new Uint8Array(32)), now);
    const { salt } = this.#db.prepare("SELECT salt FROM ingest_salts WHERE day = ?").get(today) as {
      salt: Uint8Array;
    };
    this.pruneSalts();
    const key = await crypto.subtle.importKey(
      "raw",
      salt as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    if (Math.floor(this.#now() / day) === today) this.#current = { day: today, key };
    return key;
  }
}
