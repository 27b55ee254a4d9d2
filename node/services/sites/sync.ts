/**
 * How site announcements arrive from other nodes: gossip on `/kosmos/sites/1`
 * and `/kosmos/sites-sync/1.0.0`, which a node runs with each peer it meets
 * (at most once per `resyncAfter`) and with one random peer every
 * `syncInterval`. Both paths go through {@link SitesSync.ingest}: the
 * announcement's signatures, then the domain's published proof (bounded by
 * `proofLookupsPerPeer` lookups a second per peer), then the store.
 *
 * ```ts
 * const sync = new SitesSync({ p2p, identity, log, index: () => store, proofs, lookups, init });
 * await sync.start(controller.signal);
 * await sync.syncWith(peerId); // { accepted: 3 }
 * await sync.stop();
 * ```
 */
import type { Connection, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { lpStream } from "@libp2p/utils";
import {
  decodeSiteAnnouncement,
  MAX_SITE_ANNOUNCEMENT_BYTES,
  siteProofMatches,
  SITES_SYNC_PROTOCOL,
  verifySiteAnnouncement,
} from "../../../protocol/sites.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P, ValidationResult } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import type { TokenBuckets } from "../../token_buckets.ts";
import type { PutSiteResult, SiteStore } from "./store.ts";
import type { ProofFetcher, ProofResult } from "./proof_fetcher.ts";

/** A peer broke the sites sync protocol (sent an invalid announcement). */
export class SitesSyncError extends KosmosError {
  override name = "SitesSyncError";
}

/** What the sync side of sites shares with the rest of the service. */
export interface SitesSyncContext {
  p2p: P2P;
  identity: Pick<Identity, "peerId">;
  log: Logger;
  /** The site store; throws before the service started. */
  index: () => SiteStore;
  proofs: ProofFetcher;
  /** Proof lookups per announcing peer. */
  lookups: TokenBuckets;
  init: {
    maxSyncSites: number;
    syncTimeout: number;
    resyncAfter: number;
    syncInterval: number;
    proofTtl: number;
    proofFailureTtl: number;
  };
}

export class SitesSync {
  #c: SitesSyncContext;
  #signal?: AbortSignal;
  #syncing = new Map<string, Promise<void>>();
  #tick?: ReturnType<typeof setInterval>;
  #lastSync = new Map<string, number>();
  #onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[] }>) => {
    if (evt.detail.protocols.includes(this.#c.p2p.protocolId(SITES_SYNC_PROTOCOL))) {
      this.#maybeSync(evt.detail.peerId.toString());
    }
  };

  constructor(context: SitesSyncContext) {
    this.#c = context;
  }

  /** Serves the sync protocol and syncs with peers until `signal` aborts or {@link stop}. */
  async start(signal: AbortSignal): Promise<void> {
    const { p2p } = this.#c;
    this.#signal = signal;
    await p2p.handle(SITES_SYNC_PROTOCOL, (stream, connection) => this.#serve(stream, connection), {
      maxInboundStreams: 2,
      maxOutboundStreams: 2,
    });
    p2p.libp2p.addEventListener("peer:identify", this.#onIdentify);
    for (const peerId of p2p.peers()) void this.#syncIfSupported(peerId);
    this.#tick = setInterval(() => {
      const peers = p2p.peers();
      if (peers.length > 0) void this.#syncIfSupported(peers[Math.floor(Math.random() * peers.length)]);
    }, this.#c.init.syncInterval);
  }

  /** Stops syncing and serving; resolves when the syncs under way have ended. */
  async stop(): Promise<void> {
    clearInterval(this.#tick);
    try {
      const libp2p = this.#c.p2p.libp2p;
      libp2p.removeEventListener("peer:identify", this.#onIdentify);
      await this.#c.p2p.unhandle(SITES_SYNC_PROTOCOL);
    } catch { /* p2p already stopped */ }
    await Promise.allSettled(this.#syncing.values());
  }

  /** Fetches every site announcement `peerId` knows, checking each like gossip. */
  async syncWith(peerId: string, options: { signal?: AbortSignal } = {}): Promise<{ accepted: number }> {
    const signals = [AbortSignal.timeout(this.#c.init.syncTimeout), options.signal, this.#signal]
      .filter((s) => s !== undefined);
    const signal = AbortSignal.any(signals);
    const stream = await this.#c.p2p.dialProtocol(peerIdFromString(peerId), SITES_SYNC_PROTOCOL, {
      signal,
    });
    const lp = lpStream(stream, { maxDataLength: MAX_SITE_ANNOUNCEMENT_BYTES });
    let accepted = 0;
    try {
      for (let i = 0; i < this.#c.init.maxSyncSites; i++) {
        let frame: Uint8Array;
        try {
          frame = (await lp.read({ signal })).subarray();
        } catch (err) {
          if ((err as Error).name === "UnexpectedEOFError") break;
          if (signal.aborted) throw err;
          throw new SitesSyncError(`Cannot sync sites: ${(err as Error).message}`, { cause: err });
        }
        const result = await this.ingest(frame, peerId);
        if (result === "reject") {
          throw new SitesSyncError("Cannot sync sites: the peer sent an invalid site announcement");
        }
        if (result === "accept") accepted++;
      }
      await stream.close({ signal }).catch(() => {});
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    }
    return { accepted };
  }

  /**
   * Checks and stores one announcement from `from` (gossip or sync):
   * "reject" for a malformed or badly signed one, "accept" when stored,
   * "ignore" otherwise (this node's own, not newer, unvouched, over the lookup limit).
   */
  async ingest(bytes: Uint8Array, from: string): Promise<ValidationResult> {
    let put: PutSiteResult;
    try {
      const index = this.#c.index();
      const announcement = await verifySiteAnnouncement(decodeSiteAnnouncement(bytes));
      if (announcement.peerId === this.#c.identity.peerId.toString()) return "ignore"; // ours: checkSite decides
      const existing = index.getSite(announcement.domain);
      const sameHolder = existing !== undefined && existing.owner === announcement.owner &&
        existing.peerId === announcement.peerId && existing.encryptionKey === announcement.encryptionKey;
      if (sameHolder && existing.timestamp >= announcement.timestamp) return "ignore";
      let proof: { timestamp: number; verifiedAt: number };
      if (sameHolder && Date.now() - existing.verifiedAt < this.#c.init.proofTtl) {
        proof = { timestamp: existing.proofTimestamp, verifiedAt: existing.verifiedAt };
      } else {
        const signal = this.#signal;
        const proofs = this.#c.proofs;
        if (!proofs.isCached(announcement.domain) && !this.#c.lookups.take(from)) {
          this.#c.log.debug("ignored site announcement: its peer caused too many proof lookups", {
            from,
            domain: announcement.domain,
          });
          return "ignore";
        }
        let result = await proofs.get(announcement.domain, { signal });
        // The domain may have changed hands since the cached look: look again, at most once per
        // `proofFailureTtl`, so a stream of announcements cannot make this node hammer the site.
        if (
          (!result.ok || !siteProofMatches(result.proof, announcement)) &&
          Date.now() - result.fetchedAt >= this.#c.init.proofFailureTtl
        ) {
          result = await proofs.get(announcement.domain, { fresh: true, signal });
        }
        if (!result.ok || !siteProofMatches(result.proof, announcement)) {
          this.#c.log.debug("ignored site announcement: its domain does not vouch for it", {
            from,
            domain: announcement.domain,
            reason: result.ok ? describeMismatch(result) : result.reason,
          });
          return "ignore";
        }
        proof = { timestamp: result.proof.timestamp, verifiedAt: result.fetchedAt };
      }
      put = index.putSite(announcement, bytes, proof);
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
    const signal = AbortSignal.any([AbortSignal.timeout(this.#c.init.syncTimeout), this.#signal!]);
    try {
      const lp = lpStream(stream);
      for (const bytes of this.#c.index().listAnnouncementBytes(this.#c.init.maxSyncSites)) {
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
      if (peer.protocols.includes(this.#c.p2p.protocolId(SITES_SYNC_PROTOCOL))) this.#maybeSync(peerId);
    } catch { /* not identified yet: peer:identify will follow */ }
  }

  #maybeSync(peerId: string): void {
    const now = Date.now();
    if (!this.#signal || this.#signal.aborted || this.#syncing.has(peerId)) return;
    if (now - (this.#lastSync.get(peerId) ?? -Infinity) < this.#c.init.resyncAfter) return;
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

/** Why a fetched proof does not vouch for a site: it names another node. */
export function describeMismatch(result: Extract<ProofResult, { ok: true }>): string {
  return `The proof at ${result.url} names another node (${
    result.proof.peerId.slice(0, 16)
  }…, owner ${result.proof.owner})`;
}
