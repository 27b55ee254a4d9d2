/**
 * Analytics ingestion on every node. `recordEvent()` takes a validated
 * `POST /api/event` payload and the client's connection details, and either
 * drops it with a reason (opted out, rate-limited per client or per site,
 * bot, unknown site) or turns it into an anonymized {@link AnalyticsEvent}:
 * UA parsed into device/browser/OS, referrer source and UTM tags, and a
 * visitor id that is a keyed hash of the day's salt, IP, user agent and site.
 * The IP is used for that hash and the rate limit, then dropped.
 *
 * Events are batched per site (`batchSize` events or `flushInterval`). A
 * batch for a site this node owns goes straight to `recordEvents`; any other
 * batch is sealed to the owner's X25519 key in memory (`seal.ts`), put in
 * the outbox (ciphertext only) and delivered over `/kosmos/ingest/1.0.0`
 * until the owner acks it, which it does after `recordEvents` has stored it.
 *
 * ```ts
 * const ingest = createIngest({ db, p2p, sites, log, trustedProxies: [], recordEvents });
 * await ingest.start();
 * const result = await ingest.recordEvent(payload, { remoteAddress, userAgent }); // {} or { dropped }
 * const off = ingest.onEvents((site, events) => console.log(site, events.length));
 * ```
 */
