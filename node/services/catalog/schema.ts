/**
 * The catalog's tables and the SQL pieces every read shares: the migrations,
 * the listing row, the join with the registry stakes, the visibility rules and
 * the sort orders, and the mapping of rows to {@link Listing}s.
 */
import type { Database } from "../db/mod.ts";
import type { Address, ListingId, ManifestCid } from "../../../protocol/ids.ts";
import type { Category } from "../../../protocol/manifest.ts";
import type { ListingSort } from "./query.ts";
import type { Listing } from "./store.ts";

export const MIGRATIONS = [
  `CREATE TABLE catalog_listings (
    n INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    seller TEXT NOT NULL,
    gateway TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    price TEXT NOT NULL,
    price_key TEXT NOT NULL,
    stake TEXT NOT NULL DEFAULT '0',
    stake_key TEXT NOT NULL DEFAULT '${"0".repeat(78)}',
    byte_length INTEGER NOT NULL,
    row_count INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    schema TEXT NOT NULL,
    preview TEXT NOT NULL,
    licence TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    announced_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    seq INTEGER NOT NULL UNIQUE,
    raw BLOB NOT NULL
  );
  CREATE INDEX catalog_listings_category ON catalog_listings (category, created_at);
  CREATE INDEX catalog_listings_created ON catalog_listings (created_at);
  CREATE INDEX catalog_listings_price ON catalog_listings (price_key);
  CREATE INDEX catalog_listings_stake ON catalog_listings (stake_key);
  CREATE INDEX catalog_listings_seller ON catalog_listings (seller);
  CREATE INDEX catalog_listings_announced ON catalog_listings (announced_at);
  CREATE TABLE catalog_providers (
    listing_n INTEGER NOT NULL REFERENCES catalog_listings (n) ON DELETE CASCADE,
    peer_id TEXT NOT NULL,
    hint_position INTEGER,
    replicated INTEGER NOT NULL DEFAULT 0,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (listing_n, peer_id)
  );
  CREATE VIRTUAL TABLE catalog_search USING fts5 (
    title, description, category, columns,
    tokenize = 'unicode61 remove_diacritics 2'
  );
  CREATE TABLE catalog_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE catalog_sync_peers (
    peer_id TEXT PRIMARY KEY,
    epoch TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    synced_at INTEGER NOT NULL
  );`,
  // Stakes live apart from listings: the registry may know a manifest CID before its announcement arrives.
  `DROP INDEX catalog_listings_stake;
  ALTER TABLE catalog_listings DROP COLUMN stake_key;
  ALTER TABLE catalog_listings DROP COLUMN stake;
  CREATE TABLE catalog_stakes (
    id TEXT PRIMARY KEY,
    stake TEXT NOT NULL,
    stake_key TEXT NOT NULL,
    challenges INTEGER NOT NULL,
    listing_ids TEXT NOT NULL
  );
  CREATE INDEX catalog_stakes_key ON catalog_stakes (stake_key);`,
  // The registry owner of the oldest active listing; null when none is active.
  `ALTER TABLE catalog_stakes ADD COLUMN owner TEXT;`,
];

/** Width of a zero-padded uint256 decimal, so text order is numeric order. */
export const UINT256_DIGITS = 78;

export interface ListingRow {
  n: number;
  id: string;
  seller: string;
  gateway: string;
  category: string;
  title: string;
  description: string;
  price: string;
  /** From the joined `catalog_stakes`; null when the registry has no stake on it. */
  stake: string | null;
  challenges: number | null;
  listing_ids: string | null;
  byte_length: number;
  row_count: number;
  chunk_count: number;
  schema: string;
  preview: string;
  licence: string;
  created_at: number;
  announced_at: number;
}

/** Listings with their registry stake, as every read selects them. */
export const LISTINGS = "catalog_listings l LEFT JOIN catalog_stakes k ON k.id = l.id";
/** Listings whose seller the registry does not contradict; another seller's copy of a staked CID is hidden. */
export const VISIBLE = "(k.owner IS NULL OR k.owner = l.seller)";
/** Listings a full index may give up: no active registry listing by their seller. */
export const UNSTAKED = "(k.id IS NULL OR k.owner IS NULL OR k.owner != l.seller)";
export const LISTING_COLUMNS =
  "l.*, k.stake AS stake, k.challenges AS challenges, k.listing_ids AS listing_ids";

export const ORDER_BY: Record<ListingSort, string> = {
  newest: "l.created_at DESC, l.announced_at DESC, l.id",
  price: "l.price_key ASC, l.created_at DESC, l.id",
  stake: `COALESCE(k.stake_key, '${"0".repeat(UINT256_DIGITS)}') DESC, l.created_at DESC, l.id`,
  relevance: "s.rank, l.created_at DESC, l.id",
};

/** Listing rows as {@link Listing}s, with the peers known to provide each. */
export function toListings(db: Database, rows: ListingRow[]): Listing[] {
  if (rows.length === 0) return [];
  const providers = new Map<number, string[]>();
  const placeholders = rows.map(() => "?").join(", ");
  const providerRows = db.prepare(
    `SELECT listing_n, peer_id FROM catalog_providers WHERE listing_n IN (${placeholders})
     ORDER BY listing_n, hint_position IS NULL, hint_position, added_at, peer_id`,
  ).all(...rows.map((r) => r.n)) as { listing_n: number; peer_id: string }[];
  for (const p of providerRows) {
    const list = providers.get(p.listing_n) ?? [];
    list.push(p.peer_id);
    providers.set(p.listing_n, list);
  }
  return rows.map((r) => ({
    id: r.id as ListingId,
    manifestCid: r.id as ManifestCid,
    title: r.title,
    description: r.description,
    category: r.category as Category,
    price: r.price,
    seller: r.seller as Address,
    gateway: r.gateway as Address,
    byteLength: r.byte_length,
    rowCount: r.row_count,
    chunkCount: r.chunk_count,
    preview: JSON.parse(r.preview),
    schema: JSON.parse(r.schema),
    licence: r.licence,
    providers: providers.get(r.n) ?? [],
    createdAt: r.created_at,
    announcedAt: r.announced_at,
    stake: r.stake ?? "0",
    challenges: r.challenges ?? 0,
    onChain: r.listing_ids === null ? [] : JSON.parse(r.listing_ids),
  }));
}
