/**
 * The sites table: every site announcement whose domain vouched for it (its
 * published proof named the same owner, node and key), one row per domain,
 * with the timestamp of that proof and when it was last checked. A newer
 * announcement by the same node replaces the older one; another owner takes
 * the domain over only with a newer verified proof. Rows from before proofs
 * (`verified_at = 0`) are never served and are removed at start.
 *
 * `site_claims` holds this node's own registrations: the proof it asks the
 * domain to publish, and what the last look for it found.
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
  `ALTER TABLE sites ADD COLUMN proof_timestamp INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sites ADD COLUMN verified_at INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX sites_by_verified_at ON sites (verified_at);
  CREATE TABLE site_claims (
    domain TEXT PRIMARY KEY,
    proof TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    checked_at INTEGER,
    error TEXT
  );`,
];

/** One of this node's own registrations. */
export interface SiteClaim {
  domain: string;
  /** The proof document to publish, as JSON text. */
  proof: string;
  createdAt: number;
  /** When the domain was last asked for it. */
  checkedAt?: number;
  /** Why the last check did not find it. */
  error?: string;
}

/** A site this node knows of. */
export interface Site {
  domain: string;
  owner: `0x${string}`;
  peerId: string;
  /** X25519 public key, `0x` + 64 hex digits. */
  encryptionKey: `0x${string}`;
  /** When the owner signed the announcement, ms since the epoch. */
  timestamp: number;
  /** The timestamp of the domain's proof that vouched for it. */
  proofTimestamp: number;
  /** When that proof was last fetched and checked. */
  verifiedAt: number;
}

export type PutSiteResult = "added" | "updated" | "stale" | "conflict" | "full";

const COLUMNS = "domain, owner, peer_id, encryption_key, timestamp, proof_timestamp, verified_at";

interface Row {
  domain: string;
  owner: string;
  peer_id: string;
  encryption_key: string;
  timestamp: number;
  proof_timestamp: number;
  verified_at: number;
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

  /**
   * Stores an announcement whose domain vouched for it with a proof of
   * `proofTimestamp`. The same node's newer announcement replaces its older
   * one; another owner's or node's replaces it only with a newer proof.
   */
  putSite(
    announcement: SiteAnnouncement,
    bytes: Uint8Array,
    proof: { timestamp: number; verifiedAt: number },
  ): PutSiteResult {
    const existing = this.getSite(announcement.domain);
    const sameHolder = existing !== undefined && existing.owner === announcement.owner &&
      existing.peerId === announcement.peerId && existing.encryptionKey === announcement.encryptionKey;
    if (existing && !sameHolder && existing.proofTimestamp >= proof.timestamp) return "conflict";
    if (existing && sameHolder && existing.timestamp >= announcement.timestamp) return "stale";
    if (!existing && this.count() >= this.#maxSites) return "full";
    this.#db.prepare(
      `INSERT INTO sites (domain, owner, peer_id, encryption_key, timestamp, bytes, received_at,
         proof_timestamp, verified_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (domain) DO UPDATE SET owner = excluded.owner, peer_id = excluded.peer_id,
         encryption_key = excluded.encryption_key, timestamp = excluded.timestamp,
         bytes = excluded.bytes, received_at = excluded.received_at,
         proof_timestamp = excluded.proof_timestamp, verified_at = excluded.verified_at`,
    ).run(
      announcement.domain,
      announcement.owner,
      announcement.peerId,
      announcement.encryptionKey,
      announcement.timestamp,
      bytes,
      Date.now(),
      proof.timestamp,
      proof.verifiedAt,
    );
    this.#cache.delete(announcement.domain);
    return existing ? "updated" : "added";
  }

