/**
 * Sealed batches as blocks, from the proxy that sealed them to the site
 * owner's node: the sending side. A proxy seals each batch in memory
 * (`seal.ts`), stores the encoded batch in the block store as a CIDv1 raw
 * sha2-256 block (the only copy on disk is ciphertext), provides the CID in
 * the DHT, and keeps one `ingest_batches` row per block (`batches.ts`): its
 * CID and delivery state, never bytes.
 *
 * Delivery is a notice over `/kosmos/ingest/2.0.0` (`notice_stream.ts`); the
 * owner fetches, checks, records and acks it (`inbox.ts`). When the owner has
 * not acked a batch within `replicateAfter` (or the first delivery failed),
 * the proxy asks the nodes closest to the CID by XOR distance
 * (`replication/holder.ts`) to hold a copy: each fetches and checks the
 * block, provides it, and notifies the owner itself, so the batch survives
 * the proxy going away. Holders drop a block `retention` after the owner
 * acked it, and any block after `maxBatchAge`. A batch whose owner is this
 * node goes to the inbox directly (`accept`).
 *
 * ```ts
 * const outbox = createOutbox({ p2p, blocks, batches, holder, log, signer, accept: inbox.accept }, init);
 * await outbox.start();
 * await outbox.queue(site, events); // sealed, stored as blocks, delivered in the background
 * ```
 */
import type { PeerId } from "@libp2p/interface";
import { CID } from "multiformats/cid";
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";
import {
  type BatchNotice,
  type BatchReply,
  INGEST_BLOCKS_PROTOCOL,
  MAX_SEALED_BLOCK_BYTES,
} from "../../../protocol/ingest.ts";
import { type BlockStore, MAX_BLOCK_SIZE } from "../blocks/mod.ts";
import type { Holder } from "../replication/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Site } from "../sites/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { day, minute, second } from "../../constants.ts";
import { type BatchSigner, sealBlocks } from "./seal.ts";
import type { BatchRow, BatchStore } from "./batches.ts";
import { NoticeStream } from "./notice_stream.ts";

if (MAX_SEALED_BLOCK_BYTES > MAX_BLOCK_SIZE) throw new Error("sealed batches must fit in a block");

export interface OutboxComponents {
  p2p: P2P;
  blocks: BlockStore;
  batches: BatchStore;
  /** Ranks the nodes that should hold a copy, and provides held blocks. */
  holder: Holder;
  log: Logger;
  /** This node as a proxy: signs every batch it seals. */
  signer: BatchSigner;
  /** Takes a batch whose owner is this node (the inbox). */
  accept: (notice: BatchNotice, from: string) => Promise<BatchReply>;
}

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

