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
import { createHmac } from "node:crypto";
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
  #current?: { day: number; salt: Uint8Array };

  constructor(db: Database, init: VisitorSaltsInit = {}) {
    this.#db = db;
    this.#now = init.now ?? Date.now;
    migrateIngest(db);
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
    return (this.#db.prepare("SELECT day FROM ingest_salts ORDER BY day").all() as { day: number }[])
      .map((r) => r.day);
  }

  /** Deletes salts older than {@link SALT_RETENTION}; returns how many. */
  pruneSalts(): number {
    const result = this.#db.prepare("DELETE FROM ingest_salts WHERE created_at <= ?")
      .run(this.#now() - SALT_RETENTION);
    return Number(result.changes);
  }

  #getSalt(): Uint8Array {
    const now = this.#now();
    const today = Math.floor(now / day);
    if (this.#current?.day === today) return this.#current.salt;
    this.#db.prepare("INSERT OR IGNORE INTO ingest_salts (day, salt, created_at) VALUES (?, ?, ?)")
      .run(today, crypto.getRandomValues(new Uint8Array(32)), now);
    const { salt } = this.#db.prepare("SELECT salt FROM ingest_salts WHERE day = ?").get(today) as {
      salt: Uint8Array;
    };
    this.pruneSalts();
    this.#current = { day: today, salt };
    return salt;
  }
}
