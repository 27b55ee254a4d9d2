/**
 * The one check every announcement passes before the catalog indexes it,
 * whether it came by gossip, by sync or from this node. It never throws; it
 * says what to do with the message, in gossipsub's terms:
 *
 * - `reject`: provably invalid (too large, not DAG-CBOR, bad schema, wrong
 *   topic, bad signature, timestamp too far in the future). Gossip lowers the
 *   sender's score; sync drops the responder.
 * - `ignore`: valid but not wanted (expired, already known or older than what
 *   is known). Nobody is penalised: honest peers forward these too.
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
import type { CatalogStore, ListingVersion, PutResult } from "./store.ts";
import { day } from "../../constants.ts";

/** Announcements signed longer ago than this are ignored (sellers re-announce). */
export const DEFAULT_MAX_ANNOUNCEMENT_AGE = 30 * day;

export type AnnouncementCheck =
  | { result: "accept"; announcement: Announcement; bytes: Uint8Array }
  | { result: "ignore" | "reject"; reason: string };

export interface CheckAnnouncementOptions {
  /** The indexed version of a listing, to drop duplicates before verifying signatures. */
  getVersion?: (id: string) => ListingVersion | undefined;
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
  const known = options.getVersion?.(decoded.manifestCid);
  if (known && known.announcedAt >= decoded.timestamp) {
    return { result: "ignore", reason: "already known" };
  }
  let announcement: Announcement;
  try {
    announcement = await verifyAnnouncement(decoded, timing);
  } catch (err) {
    return { result: "reject", reason: (err as Error).message };
  }
  if (known && known.seller !== announcement.seller) {
    // Without the manifest we cannot tell who is right; the first seller keeps the listing.
    return { result: "ignore", reason: "listed by another seller" };
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
  options: Omit<CheckAnnouncementOptions, "getVersion"> = {},
): Promise<AnnouncementCheck & { put?: PutResult }> {
  const check = await checkAnnouncement(bytes, { ...options, getVersion: (id) => store.getVersion(id) });
  if (check.result !== "accept") return check;
  const put = store.putAnnouncement(check.announcement, check.bytes, { now: options.now });
  if (put === "added" || put === "updated") return { ...check, put };
  return { result: "ignore", reason: `not indexed (${put})`, put };
}
