/**
 * Sites: the websites whose analytics this network collects. A site owner
 * registers a domain on their own node, which answers with a proof (signed by
 * its node key, binding the domain, owner wallet, peer id, encryption key and
 * a timestamp) to publish at `https://DOMAIN/.well-known/kosmos-site.json`.
 * The site stays pending until the node finds that proof there (on "check
 * now", at registration, and every `checkInterval`); then it signs a site
 * announcement (wallet EIP-712 plus a libp2p countersignature, see
 * `protocol/sites.ts`), stores it and gossips it on `/kosmos/sites/1`.
 *
 * Every node accepts an announcement only when the domain's published proof
 * names the same owner, node and key (`proof_fetcher.ts`: bounded, cached
 * fetches; one peer's announcements cause at most `proofLookupsPerPeer`
 * lookups a second), before gossipsub forwards it and before any event for
 * the site is taken; whoever controls the domain wins it, and a verified newer proof
 * replaces an earlier holder. Sites are checked again after `recheckAfter`
 * and dropped when the domain names another node, or has not answered for
 * `proofGrace`. Nodes catch up on what they missed through
 * `/kosmos/sites-sync/1.0.0` when they meet a peer, so any node can act as an
 * analytics proxy for any site.
 *
 * ```ts
 * const sites = createSites({ db, identity, p2p, log }, { dataDir });
 * await sites.start();
 * const claim = await sites.registerSite("example.com"); // { status: "pending", proofJson, proofUrl, … }
 * // publish claim.proofJson at claim.proofUrl, then:
 * await sites.checkSite("example.com", { fresh: true }); // { status: "verified", … }
 * sites.getSite("example.com"); // { domain, owner, peerId, encryptionKey, timestamp, … }
 * ```
 */
import {
  encodeSiteAnnouncement,
  parseSiteProof,
  signSiteAnnouncement,
  signSiteProof,
  type SiteProof,
  siteProofMatches,
  SITES_TOPIC,
} from "../../../protocol/sites.ts";
import { isSiteDomain } from "../../../protocol/analytics.ts";
import type { Database } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P, ValidationResult } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { defineService, type ServiceFactory } from "../../service.ts";
import { NotFoundError } from "../../errors.ts";
import { day, hour, minute, second } from "../../constants.ts";
import { type EncryptionKey, loadEncryptionKey } from "./encryption_key.ts";
import { type Site, SiteStore } from "./store.ts";
import { parseProofOrigins, ProofFetcher, type ProofResult } from "./proof_fetcher.ts";
import { describeMismatch, SitesSync } from "./sync.ts";
import { TokenBuckets } from "../../token_buckets.ts";

export type { Site } from "./store.ts";
export { isLoopbackHost, parseProofOrigins, ProofFetcher, type ProofResult } from "./proof_fetcher.ts";

/** One of this node's registrations, with what its owner must publish. */
export interface OwnSite {
  domain: string;
  /** "verified": the domain publishes this node's proof and the site is announced; "pending": not yet. */
  status: "pending" | "verified";
  /** The proof this node asks the domain to publish. */
  proof: SiteProof;
  /** The exact document to publish, JSON. */
  proofJson: string;
  /** Where to publish it. */
  proofUrl: string;
  /** When this node last looked for it, ms. */
  checkedAt?: number;
  /** Why the last look did not find it (absent when it did). */
  error?: string;
  /** The announced site, once verified. */
  site?: Site;
  /** The node that holds the domain now when that is another one. */
  heldBy?: { owner: `0x${string}`; peerId: string };
}
export { type EncryptionKey, loadEncryptionKey } from "./encryption_key.ts";

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
  /**
   * Where to fetch the proofs of some domains instead of `https://DOMAIN`:
   * `DOMAIN=URL` or `*=URL`, loopback URLs only (config `siteProofOrigins`). @default []
   */
  proofOrigins?: string[];
  /** Longest one proof fetch may take, ms. @default 5 seconds */
  proofTimeout?: number;
  /** How long a fetched proof is trusted for new announcements, ms. @default 1 hour */
  proofTtl?: number;
  /** How long a failed proof fetch is remembered, ms. @default 1 minute */
  proofFailureTtl?: number;
  /** Proof fetches at once. @default 4 */
  proofConcurrency?: number;
  /**
   * Proof fetches one peer's announcements may cause (those not answered from
   * the cache), per second on average, in bursts of 100; beyond it they are
   * ignored until later. @default 1
   */
  proofLookupsPerPeer?: number;
  /** Age of a site's last proof check after which it is checked again, ms. @default 1 day */
  recheckAfter?: number;
  /** How long a site whose domain does not answer is kept after `recheckAfter`, ms. @default 1 day */
  proofGrace?: number;
  /** How often pending registrations and due sites are checked, ms. @default 1 minute */
  checkInterval?: number;
}

