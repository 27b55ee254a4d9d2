/**
 * The catalog: every listing the network announces, validated and indexed in
 * the node's SQLite database for search, category filters and sorting.
 *
 * It subscribes to the announcement topic of every category and validates
 * each message before gossipsub delivers or forwards it (size, DAG-CBOR,
 * schema, EIP-712 signature by the seller, clock skew; see `validate.ts`), so
 * invalid announcements cost their sender peer score and go no further. It
 * catches up on what it missed through the catalog sync protocol
 * (`sync.ts`) when it meets a peer and periodically after that, checking
 * synced announcements exactly like gossip. It re-signs and re-publishes the
 * node's own listings before they expire (`publish.ts`). Its tables are in
 * `schema.ts`, their reads and writes in `store.ts`.
 *
 * The registry decides who sells a staked manifest CID: once the chain index
 * reports an active registry listing (`setStakes`), only the owner of the
 * oldest one may announce it. Another seller's announcement is rejected on
 * gossip (its sender loses score), an earlier one is hidden until the owner's
 * replaces it, and this node re-announces its own listings when it becomes
 * their registry owner, so that every node replaces a squatter's copy. The
 * check reads the local chain index only: no chain call on the gossip path.
 * Each gossip peer may bring a limited number of new unstaked listings
 * (a token bucket). The index keeps at most `maxListings` listings (100,000)
 * and `maxBytes` of announcements (256 MiB); when full it keeps every staked
 * listing and the most recently announced unstaked ones, whatever order they
 * arrived in, and stops watching the datasets of the listings it gives up
 * (`getCapacity()` says since when it keeps unstaked listings).
 *
 * ```ts
 * const catalog = createCatalog({ db, identity, p2p, chain, replication, log }, {});
 * await catalog.start();
 * const announcement = await signAnnouncement(identity.account, body);
 * await catalog.publishAnnouncement(announcement);
 * const { listings } = catalog.listListings({ q: "air quality", category: "environment", sort: "price" });
 * const listing = catalog.getListing(listings[0].id); // throws NotFoundError when unknown
 * const providers = catalog.getProviders(manifestCid); // [] when unknown
 * catalog.addEventListener("listing", (e) => console.log(e.detail.manifestCid));
 * catalog.setStakes([{ manifestCid, stake: "100", challenges: 0, listingIds: ["1"] }]); // from the chain index
 * ```
 *
 * Every listing it indexes (gossip, sync or its own) it hands to `replication.watch`,
 * so the node helps keep it at its replication target. It subscribes to the
 * chain's `"stakes"` when it is created, so no stake the index reports is lost.
 */
import type { PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Announcement, MAX_CLOCK_SKEW } from "../../../protocol/announcement.ts";
import { type ManifestCid, toListingId, toManifestCid } from "../../../protocol/ids.ts";
import { CATEGORIES } from "../../../protocol/manifest.ts";
import { announcementTopic, CATALOG_SYNC_PROTOCOL } from "../../../protocol/topics.ts";
import type { Database } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P, ValidationResult } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { defineService } from "../../service.ts";
import type { ChainService, StakesDetail } from "../chain/mod.ts";
import type { Replication } from "../replication/mod.ts";
import { NotFoundError } from "../../errors.ts";
import { minute, second } from "../../constants.ts";
import {
  type CatalogCapacity,
  CatalogStore,
  type Listing,
  type ListingStake,
  type ListListingsResult,
} from "./store.ts";
import { type ListingQuery, parseListingQuery } from "./query.ts";
import { type AnnouncementCheck, DEFAULT_MAX_ANNOUNCEMENT_AGE, ingestAnnouncement } from "./validate.ts";
import { CatalogSyncer, type SyncWithResult } from "./sync.ts";
import { type PublishAnnouncementResult, Publisher } from "./publish.ts";

export type { CatalogCapacity, Listing, ListingStake, ListListingsResult } from "./store.ts";
export type { ListingQuery, ListingSort } from "./query.ts";
export { LISTING_SORTS } from "./query.ts";
export { type AnnouncementCheck, checkAnnouncement, ingestAnnouncement } from "./validate.ts";
export { SyncProtocolError, type SyncWithResult } from "./sync.ts";
export type { PublishAnnouncementResult } from "./publish.ts";

