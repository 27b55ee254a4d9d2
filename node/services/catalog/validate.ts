/**
 * The one check every announcement passes before the catalog indexes it,
 * whether it came by gossip, by sync or from this node. It never throws; it
 * says what to do with the message, in gossipsub's terms:
 *
 * - `reject`: provably invalid (too large, not DAG-CBOR, bad schema, wrong
 *   topic, bad signature, timestamp too far in the future, or a seller other
 *   than the registry owner of a staked manifest CID). Gossip lowers the
 *   sender's score; sync drops the responder.
 * - `ignore`: valid but not wanted (expired, already known or older than what
 *   is known, listed first by another seller while nobody staked it).
 *   Nobody is penalised: honest peers forward these too.
 * - `accept`: index it.
 *
 * Cheap checks run first, so a duplicate costs no signature recovery.
 *
 * ```ts
 * const check = await checkAnnouncement(bytes, { getVersion: (id) => store.getVersion(id) });
 * if (check.result === "accept") store.putAnnouncement(check.announcement, check.bytes);
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import {
  type Announcement,
  decodeAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
  MAX_CLOCK_SKEW,
  verifyAnnouncement,
} from "../../../protocol/announcement.ts";
import type { Category } from "../../../protocol/manifest.ts";
import type { CatalogStore, ListingOwner, ListingVersion, PutResult } from "./store.ts";
import { day } from "../../constants.ts";

/** Announcements signed longer ago than this are ignored (sellers re-announce). */
export const DEFAULT_MAX_ANNOUNCEMENT_AGE = 30 * day;

export type AnnouncementCheck =
  | { result: "accept"; announcement: Announcement; bytes: Uint8Array }
  | {
    result: "ignore" | "reject";
    reason: string;
    /**
     * A valid announcement of a listing indexed under another seller while
     * nobody staked it: worth keeping a little while, in case the registry
     * soon names its seller the owner.
     */
    contested?: { announcement: Announcement; bytes: Uint8Array };
  };

export interface CheckAnnouncementOptions {
  /** The indexed version of a listing, to drop duplicates before verifying signatures. */
  getVersion?: (id: string) => ListingVersion | undefined;
  /** The registry owner of a staked manifest CID (from the local chain index), the only seller accepted. */
  getOwner?: (id: string) => ListingOwner;
  /**
   * The verdict on an announcement by someone other than the registry owner:
   * `reject` for gossip; sync, whose responder may not have seen the stake
   * yet, passes `ignore`. @default "reject"
   */
  notOwner?: "reject" | "ignore";
  /** The category of the topic the message arrived on; a mismatch is rejected. */
  category?: Category;
  /** Current time, ms. @default Date.now() */
  now?: number;
  /** @default MAX_CLOCK_SKEW (5 minutes) */
  maxClockSkew?: number;
  /** @default DEFAULT_MAX_ANNOUNCEMENT_AGE (30 days) */
  maxAge?: number;
}

/** Decodes, validates and verifies announcement bytes; see the module doc for the verdicts. */
export async function checkAnnouncement(
  bytes: unknown,
  options: CheckAnnouncementOptions = {},
): Promise<AnnouncementCheck> {
  if (!(bytes instanceof Uint8Array)) return { result: "reject", reason: "not bytes" };
  if (bytes.byteLength > MAX_ANNOUNCEMENT_BYTES) {
    return { result: "reject", reason: `${bytes.byteLength} bytes is over ${MAX_ANNOUNCEMENT_BYTES}` };
  }
  const now = options.now ?? Date.now();
  const timing = { now, maxClockSkew: options.maxClockSkew ?? MAX_CLOCK_SKEW };
  let decoded: Announcement;
  try {
    decoded = decodeAnnouncement(bytes, timing);
  } catch (err) {
    return { result: "reject", reason: (err as Error).message };
  }
  if (options.category !== undefined && decoded.category !== options.category) {
    return { result: "reject", reason: `category ${decoded.category} on the ${options.category} topic` };
  }
  if (decoded.timestamp < now - (options.maxAge ?? DEFAULT_MAX_ANNOUNCEMENT_AGE)) {
    return { result: "ignore", reason: "expired" };
  }
  // The registry binds a staked manifest CID to its owner: anyone else's
  // announcement of it is refused before any signature is checked.
  const owner = options.getOwner?.(decoded.manifestCid);
  if (owner !== undefined && decoded.seller !== owner) {
    return {
      result: options.notOwner ?? "reject",
      reason: `staked by ${owner} on the registry, not by the seller`,
    };
  }
  const known = options.getVersion?.(decoded.manifestCid);
  // The owner's announcement replaces another seller's whatever their timestamps.
  const takeover = known !== undefined && owner !== undefined && known.seller !== owner;
  if (known && !takeover && known.announcedAt >= decoded.timestamp) {
    return { result: "ignore", reason: "already known" };
  }
  let announcement: Announcement;
  try {
    announcement = await verifyAnnouncement(decoded, timing);
  } catch (err) {
    return { result: "reject", reason: (err as Error).message };
  }
  if (known && known.seller !== announcement.seller && owner === undefined) {
    // Unstaked, we cannot tell who is right: the first seller keeps the listing until the owner stakes.
    return { result: "ignore", reason: "listed by another seller", contested: { announcement, bytes } };
  }
  // `announcement` is the clean copy verifyAnnouncement validated, so its
  // canonical encoding needs no third validation pass (encodeAnnouncement's).
  // The received bytes are kept when they already are that encoding.
  const canonical = dagCbor.encode(announcement);
  if (canonical.byteLength > MAX_ANNOUNCEMENT_BYTES) {
    return { result: "reject", reason: `${canonical.byteLength} bytes is over ${MAX_ANNOUNCEMENT_BYTES}` };
  }
  return { result: "accept", announcement, bytes: equalBytes(canonical, bytes) ? bytes : canonical };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The one path into the index for announcements from other nodes: checks
 * `bytes` with {@link checkAnnouncement} against what `store` holds and
 * indexes it when accepted. An accepted message that the store refuses
 * (a race with a newer copy, a full index) becomes `ignore`.
 */
export async function ingestAnnouncement(
  store: CatalogStore,
  bytes: unknown,
  options: Omit<CheckAnnouncementOptions, "getVersion" | "getOwner"> & {
    /**
     * Asked before a new unstaked listing is added; `false` drops it as
     * `ignore` (a rate limit per peer). @default always true
     */
    admitNew?: () => boolean;
  } = {},
): Promise<AnnouncementCheck & { put?: PutResult }> {
  const { admitNew, ...checkOptions } = options;
  const check = await checkAnnouncement(bytes, {
    ...checkOptions,
    getVersion: (id) => store.getVersion(id),
    getOwner: (id) => store.getOwner(id),
  });
  if (check.result !== "accept") return check;
  const id = check.announcement.manifestCid;
  if (admitNew && store.getOwner(id) === undefined && store.getVersion(id) === undefined && !admitNew()) {
    return { result: "ignore", reason: "too many new unstaked listings from this peer" };
  }
  const put = store.putAnnouncement(check.announcement, check.bytes, { now: options.now });
  if (put === "added" || put === "updated") return { ...check, put };
  return { result: "ignore", reason: `not indexed (${put})`, put };
}