export function createSites(components: SitesComponents, init: SitesInit): Sites {
  return new Sites(components, init);
}

/** What the `sites` factory reads: its components, and where keys and proofs come from in the config. */
export type SitesFactoryComponents = Omit<SitesComponents, "log"> & {
  config: { dataDir: string; siteProofOrigins: string[] };
};

/** The `sites` service; `dataDir` and `proofOrigins` come from the config. */
export function sites(
  init: Omit<SitesInit, "dataDir" | "proofOrigins"> = {},
): ServiceFactory<"sites", SitesFactoryComponents, Sites> {
  return defineService<"sites", SitesFactoryComponents, Sites>(
    "sites",
    ["db", "identity", "p2p", "config"],
    ({ config, ...c }) =>
      createSites(c, { ...init, dataDir: config.dataDir, proofOrigins: config.siteProofOrigins }),
  );
}

export class Sites {
  #c: SitesComponents;
  #init: Required<SitesInit>;
  #proofs: ProofFetcher;
  #lookups: TokenBuckets;
  #checking?: Promise<void>;
  #checkTimer?: ReturnType<typeof setInterval>;
  #store?: SiteStore;
  #key?: EncryptionKey;
  #unsubscribe?: () => void;
  #controller?: AbortController;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #sync: SitesSync;

