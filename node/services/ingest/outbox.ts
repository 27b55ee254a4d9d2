/**
 * Sealed batches as blocks, from the proxy that sealed them to the site
 * owner's node. A proxy seals each batch in memory (`seal.ts`), stores the
 * encoded batch in the block store as a CIDv1 raw sha2-256 block (the only
 * copy on disk is ciphertext), provides the CID in the DHT, and keeps one
 * `ingest_batches` row per block: its CID and delivery state, never bytes.
 *
 * Delivery is a notice over `/kosmos/ingest/2.0.0` (see `protocol/ingest.ts`):
 * the owner fetches the block through the verified chunk protocol from the
 * notifier or any provider, checks the CID, opens the batch, records it and
 * acks; it remembers each CID (and the analytics store each batch id), so a
 * batch is recorded once however many holders notify it. When the owner has
 * not acked a batch within `replicateAfter` (or the first delivery failed),
 * the proxy asks the nodes closest to the CID by XOR distance to hold a copy:
 * each fetches and checks the block, provides it, and notifies the owner
 * itself, so the batch survives the proxy going away. Holders drop a block
 * `retention` after the owner acked it, and any block after `maxBatchAge`.
 *
 * Each batch is signed by the proxy that sealed it. Replicas hold only
 * batches whose signature verifies; the owner also refuses batches of
 * proxies it blocked, batches whose events fall outside the signed window,
 * and batches over the proxy's daily quota (`proxies.ts`), and counts what it
 * takes per proxy.
 *
 * ```ts
 * const outbox = createOutbox({ db, p2p, blocks, transfer, sites, log, receive, quotaGB: 1, signer, proxies });
 * await outbox.start();
 * await outbox.queue(site, events); // sealed, stored as blocks, delivered in the background
 * outbox.countPending();            // batches not acked by their owner yet
 * ```
 */
