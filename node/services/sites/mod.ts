/**
 * Sites: the websites whose analytics this network collects. A site owner
 * registers a domain on their own node; the node signs a site announcement
 * (wallet EIP-712 plus a libp2p countersignature, see `protocol/sites.ts`)
 * naming its peer id and X25519 encryption key, stores it and gossips it on
 * `/kosmos/sites/1`. Every node validates announcements before gossipsub
 * forwards them, keeps the first owner of each domain, and catches up on
 * what it missed through `/kosmos/sites-sync/1.0.0` when it meets a peer, so
 * any node can act as an analytics proxy for any site.
 *
 * ```ts
 * const sites = createSites({ db, identity, p2p, log }, { dataDir });
 * await sites.start();
 * await sites.registerSite("example.com");
 * sites.getSite("example.com"); // { domain, owner, peerId, encryptionKey, timestamp }
 * ```
 */
import type { Connection, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { lpStream } from "@libp2p/utils";
import {
  decodeSiteAnnouncement,
  encodeSiteAnnouncement,
  MAX_SITE_ANNOUNCEMENT_BYTES,
  signSiteAnnouncement,
  SITES_SYNC_PROTOCOL,
  SITES_TOPIC,
  verifySiteAnnouncement,
} from "../../../protocol/sites.ts";
import { isSiteDomain } from "../../../protocol/analytics.ts";
import type { Database } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P, ValidationResult } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { minute, second } from "../../constants.ts";
import { type EncryptionKey, loadEncryptionKey } from "./encryption_key.ts";
import { type PutSiteResult, type Site, SiteStore } from "./store.ts";

export type { Site } from "./store.ts";
export { type EncryptionKey, loadEncryptionKey } from "./encryption_key.ts";

/** The domain is registered by another owner. */
export class SiteConflictError extends KosmosError {
  override name = "SiteConflictError";
}

export interface SitesComponents {
  db: Database;
  identity: Identity;
  p2p: P2P;
  log: Logger;
}

export interface SitesInit {
  /** Where `keys/encryption.key` lives. */
  dataDir: string;
  /** Most sites kept; further new domains are ignored. @default 100_000 */
  maxSites?: number;
  /** Most announcements sent in one sync. @default 10_000 */
  maxSyncSites?: number;
  /** Longest one sync may take, ms. @default 30 seconds */
  syncTimeout?: number;
  /** Least time between two syncs with the same peer, ms. @default 1 minute */
  resyncAfter?: number;
  /** How often to sync with one random peer, ms. @default 5 minutes */
  syncInterval?: number;
}

export function createSites(components: SitesComponents, init: SitesInit): Sites {
  return new Sites(components, init);
}

