/**
 * The owner's ledger of analytics proxies: per site, per proxy (the peer id
 * that signed each sealed batch) and per UTC day, how many events and batches
 * it delivered and how many batches were refused; which proxies the owner
 * blocked; and the daily quota of events one proxy may deliver for one site.
 * Events this node takes for its own sites over HTTP count under its own
 * peer id.
 *
 * ```ts
 * const ledger = new ProxyLedger(db, { quota: 1_000_000 });
 * ledger.admit("example.com", proxy, 120); // undefined, or why the batch is refused
 * ledger.record("example.com", proxy, 120);
 * ledger.block("example.com", proxy);
 * ledger.list("example.com"); // [{ proxy, events, today, batches, refused, blocked, lastAt }]
 * ```
 */
import { type Database, migrate } from "../db/mod.ts";
import { day } from "../../constants.ts";

const MIGRATIONS = [
  `CREATE TABLE ingest_proxy_days (
    site TEXT NOT NULL,
    proxy TEXT NOT NULL,
    day INTEGER NOT NULL,
    events INTEGER NOT NULL DEFAULT 0,
    batches INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (site, proxy, day)
  );
  CREATE TABLE ingest_blocked_proxies (
    site TEXT NOT NULL,
    proxy TEXT NOT NULL,
    blocked_at INTEGER NOT NULL,
    PRIMARY KEY (site, proxy)
  );`,
];

/** One proxy of one site, as the owner sees it. */
export interface ProxyStats {
  /** The proxy's peer id. */
  proxy: string;
  /** Events it delivered, all days kept. */
  events: number;
  /** Events it delivered today (UTC), counted against its quota. */
  today: number;
  batches: number;
  /** Its batches this node refused (blocked, over quota, bad window). */
  refused: number;
  blocked: boolean;
  /** Last delivery or refusal, ms. */
  lastAt?: number;
}

export interface ProxyLedgerInit {
  /** Events one proxy may deliver for one site per UTC day. @default 1_000_000 */
  quota?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

export class ProxyLedger {
  #db: Database;
  #quota: number;
  #now: () => number;

  constructor(db: Database, init: ProxyLedgerInit = {}) {
    this.#db = db;
    this.#quota = init.quota ?? 1_000_000;
    this.#now = init.now ?? Date.now;
    if (!Number.isSafeInteger(this.#quota) || this.#quota < 1) {
      throw new RangeError(`Cannot keep a proxy ledger: quota ${this.#quota} must be a whole number ≥ 1`);
    }
    migrate(db, "ingest-proxies", MIGRATIONS);
  }

  get quota(): number {
    return this.#quota;
  }

  /** Why a batch of `events` events from `proxy` is refused, or undefined when it may be taken. */
  admit(site: string, proxy: string, events: number): { reason: string; retry: boolean } | undefined {
    if (this.isBlocked(site, proxy)) {
      return { reason: `proxy ${proxy} is blocked for ${site}`, retry: false };
    }
    if (this.#today(site, proxy) + events > this.#quota) {
      return {
        reason: `proxy ${proxy} is over its quota of ${this.#quota} events a day for ${site}`,
        retry: true,
      };
    }
    return undefined;
  }

  /** Counts a delivered batch. */
  record(site: string, proxy: string, events: number): void {
    this.#db.prepare(
      `INSERT INTO ingest_proxy_days (site, proxy, day, events, batches, last_at) VALUES (?, ?, ?, ?, 1, ?)
       ON CONFLICT (site, proxy, day) DO UPDATE SET events = events + excluded.events,
         batches = batches + 1, last_at = excluded.last_at`,
    ).run(site, proxy, this.#day(), events, this.#now());
  }

  /** Counts a refused batch of a proxy whose signature verified. */
  recordRefused(site: string, proxy: string): void {
    this.#db.prepare(
      `INSERT INTO ingest_proxy_days (site, proxy, day, refused, last_at) VALUES (?, ?, ?, 1, ?)
       ON CONFLICT (site, proxy, day) DO UPDATE SET refused = refused + 1, last_at = excluded.last_at`,
    ).run(site, proxy, this.#day(), this.#now());
  }

  isBlocked(site: string, proxy: string): boolean {
    return this.#db.prepare("SELECT 1 FROM ingest_blocked_proxies WHERE site = ? AND proxy = ?").get(
      site,
      proxy,
    ) !==
      undefined;
  }

  block(site: string, proxy: string): void {
    this.#db.prepare(
      "INSERT OR IGNORE INTO ingest_blocked_proxies (site, proxy, blocked_at) VALUES (?, ?, ?)",
    )
      .run(site, proxy, this.#now());
  }

  unblock(site: string, proxy: string): void {
    this.#db.prepare("DELETE FROM ingest_blocked_proxies WHERE site = ? AND proxy = ?").run(site, proxy);
  }

  /** Every proxy of `site` that delivered, was refused or is blocked, most events first. */
  list(site: string): ProxyStats[] {
    const today = this.#day();
    const rows = this.#db.prepare(
      `SELECT proxy, SUM(events) AS events, SUM(CASE WHEN day = ? THEN events ELSE 0 END) AS today,
         SUM(batches) AS batches, SUM(refused) AS refused, MAX(last_at) AS last_at
       FROM ingest_proxy_days WHERE site = ? GROUP BY proxy`,
    ).all(today, site) as {
      proxy: string;
      events: number;
      today: number;
      batches: number;
      refused: number;
      last_at: number;
    }[];
    const blocked = new Set(
      (this.#db.prepare("SELECT proxy FROM ingest_blocked_proxies WHERE site = ?").all(site) as {
        proxy: string;
      }[])
        .map((r) => r.proxy),
    );
    const out: ProxyStats[] = rows.map((r) => ({
      proxy: r.proxy,
      events: r.events,
      today: r.today,
      batches: r.batches,
      refused: r.refused,
      blocked: blocked.has(r.proxy),
      lastAt: r.last_at,
    }));
    for (const proxy of blocked) {
      if (!rows.some((r) => r.proxy === proxy)) {
        out.push({ proxy, events: 0, today: 0, batches: 0, refused: 0, blocked: true });
      }
    }
    return out.sort((a, b) => b.events - a.events || a.proxy.localeCompare(b.proxy));
  }

  /** Forgets daily counts older than `keepDays` days. */
  prune(keepDays = 400): void {
    this.#db.prepare("DELETE FROM ingest_proxy_days WHERE day < ?").run(this.#day() - keepDays);
  }

  #today(site: string, proxy: string): number {
    const row = this.#db.prepare(
      "SELECT events FROM ingest_proxy_days WHERE site = ? AND proxy = ? AND day = ?",
    )
      .get(site, proxy, this.#day()) as { events: number } | undefined;
    return row?.events ?? 0;
  }

  #day(): number {
    return Math.floor(this.#now() / day);
  }
}