/** {@link OutboxInit} with its defaults; throws a `RangeError` for a bad `replicas`. */
export function resolveOutboxInit(init: OutboxInit): Required<OutboxInit> {
  const resolved = {
    deliveryTimeout: init.deliveryTimeout ?? 10 * second,
    maxRetryDelay: init.maxRetryDelay ?? minute,
    replicas: init.replicas ?? 2,
    replicateAfter: init.replicateAfter ?? 10 * second,
    holdDelay: init.holdDelay ?? 10 * second,
    retention: init.retention ?? day,
    maxBatchAge: init.maxBatchAge ?? 30 * day,
    now: init.now ?? Date.now,
  };
  if (!Number.isInteger(resolved.replicas) || resolved.replicas < 0) {
    throw new RangeError(`Cannot create outbox: replicas ${resolved.replicas} must be an integer ≥ 0`);
  }
  return resolved;
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
  #onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[] }>) => {
    if (evt.detail.protocols.includes(this.#c.p2p.protocolId(INGEST_BLOCKS_PROTOCOL))) {
      this.#peerArrived(evt.detail.peerId.toString());
    }
  };

  constructor(components: OutboxComponents, init: OutboxInit) {
    this.#c = components;
    this.#init = resolveOutboxInit(init);
  }

  get #signal(): AbortSignal {
    if (!this.#controller) throw new Error("Cannot use the outbox before start()");
    return this.#controller.signal;
  }

  /** Provides what is held again, starts pruning, and starts delivering (the batch store is open). */
  start(): Promise<void> {
    const { p2p, batches, log } = this.#c;
    this.#controller = new AbortController();
    p2p.libp2p.addEventListener("peer:identify", this.#onIdentify);
    // Provider records live in memory on DHT peers: announce what is held again.
    const held = batches.heldCids();
    for (const cid of held) this.#provide(CID.parse(cid));
    const pruneEvery = Math.min(10 * minute, Math.max(second, this.#init.retention / 4));
    this.#pruneTimer = setInterval(() => this.#track(this.#prune()), pruneEvery);
    this.#track(this.#prune());
    log.info("started ingest outbox", { pending: batches.countPending(), held: held.length });
    this.#kick();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#controller?.abort(new KosmosError("ingest outbox stopped"));
    clearInterval(this.#pruneTimer);
    clearTimeout(this.#timer);
    try {
      this.#c.p2p.libp2p.removeEventListener("peer:identify", this.#onIdentify);
    } catch { /* p2p already stopped */ }
    await this.#running?.catch(() => {});
    await Promise.allSettled(this.#background);
  }

  /**
   * Seals `events` to the owner of `site` (another node), stores the sealed
   * batches as blocks and queues them for delivery. Resolves once they are on
   * disk; delivery runs in the background.
   */
  async queue(site: Site, events: AnalyticsEvent[]): Promise<string[]> {
    this.#signal.throwIfAborted();
    const { batches, blocks, log } = this.#c;
    const sealed = await sealBlocks(events, {
      site: site.domain,
      publicKey: hexToBytes(site.encryptionKey),
      signer: this.#c.signer,
    });
    const now = this.#init.now();
    const cids: string[] = [];
    for (const { bytes } of sealed) {
      const cid = await blocks.put(bytes);
      batches.insertProxy(
        cid.toString(),
        site.domain,
        site.peerId,
        bytes.byteLength,
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

  /** A batch block this node took to hold for another proxy: provide it and deliver it when due. */
  held(cid: CID): void {
    this.#provide(cid);
    this.#kick();
  }

  /** Runs delivery and replication now and resolves when that round is done. */
  async deliverNow(): Promise<void> {
    this.#c.batches.makeAllDue(this.#init.now());
    this.#kick();
    while (this.#running) await this.#running.catch(() => {});
  }

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
    const next = this.#c.batches.nextDueAt();
    if (next === null) return;
    this.#timer = setTimeout(() => this.#kick(), Math.max(0, next - this.#init.now()));
  }

  /** A peer (re)connected: what waits for it, or for replicas, goes now. */
  #peerArrived(peerId: string): void {
    if (!this.#controller || this.#controller.signal.aborted) return;
    if (this.#c.batches.makeDueFor(peerId, this.#init.now())) this.#kick();
  }

  async #deliverDue(): Promise<void> {
    const { batches: store, log } = this.#c;
    const selfId = this.#c.p2p.peerId.toString();
    const rows = store.dueForDelivery(this.#init.now());
    const byPeer = new Map<string, BatchRow[]>();
    for (const row of rows) byPeer.set(row.peer_id, [...(byPeer.get(row.peer_id) ?? []), row]);
    await Promise.all([...byPeer].map(async ([peerId, batches]) => {
      if (peerId === selfId) {
        // This node owns the site now (a replica of its own batch, or a site that moved here).
        for (const b of batches) {
          this.#settle(
            b.cid,
            await this.#c.accept({ v: 2, op: "deliver", cid: b.cid, site: b.site }, selfId),
          );
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
            for (const later of batches.slice(i)) store.backOff(later, true, this.#init.maxRetryDelay);
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
  #settle(cid: string, reply: BatchReply, row?: BatchRow): void {
    const { batches, log } = this.#c;
    if ("ack" in reply && reply.ack === cid) {
      batches.markAcked(cid, this.#init.now());
      log.debug("delivered events", { cid });
    } else if ("reject" in reply) {
      log.warn("dropped a batch its owner rejected", { cid, reason: reply.reject });
      this.#track(batches.drop(cid));
    } else {
      const current = row ?? batches.get(cid);
      if (current) batches.backOff(current, false, this.#init.maxRetryDelay);
      log.debug("deferred a batch the owner cannot take yet", {
        cid,
        reason: "retry" in reply ? reply.retry : "bad ack",
      });
    }
  }

  /** Hands copies of unacked batches this node sealed to the nodes closest to each CID. */
  async #replicateDue(): Promise<void> {
    const { batches, holder, log } = this.#c;
    const rows = batches.dueForReplication(this.#init.now());
    if (rows.length === 0) return;
    // Connected peers that hold batches for others.
    const candidates = await this.#c.p2p.protocolPeers(INGEST_BLOCKS_PROTOCOL);
    const streams = new Map<string, NoticeStream>();
    try {
      for (const row of rows) {
        if (this.#controller?.signal.aborted) return;
        const held: string[] = JSON.parse(row.replicas);
        const others = candidates.filter((p) => p !== row.peer_id && !held.includes(p));
        const ordered = await holder.rankHolders(CID.parse(row.cid), others);
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
        batches.setReplicas(row.cid, held, done ? null : this.#init.now() + this.#init.maxRetryDelay);
        if (held.length > 0) log.debug("replicated a batch", { cid: row.cid, replicas: held.length });
      }
    } finally {
      await Promise.all([...streams.values()].map((s) => s.close()));
    }
  }

  /** Announces a held block in the DHT, in the background. */
  #provide(cid: CID): void {
    if (!this.#controller || this.#controller.signal.aborted) return;
    const signal = AbortSignal.any([AbortSignal.timeout(minute), this.#signal]);
    this.#track(
      this.#c.holder.hold(cid, { signal }).catch((err) => {
        if (!signal.aborted) {
          this.#c.log.debug("failed to provide batch", { cid: cid.toString(), error: err });
        }
      }),
    );
  }

  async #prune(): Promise<void> {
    try {
      await this.#c.batches.prune({ retention: this.#init.retention, maxBatchAge: this.#init.maxBatchAge });
    } catch (err) {
      if (!this.#controller?.signal.aborted) {
        this.#c.log.warn("failed to prune ingest batches", { error: err });
      }
    }
  }

  #track(promise: Promise<unknown>): void {
    this.#background.add(promise);
    promise.finally(() => this.#background.delete(promise)).catch(() => {});
  }
}

function hexToBytes(hex: string): Uint8Array {
  const clean = hex.startsWith("0x") ? hex.slice(2) : hex;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