  constructor(components: SitesComponents, init: SitesInit) {
    this.#c = components;
    this.#init = {
      dataDir: init.dataDir,
      maxSites: init.maxSites ?? 100_000,
      maxSyncSites: init.maxSyncSites ?? 10_000,
      syncTimeout: init.syncTimeout ?? 30 * second,
      resyncAfter: init.resyncAfter ?? minute,
      syncInterval: init.syncInterval ?? 5 * minute,
      proofOrigins: init.proofOrigins ?? [],
      proofTimeout: init.proofTimeout ?? 5 * second,
      proofTtl: init.proofTtl ?? hour,
      proofFailureTtl: init.proofFailureTtl ?? minute,
      proofConcurrency: init.proofConcurrency ?? 4,
      proofLookupsPerPeer: init.proofLookupsPerPeer ?? 1,
      recheckAfter: init.recheckAfter ?? day,
      proofGrace: init.proofGrace ?? day,
      checkInterval: init.checkInterval ?? minute,
    };
    this.#proofs = new ProofFetcher({
      origins: parseProofOrigins(this.#init.proofOrigins),
      timeout: this.#init.proofTimeout,
      ttl: this.#init.proofTtl,
      failureTtl: this.#init.proofFailureTtl,
      concurrency: this.#init.proofConcurrency,
    });
    this.#lookups = new TokenBuckets({ rate: this.#init.proofLookupsPerPeer, burst: 100, maxKeys: 10_000 });
    this.#sync = new SitesSync({
      p2p: components.p2p,
      identity: components.identity,
      log: components.log,
      index: () => this.#index,
      proofs: this.#proofs,
      lookups: this.#lookups,
      init: this.#init,
    });
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
    await this.#adoptUnverified();
    this.#controller = new AbortController();
    p2p.setTopicValidator(SITES_TOPIC, (from, data) => this.#validateGossip(from, data));
    this.#unsubscribe = p2p.subscribe(SITES_TOPIC, () => {});
    await this.#sync.start(this.#controller.signal);
    this.#checkTimer = setInterval(() => this.#checkDue(), this.#init.checkInterval);
    this.#checkDue();
    log.info("started sites", { sites: this.#index.count() });
  }

  async stop(): Promise<void> {
    this.#controller?.abort(new Error("sites stopped"));
    clearInterval(this.#checkTimer);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await Promise.allSettled([this.#sync.stop(), this.#checking]);
  }

  /**
   * Registers `domain` as a site of this node and answers with the proof to
   * publish at `https://DOMAIN/.well-known/kosmos-site.json`. The site is
   * pending until the domain serves that proof; it is looked for at once
   * (from the cache of recent looks). Registering again keeps the same proof,
   * so a published one stays valid. Throws a `TypeError` for a bad domain.
   */
  async registerSite(domain: string, options: { signal?: AbortSignal } = {}): Promise<OwnSite> {
    const clean = typeof domain === "string" ? domain.trim().toLowerCase() : domain;
    if (!isSiteDomain(clean)) {
      throw new TypeError(
        `Cannot register site ${JSON.stringify(String(domain).slice(0, 80))}: not a domain`,
      );
    }
    if (!this.#currentProof(clean)) {
      const proof = await signSiteProof(this.#c.identity.privateKey, {
        ...this.#ownBody(clean),
        timestamp: Date.now(),
      });
      this.#index.putClaim(clean, JSON.stringify(proof), proof.timestamp);
      this.#c.log.info("registered site", { domain: clean, proofUrl: this.#proofs.urlOf(clean) });
    }
    return await this.checkSite(clean, { signal: options.signal });
  }

  /**
   * Looks for the proof of one of this node's registrations at its domain
   * (`fresh`: now, not from the cache of recent looks); announces the site
   * once it is there and withdraws it when the domain names another node.
   * Throws a `NotFoundError` when this node never registered `domain`.
   */
  async checkSite(domain: string, options: { fresh?: boolean; signal?: AbortSignal } = {}): Promise<OwnSite> {
    const proof = this.#currentProof(domain);
    if (!proof) {
      throw new NotFoundError(
        `Cannot check site ${JSON.stringify(String(domain).slice(0, 80))}: not registered here`,
      );
    }
    const result = await this.#proofs.get(domain, { fresh: options.fresh, signal: options.signal });
    const now = result.fetchedAt || Date.now(); // when the domain was actually asked
    const existing = this.#index.getSite(domain);
    if (result.ok && siteProofMatches(result.proof, proof)) {
      this.#index.markClaimChecked(domain, now, null);
      await this.#announce(domain, result.proof.timestamp, now);
    } else {
      const reason = result.ok ? describeMismatch(result) : result.reason;
      this.#index.markClaimChecked(domain, now, reason);
      if (result.ok && existing && this.isOwnSite(existing)) {
        this.#index.deleteSite(domain);
        this.#c.log.warn("withdrew site: its domain names another node", { domain });
      }
    }
    return this.#ownSite(domain)!;
  }

  /** Signs, stores and gossips this node's announcement of a verified site. */
  async #announce(domain: string, proofTimestamp: number, verifiedAt: number): Promise<void> {
    const existing = this.#index.getSite(domain);
    const announcement = await signSiteAnnouncement(this.#c.identity.account, this.#c.identity.privateKey, {
      ...this.#ownBody(domain),
      timestamp: Math.max(Date.now(), (existing?.timestamp ?? 0) + 1),
    });
    const bytes = encodeSiteAnnouncement(announcement);
    const put = this.#index.putSite(announcement, bytes, { timestamp: proofTimestamp, verifiedAt });
    if (put === "full") {
      throw new RangeError(`Cannot announce site "${domain}": this node knows too many sites`);
    }
    if (put === "conflict") return; // another holder was verified later with a newer proof
    const recipients = await this.#c.p2p.publish(SITES_TOPIC, bytes);
    // Peers that connected a moment ago may not have told us their topics yet: announce again soon.
    if (recipients === 0 && this.#c.p2p.peers().length > 0) this.#announceLater(domain, 0);
    this.#c.log.info("announced site", { domain, recipients });
  }

  /** Publishes a verified own site again once some peer subscribes to the topic (up to ~1 minute). */
  #announceLater(domain: string, attempt: number): void {
    if (attempt >= 8 || !this.#controller || this.#controller.signal.aborted) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#controller?.signal.aborted) return;
      if (this.#c.p2p.topicPeers(SITES_TOPIC).length === 0) return this.#announceLater(domain, attempt + 1);
      const site = this.#index.getSite(domain);
      if (!site || !this.isOwnSite(site)) return;
      this.#announce(domain, site.proofTimestamp, site.verifiedAt).catch((err) =>
        this.#c.log.warn("failed to announce site", { domain, error: err })
      );
    }, 250 * 2 ** attempt);
    this.#timers.add(timer);
  }

  /**
   * Drops this node's registration of `domain`: its proof, and its site (so
   * no event for it is taken any more). Other nodes drop their copy of the
   * announcement when the domain stops serving the proof. Throws a
   * `NotFoundError` when this node never registered `domain`.
   */
  removeSite(domain: string): void {
    if (!this.#currentProof(domain)) {
      throw new NotFoundError(
        `Cannot remove site ${JSON.stringify(String(domain).slice(0, 80))}: not registered here`,
      );
    }
    const site = this.#index.getSite(domain);
    if (site && this.isOwnSite(site)) this.#index.deleteSite(domain);
    this.#index.deleteClaim(domain);
    this.#c.log.info("removed site", { domain });
  }

  /** This node's registrations, pending and verified, by domain. */
  listOwnSites(): OwnSite[] {
    return this.#index.listClaims().map((claim) => this.#ownSite(claim.domain)).filter((s) =>
      s !== undefined
    );
  }

  /** One of this node's registrations, or undefined. */
  getOwnSite(domain: string): OwnSite | undefined {
    return this.#ownSite(domain);
  }

  #ownBody(domain: string) {
    const hex = Array.from(this.encryptionKey.publicKey, (b) => b.toString(16).padStart(2, "0")).join("");
    return {
      v: 1 as const,
      domain,
      owner: this.#c.identity.account.address as `0x${string}` as never,
      peerId: this.#c.identity.peerId.toString(),
      encryptionKey: `0x${hex}` as `0x${string}`,
    };
  }

  /** The claim's proof when it still names this node's owner, peer and key. */
  #currentProof(domain: string): SiteProof | undefined {
    const claim = this.#index.getClaim(domain);
    if (!claim) return undefined;
    let proof: SiteProof;
    try {
      proof = parseSiteProof(claim.proof);
    } catch {
      return undefined;
    }
    return siteProofMatches(proof, { ...this.#ownBody(domain) }) ? proof : undefined;
  }

  #ownSite(domain: string): OwnSite | undefined {
    const claim = this.#index.getClaim(domain);
    if (!claim) return undefined;
    const proof = parseSiteProof(claim.proof);
    const site = this.#index.getSite(domain);
    const own: OwnSite = {
      domain,
      status: site && this.isOwnSite(site) && site.encryptionKey === proof.encryptionKey
        ? "verified"
        : "pending",
      proof,
      proofJson: claim.proof,
      proofUrl: this.#proofs.urlOf(domain),
    };
    if (claim.checkedAt !== undefined) own.checkedAt = claim.checkedAt;
    if (claim.error !== undefined) own.error = claim.error;
    if (own.status === "verified") own.site = site;
    else if (site) own.heldBy = { owner: site.owner, peerId: site.peerId };
    return own;
  }

  /** Sites stored before domain proofs: this node's become pending registrations, others are dropped. */
  async #adoptUnverified(): Promise<void> {
    const self = this.#c.identity.peerId.toString();
    for (const site of this.#index.listUnverified()) {
      if (site.peerId !== self || this.#currentProof(site.domain)) continue;
      const proof = await signSiteProof(this.#c.identity.privateKey, {
        ...this.#ownBody(site.domain),
        timestamp: Date.now(),
      });
      this.#index.putClaim(site.domain, JSON.stringify(proof), proof.timestamp);
    }
    const dropped = this.#index.deleteUnverified();
    if (dropped > 0) this.#c.log.info("dropped sites announced before domain proofs", { count: dropped });
  }

  /** Looks for pending registrations' proofs and checks sites whose last check is old. */
  #checkDue(): void {
    if (this.#checking || !this.#controller || this.#controller.signal.aborted) return;
    const signal = this.#controller.signal;
    this.#checking = (async () => {
      const now = Date.now();
      for (const own of this.listOwnSites()) {
        if (signal.aborted) return;
        const stale = own.site !== undefined && own.site.verifiedAt < now - this.#init.recheckAfter;
        if (stale) await this.#lookAgain(own.domain, own.site!.verifiedAt, signal);
        if (own.status === "pending" || stale) await this.checkSite(own.domain, { signal }).catch(() => {});
      }
      for (const site of this.#index.listStale(now - this.#init.recheckAfter, 32)) {
        if (signal.aborted) return;
        if (this.isOwnSite(site)) continue;
        const result = await this.#lookAgain(site.domain, site.verifiedAt, signal);
        if (result.ok && siteProofMatches(result.proof, site)) {
          this.#index.touchVerified(site.domain, result.fetchedAt);
        } else if (result.ok || site.verifiedAt < now - this.#init.recheckAfter - this.#init.proofGrace) {
          this.#index.deleteSite(site.domain);
          this.#c.log.info("dropped site: its domain no longer vouches for it", {
            domain: site.domain,
            reason: result.ok ? describeMismatch(result) : result.reason,
          });
        }
      }
    })().catch((err) => this.#c.log.warn("failed to check site proofs", { error: err }))
      .finally(() => this.#checking = undefined);
  }

  /**
   * The domain's proof as fetched after `since` (the site's last check): from
   * the cache when a look since then is cached (a failure stays cached for
   * `proofFailureTtl`, so an unreachable domain is asked once per that), else now.
   */
  async #lookAgain(domain: string, since: number, signal: AbortSignal): Promise<ProofResult> {
    const cached = await this.#proofs.get(domain, { signal });
    return cached.fetchedAt > since ? cached : await this.#proofs.get(domain, { fresh: true, signal });
  }

  /** A known site (own or announced by another node), or undefined. */
  getSite(domain: string): Site | undefined {
    return this.#index.getSite(domain);
  }

  /** Whether this node owns `domain`. */
  isOwnSite(site: Site): boolean {
    return site.peerId === this.#c.identity.peerId.toString();
  }

  /** Whether `domain` is a known site that this node owns. */
  ownsDomain(domain: string): boolean {
    const site = this.getSite(domain);
    return site !== undefined && this.isOwnSite(site);
  }

  /** Fetches every site announcement `peerId` knows, checking each like gossip. */
  syncWith(peerId: string, options: { signal?: AbortSignal } = {}): Promise<{ accepted: number }> {
    return this.#sync.syncWith(peerId, options);
  }

  async #validateGossip(from: string, data: Uint8Array): Promise<ValidationResult> {
    if (!this.#controller || this.#controller.signal.aborted) return "ignore";
    return await this.#sync.ingest(data, from);
  }
}

export { SitesSyncError } from "./sync.ts";
