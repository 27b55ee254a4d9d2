/**
 * The catalog's SQLite index: one row per listing (the newest valid
 * announcement of each manifest CID, kept in its canonical signed bytes for
 * sync), an FTS5 index over title, description, category and column names,
 * the peers known to provide each dataset, and the registry stake on each
 * manifest CID (kept apart from the listing rows, since the chain may know a
 * stake before the announcement arrives; joined when listings are read).
 *
 * Once the registry has an active listing of a manifest CID, its owner (of
 * the oldest active registry listing) is the only seller the index accepts
 * for it: another seller's announcement, indexed before the stake, is hidden
 * from reads and sync and replaced when the owner's arrives.
 *
 * The index holds at most `maxListings` listings and `maxBytes` of signed
 * announcements. When it is full, a new listing takes the place of the
 * unstaked listings announced longest ago (this node's own excepted), as many
 * as it needs; staked listings are never pushed out while an unstaked one
 * remains, a new unstaked listing never pushes out a staked one, nor one
 * announced after it. So a full index keeps every staked listing and the most
 * recently announced unstaked ones, and every node with the same caps that has
 * heard the same announcements keeps the same listings (a late joiner syncing
 * from a full peer ends with that peer's). Both counts are kept in memory, so
 * indexing a listing costs the same at 1,000 listings as at the cap.
 *
 * Every listing row carries `seq`, a counter that grows with every insert or
 * replacement; the sync protocol serves "everything after seq N" so a peer
 * catches up on exactly what it has not seen from this node.
 *
 * ```ts
 * const store = new CatalogStore(db);
 * store.putAnnouncement(announcement, bytes);
 * const { listings } = store.listListings({ q: "air quality", sort: "price" });
 * ```
 */
import { type Database, migrate, type Statement, statementCache, transaction } from "../db/mod.ts";
import { type Announcement, MAX_ANNOUNCEMENT_BYTES } from "../../../protocol/announcement.ts";
import { type Address, type ListingId, toAddress } from "../../../protocol/ids.ts";
import type { ParsedListingQuery } from "./query.ts";
import {
  LISTING_COLUMNS,
  type ListingRow,
  LISTINGS,
  MIGRATIONS,
  ORDER_BY,
  toListings,
  UINT256_DIGITS,
  UNSTAKED,
  VISIBLE,
} from "./schema.ts";

export type {
  CatalogCapacity,
  CatalogStoreInit,
  Listing,
  ListingOwner,
  ListingStake,
  ListingVersion,
  ListListingsResult,
  PutResult,
  SyncBatch,
} from "./types.ts";
import type {
  CatalogCapacity,
  CatalogStoreInit,
  Listing,
  ListingOwner,
  ListingStake,
  ListingVersion,
  ListListingsResult,
  PutResult,
  SyncBatch,
} from "./types.ts";

export class CatalogStore {
  #db: Database;
  #maxListings: number;
  #maxBytes: number;
  #own: string;
  #onRemoved: NonNullable<CatalogStoreInit["onRemoved"]>;
  /** Listings and announcement bytes held, counted once when opened and kept with every change. */
  #count: number;
  #bytes: number;
  /** Prepared statements of the fixed-text queries on the gossip path (every node indexes every announcement). */
  readonly #prepare: (sql: string) => Statement;