export class Sites {
  #c: SitesComponents;
  #init: Required<SitesInit>;
  #store?: SiteStore;
  #key?: EncryptionKey;
  #unsubscribe?: () => void;
  #controller?: AbortController;
  #syncing = new Map<string, Promise<void>>();
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #tick?: ReturnType<typeof setInterval>;
  #lastSync = new Map<string, number>();
  #onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[] }>) => {
    if (evt.detail.protocols.includes(SITES_SYNC_PROTOCOL)) this.#maybeSync(evt.detail.peerId.toString());
  };

  constructor(components: SitesComponents, init: SitesInit) {
    this.#c = components;
    this.#init = {
      dataDir: init.dataDir,
      maxSites: init.maxSites ?? 100_000,
      maxSyncSites: init.maxSyncSites ?? 10_000,
      syncTimeout: init.syncTimeout ?? 30 * second,
      resyncAfter: init.resyncAfter ?? minute,
      syncInterval: init.syncInterval ?? 5 * minute,
    };
  }

  get #index(): SiteStore {
    if (!this.#store) throw new Error("Cannot use sites before start()");
    return this.#store;
  }

  /** This node's X25519 key pair; sealed batches for its sites are opened with it. */
  get encryptionKey(): EncryptionKey {
    if (!this.#key) throw new Error("Cannot use sites before start()");
    return this.#key;
  }

  async start(): Promise<void> {
    const { p2p, log } = this.#c;
    this.#key ??= await loadEncryptionKey(this.#init.dataDir);
    this.#store ??= new SiteStore(this.#c.db, { maxSites: this.#init.maxSites });
    this.#controller = new AbortController();
    p2p.setTopicValidator(SITES_TOPIC, (from, data) => this.#validateGossip(from, data));
    this.#unsubscribe = p2p.subscribe(SITES_TOPIC, () => {});
    await p2p.libp2p.handle(SITES_SYNC_PROTOCOL, (stream, connection) => this.#serve(stream, connection), {
      maxInboundStreams: 2,
      maxOutboundStreams: 2,
    });
    p2p.libp2p.addEventListener("peer:identify", this.#onIdentify);
    for (const peerId of p2p.peers()) void this.#syncIfSupported(peerId);
    this.#tick = setInterval(() => {
      const peers = p2p.peers();
      if (peers.length > 0) void this.#syncIfSupported(peers[Math.floor(Math.random() * peers.length)]);
    }, this.#init.syncInterval);
    log.info("started sites", { sites: this.#index.count() });
  }

  async stop(): Promise<void> {
    this.#controller?.abort(new Error("sites stopped"));
    clearInterval(this.#tick);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    try {
      const libp2p = this.#c.p2p.libp2p;
      libp2p.removeEventListener("peer:identify", this.#onIdentify);
      await libp2p.unhandle(SITES_SYNC_PROTOCOL);
    } catch { /* p2p already stopped */ }
    await Promise.allSettled(this.#syncing.values());
  }

  /**
   * Registers `domain` as a site of this node: signs, stores and gossips its
   * announcement. Registering again re-announces it. Throws a `TypeError` for
   * a bad domain and a {@link SiteConflictError} when another owner has it.
   */
  async registerSite(domain: string, _options: { signal?: AbortSignal } = {}): Promise<Site> {
    const clean = typeof domain === "string" ? domain.trim().toLowerCase() : domain;
    if (!isSiteDomain(clean)) {
      throw new TypeError(
        `Cannot register site ${JSON.stringify(String(domain).slice(0, 80))}: not a domain`,
      );
    }
    const { identity } = this.#c;
    const existing = this.#index.getSite(clean);
    if (existing && existing.owner !== identity.account.address) {
      throw new SiteConflictError(`Cannot register site "${clean}": another owner registered it first`, {
        details: { domain: clean },
      });
    }
    const hex = Array.from(this.encryptionKey.publicKey, (b) => b.toString(16).padStart(2, "0")).join("");
    const announcement = await signSiteAnnouncement(identity.account, identity.privateKey, {
      v: 1,
      domain: clean,
      owner: identity.account.address as never,
      peerId: identity.peerId.toString(),
      encryptionKey: `0x${hex}`,
      timestamp: Math.max(Date.now(), (existing?.timestamp ?? 0) + 1),
    });
    const bytes = encodeSiteAnnouncement(announcement);
    const put = this.#index.putSite(announcement, bytes);
    if (put === "full") {
      throw new RangeError(`Cannot register site "${clean}": this node knows too many sites`);
    }
    const recipients = await this.#c.p2p.publish(SITES_TOPIC, bytes);
    // Peers that connected a moment ago may not have told us their topics yet: announce again soon.
    if (recipients === 0 && this.#c.p2p.peers().length > 0) this.#announceLater(clean, 0);
    this.#c.log.info("registered site", { domain: clean, recipients });
    return this.#index.getSite(clean)!;
  }

  /** Re-signs and publishes a site once some peer subscribes to the topic (up to ~1 minute). */
  #announceLater(domain: string, attempt: number): void {
    if (attempt >= 8 || !this.#controller || this.#controller.signal.aborted) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#controller?.signal.aborted) return;
      if (this.#c.p2p.topicPeers(SITES_TOPIC).length === 0) return this.#announceLater(domain, attempt + 1);
      this.registerSite(domain).catch((err) =>
        this.#c.log.warn("failed to announce site", { domain, error: err })
      );
    }, 250 * 2 ** attempt);
    this.#timers.add(timer);
  }

  /** Sites owned by this node, by domain. */
  listOwnSites(): Site[] {
    return this.#index.listSitesOf(this.#c.identity.peerId.toString());
  }

  /** A known site (own or announced by another node), or undefined. */
  getSite(domain: string): Site | undefined {
    return this.#index.getSite(domain);
  }

  /** Whether this node owns `domain`. */
  isOwnSite(site: Site): boolean {
    return site.peerId === this.#c.identity.peerId.toString();
  }

  /** Fetches every site announcement `peerId` knows, checking each like gossip. */
  async syncWith(peerId: string, options: { signal?: AbortSignal } = {}): Promise<{ accepted: number }> {
    const signals = [AbortSignal.timeout(this.#init.syncTimeout), options.signal, this.#controller?.signal]
      .filter((s) => s !== undefined);
    const signal = AbortSignal.any(signals);
    const stream = await this.#c.p2p.libp2p.dialProtocol(peerIdFromString(peerId), SITES_SYNC_PROTOCOL, {
      signal,
    });
    const lp = lpStream(stream, { maxDataLength: MAX_SITE_ANNOUNCEMENT_BYTES });
    let accepted = 0;
    try {
      for (let i = 0; i < this.#init.maxSyncSites; i++) {
        let frame: Uint8Array;
        try {
          frame = (await lp.read({ signal })).subarray();
        } catch (err) {
          if ((err as Error).name === "UnexpectedEOFError") break;
          throw err;
        }
        const result = await this.#ingest(frame, peerId);
        if (result === "reject") throw new Error("peer sent an invalid site announcement");
        if (result === "accept") accepted++;
      }
      await stream.close({ signal }).catch(() => {});
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    }
    return { accepted };
  }

  async #validateGossip(from: string, data: Uint8Array): Promise<ValidationResult> {
    if (!this.#controller || this.#controller.signal.aborted) return "ignore";
    return await this.#ingest(data, from);
  }

  async #ingest(bytes: Uint8Array, from: string): Promise<ValidationResult> {
    let put: PutSiteResult;
    try {
      const announcement = await verifySiteAnnouncement(decodeSiteAnnouncement(bytes));
      put = this.#index.putSite(announcement, bytes);
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) {
        this.#c.log.debug("rejected site announcement", { from, reason: err.message });
        return "reject";
      }
      this.#c.log.warn("failed to store site announcement", { from, error: err });
      return "ignore";
    }
    if (put === "added" || put === "updated") {
      this.#c.log.debug("stored site announcement", { from, put });
      return "accept";
    }
    return "ignore";
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.#init.syncTimeout), this.#controller!.signal]);
    try {
      const lp = lpStream(stream);
      for (const bytes of this.#index.listAnnouncementBytes(this.#init.maxSyncSites)) {
        await lp.write(bytes, { signal });
      }
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
      this.#c.log.debug("failed to serve sites sync", {
        peerId: connection.remotePeer.toString(),
        error: err,
      });
    }
  }

  async #syncIfSupported(peerId: string): Promise<void> {
    try {
      const peer = await this.#c.p2p.libp2p.peerStore.get(peerIdFromString(peerId));
      if (peer.protocols.includes(SITES_SYNC_PROTOCOL)) this.#maybeSync(peerId);
    } catch { /* not identified yet: peer:identify will follow */ }
  }

  #maybeSync(peerId: string): void {
    const now = Date.now();
    if (!this.#controller || this.#controller.signal.aborted || this.#syncing.has(peerId)) return;
    if (now - (this.#lastSync.get(peerId) ?? -Infinity) < this.#init.resyncAfter) return;
    this.#lastSync.set(peerId, now);
    const run = this.syncWith(peerId).then(
      (result) => {
        if (result.accepted > 0) this.#c.log.info("synced sites", { peerId, ...result });
      },
      (err) => this.#c.log.debug("failed to sync sites", { peerId, error: err }),
    ).finally(() => this.#syncing.delete(peerId));
    this.#syncing.set(peerId, run);
  }
}
