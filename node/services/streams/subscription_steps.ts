/**
 * The buyer's state machine of one key sale of a subscription (its first span or a renewal), persisted in
 * SQLite: `quoted → opened` (one transaction, with permit) `→ revealed` (the seller's `kSale` seen on
 * chain; `Z` opened into one key per epoch, checked together against the quote's `dekCommit`, stored;
 * a wrong set is complained about and `refunded`) `→ complete` (confirmed on chain once every key was
 * checked against the gateway's signed `EpochOpened` / `EpochSealed` commitment of its epoch, or, with no
 * mismatch seen, as the dispute deadline nears). A key that differs from the gateway's commitment raises a
 * bad-data dispute with the evidence's hash (`disputed`) and the subscription fails; nothing is confirmed.
 * Without a reveal in time the node refunds itself.
 *
 * ```ts
 * const steps = new SubscriptionSteps({ store, chain, log, commitOf, disputeMargin: 3600 });
 * while (await steps.step(saleId, signal));
 * ```
 */
import { type Hex, hexToBytes, keccak256, toBytes } from "viem";
import { computeDekCommit, decodeSaleKeys } from "../../../protocol/quote.ts";
import {
  type ChainService,
  complainSale,
  confirmSale,
  disputeSale,
  foldSaleEvents,
  getChainTime,
  openSale,
  refundSale,
  type SaleEvents,
} from "../chain/mod.ts";
import type { Logger } from "../../log.ts";
import type { SubscriptionSaleRecord, SubscriptionStore, SubscriptionTx } from "./subscription_store.ts";

export interface SubscriptionStepsComponents {
  store: SubscriptionStore;
  chain: ChainService;
  log: Logger;
  /** The key commitment (`keccak256(DEK_e)`) the stream's gateway signed for `epoch`, once known here. */
  commitOf(streamId: string, epoch: number): Hex | undefined;
  /** Seconds before the dispute deadline at which checked-so-far keys are confirmed. */
  disputeMargin: number;
  /** Called after a sale's keys are stored (live delivery may start). */
  onKeys?(subscriptionId: string): void;
}

/** Why the sale's keys were refunded or the sale ended, in words a person reads. */
const REFUND_REASONS = {
  "not-revealed": "the gateway did not reveal the keys in time; refunded",
  "wrong-key": "the revealed keys did not match the quote's commitment; refunded after a complaint",
  "bad-data": "the arbiter found the keys bad; refunded",
} as const;

export class SubscriptionSteps {
  readonly #c: SubscriptionStepsComponents;

  constructor(components: SubscriptionStepsComponents) {
    this.#c = components;
  }

  /** The sale's escrow events as the chain indexer stored them. */
  saleEvents(saleId: Hex): SaleEvents {
    const events = this.#c.chain.indexer.listEvents({ contract: "escrow", saleId, limit: 100 });
    return foldSaleEvents(
      saleId,
      events.map((e) => ({
        eventName: e.name,
        args: e.args,
        hash: e.txHash,
        blockNumber: BigInt(e.blockNumber),
      })),
    );
  }