  constructor(db: Database, init: CatalogStoreInit = {}) {
    this.#db = db;
    this.#prepare = statementCache(db);
    this.#maxListings = init.maxListings ?? 100_000;
    this.#maxBytes = init.maxBytes ?? 256 * 2 ** 20;
    this.#own = init.own ?? "";
    this.#onRemoved = init.onRemoved ?? (() => {});
    migrate(db, "catalog", MIGRATIONS);
    if (this.#meta("epoch") === undefined) this.#setMeta("epoch", crypto.randomUUID());
    const held = db.prepare("SELECT COUNT(*) AS c, COALESCE(SUM(length(raw)), 0) AS b FROM catalog_listings")
      .get() as { c: number; b: number };
    this.#count = held.c;
    this.#bytes = held.b;
  }

  /** A random id of this index; a peer's sync cursor is only meaningful within one epoch. */
  get epoch(): string {
    return this.#meta("epoch")!;
  }

  /** How many listings the index holds. */
  count(): number {
    return this.#count;
  }

  /** How full the index is, and when full, since when it keeps unstaked listings. */
  getCapacity(): CatalogCapacity {
    const out: CatalogCapacity = {
      listings: this.#count,
      maxListings: this.#maxListings,
      bytes: this.#bytes,
      maxBytes: this.#maxBytes,
    };
    if (this.#count >= this.#maxListings || this.#bytes >= this.#maxBytes - MAX_ANNOUNCEMENT_BYTES) {
      const oldest = this.#victims().next().value;
      if (oldest) out.keepsSince = oldest.announced_at;
    }
    return out;
  }

  /** The seller and timestamp of the indexed announcement of `id`, if any. */
  getVersion(id: string): ListingVersion | undefined {
    const row = this.#prepare("SELECT seller, announced_at FROM catalog_listings WHERE id = ?").get(id) as
      | { seller: string; announced_at: number }
      | undefined;
    return row && { seller: row.seller as Address, announcedAt: row.announced_at };
  }

  /**
   * The registry owner of manifest CID `id` while it has an active registry
   * listing: then the only seller accepted for it. `undefined` when unstaked.
   */
  getOwner(id: string): ListingOwner {
    const row = this.#prepare("SELECT owner FROM catalog_stakes WHERE id = ?").get(id) as
      | { owner: string | null }
      | undefined;
    return (row?.owner ?? undefined) as ListingOwner;
  }

  /**
   * Indexes a verified announcement (`bytes` is its canonical encoding):
   * adds it, replaces an older announcement by the same seller (or any
   * announcement by another seller, when `a`'s seller owns the CID on the
   * registry), or refuses. When the index is full, a new listing pushes out
   * the unstaked listing announced longest ago, if there is one and the new
   * listing is staked or newer.
   */
  putAnnouncement(a: Announcement, bytes: Uint8Array, options: { now?: number } = {}): PutResult {
    const now = options.now ?? Date.now();
    const removed: string[] = [];
    let count = this.#count;
    let held = this.#bytes;
    const result = transaction(this.#db, (): PutResult => {
      const existing = this.#prepare(
        "SELECT n, seller, announced_at, length(raw) AS size FROM catalog_listings WHERE id = ?",
      )
        .get(a.manifestCid) as { n: number; seller: string; announced_at: number; size: number } | undefined;
      const owner = this.getOwner(a.manifestCid);
      if (owner !== undefined && owner !== a.seller) return "conflict";
      const takeover = existing !== undefined && existing.seller !== a.seller;
      if (takeover && owner === undefined) return "conflict";
      if (existing && !takeover && existing.announced_at >= a.timestamp) return "stale";
      if (!existing && (count >= this.#maxListings || held + bytes.byteLength > this.#maxBytes)) {
        // The unstaked listings announced longest ago, as many as it takes; none when one is not older.
        const victims: { n: number; size: number }[] = [];
        let c = count;
        let b = held;
        for (const victim of this.#victims()) {
          if (c < this.#maxListings && b + bytes.byteLength <= this.#maxBytes) break;
          if (owner === undefined && victim.announced_at >= a.timestamp) break;
          victims.push(victim);
          c--;
          b -= victim.size;
        }
        if (c >= this.#maxListings || b + bytes.byteLength > this.#maxBytes) return "full";
        for (const victim of victims) removed.push(this.#deleteListing(victim.n).id);
        count = c;
        held = b;
      }
      const seq = this.#nextSeq();
      const values = {
        seller: a.seller,
        gateway: a.gateway,
        category: a.category,
        title: a.title,
        description: a.description,
        price: a.price,
        price_key: a.price.padStart(UINT256_DIGITS, "0"),
        byte_length: a.byteLength,
        row_count: a.rowCount,
        chunk_count: a.chunkCount,
        schema: JSON.stringify(a.schema),
        preview: JSON.stringify(a.preview),
        licence: a.licence,
        created_at: a.createdAt,
        announced_at: a.timestamp,
        received_at: now,
        seq,
        raw: bytes,
      };
      let n: number;
      if (existing) {
        n = existing.n;
        const sets = Object.keys(values).map((k) => `${k} = :${k}`).join(", ");
        this.#prepare(`UPDATE catalog_listings SET ${sets} WHERE n = :n`).run({ ...values, n });
        this.#prepare("DELETE FROM catalog_search WHERE rowid = ?").run(n);
        this.#prepare("UPDATE catalog_providers SET hint_position = NULL WHERE listing_n = ?").run(n);
      } else {
        const keys = Object.keys(values);
        const result = this.#prepare(
          `INSERT INTO catalog_listings (id, ${keys.join(", ")}) VALUES (:id, ${
            keys.map((k) => `:${k}`).join(", ")
          })`,
        ).run({ ...values, id: a.manifestCid });
        n = Number(result.lastInsertRowid);
      }
      this.#prepare(
        "INSERT INTO catalog_search (rowid, title, description, category, columns) VALUES (?, ?, ?, ?, ?)",
      )
        .run(n, a.title, a.description, a.category, a.schema.map((c) => c.name).join(" "));
      const hint = this.#prepare(
        `INSERT INTO catalog_providers (listing_n, peer_id, hint_position, added_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (listing_n, peer_id) DO UPDATE SET hint_position = excluded.hint_position`,
      );
      a.providers.forEach((peerId, i) => hint.run(n, peerId, i, now));
      this.#prepare(
        "DELETE FROM catalog_providers WHERE listing_n = ? AND hint_position IS NULL AND replicated = 0",
      )
        .run(n);
      count += existing ? 0 : 1;
      held += bytes.byteLength - (existing?.size ?? 0);
      return existing ? "updated" : "added";
    });
    this.#count = count;
    this.#bytes = held;
    if (removed.length > 0) this.#onRemoved(removed, "pushed-out");
    return result;
  }

  /** Listings a full index may give up, the one announced longest ago first. */
  #victims(): IterableIterator<{ n: number; announced_at: number; size: number }> {
    return this.#prepare(
      `SELECT l.n, l.announced_at, length(l.raw) AS size FROM ${LISTINGS} WHERE ${UNSTAKED} AND l.seller != ?
       ORDER BY l.announced_at, l.n`,
    ).iterate(this.#own) as IterableIterator<{ n: number; announced_at: number; size: number }>;
  }

  /** The listing `id`, or `undefined`. */
  getListing(id: string): Listing | undefined {
    const row = this.#prepare(`SELECT ${LISTING_COLUMNS} FROM ${LISTINGS} WHERE l.id = ? AND ${VISIBLE}`).get(
      id,
    ) as
      | ListingRow
      | undefined;
    return row && toListings(this.#db, [row])[0];
  }

  /** The signed announcement bytes of listing `id`, or `undefined`. */
  getAnnouncementBytes(id: string): Uint8Array | undefined {
    const row = this.#prepare("SELECT raw FROM catalog_listings WHERE id = ?").get(id) as
      | { raw: Uint8Array }
      | undefined;
    return row?.raw;
  }

  /** Listings matching an already validated query (see `parseListingQuery`). */
  listListings(query: ParsedListingQuery): ListListingsResult {
    if (query.empty) return { listings: [], total: 0 };
    const where: string[] = [VISIBLE];
    const params: (string | number)[] = [];
    let from = LISTINGS;
    if (query.q !== undefined) {
      from += " JOIN catalog_search s ON s.rowid = l.n";
      where.push("catalog_search MATCH ?");
      params.push(query.q);
    }
    if (query.category !== undefined) {
      where.push("l.category = ?");
      params.push(query.category);
    }
    if (query.seller !== undefined) {
      where.push("l.seller = ?");
      params.push(query.seller);
    }
    const clause = `WHERE ${where.join(" AND ")}`;
    const order = query.sort === "relevance" && query.q === undefined
      ? ORDER_BY.newest
      : ORDER_BY[query.sort];
    const total =
      (this.#db.prepare(`SELECT COUNT(*) AS c FROM ${from} ${clause}`).get(...params) as { c: number }).c;
    const rows = this.#db.prepare(
      `SELECT ${LISTING_COLUMNS} FROM ${from} ${clause} ORDER BY ${order} LIMIT ? OFFSET ?`,
    )
      .all(...params, query.limit, query.offset) as unknown as ListingRow[];
    return { listings: toListings(this.#db, rows), total };
  }

  /**
   * Records the registry stake and owner of each manifest CID (listed or
   * not yet); a CID without active listings gets stake `"0"` and no owner.
   * With `replace`, forgets every stake not in `stakes` (after the chain
   * index was rebuilt). Returns the CIDs whose owner changed to a new one.
   */
  setStakes(stakes: readonly ListingStake[], options: { replace?: boolean } = {}): string[] {
    const owners = stakes.map((s) => {
      if (!/^(0|[1-9][0-9]{0,77})$/.test(s.stake)) {
        throw new RangeError(
          `Cannot set the stake of "${s.manifestCid}": ${JSON.stringify(s.stake)} is not a uint256`,
        );
      }
      if (s.owner === undefined || s.owner === null || s.listingIds.length === 0) return null;
      try {
        return toAddress(s.owner);
      } catch (cause) {
        throw new RangeError(`Cannot set the owner of "${s.manifestCid}": not an address`, { cause });
      }
    });
    return transaction(this.#db, () => {
      const before = new Map(
        (this.#db.prepare("SELECT id, owner FROM catalog_stakes WHERE owner IS NOT NULL").all() as {
          id: string;
          owner: string;
        }[]).map((r) => [r.id, r.owner]),
      );
      if (options.replace) this.#db.exec("DELETE FROM catalog_stakes");
      const put = this.#db.prepare(
        `INSERT INTO catalog_stakes (id, stake, stake_key, challenges, listing_ids, owner) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET stake = excluded.stake, stake_key = excluded.stake_key,
           challenges = excluded.challenges, listing_ids = excluded.listing_ids, owner = excluded.owner`,
      );
      const changed: string[] = [];
      stakes.forEach((s, i) => {
        put.run(
          s.manifestCid,
          s.stake,
          s.stake.padStart(UINT256_DIGITS, "0"),
          s.challenges,
          JSON.stringify(s.listingIds),
          owners[i],
        );
        if (owners[i] !== null && before.get(s.manifestCid) !== owners[i]) changed.push(s.manifestCid);
      });
      return changed;
    });
  }

  /** Records that `peerId` holds the dataset of listing `id`; false when the listing is unknown. */
  addProvider(id: string, peerId: string, options: { now?: number } = {}): boolean {
    const row = this.#db.prepare("SELECT n FROM catalog_listings WHERE id = ?").get(id) as
      | { n: number }
      | undefined;
    if (!row) return false;
    this.#db.prepare(
      `INSERT INTO catalog_providers (listing_n, peer_id, replicated, added_at) VALUES (?, ?, 1, ?)
       ON CONFLICT (listing_n, peer_id) DO UPDATE SET replicated = 1`,
    ).run(row.n, peerId, options.now ?? Date.now());
    return true;
  }

  /** Forgets that `peerId` holds listing `id`; false when it was not known to. */
  removeProvider(id: string, peerId: string): boolean {
    const result = this.#db.prepare(
      "DELETE FROM catalog_providers WHERE peer_id = ? AND listing_n = (SELECT n FROM catalog_listings WHERE id = ?)",
    ).run(peerId, id);
    return Number(result.changes) > 0;
  }

  /** Removes the listings whose announcement was signed before `before`, except `keepSeller`'s; returns how many. */
  pruneExpired(before: number, options: { keepSeller?: string } = {}): number {
    const removed = transaction(this.#db, () => {
      const rows = this.#db.prepare("SELECT n FROM catalog_listings WHERE announced_at < ? AND seller != ?")
        .all(before, options.keepSeller ?? "") as { n: number }[];
      return rows.map(({ n }) => this.#deleteListing(n));
    });
    this.#count -= removed.length;
    for (const r of removed) this.#bytes -= r.size;
    if (removed.length > 0) this.#onRemoved(removed.map((r) => r.id), "expired");
    return removed.length;
  }

  /**
   * Removes listing row `n` with its search entry (providers go by cascade); returns its id and
   * announcement size, for the caller to count once the transaction commits.
   */
  #deleteListing(n: number): { id: string; size: number } {
    const row = this.#prepare("SELECT id, length(raw) AS size FROM catalog_listings WHERE n = ?").get(n) as {
      id: string;
      size: number;
    };
    this.#prepare("DELETE FROM catalog_search WHERE rowid = ?").run(n);
    this.#prepare("DELETE FROM catalog_listings WHERE n = ?").run(n);
    return row;
  }

  /** Ids of `seller`'s listings whose announcement was signed before `before`. */
  listStaleOwn(seller: string, before: number): ListingId[] {
    return (this.#db.prepare(
      "SELECT id FROM catalog_listings WHERE seller = ? AND announced_at < ? ORDER BY id",
    )
      .all(seller, before) as { id: string }[]).map((r) => r.id as ListingId);
  }

  /**
   * Announcements changed after `cursor` and signed at or after `notBefore`,
   * in change order, capped at `limit` announcements and about `maxBytes`.
   */
  readChanges(cursor: number, options: { limit: number; maxBytes: number; notBefore: number }): SyncBatch {
    // What the registry contradicts is not passed on.
    const rows = this.#db.prepare(
      `SELECT l.seq, l.raw FROM ${LISTINGS} WHERE l.seq > ? AND l.announced_at >= ? AND ${VISIBLE}
       ORDER BY l.seq LIMIT ?`,
    ).iterate(cursor, options.notBefore, options.limit + 1) as IterableIterator<
      { seq: number; raw: Uint8Array }
    >;
    const announcements: Uint8Array[] = [];
    let bytes = 0;
    let last = cursor;
    let more = false;
    for (const row of rows) {
      if (announcements.length >= options.limit || bytes + row.raw.byteLength > options.maxBytes) {
        more = true;
        break;
      }
      announcements.push(row.raw);
      bytes += row.raw.byteLength;
      last = row.seq;
    }
    return { announcements, cursor: last, more };
  }

  /** The sync position this node holds for `peerId`'s catalog. */
  getSyncCursor(peerId: string): { epoch: string; cursor: number; syncedAt: number } | undefined {
    const row = this.#db.prepare("SELECT epoch, cursor, synced_at FROM catalog_sync_peers WHERE peer_id = ?")
      .get(peerId) as { epoch: string; cursor: number; synced_at: number } | undefined;
    return row && { epoch: row.epoch, cursor: row.cursor, syncedAt: row.synced_at };
  }

  setSyncCursor(peerId: string, epoch: string, cursor: number, options: { now?: number } = {}): void {
    this.#db.prepare(
      `INSERT INTO catalog_sync_peers (peer_id, epoch, cursor, synced_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (peer_id) DO UPDATE SET epoch = excluded.epoch, cursor = excluded.cursor, synced_at = excluded.synced_at`,
    ).run(peerId, epoch, cursor, options.now ?? Date.now());
  }

  #nextSeq(): number {
    const seq = Number(this.#meta("seq") ?? "0") + 1;
    this.#setMeta("seq", String(seq));
    return seq;
  }

  #meta(key: string): string | undefined {
    const row = this.#prepare("SELECT value FROM catalog_meta WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  #setMeta(key: string, value: string): void {
    this.#prepare(
      "INSERT INTO catalog_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(key, value);
  }
}
