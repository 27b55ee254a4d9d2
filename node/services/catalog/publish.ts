/**
 * The catalog's own listings: checking and indexing an announcement of this
 * node, publishing it on its category's topic (in order, paced
 * `publishInterval` apart, since gossipsub has no backpressure), and
 * re-signing this node's listings before they expire elsewhere or when it
 * becomes their registry owner.
 *
 * ```ts
 * const publisher = new Publisher({ identity, p2p, log, init, index, signal, onIndexed });
 * const { listing, recipients } = await publisher.publishAnnouncement(signed);
 * ```
 */
import { delay } from "../../delay.ts";
import {
  type Announcement,
  type AnnouncementBody,
  decodeAnnouncement,
  encodeAnnouncement,
  signAnnouncement,
} from "../../../protocol/announcement.ts";
import type { ManifestCid } from "../../../protocol/ids.ts";
import type { CATEGORIES } from "../../../protocol/manifest.ts";
import { announcementTopic } from "../../../protocol/topics.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import type { CatalogStore, Listing } from "./store.ts";
import { type AnnouncementCheck, checkAnnouncement } from "./validate.ts";

export interface PublishAnnouncementResult {
  listing: Listing;
  /** Peers the announcement was sent to. */
  recipients: number;
}

/** What the publisher reads from its catalog. */
export interface PublishContext {
  identity: Identity;
  p2p: P2P;
  log: Logger;
  init: { publishInterval: number; maxAge: number; maxClockSkew: number };
  /** The catalog's index; throws before the catalog has started. */
  index(): CatalogStore;
  /** The running catalog's signal; undefined before its first start. */
  signal(): AbortSignal | undefined;
  /** Called once an announcement of this node is indexed (before it is published). */
  onIndexed(manifestCid: ManifestCid): void;
}

export class Publisher {
  readonly #ctx: PublishContext;
  #publishing: Promise<void> = Promise.resolve();
  #lastPublish = 0;
  /** Own listings whose registry owner this node just became, to re-announce once started. */
  #ownedToAnnounce = new Set<string>();

  constructor(context: PublishContext) {
    this.#ctx = context;
  }

  /**
   * Verifies an announcement, indexes it and publishes it on its category's
   * topic. Publishes are paced `publishInterval` apart. Throws a `TypeError`
   * for an invalid or badly signed announcement and a `RangeError` when the
   * index holds a newer one or the listing belongs to another seller.
   */
  async publishAnnouncement(
    announcement: Announcement,
    options: { signal?: AbortSignal } = {},
  ): Promise<PublishAnnouncementResult> {
    const check = await this.#checkLocal(announcement);
    const id = (announcement as { manifestCid?: unknown } | null)?.manifestCid;
    if (check.result !== "accept") {
      const error = check.result === "reject" ? TypeError : RangeError;
      throw new error(
        `Cannot publish announcement ${JSON.stringify(String(id).slice(0, 100))}: ${check.reason}`,
      );
    }
    const index = this.#ctx.index();
    const put = index.putAnnouncement(check.announcement, check.bytes);
    if (put === "stale" || put === "conflict" || put === "full") {
      throw new RangeError(
        `Cannot publish announcement "${check.announcement.manifestCid}": ${reasonOf(put)}`,
      );
    }
    this.#ctx.log.info("indexed announcement", { id: check.announcement.manifestCid, source: "local", put });
    this.#ctx.onIndexed(check.announcement.manifestCid);
    const recipients = await this.#publish(check.announcement.category, check.bytes, options);
    return { listing: index.getListing(check.announcement.manifestCid)!, recipients };
  }

  /** Remembers an own listing to re-announce, because this node just became its registry owner. */
  markOwned(id: string): void {
    this.#ownedToAnnounce.add(id);
  }

  /** Whether some own listing waits to be re-announced. */
  get hasOwnedToAnnounce(): boolean {
    return this.#ownedToAnnounce.size > 0;
  }

  /** Resolves once the publishes queued so far have settled. */
  settled(): Promise<void> {
    return this.#publishing;
  }

  /** Re-signs this node's listings announced before `before`, so they do not expire elsewhere. */
  async reannounce(before: number): Promise<void> {
    for (const id of this.#ctx.index().listStaleOwn(this.#ctx.identity.account.address, before)) {
      if (this.#ctx.signal()?.aborted) return;
      await this.#resign(id);
    }
  }

  /**
   * Re-announces this node's listings whose registry owner it became, so
   * nodes that hold another seller's copy replace it now rather than when the
   * listing would next be re-announced.
   */
  async announceOwned(): Promise<void> {
    const own = this.#ctx.identity.account.address;
    for (const id of [...this.#ownedToAnnounce]) {
      const signal = this.#ctx.signal();
      if (!signal || signal.aborted) return;
      this.#ownedToAnnounce.delete(id);
      if (this.#ctx.index().getVersion(id)?.seller === own) await this.#resign(id);
    }
  }

  /** Checks an announcement object from this node exactly as one from the network. */
  #checkLocal(announcement: Announcement): Promise<AnnouncementCheck> {
    const { maxAge, maxClockSkew } = this.#ctx.init;
    let bytes: Uint8Array;
    try {
      bytes = encodeAnnouncement(announcement, { maxClockSkew });
    } catch (err) {
      return Promise.resolve({ result: "reject", reason: (err as Error).message });
    }
    const store = this.#ctx.index();
    return checkAnnouncement(bytes, {
      getVersion: (id: string) => store.getVersion(id),
      getOwner: (id: string) => store.getOwner(id),
      // Not invalid, only not ours to publish: a RangeError for the caller.
      notOwner: "ignore",
      maxAge,
      maxClockSkew,
    });
  }

  /** Re-signs this node's announcement of `id` with the current time and publishes it. Never throws. */
  async #resign(id: string): Promise<void> {
    const { identity, log } = this.#ctx;
    try {
      const { signature: _, ...body } = decodeAnnouncement(this.#ctx.index().getAnnouncementBytes(id)!, {
        maxClockSkew: Infinity,
      });
      const signed = await signAnnouncement(
        identity.account,
        { ...body, timestamp: Date.now() } as AnnouncementBody,
      );
      await this.publishAnnouncement(signed, { signal: this.#ctx.signal() });
      log.info("re-announced listing", { id });
    } catch (err) {
      log.warn("failed to re-announce listing", { id, error: err });
    }
  }

  /** Publishes in order, at most one message per `publishInterval`. */
  #publish(category: typeof CATEGORIES[number], bytes: Uint8Array, options: { signal?: AbortSignal }) {
    const turn = this.#publishing.then(async () => {
      options.signal?.throwIfAborted();
      const wait = this.#lastPublish + this.#ctx.init.publishInterval - Date.now();
      if (wait > 0) await delay(wait, options.signal);
      this.#lastPublish = Date.now();
      return await this.#ctx.p2p.publish(announcementTopic(category), bytes);
    });
    this.#publishing = turn.then(() => {}, () => {});
    return turn;
  }
}

function reasonOf(put: "stale" | "conflict" | "full" | "added" | "updated"): string {
  return {
    stale: "the catalog already holds this announcement or a newer one",
    conflict: "the listing is known under another seller",
    full: "the catalog is full",
    added: "added",
    updated: "updated",
  }[put];
}