  /** Records that the domain's proof still vouches for its site. */
  touchVerified(domain: string, verifiedAt: number): void {
    this.#db.prepare("UPDATE sites SET verified_at = ? WHERE domain = ? AND verified_at > 0").run(
      verifiedAt,
      domain,
    );
    this.#cache.delete(domain);
  }

  /** Forgets a site (its domain no longer vouches for it). */
  deleteSite(domain: string): void {
    this.#db.prepare("DELETE FROM sites WHERE domain = ?").run(domain);
    this.#cache.delete(domain);
  }

  /** Verified sites last checked before `before`, least recently checked first. */
  listStale(before: number, limit: number): Site[] {
    const rows = this.#db.prepare(
      `SELECT ${COLUMNS} FROM sites WHERE verified_at > 0 AND verified_at < ? ORDER BY verified_at LIMIT ?`,
    ).all(before, limit) as unknown as Row[];
    return rows.map(toSite);
  }

  /** Rows stored before domain proofs existed, by node: never served, adopted or removed at start. */
  listUnverified(): Site[] {
    const rows = this.#db.prepare(`SELECT ${COLUMNS} FROM sites WHERE verified_at = 0`)
      .all() as unknown as Row[];
    return rows.map(toSite);
  }

  deleteUnverified(): number {
    const result = this.#db.prepare("DELETE FROM sites WHERE verified_at = 0").run();
    this.#cache.clear();
    return Number(result.changes);
  }

  getSite(domain: string): Site | undefined {
    let site = this.#cache.get(domain);
    if (site === undefined) {
      const row = this.#db.prepare(`SELECT ${COLUMNS} FROM sites WHERE domain = ? AND verified_at > 0`).get(
        domain,
      ) as Row | undefined;
      site = row ? toSite(row) : null;
      if (this.#cache.size > 10_000) this.#cache.clear();
      this.#cache.set(domain, site);
    }
    return site ?? undefined;
  }

  // --- this node's claims ----------------------------------------------------

  getClaim(domain: string): SiteClaim | undefined {
    const row = this.#db.prepare(
      "SELECT domain, proof, created_at, checked_at, error FROM site_claims WHERE domain = ?",
    )
      .get(domain) as ClaimRow | undefined;
    return row ? toClaim(row) : undefined;
  }

  listClaims(): SiteClaim[] {
    const rows = this.#db.prepare(
      "SELECT domain, proof, created_at, checked_at, error FROM site_claims ORDER BY domain",
    ).all() as unknown as ClaimRow[];
    return rows.map(toClaim);
  }

  deleteClaim(domain: string): void {
    this.#db.prepare("DELETE FROM site_claims WHERE domain = ?").run(domain);
  }

  putClaim(domain: string, proof: string, createdAt: number): void {
    this.#db.prepare(
      `INSERT INTO site_claims (domain, proof, created_at) VALUES (?, ?, ?)
       ON CONFLICT (domain) DO UPDATE SET proof = excluded.proof, created_at = excluded.created_at,
         checked_at = NULL, error = NULL`,
    ).run(domain, proof, createdAt);
  }

  /** Records a look for a claim's proof: `error` is why it was not found, or null. */
  markClaimChecked(domain: string, checkedAt: number, error: string | null): void {
    this.#db.prepare("UPDATE site_claims SET checked_at = ?, error = ? WHERE domain = ?").run(
      checkedAt,
      error,
      domain,
    );
  }

  listSitesOf(peerId: string): Site[] {
    const rows = this.#db.prepare(
      `SELECT ${COLUMNS} FROM sites WHERE peer_id = ? AND verified_at > 0 ORDER BY domain`,
    ).all(peerId) as unknown as Row[];
    return rows.map(toSite);
  }

  /** Announcement bytes, oldest first, for sync. */
  listAnnouncementBytes(limit: number): Uint8Array[] {
    const rows = this.#db.prepare(
      "SELECT bytes FROM sites WHERE verified_at > 0 ORDER BY received_at LIMIT ?",
    ).all(limit) as {
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
    proofTimestamp: row.proof_timestamp,
    verifiedAt: row.verified_at,
  };
}

interface ClaimRow {
  domain: string;
  proof: string;
  created_at: number;
  checked_at: number | null;
  error: string | null;
}

function toClaim(row: ClaimRow): SiteClaim {
  const claim: SiteClaim = { domain: row.domain, proof: row.proof, createdAt: row.created_at };
  if (row.checked_at !== null) claim.checkedAt = row.checked_at;
  if (row.error !== null) claim.error = row.error;
  return claim;
}