import type { Connection, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { lpStream } from "@libp2p/utils";
import {
  type AnalyticsEvent,
  decodeIngestReply,
  decodeSealedBatch,
  encodeIngestReply,
  encodeSealedBatch,
  type EventDropReason,
  type EventPayload,
  INGEST_PROTOCOL,
  type IngestReply,
  MAX_BATCH_EVENTS,
  MAX_SEALED_BATCH_BYTES,
} from "../../../protocol/analytics.ts";
import type { Database } from "../db/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Site, Sites } from "../sites/mod.ts";
import type { Logger } from "../../log.ts";
import { day, minute, second } from "../../constants.ts";
import { resolveClientIp } from "./client_ip.ts";
import { isBot, parseUserAgent } from "./user_agent.ts";
import { cleanReferrer, getReferrerSource, getUtm } from "./referrer.ts";
import { TokenBuckets } from "./rate_limit.ts";
import { migrateIngest } from "./schema.ts";
import { openBatch, sealBatch } from "./seal.ts";
import { VisitorSalts } from "./visitor.ts";

export { isBot, parseUserAgent, type UserAgentInfo } from "./user_agent.ts";
export { getReferrerSource, getUtm } from "./referrer.ts";
export { isProxyAddress, resolveClientIp } from "./client_ip.ts";
export { TokenBuckets } from "./rate_limit.ts";
export { SALT_RETENTION, VisitorSalts } from "./visitor.ts";
export { openBatch, sealBatch } from "./seal.ts";

/**
 * Stores events of a site this node owns durably (the analytics service's
 * `recordEvents`); `batchId` names a delivered batch, so a repeat is ignored.
 */
export type RecordEvents = (
  siteDomain: string,
  events: AnalyticsEvent[],
  options?: { batchId?: string },
) => unknown;

/** Who sent an event, as the HTTP layer saw it. */
export interface EventClient {
  /** The socket's peer address. */
  remoteAddress: string;
  /** `X-Forwarded-For`, used only when `remoteAddress` is a trusted proxy. */
  forwardedFor?: string;
  userAgent: string;
  /** The request carried `DNT: 1` or `Sec-GPC: 1`. @default false */
  optOut?: boolean;
}

export interface RecordEventResult {
  /** Why the event was not kept; absent when it was. */
  dropped?: EventDropReason;
  /** With `rate_limited`: seconds until the client may send again. */
  retryAfter?: number;
}

export interface IngestComponents {
  db: Database;
  p2p: P2P;
  sites: Sites;
  log: Logger;
  /** Addresses allowed to set `X-Forwarded-For` (config `trustedProxies`). */
  trustedProxies: string[];
  /** Where this node's own sites' events go. @default none: only `onEvents` listeners see them */
  recordEvents?: RecordEvents;
}

export interface IngestInit {
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
  /** Longest one delivery attempt may take, ms. @default 10 seconds */
  deliveryTimeout?: number;
  /** Longest wait between delivery attempts, ms. @default 1 minute */
  maxRetryDelay?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
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

export class Ingest {
  #c: IngestComponents;
  #init: Required<IngestInit>;
  #salts?: VisitorSalts;
  #clients: TokenBuckets;
  #siteBuckets: TokenBuckets;
  #pending = new Map<string, Pending>();
  #flushing = new Set<Promise<void>>();
  #listeners = new Set<EventsListener>();
  #controller?: AbortController;
  #delivering?: Promise<void>;
  #deliverAgain = false;
  #retryTimer?: ReturnType<typeof setTimeout>;
  #pruneTimer?: ReturnType<typeof setInterval>;

  constructor(components: IngestComponents, init: IngestInit) {
    this.#c = components;
    this.#init = {
      clientRate: init.clientRate ?? 10,
      clientBurst: init.clientBurst ?? 100,
      siteRate: init.siteRate ?? 2_000,
      siteBurst: init.siteBurst ?? 10_000,
      batchSize: Math.min(init.batchSize ?? 100, MAX_BATCH_EVENTS),
      flushInterval: init.flushInterval ?? 2 * second,
      deliveryTimeout: init.deliveryTimeout ?? 10 * second,
      maxRetryDelay: init.maxRetryDelay ?? minute,
      now: init.now ?? Date.now,
    };
    const now = this.#init.now;
    this.#clients = new TokenBuckets({ rate: this.#init.clientRate, burst: this.#init.clientBurst, now });
    this.#siteBuckets = new TokenBuckets({ rate: this.#init.siteRate, burst: this.#init.siteBurst, now });
  }

  async start(): Promise<void> {
    migrateIngest(this.#c.db);
    this.#salts ??= new VisitorSalts(this.#c.db, { now: this.#init.now });
    this.#controller = new AbortController();
    await this.#c.p2p.libp2p.handle(
      INGEST_PROTOCOL,
      (stream, connection) => this.#serve(stream, connection),
      {
        maxInboundStreams: 32,
        maxOutboundStreams: 32,
      },
    );
    this.#pruneTimer = setInterval(() => this.#prune(), 10 * minute);
    const waiting = this.#countOutbox();
    this.#c.log.info("started ingest", { outbox: waiting });
    if (waiting > 0) this.#deliver();
  }

  async stop(): Promise<void> {
    clearInterval(this.#pruneTimer);
    for (const site of [...this.#pending.keys()]) this.#flush(site);
    await Promise.allSettled([...this.#flushing]);
    this.#controller?.abort(new Error("ingest stopped"));
    clearTimeout(this.#retryTimer);
    await this.#delivering?.catch(() => {});
    try {
      await this.#c.p2p.libp2p.unhandle(INGEST_PROTOCOL);
    } catch { /* p2p already stopped */ }
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
    if (!this.#clients.take(ip)) return { dropped: "rate_limited", retryAfter: this.#clients.retryAfter(ip) };
    const userAgent = client.userAgent.slice(0, 1000);
    if (isBot(userAgent)) return { dropped: "bot" };
    const site = this.#c.sites.getSite(payload.domain);
    if (!site) return { dropped: "unknown_site" };
    if (!this.#siteBuckets.take(site.domain)) {
      return { dropped: "rate_limited", retryAfter: this.#siteBuckets.retryAfter(site.domain) };
    }
    const url = new URL(payload.url);
    const { device, browser, os } = parseUserAgent(userAgent);
    const event: AnalyticsEvent = {
      ts: this.#init.now(),
      name: payload.name,
      pathname: (payload.hash ? url.pathname + url.hash : url.pathname).slice(0, 2000),
      hostname: url.hostname,
      referrer: cleanReferrer(payload.referrer, url.hostname),
      referrerSource: getReferrerSource(payload.referrer, { siteHost: url.hostname, url }),
      utm: getUtm(url),
      device,
      browser,
      os,
      visitorId: await this.#salts!.getVisitorId({ site: site.domain, ip, userAgent }),
    };
    if (payload.props) event.props = payload.props;
    this.#enqueue(site, event);
    return {};
  }

  /** Seals and queues every pending batch now (instead of waiting for `flushInterval`). */
  async flush(): Promise<void> {
    for (const site of [...this.#pending.keys()]) this.#flush(site);
    await Promise.allSettled([...this.#flushing]);
  }

  /** Sealed batches waiting for their owner's ack. */
  countOutbox(): number {
    return this.#countOutbox();
  }

  #countOutbox(): number {
    return (this.#c.db.prepare("SELECT COUNT(*) AS n FROM ingest_outbox").get() as { n: number }).n;
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
      await this.#receive(site.domain, events, randomHex(16));
      return;
    }
    const id = randomHex(16);
    const key = hexToBytes(site.encryptionKey);
    const bytes = encodeSealedBatch(await sealBatch(events, { id, site: site.domain, publicKey: key }));
    const now = this.#init.now();
    this.#c.db.prepare(
      "INSERT INTO ingest_outbox (id, site, peer_id, bytes, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(id, site.domain, site.peerId, bytes, now, now);
    this.#c.log.debug("sealed events", { site: site.domain, count: events.length, batch: id });
    this.#deliver();
  }

  async #receive(site: string, events: AnalyticsEvent[], batchId: string): Promise<void> {
    await this.#c.recordEvents?.(site, events, { batchId });
    for (const listener of this.#listeners) {
      try {
        listener(site, events);
      } catch (err) {
        this.#c.log.warn("failed to notify an events listener", { error: err });
      }
    }
  }

  /** Starts a delivery round, or asks the running one to go again. */
  #deliver(): void {
    if (!this.#controller || this.#controller.signal.aborted) return;
    if (this.#delivering) {
      this.#deliverAgain = true;
      return;
    }
    this.#delivering = (async () => {
      do {
        this.#deliverAgain = false;
        await this.#deliverDue();
      } while (this.#deliverAgain && !this.#controller?.signal.aborted);
    })().catch((err) => this.#c.log.warn("failed to deliver events", { error: err }))
      .finally(() => {
        this.#delivering = undefined;
        this.#scheduleRetry();
      });
  }

  async #deliverDue(): Promise<void> {
    const rows = this.#c.db.prepare(
      "SELECT id, peer_id, bytes, attempts FROM ingest_outbox WHERE next_at <= ? ORDER BY created_at LIMIT 256",
    ).all(this.#init.now()) as { id: string; peer_id: string; bytes: Uint8Array; attempts: number }[];
    const byPeer = new Map<string, typeof rows>();
    for (const row of rows) byPeer.set(row.peer_id, [...(byPeer.get(row.peer_id) ?? []), row]);
    await Promise.all([...byPeer].map(async ([peerId, batches]) => {
      for (const [i, batch] of batches.entries()) {
        if (this.#controller?.signal.aborted) return;
        try {
          const reply = await this.#send(peerId, batch.bytes);
          this.#c.db.prepare("DELETE FROM ingest_outbox WHERE id = ?").run(batch.id);
          if ("reject" in reply) {
            this.#c.log.warn("dropped a batch its owner rejected", {
              peerId,
              batch: batch.id,
              reason: reply.reject,
            });
          } else this.#c.log.debug("delivered events", { peerId, batch: batch.id });
        } catch (err) {
          // The owner is unreachable: back off every batch for it, not only this one.
          const retry = this.#c.db.prepare(
            "UPDATE ingest_outbox SET attempts = attempts + 1, next_at = ? WHERE id = ?",
          );
          for (const later of batches.slice(i)) {
            const delay = Math.min(this.#init.maxRetryDelay, second * 2 ** Math.min(later.attempts, 16));
            retry.run(this.#init.now() + delay, later.id);
          }
          this.#c.log.debug("failed to deliver events", { peerId, batches: batches.length - i, error: err });
          return;
        }
      }
    }));
  }

  #scheduleRetry(): void {
    clearTimeout(this.#retryTimer);
    if (!this.#controller || this.#controller.signal.aborted) return;
    const row = this.#c.db.prepare("SELECT MIN(next_at) AS next FROM ingest_outbox").get() as {
      next: number | null;
    };
    if (row.next === null) return;
    this.#retryTimer = setTimeout(() => this.#deliver(), Math.max(0, row.next - this.#init.now()));
  }

  async #send(peerId: string, bytes: Uint8Array): Promise<IngestReply> {
    const signal = AbortSignal.any([
      AbortSignal.timeout(this.#init.deliveryTimeout),
      this.#controller!.signal,
    ]);
    const stream = await this.#c.p2p.libp2p.dialProtocol(peerIdFromString(peerId), INGEST_PROTOCOL, {
      signal,
    });
    try {
      const lp = lpStream(stream, { maxDataLength: 1024 });
      await lp.write(bytes, { signal });
      const reply = decodeIngestReply((await lp.read({ signal })).subarray());
      await stream.close({ signal }).catch(() => {});
      return reply;
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    }
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString();
    const signal = AbortSignal.any([
      AbortSignal.timeout(this.#init.deliveryTimeout),
      this.#controller!.signal,
    ]);
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_SEALED_BATCH_BYTES });
      const reply = await this.#accept((await lp.read({ signal })).subarray(), from);
      await lp.write(encodeIngestReply(reply), { signal });
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
      this.#c.log.debug("failed to receive events", { from, error: err });
    }
  }

  /** Opens and stores one sealed batch; throws only when storing failed (the proxy will retry). */
  async #accept(bytes: Uint8Array, from: string): Promise<IngestReply> {
    const { sites, db, log } = this.#c;
    let batch;
    try {
      batch = decodeSealedBatch(bytes);
    } catch (err) {
      return { reject: (err as Error).message };
    }
    const site = sites.getSite(batch.site);
    if (!site || !sites.isOwnSite(site)) return { reject: "this node does not own the site" };
    if (db.prepare("SELECT 1 FROM ingest_received WHERE id = ?").get(batch.id)) return { ack: batch.id };
    let events: AnalyticsEvent[];
    try {
      events = await openBatch(batch, sites.encryptionKey.privateKey, sites.encryptionKey.publicKey);
    } catch (err) {
      log.debug("rejected a sealed batch", { from, reason: (err as Error).message });
      return { reject: (err as Error).message };
    }
    await this.#receive(batch.site, events, batch.id);
    db.prepare("INSERT OR IGNORE INTO ingest_received (id, received_at) VALUES (?, ?)")
      .run(batch.id, this.#init.now());
    log.debug("received events", { from, site: batch.site, count: events.length });
    return { ack: batch.id };
  }

  #prune(): void {
    try {
      this.#salts?.pruneSalts();
      this.#c.db.prepare("DELETE FROM ingest_received WHERE received_at < ?").run(this.#init.now() - 7 * day);
      this.#clients.prune();
      this.#siteBuckets.prune();
    } catch (err) {
      this.#c.log.warn("failed to prune ingest state", { error: err });
    }
  }
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

function hexToBytes(hex: string): Uint8Array {
  const clean = hex.startsWith("0x") ? hex.slice(2) : hex;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
