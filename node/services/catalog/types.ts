/**
 * The catalog store's types: a listing as reads return it, the registry's
 * view of a manifest CID, what indexing an announcement did, a sync batch,
 * how full the index is, and the store's settings.
 */
import type { Address, ListingId, ManifestCid } from "../../../protocol/ids.ts";
import type { Category, Cell, Column } from "../../../protocol/manifest.ts";

/** A listing as the catalog shows it. */
export interface Listing {
  /** The listing id, which is the manifest CID. */
  id: ListingId;
  manifestCid: ManifestCid;
  title: string;
  description: string;
  category: Category;
  /** Decimal string of token base units. */
  price: string;
  seller: Address;
  gateway: Address;
  byteLength: number;
  rowCount: number;
  chunkCount: number;
  preview: Cell[][];
  schema: Column[];
  licence: string;
  /** Peer ids known to hold the chunks: the announcement's hint (seller first), then replicas. */
  providers: string[];
  /** When the dataset was prepared, ms. */
  createdAt: number;
  /** When the indexed announcement was signed, ms. */
  announcedAt: number;
  /** Active registry stake on the manifest CID, summed over its registry listings; decimal token base units. */
  stake: string;
  /** Open registry challenges against the manifest CID's registry listings. */
  challenges: number;
  /** Ids (decimal) of the active registry listings of the manifest CID, oldest first. */
  onChain: string[];
}

/** The registry's view of one manifest CID, as {@link CatalogStore.setStakes} takes it. */
export interface ListingStake {
  manifestCid: string;
  /** Decimal token base units. */
  stake: string;
  challenges: number;
  /** Active registry listing ids (decimal). */
  listingIds: string[];
  /** The registry owner of the oldest active listing: the one seller accepted for the CID. */
  owner?: string;
}

export interface ListListingsResult {
  listings: Listing[];
  /** How many listings match, ignoring `limit` and `offset`. */
  total: number;
}

/** What happened to an announcement handed to {@link CatalogStore.putAnnouncement}. */
export type PutResult =
  /** A new listing. */
  | "added"
  /** A newer announcement of a known listing replaced the old one. */
  | "updated"
  /** The index already holds this announcement or a newer one. */
  | "stale"
  /** The listing is known under another seller, or staked by another owner. */
  | "conflict"
  /** The index holds `maxListings` listings and none it may give up. */
  | "full";

/** A known listing's identity, for cheap duplicate checks before signature verification. */
export interface ListingVersion {
  seller: Address;
  announcedAt: number;
}

/** The listing's seller as the registry has it (see {@link CatalogStore.getOwner}). */
export type ListingOwner = Address | undefined;

export interface SyncBatch {
  /** Canonical signed announcement bytes, oldest change first. */
  announcements: Uint8Array[];
  /** The seq of the last announcement in the batch (or the request's cursor when empty). */
  cursor: number;
  /** Whether more announcements follow the batch. */
  more: boolean;
}

/** How full the index is (see {@link CatalogStore.getCapacity}). */
export interface CatalogCapacity {
  listings: number;
  maxListings: number;
  /** Bytes of signed announcements held. */
  bytes: number;
  maxBytes: number;
  /** When full: the signing time (ms) of the oldest unstaked listing kept; older unstaked ones are refused. */
  keepsSince?: number;
}

export interface CatalogStoreInit {
  /** Most listings the index keeps; see the module doc for what a new one pushes out. @default 100_000 */
  maxListings?: number;
  /** Most bytes of signed announcements it keeps (each is at most 64 KiB). @default 256 MiB */
  maxBytes?: number;
  /** Called with the ids of the listings a new one pushed out or a prune removed, once they are gone. */
  onRemoved?: (ids: string[], reason: "pushed-out" | "expired") => void;
  /** This node's seller address: its listings are never pushed out. @default undefined */
  own?: string;
}