export interface CatalogComponents {
  db: Database;
  identity: Identity;
  p2p: P2P;
  /** Its `"stakes"` events set the registry's stakes of listings. */
  chain: Pick<ChainService, "addEventListener">;
  /** Watches every indexed listing's dataset, and stops when the listing leaves the index. */
  replication: Pick<Replication, "watch" | "unwatch">;
  log: Logger;
}

export interface CatalogInit {
  /** Announcements signed longer ago are ignored and pruned. @default 30 days */
  maxAge?: number;
  /** Largest accepted distance of a timestamp into the future, ms. @default MAX_CLOCK_SKEW (5 minutes) */
  maxClockSkew?: number;
  /** Most listings kept; when full, a new listing pushes out the oldest unstaked one. @default 100_000 */
  maxListings?: number;
  /** Most bytes of signed announcements kept, the same way. @default 256 MiB */
  maxBytes?: number;
  /** New unstaked listings one gossip peer may bring at once (its bucket refills at `newListingsPerMinute`). @default 600 */
  newListingBurst?: number;
  /** New unstaked listings one gossip peer may bring per minute, sustained. @default 120 */
  newListingsPerMinute?: number;
  /** How often to sync with one random peer, prune and re-announce, ms. @default 5 minutes */
  syncInterval?: number;
  /** Least time between two syncs with the same peer, ms. @default 1 minute */
  resyncAfter?: number;
  /** Longest one sync with a peer may take, ms. @default 30 seconds */
  syncTimeout?: number;
  /** Most sync requests to one peer in one sync (each up to 256 announcements). @default 16 */
  maxSyncRounds?: number;
  /** Most syncs this node runs at once, as requester. @default 2 */
  maxConcurrentSyncs?: number;
  /** Least time between two gossip publishes, ms (gossipsub has no backpressure). @default 50 */
  publishInterval?: number;
}

/** Detail of the `"listing"` event: a listing was added or replaced in the index. */
export interface ListingIndexedDetail {
  manifestCid: ManifestCid;
  source: "local" | "gossip" | "sync";
}

/** The `catalog` component. */
export function catalog(init: CatalogInit = {}) {
  return defineService(
    "catalog",
    ["db", "identity", "p2p", "chain", "replication"],
    (c: CatalogComponents) => createCatalog(c, init),
  );
}

export function createCatalog(components: CatalogComponents, init: CatalogInit = {}): Catalog {
  return new Catalog(components, init);
}

/** Most contested announcements kept (each at most 64 KiB). */
const MAX_CONTESTED = 64;

/** Dispatches `"listing"` ({@link ListingIndexedDetail}) whenever it indexes a new or newer announcement. */
export class Catalog extends EventTarget {
  #c: CatalogComponents;
  #init: Required<CatalogInit>;
  #store?: CatalogStore;
  #unsubscribe: (() => void)[] = [];
  #controller?: AbortController;
  #timer?: ReturnType<typeof setInterval>;
  readonly #sync: CatalogSyncer;
  readonly #publisher: Publisher;
  /** New-listing tokens left per gossip peer, and when they were counted. */
  #buckets = new Map<string, { tokens: number; at: number }>();
  /**
   * The latest valid announcement by another seller of each listing indexed
   * under its first seller (at most {@link MAX_CONTESTED}, oldest dropped):
   * when the registry names that seller the owner, it replaces the first
   * seller's copy, even if it arrived before the stake was indexed here.
   */
  #contested = new Map<string, { seller: string; bytes: Uint8Array }>();
  /** Whether the index has pushed out a listing since start (logged once). */
  #full = false;
  #onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[] }>) => {
    if (evt.detail.protocols.includes(this.#c.p2p.protocolId(CATALOG_SYNC_PROTOCOL))) {
      this.#sync.maybeSync(evt.detail.peerId.toString());
    }
  };