  /** One step of a sale; true when it moved. */
  async step(saleId: string, signal: AbortSignal): Promise<boolean> {
    const { store, chain, log } = this.#c;
    const s = store.getSale(saleId);
    if (!s || !["quoted", "opened", "revealed", "disputed"].includes(s.status)) return false;
    const client = chain.client;
    const tx = (action: SubscriptionTx["action"], hash: Hex): SubscriptionTx => ({ action, hash });
    const events = this.saleEvents(s.saleId);
    if (events.refunded && s.status !== "quoted") {
      this.#set(s, { status: "refunded", error: REFUND_REASONS[events.refunded.reason] });
      return false;
    }
    if (events.completed && (s.status === "revealed" || s.status === "disputed")) {
      this.#set(s, { status: "complete", error: s.status === "disputed" ? s.error ?? null : null });
      return false;
    }
    switch (s.status) {
      case "quoted": {
        if (events.opened) {
          this.#set(s, { status: "opened", sale: events.opened.sale });
          return true;
        }
        if (await getChainTime(client) > s.quote.deadline) {
          this.#set(s, { status: "failed", error: "the quote expired before the sale was opened" });
          return false;
        }
        const opened = await chain.exclusive(() =>
          openSale(client, { quote: s.quote, signature: s.signature, signal })
        );
        this.#set(s, { status: "opened", sale: opened.sale, tx: tx("open", opened.hash) });
        return true;
      }
      case "opened": {
        if (events.revealed) return this.#takeKeys(s, events.revealed.kSale, events.revealed.disputeDeadline);
        if (await getChainTime(client) > BigInt(s.sale!.revealDeadline)) {
          const r = await chain.exclusive(() =>
            refundSale(client, { saleId: s.saleId, sale: s.sale!, signal })
          );
          this.#set(s, {
            status: "refunded",
            error: REFUND_REASONS["not-revealed"],
            tx: tx("refund", r.hash),
          });
        }
        return false;
      }
      case "revealed": {
        if (events.disputed) {
          this.#set(s, { status: "disputed", sale: { ...s.sale!, disputedAt: events.disputed.disputedAt } });
          return true;
        }
        const verdict = this.#checkKeys(s);
        if (verdict.mismatch !== undefined) return await this.#dispute(s, verdict.mismatch, signal);
        const now = await getChainTime(client);
        const lastChance = BigInt(s.sale!.disputeDeadline) - BigInt(this.#c.disputeMargin);
        if (!verdict.all && now < lastChance) return false;
        if (now > BigInt(s.sale!.disputeDeadline)) return false; // the gateway finalizes it
        const r = await chain.exclusive(() =>
          confirmSale(client, { saleId: s.saleId, sale: s.sale!, signal })
        );
        log.info("confirmed a subscription's keys", {
          trace: s.subscriptionId,
          epochs: `${s.first}..${s.last}`,
          checked: verdict.checked,
        });
        this.#set(s, { status: "complete", error: null, tx: tx("confirm", r.hash) });
        return false;
      }
      case "disputed":
        return false; // the arbiter's ruling (Refunded or Completed) ends it, above
    }
    return false;
  }

  /**
   * Opens `Z` with the revealed `kSale`: one key per epoch of the span, checked together against the
   * quote's commitment; right keys are stored (`revealed`), a wrong set is complained about.
   */
  async #takeKeys(s: SubscriptionSaleRecord, kSale: Hex, disputeDeadline: number): Promise<boolean> {
    const { store, chain, log } = this.#c;
    const sale = { ...s.sale!, disputeDeadline };
    const keys = decodeSaleKeys(s.z, kSale);
    const count = s.last - s.first + 1;
    if (keys.length === count && computeDekCommit(keys) === s.quote.dekCommit) {
      const sub = store.getSubscription(s.subscriptionId)!;
      this.#set(s, { sale });
      store.putKeys(store.getSale(s.saleId)!, sub.streamId, keys.map((k) => hexToBytes(k)), kSale);
      log.info("received a subscription's keys", {
        trace: s.subscriptionId,
        epochs: `${s.first}..${s.last}`,
      });
      this.#c.onKeys?.(s.subscriptionId);
      return true;
    }
    log.warn("found the revealed keys wrong; complaining", { trace: s.subscriptionId });
    const r = await chain.exclusive(() =>
      complainSale(chain.client, { saleId: s.saleId, sale, kSale, z: s.z })
    );
    this.#set(s, {
      status: "refunded",
      sale,
      kSale,
      error: REFUND_REASONS["wrong-key"],
      tx: { action: "complain", hash: r.hash },
    });
    return false;
  }

  /**
   * Compares each held key of the sale with its epoch's signed commitment, as far as they are known:
   * the first mismatch, or whether every key is checked.
   */
  #checkKeys(s: SubscriptionSaleRecord): { mismatch?: number; all: boolean; checked: number } {
    const { store } = this.#c;
    const sub = store.getSubscription(s.subscriptionId)!;
    let checked = 0;
    for (const held of store.listSaleKeys(s.saleId)) {
      if (held.check === "ok") {
        checked++;
        continue;
      }
      if (held.check === "mismatch") return { mismatch: held.epoch, all: false, checked };
      const commit = this.#c.commitOf(sub.streamId, held.epoch);
      if (!commit) continue;
      const ok = keccak256(held.key).toLowerCase() === commit.toLowerCase();
      store.setKeyCheck(held.subscriptionId, held.epoch, ok ? "ok" : "mismatch");
      if (!ok) return { mismatch: held.epoch, all: false, checked };
      checked++;
    }
    return { all: checked === s.last - s.first + 1, checked };
  }

  /** A key differs from the gateway's own commitment: evidence stored first, then its hash disputed. */
  async #dispute(s: SubscriptionSaleRecord, epoch: number, signal: AbortSignal): Promise<boolean> {
    const { store, chain, log } = this.#c;
    const sub = store.getSubscription(s.subscriptionId)!;
    const message = `the key of epoch ${epoch} does not match the gateway's signed commitment`;
    const evidence = s.evidence ?? JSON.stringify({
      v: 1,
      saleId: s.saleId,
      streamId: sub.streamId,
      epoch,
      expected: this.#c.commitOf(sub.streamId, epoch),
      first: s.first,
      z: s.z,
      kSale: s.kSale,
    });
    if (!s.evidence) this.#set(s, { evidence });
    store.setSubscriptionError(s.subscriptionId, message);
    log.warn("found a subscription's key wrong; disputing", { trace: s.subscriptionId, epoch });
    const r = await chain.exclusive(() =>
      disputeSale(chain.client, {
        saleId: s.saleId,
        sale: s.sale!,
        evidenceHash: keccak256(toBytes(evidence)),
        signal,
      })
    );
    this.#set(s, {
      status: "disputed",
      sale: r.sale,
      error: message,
      tx: { action: "dispute", hash: r.hash },
    });
    return true;
  }

  #set(s: SubscriptionSaleRecord, update: Parameters<SubscriptionStore["updateSale"]>[1]): void {
    const before = s.status;
    const after = this.#c.store.updateSale(s.saleId, update);
    if (update.status && update.status !== before) {
      this.#c.log.info(`moved subscription sale to ${update.status}`, {
        trace: s.subscriptionId,
        epochs: `${s.first}..${s.last}`,
        ...(after.error && update.error !== null && { reason: after.error }),
        ...(update.tx && { tx: update.tx.hash }),
      });
    }
  }
}
