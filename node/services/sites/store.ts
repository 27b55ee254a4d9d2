/**
 * The sites table: every verified site announcement, one row per domain.
 * The first owner of a domain keeps it; a newer announcement by the same
 * owner replaces the older one.
 */
import { type Database, migrate } from "../db/mod.ts";
import type { SiteAnnouncement } from "../../../protocol/sites.ts";

const MIGRATIONS = [
  `CREATE TABLE sites (
    domain TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    encryption_key TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    received_at INTEGER NOT NULL
  );
  CREATE INDEX sites_by_peer ON sites (peer_id);`,
];

/** A site this node knows of. */
export interface Site {
  domain: string;
  owner: `0x${string}`;
  peerId: string;
  /** X25519 public key, `0x` + 64 hex digits. */
  encryptionKey: `0x${string}`;
  /** When the owner signed the announcement, ms since the epoch. */
  timestamp: number;
}

export type PutSiteResult = "added" | "updated" | "stale" | "conflict" | "full";

interface Row {
  domain: string;
  owner: string;
  peer_id: string;
  encryption_key: string;
  timestamp: number;
}

export class SiteStore {
  #db: Database;
  #cache = new Map<string, Site | null>();
  #maxSites: number;

  constructor(db: Database, options: { maxSites: number }) {
    this.#db = db;
    this.#maxSites = options.maxSites;
    migrate(db, "sites", MIGRATIONS);
  }

  /** Stores a verified announcement unless it is stale or the domain has another owner. */
  putSite(announcement: SiteAnnouncement, bytes: Uint8Array): PutSiteResult {
    const existing = this.getSite(announcement.domain);
    if (existing && existing.owner !== announcement.owner) return "conflict";
    if (existing && existing.timestamp >= announcement.timestamp) return "stale";
    if (!existing && this.count() >= this.#maxSites) return "full";
    this.#db.prepare(
      `INSERT INTO sites (domain, owner, peer_id, encryption_key, timestamp, bytes, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (domain) DO UPDATE SET peer_id = excluded.peer_id,
         encryption_key = excluded.encryption_key, timestamp = excluded.timestamp,
         bytes = excluded.bytes, received_at = excluded.received_at`,
    ).run(
      announcement.domain,
      announcement.owner,
      announcement.peerId,
      announcement.encryptionKey,
      announcement.timestamp,
      bytes,
      Date.now(),
    );
    this.#cache.delete(announcement.domain);
    return existing ? "updated" : "added";
  }

  getSite(domain: string): Site | undefined {
    let site = this.#cache.get(domain);
    if (site === undefined) {
      const row = this.#db.prepare(
        "SELECT domain, owner, peer_id, encryption_key, timestamp FROM sites WHERE domain = ?",
      ).get(domain) as Row | undefined;
      site = row ? toSite(row) : null;
      if (this.#cache.size > 10_000) this.#cache.clear();
      this.#cache.set(domain, site);
    }
    return site ?? undefined;
  }

  listSitesOf(peerId: string): Site[] {
    const rows = this.#db.prepare(
      "SELECT domain, owner, peer_id, encryption_key, timestamp FROM sites WHERE peer_id = ? ORDER BY domain",
    ).all(peerId) as unknown as Row[];
    return rows.map(toSite);
  }

  /** Announcement bytes, oldest first, for sync. */
  listAnnouncementBytes(limit: number): Uint8Array[] {
    const rows = this.#db.prepare("SELECT bytes FROM sites ORDER BY received_at LIMIT ?").all(limit) as {
      bytes: Uint8Array;
    }[];
    return rows.map((r) => r.bytes);
  }

  count(): number {
    return (this.#db.prepare("SELECT COUNT(*) AS n FROM sites").get() as { n: number }).n;
  }
}

function toSite(row: Row): Site {
  return {
    domain: row.domain,
    owner: row.owner as `0x${string}`,
    peerId: row.peer_id,
    encryptionKey: row.encryption_key as `0x${string}`,
    timestamp: row.timestamp,
  };
}