  constructor(components: CatalogComponents, init: CatalogInit) {
    super();
    this.#c = components;
    this.#init = {
      maxAge: init.maxAge ?? DEFAULT_MAX_ANNOUNCEMENT_AGE,
      maxClockSkew: init.maxClockSkew ?? MAX_CLOCK_SKEW,
      maxListings: init.maxListings ?? 100_000,
      maxBytes: init.maxBytes ?? 256 * 2 ** 20,
      syncInterval: init.syncInterval ?? 5 * minute,
      resyncAfter: init.resyncAfter ?? minute,
      syncTimeout: init.syncTimeout ?? 30 * second,
      maxSyncRounds: init.maxSyncRounds ?? 16,
      maxConcurrentSyncs: init.maxConcurrentSyncs ?? 2,
      publishInterval: init.publishInterval ?? 50,
      newListingBurst: init.newListingBurst ?? 600,
      newListingsPerMinute: init.newListingsPerMinute ?? 120,
    };
    const index = () => this.#index;
    const signal = () => this.#controller?.signal;
    this.#sync = new CatalogSyncer({
      p2p: components.p2p,
      log: components.log,
      init: this.#init,
      index,
      signal,
      ingest: (bytes, from) => this.#ingest(bytes, "sync", from),
    });
    this.#publisher = new Publisher({
      identity: components.identity,
      p2p: components.p2p,
      log: components.log,
      init: this.#init,
      index,
      signal,
      onIndexed: (manifestCid) => this.#dispatchListing(manifestCid, "local"),
    });
    // Listings show the registry's stake and challenges as the chain index learns them.
    components.chain.addEventListener("stakes", (e) => {
      const { stakes, replace } = (e as CustomEvent<StakesDetail>).detail;
      try {
        this.setStakes(stakes, { replace });
      } catch (err) {
        components.log.warn("failed to record listing stakes", { count: stakes.length, error: err });
      }
    });
  }

  get #index(): CatalogStore {
    if (!this.#store) throw new Error("Cannot use the catalog before start()");
    return this.#store;
  }

  #openStore(): CatalogStore {
    return this.#store ??= new CatalogStore(this.#c.db, {
      maxListings: this.#init.maxListings,
      maxBytes: this.#init.maxBytes,
      own: this.#c.identity.account.address,
      onRemoved: (ids, reason) => this.#removed(ids, reason),
    });
  }

  async start(): Promise<void> {
    const { p2p, log } = this.#c;
    this.#openStore();
    this.#controller = new AbortController();
    for (const category of CATEGORIES) {
      const topic = announcementTopic(category);
      p2p.setTopicValidator(topic, (from, data) => this.#validateGossip(from, data, category));
      // Accepted messages are indexed by the validator; delivery needs no more work.
      this.#unsubscribe.push(p2p.subscribe(topic, () => {}));
    }
    await p2p.handle(
      CATALOG_SYNC_PROTOCOL,
      (stream, connection) => this.#sync.serve(stream, connection),
      {
        maxInboundStreams: 2,
        maxOutboundStreams: 2,
      },
    );
    p2p.libp2p.addEventListener("peer:identify", this.#onIdentify);
    this.#timer = setInterval(() => this.#tick(), this.#init.syncInterval);
    for (const peerId of p2p.peers()) void this.#sync.syncIfSupported(peerId);
    void this.#publisher.announceOwned();
    log.info("started catalog", { listings: this.#index.count() });
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#controller?.abort(new Error("catalog stopped"));
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
    try {
      const libp2p = this.#c.p2p.libp2p;
      libp2p.removeEventListener("peer:identify", this.#onIdentify);
      await this.#c.p2p.unhandle(CATALOG_SYNC_PROTOCOL);
    } catch { /* p2p already stopped */ }
    await Promise.all([this.#sync.settled(), this.#publisher.settled()]);
  }

  /**
   * Verifies an announcement, indexes it and publishes it on its category's
   * topic. Publishes are paced `publishInterval` apart. Throws a `TypeError`
   * for an invalid or badly signed announcement and a `RangeError` when the
   * index holds a newer one or the listing belongs to another seller.
   */
  publishAnnouncement(
    announcement: Announcement,
    options: { signal?: AbortSignal } = {},
  ): Promise<PublishAnnouncementResult> {
    return this.#publisher.publishAnnouncement(announcement, options);
  }

  /**
   * How full the index is: listings and announcement bytes held and their caps, and when full, the
   * signing time of the oldest unstaked listing it keeps (unstaked listings announced before it are
   * not kept here; staked ones always are).
   */
  getCapacity(): CatalogCapacity {
    return this.#index.getCapacity();
  }

  /** Lists indexed listings; throws a `TypeError` or `RangeError` for a bad query. */
  listListings(query: ListingQuery = {}): ListListingsResult {
    return this.#index.listListings(parseListingQuery(query));
  }

  /** One listing by id (its manifest CID); throws `NotFoundError` when unknown, `TypeError` for a bad id. */
  getListing(id: string): Listing {
    const listing = this.#index.getListing(toListingId(id));
    if (!listing) throw new NotFoundError(`No listing "${id}" in the catalog`, { details: { id } });
    return listing;
  }

  /** The peers known to hold the dataset `manifestCid` (none when the catalog has no listing of it). */
  getProviders(manifestCid: string): string[] {
    return this.#index.getListing(toListingId(manifestCid))?.providers ?? [];
  }

  /**
   * Records the registry stake, open challenges, active registry listings
   * and owner of manifest CIDs, listed here or not yet; listings show them
   * and sort by them, and only the owner may announce a staked CID. With
   * `replace`, stakes not in `stakes` are forgotten. Works before `start()`,
   * since the chain index may catch up first. This node's listings whose
   * owner it just became are re-announced (once started).
   */
  setStakes(stakes: readonly ListingStake[], options: { replace?: boolean } = {}): void {
    // Anyone may register any bytes: what is not a manifest CID can never be a listing here.
    const manifests = stakes.filter((s) => isManifestCid(s.manifestCid));
    const changed = this.#openStore().setStakes(manifests, options);
    const own = this.#c.identity.account.address;
    for (const id of changed) {
      const owner = this.#store!.getOwner(id);
      if (owner === own) this.#publisher.markOwned(id);
      const contested = this.#contested.get(id);
      if (contested && contested.seller === owner && this.#controller && !this.#controller.signal.aborted) {
        this.#contested.delete(id);
        void this.#ingest(contested.bytes, "gossip", "");
      }
    }
    if (this.#publisher.hasOwnedToAnnounce && this.#controller && !this.#controller.signal.aborted) {
      void this.#publisher.announceOwned();
    }
  }

  /** Records that `peerId` holds the dataset (replication found it there). Throws `NotFoundError` for an unknown listing. */
  addProvider(manifestCid: string, peerId: string): void {
    const id = toManifestCid(manifestCid);
    if (!this.#index.addProvider(id, checkPeerId(peerId))) {
      throw new NotFoundError(`No listing "${id}" in the catalog`, { details: { id } });
    }
  }

  /** Forgets that `peerId` holds the dataset; returns whether it was known to. */
  removeProvider(manifestCid: string, peerId: string): boolean {
    return this.#index.removeProvider(toManifestCid(manifestCid), checkPeerId(peerId));
  }

  /**
   * Asks `peerId` for the announcements this node has not seen from it, until
   * it has nothing more (or `maxSyncRounds`). Every announcement is checked
   * like gossip. Throws a `SyncProtocolError` if the peer sends anything invalid.
   */
  syncWith(peerId: string, options: { signal?: AbortSignal } = {}): Promise<SyncWithResult> {
    return this.#sync.syncWith(peerId, options);
  }

  async #validateGossip(
    from: string,
    data: Uint8Array,
    category: typeof CATEGORIES[number],
  ): Promise<ValidationResult> {
    if (!this.#controller || this.#controller.signal.aborted) return "ignore";
    const check = await this.#ingest(data, "gossip", from, category);
    return check.result;
  }

  /** Checks and indexes an announcement from another node, with logging. Never throws. */
  async #ingest(
    bytes: Uint8Array,
    source: "gossip" | "sync",
    from: string,
    category?: typeof CATEGORIES[number],
  ): Promise<AnnouncementCheck> {
    const log = this.#c.log;
    let check: AnnouncementCheck & { put?: string };
    try {
      check = await ingestAnnouncement(this.#index, bytes, {
        category,
        maxAge: this.#init.maxAge,
        maxClockSkew: this.#init.maxClockSkew,
        // A sync responder may not have seen the stake yet: not a reason to drop it.
        notOwner: source === "sync" ? "ignore" : "reject",
        admitNew: source === "gossip" ? () => this.#takeNewListingToken(from) : undefined,
      });
    } catch (err) {
      // A store failure is ours, not the sender's: drop the message without blame.
      log.warn("failed to index announcement", { source, from, error: err });
      return { result: "ignore", reason: "index failed" };
    }
    if (check.result === "accept") {
      log.debug("indexed announcement", { id: check.announcement.manifestCid, source, from, put: check.put });
      this.#dispatchListing(check.announcement.manifestCid, source);
    } else if (check.result === "reject") {
      log.debug("rejected announcement", { source, from, reason: check.reason });
    } else if (check.contested) {
      const id = check.contested.announcement.manifestCid;
      this.#contested.delete(id);
      this.#contested.set(id, { seller: check.contested.announcement.seller, bytes: check.contested.bytes });
      for (const oldest of this.#contested.keys()) {
        if (this.#contested.size <= MAX_CONTESTED) break;
        this.#contested.delete(oldest);
      }
    }
    return check;
  }

  /** Listings pushed out by newer ones or expired: their datasets are no longer watched here. */
  #removed(ids: string[], reason: "pushed-out" | "expired"): void {
    for (const id of ids) {
      try {
        this.#c.replication.unwatch(id);
      } catch (err) {
        this.#c.log.warn("failed to unwatch dataset", { manifestCid: id, error: err });
      }
    }
    if (reason === "pushed-out" && !this.#full) {
      this.#full = true;
      const capacity = this.#index.getCapacity();
      this.#c.log.info("filled catalog: newer listings now push out the oldest unstaked ones", {
        ...capacity,
      });
    }
  }

  #dispatchListing(manifestCid: ManifestCid, source: ListingIndexedDetail["source"]): void {
    // Every listing this node indexes it helps keep at its replication target.
    try {
      this.#c.replication.watch(manifestCid);
    } catch (err) {
      this.#c.log.warn("failed to watch dataset", { manifestCid, error: err });
    }
    this.dispatchEvent(new CustomEvent<ListingIndexedDetail>("listing", { detail: { manifestCid, source } }));
  }

  #tick(): void {
    const now = Date.now();
    const own = this.#c.identity.account.address;
    try {
      const pruned = this.#index.pruneExpired(now - this.#init.maxAge, { keepSeller: own });
      if (pruned > 0) this.#c.log.info("pruned expired listings", { count: pruned });
    } catch (err) {
      this.#c.log.warn("failed to prune listings", { error: err });
    }
    void this.#publisher.reannounce(now - this.#init.maxAge / 2);
    this.#sync.forgetBackoffs(now);
    for (const peerId of this.#buckets.keys()) {
      if (this.#refill(peerId, now).tokens >= this.#init.newListingBurst) this.#buckets.delete(peerId);
    }
    const peers = this.#c.p2p.peers();
    if (peers.length > 0) void this.#sync.syncIfSupported(peers[Math.floor(Math.random() * peers.length)]);
  }

  /** Takes one of `peerId`'s new-listing tokens; false when it has none left. */
  #takeNewListingToken(peerId: string): boolean {
    const bucket = this.#refill(peerId, Date.now());
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  #refill(peerId: string, now: number): { tokens: number; at: number } {
    const { newListingBurst: burst, newListingsPerMinute: rate } = this.#init;
    let bucket = this.#buckets.get(peerId);
    if (!bucket) this.#buckets.set(peerId, bucket = { tokens: burst, at: now });
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * rate) / minute);
    bucket.at = now;
    return bucket;
  }
}

function isManifestCid(value: string): boolean {
  try {
    return toManifestCid(value) === value;
  } catch {
    return false;
  }
}

function checkPeerId(peerId: string): string {
  try {
    return peerIdFromString(peerId).toString();
  } catch (cause) {
    throw new TypeError(`Invalid peer id ${JSON.stringify(String(peerId).slice(0, 80))}`, { cause });
  }
}
