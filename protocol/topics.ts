/**
 * Gossipsub topic names and libp2p protocol ids. Every name carries a version;
 * a breaking change gets a new name and nodes serve both for a while.
 *
 * ```ts
 * pubsub.subscribe(announcementTopic("sensors")); // "/kosmos/announce/1/sensors"
 * libp2p.handle(CHUNKS_PROTOCOL, onChunkRequest);
 * ```
 */
import { CATEGORIES, type Category } from "./manifest.ts";

/** Prefix of the per-category announcement topics. */
export const ANNOUNCEMENT_TOPIC_PREFIX = "/kosmos/announce/1/";
/** Fetching encrypted chunks (and manifests) by CID. */
export const CHUNKS_PROTOCOL = "/kosmos/chunks/1.0.0";
/** Catching up on the catalog from a peer after being offline. */
export const CATALOG_SYNC_PROTOCOL = "/kosmos/catalog-sync/1.0.0";
/** Quote and key-sale negotiation between buyer and seller. */
export const SALE_PROTOCOL = "/kosmos/sale/1.0.0";

/** `/kosmos/announce/1/<category>`; throws a `TypeError` for an unknown category. */
export function announcementTopic(category: Category): string {
  if (!CATEGORIES.includes(category)) {
    throw new TypeError(`Cannot name announcement topic: unknown category ${JSON.stringify(category)}`);
  }
  return ANNOUNCEMENT_TOPIC_PREFIX + category;
}

/** All announcement topics, one per category. */
export function announcementTopics(): string[] {
  return CATEGORIES.map(announcementTopic);
}

/** The category of an announcement topic, or `undefined` when it is not one. */
export function parseAnnouncementTopic(topic: string): Category | undefined {
  if (!topic.startsWith(ANNOUNCEMENT_TOPIC_PREFIX)) return undefined;
  const category = topic.slice(ANNOUNCEMENT_TOPIC_PREFIX.length) as Category;
  return CATEGORIES.includes(category) ? category : undefined;
}
