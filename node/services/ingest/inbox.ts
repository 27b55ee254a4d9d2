/**
 * The receiving side of sealed batch delivery. Over `/kosmos/ingest/2.0.0`
 * a node answers batch notices (see `protocol/ingest.ts`):
 * - as the site's owner ("deliver"): fetches the block through the verified
 *   chunk protocol from the notifier or any provider, checks the CID, checks
 *   the proxy's signature, block list, signed window and quota, opens the
 *   batch, records it and acks; each CID is remembered, so a batch is
 *   recorded once however many holders notify it;
 * - as a replica ("hold"): fetches and checks the block within its storage
 *   quota, keeps it, and tells the outbox (`onHeld`), which provides it and
 *   notifies the owner later.
 * Over `/kosmos/ingest/1.0.0` an owner still takes one sealed batch inline
 * from a proxy that predates blocks.
 *
 * ```ts
 * const inbox = new Inbox({ p2p, sites, batches, holder, log, receive, proxies, onHeld }, init);
 * await inbox.start();
 * await inbox.accept({ v: 2, op: "deliver", cid, site }, fromPeerId); // { ack: cid } | { retry } | { reject }
 * await inbox.stop();
 * ```
 */
import type { Connection, Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { CID } from "multiformats/cid";
import {
  type AnalyticsEvent,
  decodeSealedBatch,
  encodeIngestReply,
  INGEST_PROTOCOL,
  type IngestReply,
  MAX_SEALED_BATCH_BYTES,
  type SealedBatch,
} from "../../../protocol/analytics.ts";
import {
  type BatchNotice,
  type BatchReply,
  decodeBatchNotice,
  encodeBatchReply,
  INGEST_BLOCKS_PROTOCOL,
  MAX_BATCH_NOTICE_BYTES,
  MAX_SEALED_BLOCK_BYTES,
  verifySealedBatch,
} from "../../../protocol/ingest.ts";
import type { P2P } from "../p2p/mod.ts";
import type { BlockStore } from "../blocks/mod.ts";
import type { Holder } from "../replication/mod.ts";
import type { Sites } from "../sites/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { minute } from "../../constants.ts";
import { openBatch } from "./seal.ts";
import type { ProxyLedger } from "./proxies.ts";
import type { BatchStore } from "./batches.ts";

/**
 * Stores the events of a batch this node owns durably and tells listeners;
 * resolves with false when `batchId` had been recorded before.
 */
export type ReceiveBatch = (site: string, events: AnalyticsEvent[], batchId: string) => Promise<boolean>;

export interface InboxComponents {
  p2p: P2P;
  sites: Sites;
  /** Where held batch blocks are kept. */
  blocks: BlockStore;
  batches: BatchStore;
  /** Gets blocks and checks the storage quota (`config.storage.quotaGB`) for replicas. */
  holder: Holder;
  log: Logger;
  receive: ReceiveBatch;
  /** This node as an owner: per-proxy counts, quotas and blocks. */
  proxies: ProxyLedger;
  /** Called with each batch block this node took to hold for another proxy. */
  onHeld: (cid: CID) => void;
}

export interface InboxInit {
  /** Longest one notice may take, the receiver's fetch included, ms. */
  deliveryTimeout: number;
  /** How long a replica leaves delivery to the proxy before notifying the owner itself, ms. */
  holdDelay: number;
  /** Age after which a batch's signed window is too old, ms. */
  maxBatchAge: number;
  /** The clock, ms. */
  now: () => number;
}

/** How far in the future a batch's signed window may end, ms. */
const MAX_WINDOW_SKEW = 5 * minute;
/** Notices answered on one inbound stream before it is closed. */
const MAX_NOTICES_PER_STREAM = 1024;

export class Inbox {
  readonly #c: InboxComponents;
  readonly #init: InboxInit;
  #controller?: AbortController;
  #inflight = new Map<string, Promise<BatchReply>>();

  constructor(components: InboxComponents, init: InboxInit) {
    this.#c = components;
    this.#init = init;
  }

  get #signal(): AbortSignal {
    if (!this.#controller) throw new Error("Cannot use the outbox before start()");
    return this.#controller.signal;
  }

  /** Serves batch notices and inline batches. */
  async start(): Promise<void> {
    const { p2p } = this.#c;
    this.#controller = new AbortController();
    await p2p.handle(INGEST_BLOCKS_PROTOCOL, (stream, conn) => this.#serve(stream, conn), {
      maxInboundStreams: 32,
      maxOutboundStreams: 32,
    });
    await p2p.handle(INGEST_PROTOCOL, (stream, conn) => this.#serveInline(stream, conn), {
      maxInboundStreams: 32,
      maxOutboundStreams: 32,
    });
  }

  async stop(): Promise<void> {
    this.#controller?.abort(new KosmosError("ingest outbox stopped"));
    try {
      await this.#c.p2p.unhandle(INGEST_BLOCKS_PROTOCOL);
      await this.#c.p2p.unhandle(INGEST_PROTOCOL);
    } catch { /* p2p already stopped */ }
    await Promise.allSettled(this.#inflight.values());
  }

  /** Answers one notice; the same CID asked twice at once is handled once. */
  accept(notice: BatchNotice, from: string): Promise<BatchReply> {
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
          reply = await this.accept(decodeBatchNotice(frame.subarray()), from);
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

  /** As the site's owner: fetch, check, open, record, ack. */
  async #acceptDelivery(notice: BatchNotice, from: string): Promise<BatchReply> {
    const { sites, batches, log } = this.#c;
    const site = sites.getSite(notice.site);
    if (!site || !sites.isOwnSite(site)) return { reject: "this node does not own the site" };
    if (batches.wasDelivered(notice.cid)) return { ack: notice.cid };
    const cid = CID.parse(notice.cid);
    let bytes: Uint8Array;
    try {
      bytes = await this.#getBlock(cid, from);
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
    batches.recordDelivered(notice.cid, batch.id, notice.site, this.#init.now());
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

  /** As a replica: fetch, check and keep the block, and hand it to the outbox to provide and deliver later. */
  async #acceptHold(notice: BatchNotice, from: string): Promise<BatchReply> {
    const { sites, batches, holder, log } = this.#c;
    const site = sites.getSite(notice.site);
    if (!site) return { reject: "this node does not know the site" };
    if (sites.isOwnSite(site)) return await this.#acceptDelivery({ ...notice, op: "deliver" }, from);
    if (batches.has(notice.cid)) return { ack: notice.cid };
    const used = batches.replicaBytes();
    if (!holder.hasRoom(1, used)) return { reject: "this node has no room for replicas" };
    const cid = CID.parse(notice.cid);
    let bytes: Uint8Array;
    try {
      bytes = await this.#getBlock(cid, from);
    } catch (err) {
      log.debug("failed to get a batch to hold", { from, cid: notice.cid, error: err });
      return { retry: "no valid copy of the block could be fetched" };
    }
    if (!holder.hasRoom(bytes.byteLength, used)) return { reject: "this node has no room for replicas" };
    const batch = checkBatch(bytes, notice.site);
    if (typeof batch === "string") return { reject: batch };
    try {
      await verifySealedBatch(batch);
    } catch (err) {
      return { reject: (err as Error).message };
    }
    await this.#c.blocks.put(bytes, { cid, verified: true });
    const now = this.#init.now();
    batches.insertReplica(
      notice.cid,
      notice.site,
      site.peerId,
      bytes.byteLength,
      now,
      now + this.#init.holdDelay,
    );
    log.debug("held a batch", { from, cid: notice.cid, site: notice.site });
    this.#c.onHeld(cid);
    return { ack: notice.cid };
  }

  /** A batch block from the local store, `from` or a provider; half the sender's budget, so a miss answers "retry". */
  #getBlock(cid: CID, from: string): Promise<Uint8Array> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.#init.deliveryTimeout / 2), this.#signal]);
    return this.#c.holder.getBlock(cid, { hints: [from], maxBytes: MAX_SEALED_BLOCK_BYTES, signal });
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
    const { sites, batches, log } = this.#c;
    let batch: SealedBatch;
    try {
      batch = decodeSealedBatch(bytes);
    } catch (err) {
      return { reject: (err as Error).message };
    }
    const site = sites.getSite(batch.site);
    if (!site || !sites.isOwnSite(site)) return { reject: "this node does not own the site" };
    if (batches.wasReceived(batch.id)) return { ack: batch.id };
    const opened = await this.#openSigned(batch, from);
    if ("reject" in opened) return opened;
    if ("retry" in opened) return { reject: opened.retry };
    const { proxy, events } = opened;
    if (await this.#c.receive(batch.site, events, batch.id)) {
      this.#c.proxies.record(batch.site, proxy, events.length);
    }
    batches.recordReceived(batch.id, this.#init.now());
    log.debug("received events", { from, site: batch.site, count: events.length });
    return { ack: batch.id };
  }
}

/** Decodes a fetched block as a sealed batch of `site`, or says why it is not one. */
export function checkBatch(bytes: Uint8Array, site: string): SealedBatch | string {
  let batch: SealedBatch;
  try {
    batch = decodeSealedBatch(bytes);
  } catch (err) {
    return (err as Error).message;
  }
  if (batch.site !== site) return "the block is a batch of another site";
  return batch;
}