import type { Connection, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { lpStream } from "@libp2p/utils";
import { CID } from "multiformats/cid";
import {
  type AnalyticsEvent,
  decodeSealedBatch,
  encodeIngestReply,
  encodeSealedBatch,
  INGEST_PROTOCOL,
  type IngestReply,
  MAX_SEALED_BATCH_BYTES,
  type SealedBatch,
} from "../../../protocol/analytics.ts";
import {
  type BatchNotice,
  type BatchReply,
  decodeBatchNotice,
  decodeBatchReply,
  encodeBatchNotice,
  encodeBatchReply,
  INGEST_BLOCKS_PROTOCOL,
  MAX_BATCH_NOTICE_BYTES,
  MAX_SEALED_BLOCK_BYTES,
  signSealedBatch,
  verifySealedBatch,
} from "../../../protocol/ingest.ts";
import { type Database, migrate } from "../db/mod.ts";
import { type BlockStore, matchesCid, MAX_BLOCK_SIZE } from "../blocks/mod.ts";
import type { Transfer } from "../transfer/mod.ts";
import { datasetKey, sortByDistance } from "../replication/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Site, Sites } from "../sites/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { day, hour, minute, second } from "../../constants.ts";
import { type BatchSigner, openBatch, sealBlocks } from "./seal.ts";
import type { ProxyLedger } from "./proxies.ts";

if (MAX_SEALED_BLOCK_BYTES > MAX_BLOCK_SIZE) throw new Error("sealed batches must fit in a block");

/**
 * Stores the events of a batch this node owns durably and tells listeners;
 * resolves with false when `batchId` had been recorded before.
 */
export type ReceiveBatch = (site: string, events: AnalyticsEvent[], batchId: string) => Promise<boolean>;

/** No reachable holder served a block that matches its CID. */
export class BlockUnavailableError extends KosmosError {
  override name = "BlockUnavailableError";
}

export interface OutboxComponents {
  db: Database;
  p2p: P2P;
  blocks: BlockStore;
  transfer: Transfer;
  sites: Sites;
  log: Logger;
  receive: ReceiveBatch;
  /** Disk offered for replicas, in GB (`config.storage.quotaGB`); 0 holds no other proxy's batches. */
  quotaGB: number;
  /** This node as a proxy: signs every batch it seals. */
  signer: BatchSigner;
  /** This node as an owner: per-proxy counts, quotas and blocks. */
  proxies: ProxyLedger;
}

/** How far in the future a batch's signed window may end, ms. */
const MAX_WINDOW_SKEW = 5 * minute;

export interface OutboxInit {
  /** Longest one notice may take, the receiver's fetch included, ms. @default 10 seconds */
  deliveryTimeout?: number;
  /** Longest wait between delivery attempts, ms. @default 1 minute */
  maxRetryDelay?: number;
  /** Nodes besides this one asked to hold a copy of a batch its owner has not acked. @default 2 */
  replicas?: number;
  /** How long a proxy waits for the owner's ack before it hands copies to replicas, ms. @default 10 seconds */
  replicateAfter?: number;
  /** How long a replica leaves delivery to the proxy before notifying the owner itself, ms. @default 10 seconds */
  holdDelay?: number;
  /** How long a holder keeps a block after the owner acked it, ms. @default 1 day */
  retention?: number;
  /** Age after which a block its owner never acked is dropped, ms. @default 30 days */
  maxBatchAge?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

/** One sealed batch block this node holds. */
export interface BatchState {
  cid: string;
  site: string;
  /** The owner's node. */
  peerId: string;
  /** "proxy": sealed here; "replica": held for another proxy. */
  role: "proxy" | "replica";
  bytes: number;
  createdAt: number;
  /** When the owner acked it; absent while it waits. */
  ackedAt?: number;
  attempts: number;
  /** Nodes this proxy handed a copy to. */
  replicas: string[];
}

const MIGRATIONS = [
  `CREATE TABLE ingest_batches (
    cid TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('proxy', 'replica')),
    bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER,
    acked_at INTEGER,
    replicas TEXT NOT NULL DEFAULT '[]',
    replicate_at INTEGER
  );
  CREATE INDEX ingest_batches_due ON ingest_batches (next_at);
  CREATE INDEX ingest_batches_peer ON ingest_batches (peer_id);
  CREATE TABLE ingest_inbox (
    cid TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL,
    site TEXT NOT NULL,
    received_at INTEGER NOT NULL
  );
  CREATE INDEX ingest_inbox_received ON ingest_inbox (received_at);`,
];

/** How long the owner remembers a delivered CID (longer than any holder keeps one). */
const INBOX_RETENTION = 90 * day;
/** Notices answered on one inbound stream before it is closed. */
const MAX_NOTICES_PER_STREAM = 1024;
/** Stores a batch sealed here: cid, site, peer_id, bytes, created_at, next_at, replicate_at. */
const INSERT_PROXY_BATCH =
  `INSERT OR IGNORE INTO ingest_batches (cid, site, peer_id, role, bytes, created_at, next_at, replicate_at)
   VALUES (?, ?, ?, 'proxy', ?, ?, ?, ?)`;
/** Providers asked for a block, hints included. */
const MAX_PROVIDERS = 8;

interface Row {
  cid: string;
  site: string;
  peer_id: string;
  role: "proxy" | "replica";
  bytes: number;
  created_at: number;
  attempts: number;
  acked_at: number | null;
  replicas: string;
}

export function createOutbox(components: OutboxComponents, init: OutboxInit = {}): Outbox {
  return new Outbox(components, init);
}

export class Outbox {
  #c: OutboxComponents;
  #init: Required<OutboxInit>;
  #controller?: AbortController;
  #running?: Promise<void>;
  #again = false;
  #timer?: ReturnType<typeof setTimeout>;
  #pruneTimer?: ReturnType<typeof setInterval>;
  #background = new Set<Promise<unknown>>();
  #inflight = new Map<string, Promise<BatchReply>>();
  #onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[] }>) => {
    if (evt.detail.protocols.includes(INGEST_BLOCKS_PROTOCOL)) {
      this.#peerArrived(evt.detail.peerId.toString());
    }
  };

  constructor(components: OutboxComponents, init: OutboxInit) {
    this.#c = components;
    this.#init = {
      deliveryTimeout: init.deliveryTimeout ?? 10 * second,
      maxRetryDelay: init.maxRetryDelay ?? minute,
      replicas: init.replicas ?? 2,
      replicateAfter: init.replicateAfter ?? 10 * second,
      holdDelay: init.holdDelay ?? 10 * second,
      retention: init.retention ?? day,
      maxBatchAge: init.maxBatchAge ?? 30 * day,
      now: init.now ?? Date.now,
    };
    if (!Number.isInteger(this.#init.replicas) || this.#init.replicas < 0) {
      throw new RangeError(`Cannot create outbox: replicas ${this.#init.replicas} must be an integer ≥ 0`);
    }
  }

  get #signal(): AbortSignal {
    if (!this.#controller) throw new Error("Cannot use the outbox before start()");
    return this.#controller.signal;
  }

  /** Creates its tables, adopts batches an older version kept in SQLite, and starts delivering. */
  async start(): Promise<void> {
    const { db, p2p, log } = this.#c;
    migrate(db, "ingest-outbox", MIGRATIONS);
    this.#controller = new AbortController();
    await this.#adoptLegacyOutbox();
    await p2p.libp2p.handle(INGEST_BLOCKS_PROTOCOL, (stream, conn) => this.#serve(stream, conn), {
      maxInboundStreams: 32,
      maxOutboundStreams: 32,
    });
    await p2p.libp2p.handle(INGEST_PROTOCOL, (stream, conn) => this.#serveInline(stream, conn), {
      maxInboundStreams: 32,
      maxOutboundStreams: 32,
    });
    p2p.libp2p.addEventListener("peer:identify", this.#onIdentify);
    // Provider records live in memory on DHT peers: announce what is held again.
    const held = db.prepare("SELECT cid FROM ingest_batches").all() as { cid: string }[];
    for (const { cid } of held) this.#provide(CID.parse(cid));
    const pruneEvery = Math.min(10 * minute, Math.max(second, this.#init.retention / 4));
    this.#pruneTimer = setInterval(() => this.#track(this.#prune()), pruneEvery);
    this.#track(this.#prune());
    log.info("started ingest outbox", { pending: this.countPending(), held: held.length });
    this.#kick();
  }

  async stop(): Promise<void> {
    this.#controller?.abort(new KosmosError("ingest outbox stopped"));
    clearInterval(this.#pruneTimer);
    clearTimeout(this.#timer);
    try {
      const libp2p = this.#c.p2p.libp2p;
      libp2p.removeEventListener("peer:identify", this.#onIdentify);
      await libp2p.unhandle(INGEST_BLOCKS_PROTOCOL);
      await libp2p.unhandle(INGEST_PROTOCOL);
    } catch { /* p2p already stopped */ }
    await this.#running?.catch(() => {});
    await Promise.allSettled([...this.#background, ...this.#inflight.values()]);
  }

  /**
   * Seals `events` to the owner of `site` (another node), stores the sealed
   * batches as blocks and queues them for delivery. Resolves once they are on
   * disk; delivery runs in the background.
   */
  async queue(site: Site, events: AnalyticsEvent[]): Promise<string[]> {
    this.#signal.throwIfAborted();
    const { db, blocks, log } = this.#c;
    const sealed = await sealBlocks(events, {
      site: site.domain,
      publicKey: hexToBytes(site.encryptionKey),
      signer: this.#c.signer,
    });
    const now = this.#init.now();
    const insert = db.prepare(INSERT_PROXY_BATCH);
    const cids: string[] = [];
    for (const { bytes } of sealed) {
      const cid = await blocks.put(bytes);
      insert.run(
        cid.toString(),
        site.domain,
        site.peerId,
        bytes.byteLength,
        now,
        now,
        now + this.#init.replicateAfter,
      );
      this.#provide(cid);
      cids.push(cid.toString());
    }
    log.debug("sealed events", { site: site.domain, count: events.length, blocks: cids.length });
    this.#kick();
    return cids;
  }

  /** Batches this node holds that their owner has not acked yet. */
  countPending(): number {
    return (this.#c.db.prepare("SELECT COUNT(*) AS n FROM ingest_batches WHERE acked_at IS NULL").get() as {
      n: number;
    }).n;
  }

  /** Every batch block this node holds, oldest first. */
  listBatches(): BatchState[] {
    const rows = this.#c.db.prepare(
      `SELECT cid, site, peer_id, role, bytes, created_at, attempts, acked_at, replicas
       FROM ingest_batches ORDER BY created_at, cid`,
    ).all() as unknown as Row[];
    return rows.map((r) => {
      const state: BatchState = {
        cid: r.cid,
        site: r.site,
        peerId: r.peer_id,
        role: r.role,
        bytes: r.bytes,
        createdAt: r.created_at,
        attempts: r.attempts,
        replicas: JSON.parse(r.replicas),
      };
      if (r.acked_at !== null) state.ackedAt = r.acked_at;
      return state;
    });
  }

  /** Runs delivery and replication now and resolves when that round is done. */
  async deliverNow(): Promise<void> {
    const now = this.#init.now();
    this.#c.db.prepare("UPDATE ingest_batches SET next_at = ? WHERE acked_at IS NULL").run(now);
    this.#c.db.prepare(
      "UPDATE ingest_batches SET replicate_at = ? WHERE acked_at IS NULL AND replicate_at IS NOT NULL",
    ).run(now);
    this.#kick();
    while (this.#running) await this.#running.catch(() => {});
  }

  // --- sending -------------------------------------------------------------

  /** Starts a round, or asks the running one to go again. */
  #kick(): void {
    if (!this.#controller || this.#controller.signal.aborted) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#running = (async () => {
      do {
        this.#again = false;
        await Promise.all([this.#deliverDue(), this.#replicateDue()]);
      } while (this.#again && !this.#controller?.signal.aborted);
    })().catch((err) => {
      if (!this.#controller?.signal.aborted) this.#c.log.warn("failed to deliver events", { error: err });
    }).finally(() => {
      this.#running = undefined;
      this.#schedule();
    });
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    if (!this.#controller || this.#controller.signal.aborted) return;
    const row = this.#c.db.prepare(
      `SELECT MIN(t) AS next FROM (
         SELECT MIN(next_at) AS t FROM ingest_batches WHERE acked_at IS NULL
         UNION ALL SELECT MIN(replicate_at) FROM ingest_batches WHERE acked_at IS NULL AND role = 'proxy')`,
    ).get() as { next: number | null };
    if (row.next === null) return;
    this.#timer = setTimeout(() => this.#kick(), Math.max(0, row.next - this.#init.now()));
  }

  /** A peer (re)connected: what waits for it, or for replicas, goes now. */
  #peerArrived(peerId: string): void {
    if (!this.#controller || this.#controller.signal.aborted) return;
    const now = this.#init.now();
    const { db } = this.#c;
    const owed = db.prepare(
      "UPDATE ingest_batches SET next_at = ? WHERE peer_id = ? AND acked_at IS NULL AND next_at > ?",
    ).run(now, peerId, now);
    const unreplicated = db.prepare(
      `UPDATE ingest_batches SET replicate_at = ? WHERE role = 'proxy' AND acked_at IS NULL
       AND replicate_at > ? AND attempts > 0`,
    ).run(now, now);
    if (Number(owed.changes) + Number(unreplicated.changes) > 0) this.#kick();
  }

  async #deliverDue(): Promise<void> {
    const { db, log } = this.#c;
    const selfId = this.#c.p2p.peerId.toString();
    const rows = db.prepare(
      `SELECT cid, site, peer_id, role, attempts FROM ingest_batches
       WHERE acked_at IS NULL AND next_at <= ? ORDER BY created_at LIMIT 256`,
    ).all(this.#init.now()) as unknown as Row[];
    const byPeer = new Map<string, Row[]>();
    for (const row of rows) byPeer.set(row.peer_id, [...(byPeer.get(row.peer_id) ?? []), row]);
    await Promise.all([...byPeer].map(async ([peerId, batches]) => {
      if (peerId === selfId) {
        // This node owns the site now (a replica of its own batch, or a site that moved here).
        for (const b of batches) {
          this.#settle(b.cid, await this.#accept({ v: 2, op: "deliver", cid: b.cid, site: b.site }, selfId));
        }
        return;
      }
      let notices: NoticeStream | undefined;
      try {
        for (const [i, batch] of batches.entries()) {
          if (this.#controller?.signal.aborted) return;
          let reply: BatchReply;
          try {
            notices ??= await NoticeStream.open(
              this.#c.p2p,
              peerId,
              this.#init.deliveryTimeout,
              this.#signal,
            );
            reply = await notices.send({ v: 2, op: "deliver", cid: batch.cid, site: batch.site });
          } catch (err) {
            // The owner is unreachable: back off every batch for it, not only this one, and get copies out.
            for (const later of batches.slice(i)) this.#backOff(later, true);
            log.debug("failed to deliver events", { peerId, batches: batches.length - i, error: err });
            this.#again ||= batches.some((b) => b.role === "proxy");
            return;
          }
          this.#settle(batch.cid, reply, batch);
        }
      } finally {
        await notices?.close();
      }
    }));
  }

  /** Applies the owner's reply to a held batch. */
  #settle(cid: string, reply: BatchReply, row?: Row): void {
    const { db, log } = this.#c;
    if ("ack" in reply && reply.ack === cid) {
      db.prepare("UPDATE ingest_batches SET acked_at = ?, next_at = NULL, replicate_at = NULL WHERE cid = ?")
        .run(this.#init.now(), cid);
      log.debug("delivered events", { cid });
    } else if ("reject" in reply) {
      log.warn("dropped a batch its owner rejected", { cid, reason: reply.reject });
      this.#track(this.#drop(cid));
    } else {
      const current = row ??
        db.prepare("SELECT cid, role, attempts FROM ingest_batches WHERE cid = ?").get(cid) as
          | Row
          | undefined;
      if (current) this.#backOff(current, false);
      log.debug("deferred a batch the owner cannot take yet", {
        cid,
        reason: "retry" in reply ? reply.retry : "bad ack",
      });
    }
  }

  #backOff(row: Row, unreachable: boolean): void {
    const delay = Math.min(this.#init.maxRetryDelay, second * 2 ** Math.min(row.attempts, 16));
    const now = this.#init.now();
    this.#c.db.prepare(
      `UPDATE ingest_batches SET attempts = attempts + 1, next_at = ?,
         replicate_at = CASE WHEN ? AND replicate_at IS NOT NULL THEN MIN(replicate_at, ?) ELSE replicate_at END
       WHERE cid = ?`,
    ).run(now + delay, unreachable ? 1 : 0, now, row.cid);
  }

  /** Hands copies of unacked batches this node sealed to the nodes closest to each CID. */
  async #replicateDue(): Promise<void> {
    const { db, log } = this.#c;
    const rows = db.prepare(
      `SELECT cid, site, peer_id, replicas FROM ingest_batches WHERE role = 'proxy' AND acked_at IS NULL
       AND replicate_at IS NOT NULL AND replicate_at <= ? ORDER BY created_at LIMIT 64`,
    ).all(this.#init.now()) as unknown as Row[];
    if (rows.length === 0) return;
    // Connected peers that hold batches for others.
    const candidates = await this.#c.p2p.protocolPeers(INGEST_BLOCKS_PROTOCOL);
    const streams = new Map<string, NoticeStream>();
    const update = db.prepare("UPDATE ingest_batches SET replicas = ?, replicate_at = ? WHERE cid = ?");
    try {
      for (const row of rows) {
        if (this.#controller?.signal.aborted) return;
        const held: string[] = JSON.parse(row.replicas);
        const others = candidates.filter((p) => p !== row.peer_id && !held.includes(p));
        const ordered = await sortByDistance(await datasetKey(CID.parse(row.cid)), others);
        for (const peerId of ordered) {
          if (held.length >= this.#init.replicas || this.#controller?.signal.aborted) break;
          try {
            let notices = streams.get(peerId);
            if (!notices) {
              notices = await NoticeStream.open(
                this.#c.p2p,
                peerId,
                this.#init.deliveryTimeout,
                this.#signal,
              );
              streams.set(peerId, notices);
            }
            const reply = await notices.send({ v: 2, op: "hold", cid: row.cid, site: row.site });
            if ("ack" in reply && reply.ack === row.cid) held.push(peerId);
            else log.debug("failed to hand a batch to a replica", { peerId, cid: row.cid, reply });
          } catch (err) {
            await streams.get(peerId)?.close();
            streams.delete(peerId);
            log.debug("failed to hand a batch to a replica", { peerId, cid: row.cid, error: err });
          }
        }
        const done = held.length >= this.#init.replicas;
        update.run(JSON.stringify(held), done ? null : this.#init.now() + this.#init.maxRetryDelay, row.cid);
        if (held.length > 0) log.debug("replicated a batch", { cid: row.cid, replicas: held.length });
      }
    } finally {
      await Promise.all([...streams.values()].map((s) => s.close()));
    }
  }

  // --- receiving -----------------------------------------------------------

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString();
    const lp = lpStream(stream, { maxDataLength: MAX_BATCH_NOTICE_BYTES });
    try {
      for (let i = 0; i < MAX_NOTICES_PER_STREAM; i++) {
        let frame;
        try {
          frame = await lp.read({
            signal: AbortSignal.any([AbortSignal.timeout(this.#init.deliveryTimeout), this.#signal]),
          });
        } catch (err) {
          if ((err as Error).name === "UnexpectedEOFError") break; // the sender is done
          throw err;
        }
        let reply: BatchReply;
        let bad = false;
        try {
          reply = await this.#accept(decodeBatchNotice(frame.subarray()), from);
        } catch (err) {
          if (!(err instanceof TypeError)) throw err;
          reply = { reject: err.message };
          bad = true;
        }
        const signal = AbortSignal.any([AbortSignal.timeout(this.#init.deliveryTimeout), this.#signal]);
        await lp.write(encodeBatchReply(reply), { signal });
        if (bad) break;
      }
      await stream.close({
        signal: AbortSignal.any([AbortSignal.timeout(this.#init.deliveryTimeout), this.#signal]),
      });
    } catch (err) {
      stream.abort(err as Error);
      this.#c.log.debug("failed to receive batch notices", { from, error: err });
    }
  }

  /** Answers one notice; the same CID asked twice at once is handled once. */
  #accept(notice: BatchNotice, from: string): Promise<BatchReply> {
    const key = `${notice.op} ${notice.cid}`;
    let run = this.#inflight.get(key);
    if (!run) {
      run = (notice.op === "deliver" ? this.#acceptDelivery(notice, from) : this.#acceptHold(notice, from))
        .catch((err): BatchReply => {
          this.#c.log.warn("failed to take a batch", { from, cid: notice.cid, error: err });
          return { retry: "this node failed to store the batch" };
        })
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, run);
    }
    return run;
  }

  /** As the site's owner: fetch, check, open, record, ack. */
  async #acceptDelivery(notice: BatchNotice, from: string): Promise<BatchReply> {
    const { sites, db, log } = this.#c;
    const site = sites.getSite(notice.site);
    if (!site || !sites.isOwnSite(site)) return { reject: "this node does not own the site" };
    if (db.prepare("SELECT 1 FROM ingest_inbox WHERE cid = ?").get(notice.cid)) return { ack: notice.cid };
    const cid = CID.parse(notice.cid);
    let bytes: Uint8Array;
    try {
      bytes = await this.#getBlock(cid, [from]);
    } catch (err) {
      log.debug("failed to get a batch", { from, cid: notice.cid, error: err });
      return { retry: "no valid copy of the block could be fetched" };
    }
    const batch = checkBatch(bytes, notice.site);
    if (typeof batch === "string") return { reject: batch };
    const opened = await this.#openSigned(batch, from);
    if (!("events" in opened)) return opened;
    const { proxy, events } = opened;
    const fresh = await this.#c.receive(notice.site, events, batch.id);
    if (fresh) this.#c.proxies.record(notice.site, proxy, events.length);
    db.prepare("INSERT OR IGNORE INTO ingest_inbox (cid, batch_id, site, received_at) VALUES (?, ?, ?, ?)")
      .run(notice.cid, batch.id, notice.site, this.#init.now());
    log.debug("received events", { from, proxy, site: notice.site, count: events.length, duplicate: !fresh });
    return { ack: notice.cid };
  }

  /**
   * As the owner: checks the proxy's signature (before opening anything),
   * the block list, the signed window and the proxy's quota, and opens the
   * batch; or answers why not.
   */
  async #openSigned(
    batch: SealedBatch,
    from: string,
  ): Promise<{ proxy: string; events: AnalyticsEvent[] } | { reject: string } | { retry: string }> {
    const { sites, proxies, log } = this.#c;
    let proxy: string;
    try {
      proxy = await verifySealedBatch(batch);
    } catch (err) {
      log.debug("refused a sealed batch", { from, site: batch.site, reason: (err as Error).message });
      return { reject: (err as Error).message };
    }
    const refuse = (reason: string, retry = false) => {
      proxies.recordRefused(batch.site, proxy);
      log.debug("refused a sealed batch", { from, proxy, site: batch.site, reason });
      return retry ? { retry: reason } : { reject: reason };
    };
    if (proxies.isBlocked(batch.site, proxy)) return refuse(`proxy ${proxy} is blocked for ${batch.site}`);
    const now = this.#init.now();
    if (batch.to! > now + MAX_WINDOW_SKEW || batch.from! < now - this.#init.maxBatchAge) {
      return refuse("the batch's signed time window is too old or in the future");
    }
    let events: AnalyticsEvent[];
    try {
      events = await openBatch(batch, sites.encryptionKey.privateKey, sites.encryptionKey.publicKey);
    } catch (err) {
      return refuse((err as Error).message);
    }
    if (events.some((e) => e.ts < batch.from! || e.ts > batch.to!)) {
      return refuse("the batch has events outside its signed time window");
    }
    const refusal = proxies.admit(batch.site, proxy, events.length);
    if (refusal) return refuse(refusal.reason, refusal.retry);
    return { proxy, events };
  }

  /** As a replica: fetch, check and keep the block, provide it, and deliver it to the owner later. */
  async #acceptHold(notice: BatchNotice, from: string): Promise<BatchReply> {
    const { sites, db, blocks, log } = this.#c;
    const site = sites.getSite(notice.site);
    if (!site) return { reject: "this node does not know the site" };
    if (sites.isOwnSite(site)) return await this.#acceptDelivery({ ...notice, op: "deliver" }, from);
    if (db.prepare("SELECT 1 FROM ingest_batches WHERE cid = ?").get(notice.cid)) return { ack: notice.cid };
    const quota = this.#c.quotaGB * 1e9;
    const used = (db.prepare("SELECT COALESCE(SUM(bytes), 0) AS n FROM ingest_batches WHERE role = 'replica'")
      .get() as { n: number }).n;
    if (!(used < quota)) return { reject: "this node has no room for replicas" };
    const cid = CID.parse(notice.cid);
    let bytes: Uint8Array;
    try {
      bytes = await this.#getBlock(cid, [from]);
    } catch (err) {
      log.debug("failed to get a batch to hold", { from, cid: notice.cid, error: err });
      return { retry: "no valid copy of the block could be fetched" };
    }
    if (used + bytes.byteLength > quota) return { reject: "this node has no room for replicas" };
    const batch = checkBatch(bytes, notice.site);
    if (typeof batch === "string") return { reject: batch };
    try {
      await verifySealedBatch(batch);
    } catch (err) {
      return { reject: (err as Error).message };
    }
    await blocks.put(bytes, { cid, verified: true });
    const now = this.#init.now();
    db.prepare(
      `INSERT OR IGNORE INTO ingest_batches (cid, site, peer_id, role, bytes, created_at, next_at)
       VALUES (?, ?, ?, 'replica', ?, ?, ?)`,
    ).run(notice.cid, notice.site, site.peerId, bytes.byteLength, now, now + this.#init.holdDelay);
    this.#provide(cid);
    log.debug("held a batch", { from, cid: notice.cid, site: notice.site });
    this.#kick();
    return { ack: notice.cid };
  }

  /** A block by CID, from the local store or a provider, checked against the CID. */
  async #getBlock(cid: CID, hints: string[]): Promise<Uint8Array> {
    const { blocks, transfer, p2p, log } = this.#c;
    try {
      if (await blocks.has(cid)) return await blocks.get(cid);
    } catch (err) {
      if ((err as Error).name !== "CorruptBlockError" && (err as Error).name !== "NotFoundError") throw err;
    }
    // Half the sender's budget, so a notice whose block cannot be had gets "retry", not a timeout.
    const signal = AbortSignal.any([AbortSignal.timeout(this.#init.deliveryTimeout / 2), this.#signal]);
    const selfId = p2p.peerId.toString();
    const tried = new Set<string>([selfId]);
    const tryPeer = async (peerId: string): Promise<Uint8Array | undefined> => {
      if (tried.has(peerId) || tried.size > MAX_PROVIDERS) return undefined;
      tried.add(peerId);
      try {
        const session = await transfer.openSession(peerId, { signal });
        try {
          const bytes = await session.get(cid, { signal });
          if (bytes.byteLength > MAX_SEALED_BLOCK_BYTES || !(await matchesCid(cid, bytes))) {
            log.warn("rejected corrupt block from provider", {
              peerId,
              cid: cid.toString(),
              bytes: bytes.byteLength,
            });
            session.abort(new Error("served a corrupt block"));
            return undefined;
          }
          return bytes;
        } finally {
          await session.close({ signal });
        }
      } catch (err) {
        signal.throwIfAborted();
        log.debug("failed to get block from provider", { peerId, cid: cid.toString(), error: err });
        return undefined;
      }
    };
    for (const peerId of hints) {
      const bytes = await tryPeer(peerId);
      if (bytes) return bytes;
    }
    try {
      for await (const provider of p2p.libp2p.contentRouting.findProviders(cid, { signal })) {
        const bytes = await tryPeer(provider.id.toString());
        if (bytes) return bytes;
        if (tried.size > MAX_PROVIDERS) break;
      }
    } catch (err) {
      signal.throwIfAborted();
      log.debug("failed to find providers", { cid: cid.toString(), error: err });
    }
    throw new BlockUnavailableError(`Cannot get batch "${cid}": no reachable holder served it`, {
      details: { cid: cid.toString(), tried: [...tried].filter((p) => p !== selfId) },
    });
  }

  /** `/kosmos/ingest/1.0.0`: one sealed batch inline from a proxy that predates blocks. */
  async #serveInline(stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString();
    const signal = AbortSignal.any([AbortSignal.timeout(this.#init.deliveryTimeout), this.#signal]);
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_SEALED_BATCH_BYTES });
      const reply = await this.#acceptInline((await lp.read({ signal })).subarray(), from);
      await lp.write(encodeIngestReply(reply), { signal });
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
      this.#c.log.debug("failed to receive events", { from, error: err });
    }
  }

  async #acceptInline(bytes: Uint8Array, from: string): Promise<IngestReply> {
    const { sites, db, log } = this.#c;
    let batch: SealedBatch;
    try {
      batch = decodeSealedBatch(bytes);
    } catch (err) {
      return { reject: (err as Error).message };
    }
    const site = sites.getSite(batch.site);
    if (!site || !sites.isOwnSite(site)) return { reject: "this node does not own the site" };
    if (db.prepare("SELECT 1 FROM ingest_received WHERE id = ?").get(batch.id)) return { ack: batch.id };
    const opened = await this.#openSigned(batch, from);
    if ("reject" in opened) return opened;
    if ("retry" in opened) return { reject: opened.retry };
    const { proxy, events } = opened;
    if (await this.#c.receive(batch.site, events, batch.id)) {
      this.#c.proxies.record(batch.site, proxy, events.length);
    }
    db.prepare("INSERT OR IGNORE INTO ingest_received (id, received_at) VALUES (?, ?)").run(
      batch.id,
      this.#init.now(),
    );
    log.debug("received events", { from, site: batch.site, count: events.length });
    return { ack: batch.id };
  }

  // --- housekeeping --------------------------------------------------------

  /** Announces a held block in the DHT, in the background. */
  #provide(cid: CID): void {
    if (!this.#controller || this.#controller.signal.aborted) return;
    const signal = AbortSignal.any([AbortSignal.timeout(minute), this.#signal]);
    this.#track(
      this.#c.p2p.libp2p.contentRouting.provide(cid, { signal }).catch((err) => {
        if (!signal.aborted) {
          this.#c.log.debug("failed to provide batch", { cid: cid.toString(), error: err });
        }
      }),
    );
  }

  /** Forgets a held batch: its row, its block and its provider record. */
  async #drop(cid: string): Promise<void> {
    const parsed = CID.parse(cid);
    this.#c.db.prepare("DELETE FROM ingest_batches WHERE cid = ?").run(cid);
    await this.#c.blocks.delete(parsed);
    await this.#c.p2p.libp2p.contentRouting.cancelReprovide(parsed).catch(() => {});
  }

  async #prune(): Promise<void> {
    const { db, log } = this.#c;
    const now = this.#init.now();
    try {
      const acked = db.prepare("SELECT cid FROM ingest_batches WHERE acked_at IS NOT NULL AND acked_at < ?")
        .all(now - this.#init.retention) as { cid: string }[];
      const expired = db.prepare("SELECT cid FROM ingest_batches WHERE acked_at IS NULL AND created_at < ?")
        .all(now - this.#init.maxBatchAge) as { cid: string }[];
      for (const { cid } of [...acked, ...expired]) await this.#drop(cid);
      if (expired.length > 0) log.warn("dropped batches their owner never acked", { count: expired.length });
      db.prepare("DELETE FROM ingest_inbox WHERE received_at < ?").run(now - INBOX_RETENTION);
    } catch (err) {
      if (!this.#controller?.signal.aborted) log.warn("failed to prune ingest batches", { error: err });
    }
  }

  /**
   * Moves batches an older version kept as bytes in `ingest_outbox` into the
   * block store, one at a time, so a crash half way loses nothing.
   */
  async #adoptLegacyOutbox(): Promise<void> {
    const { db, blocks, log } = this.#c;
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ingest_outbox'")
      .get();
    if (!exists) return;
    const next = db.prepare(
      "SELECT id, site, peer_id, bytes, created_at FROM ingest_outbox ORDER BY created_at LIMIT 1",
    );
    const insert = db.prepare(INSERT_PROXY_BATCH);
    const remove = db.prepare("DELETE FROM ingest_outbox WHERE id = ?");
    let adopted = 0;
    let dropped = 0;
    for (;;) {
      const row = next.get() as
        | { id: string; site: string; peer_id: string; bytes: Uint8Array; created_at: number }
        | undefined;
      if (!row) break;
      // Owners take signed batches only: sign what this node sealed then. Its events
      // waited at most a flush interval, so an hour before the row was written bounds them.
      const bytes = await this.#signLegacy(row.bytes, row.created_at);
      if (bytes && bytes.byteLength <= MAX_SEALED_BLOCK_BYTES) {
        const cid = await blocks.put(bytes);
        const now = this.#init.now();
        insert.run(cid.toString(), row.site, row.peer_id, bytes.byteLength, row.created_at, now, now);
        adopted++;
      } else dropped++; // its owner would have refused it as too large or malformed, as before
      remove.run(row.id);
    }
    if (adopted + dropped > 0) log.info("moved sealed batches into the block store", { adopted, dropped });
  }

  /** A legacy unsigned sealed batch, signed by this node for the hour before `createdAt`; undefined if malformed. */
  async #signLegacy(bytes: Uint8Array, createdAt: number): Promise<Uint8Array | undefined> {
    try {
      const batch = decodeSealedBatch(bytes);
      return encodeSealedBatch(
        await signSealedBatch(batch, this.#c.signer, { from: Math.max(0, createdAt - hour), to: createdAt }),
      );
    } catch {
      return undefined;
    }
  }

  #track(promise: Promise<unknown>): void {
    this.#background.add(promise);
    promise.finally(() => this.#background.delete(promise)).catch(() => {});
  }
}

/** Decodes a fetched block as a sealed batch of `site`, or says why it is not one. */
function checkBatch(bytes: Uint8Array, site: string): SealedBatch | string {
  let batch: SealedBatch;
  try {
    batch = decodeSealedBatch(bytes);
  } catch (err) {
    return (err as Error).message;
  }
  if (batch.site !== site) return "the block is a batch of another site";
  return batch;
}

/** One outbound notice stream; notices are sent one at a time. */
class NoticeStream {
  #stream: Stream;
  #lp;
  #timeout: number;
  #signal: AbortSignal;
  #closed = false;

  private constructor(stream: Stream, timeout: number, signal: AbortSignal) {
    this.#stream = stream;
    this.#timeout = timeout;
    this.#signal = signal;
    this.#lp = lpStream(stream, { maxDataLength: MAX_BATCH_NOTICE_BYTES });
  }

  static async open(p2p: P2P, peerId: string, timeout: number, signal: AbortSignal): Promise<NoticeStream> {
    const stream = await p2p.libp2p.dialProtocol(peerIdFromString(peerId), INGEST_BLOCKS_PROTOCOL, {
      signal: AbortSignal.any([AbortSignal.timeout(timeout), signal]),
    });
    return new NoticeStream(stream, timeout, signal);
  }

  async send(notice: BatchNotice): Promise<BatchReply> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.#timeout), this.#signal]);
    try {
      await this.#lp.write(encodeBatchNotice(notice), { signal });
      return decodeBatchReply((await this.#lp.read({ signal })).subarray());
    } catch (err) {
      this.#closed = true;
      this.#stream.abort(err as Error);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#stream.close({ signal: AbortSignal.timeout(5 * second) });
    } catch (err) {
      this.#stream.abort(err as Error);
    }
  }
}

function hexToBytes(hex: string): Uint8Array {
  const clean = hex.startsWith("0x") ? hex.slice(2) : hex;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
