/**
 * What every part of the market shares: its components, its resolved
 * settings, the store, the abort signal of a run, and the few steps each role
 * takes the same way (send a transaction, read the chain's time, record a
 * state change and announce it).
 *
 * ```ts
 * const x = new MarketContext(components, resolveMarketInit(init), market);
 * x.open(); // at start: the store, a fresh abort controller
 * x.setPurchase(id, { status: "opened" }); // logs the move, dispatches `purchase`
 * ```
 */
import type { Hex } from "viem";
import type { Database } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import {
  type ChainService,
  collectReceipts,
  foldSaleEvents,
  getChainTime,
  type SaleEvents,
} from "../chain/mod.ts";
import type { Catalog } from "../catalog/mod.ts";
import type { Datasets } from "../datasets/mod.ts";
import type { BlockStore } from "../blocks/mod.ts";
import type { Transfer } from "../transfer/mod.ts";
import type { Fetches } from "../fetches/mod.ts";
import type { DelegatedKey } from "../delegation/mod.ts";
import type { Logger } from "../../log.ts";
import { second } from "../../constants.ts";
import { MarketStore, type PurchaseRecord, type SaleRecord } from "./store.ts";

export interface MarketComponents {
  db: Database;
  identity: Identity;
  p2p: P2P;
  chain: ChainService;
  catalog: Catalog;
  datasets: Datasets;
  blocks: BlockStore;
  transfer: Transfer;
  fetches: Fetches;
  log: Logger;
  /** Listings this node sells for their owners (`../delegation/mod.ts`). @default none */
  delegation?: { getDelegatedKey(manifestCid: string): DelegatedKey | undefined };
}

export interface MarketInit {
  /** Seconds a quote stays valid (chain time). @default 600 */
  quoteTtl?: number;
  /** A quote must stay valid at least this many seconds after it arrives. @default 30 */
  minQuoteTime?: number;
  /** ms one quote exchange may take. @default 10 s */
  quoteTimeout?: number;
  /** ms between checks of unfinished purchases and sales besides new blocks. @default 5 s */
  tickInterval?: number;
  /** Quote requests one peer, and separately one buyer address, may make at once. @default 10 */
  quoteBurst?: number;
  /** Quote requests per minute one peer (and one buyer address) regains, up to `quoteBurst`. @default 6 */
  quotesPerMinute?: number;
  /** Quotes not (yet) opened kept in memory at most; requests beyond are refused "rate-limited". @default 1024 */
  maxOpenQuotes?: number;
  /**
   * Seconds (chain time) before the dispute deadline at which a buyer whose
   * data still cannot be fetched disputes it as bad data. @default 3600
   */
  disputeMargin?: number;
  /**
   * Start downloading the ciphertext as soon as the sale is opened, while the
   * seller reveals (it is public and checked by CID; a sale that is refunded
   * leaves it in the block store). Off: the download starts after the reveal.
   * @default true
   */
  downloadBeforeReveal?: boolean;
}

/** {@link MarketInit} with every default applied. */
export type ResolvedMarketInit = Required<MarketInit>;

/** Applies the defaults and checks the settings; throws a `RangeError`. */
export function resolveMarketInit(init: MarketInit = {}): ResolvedMarketInit {
  const resolved = {
    quoteTtl: init.quoteTtl ?? 600,
    minQuoteTime: init.minQuoteTime ?? 30,
    quoteTimeout: init.quoteTimeout ?? 10 * second,
    tickInterval: init.tickInterval ?? 5 * second,
    quoteBurst: init.quoteBurst ?? 10,
    quotesPerMinute: init.quotesPerMinute ?? 6,
    maxOpenQuotes: init.maxOpenQuotes ?? 1024,
    disputeMargin: init.disputeMargin ?? 3600,
    downloadBeforeReveal: init.downloadBeforeReveal ?? true,
  };
  if (!Number.isSafeInteger(resolved.maxOpenQuotes) || resolved.maxOpenQuotes < 1) {
    throw new RangeError(`Invalid maxOpenQuotes ${resolved.maxOpenQuotes}: expected a positive integer`);
  }
  if (!(resolved.disputeMargin >= 0)) {
    throw new RangeError(`Invalid disputeMargin ${resolved.disputeMargin}: expected seconds ≥ 0`);
  }
  return resolved;
}

export class MarketContext {
  readonly c: MarketComponents;
  readonly init: ResolvedMarketInit;
  /** The market itself: `purchase` and `sale` events are dispatched on it. */
  readonly events: EventTarget;
  /** Aborted when the market stops; a new one per start. */
  controller?: AbortController;
  #store?: MarketStore;
  /** The chain's time, read at most once per new block (and per second). */
  #now?: { at: number; value: Promise<bigint> };
  /** What the transactions `send` mined cost, by hash, until their state change records it. */
  #costs = new Map<Hex, { gasUsed: string; effectiveGasPrice: string }>();

  constructor(components: MarketComponents, init: ResolvedMarketInit, events: EventTarget) {
    this.c = components;
    this.init = init;
    this.events = events;
  }

  get store(): MarketStore {
    if (!this.#store) throw new Error("Cannot use the market before start()");
    return this.#store;
  }

  /** Opens the store (once) and starts a run with a fresh abort signal. */
  open(): void {
    this.#store ??= new MarketStore(this.c.db);
    this.controller = new AbortController();
  }

  /** A new block was indexed: the chain's time is read again. */
  newBlock(): void {
    this.#now = undefined;
  }

  emit(type: "purchase", detail: PurchaseRecord): void;
  emit(type: "sale", detail: SaleRecord): void;
  emit(type: "purchase" | "sale", detail: PurchaseRecord | SaleRecord): void {
    this.events.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** The latest block's timestamp, read once per new block (at most once a second otherwise). */
  chainNow(): Promise<bigint> {
    const now = performance.now();
    if (!this.#now || now - this.#now.at > second) {
      const value = getChainTime(this.c.chain.client);
      const entry = { at: now, value };
      value.catch(() => {
        if (this.#now === entry) this.#now = undefined;
      });
      this.#now = entry;
    }
    return this.#now.value;
  }

  /** What the chain indexer has stored about a sale (no chain call). */
  saleEvents(saleId: Hex): SaleEvents {
    const events = this.c.chain.indexer.listEvents({ contract: "escrow", saleId, limit: 100 });
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

  setPurchase(id: string, update: Parameters<MarketStore["updatePurchase"]>[1]): PurchaseRecord {
    if (update.tx) update = { ...update, tx: { ...update.tx, ...this.#takeCost(update.tx.hash) } };
    const before = this.store.getPurchase(id);
    const p = this.store.updatePurchase(id, update);
    if (update.status && before?.status !== update.status) {
      this.c.log.info(`moved purchase to ${update.status}`, {
        trace: id,
        manifestCid: p.manifestCid,
        ...(p.error && update.error !== null && { reason: p.error }),
        ...(update.tx && { tx: update.tx.hash }),
      });
    }
    this.emit("purchase", p);
    return p;
  }

  setSale(saleId: string, update: Parameters<MarketStore["updateSale"]>[1]): SaleRecord {
    if (update.tx) update = { ...update, tx: { ...update.tx, ...this.#takeCost(update.tx.hash) } };
    const before = this.store.getSale(saleId);
    const s = this.store.updateSale(saleId, update);
    if (update.status && before?.status !== update.status) {
      this.c.log.info(`moved sale to ${update.status}`, {
        trace: saleId.slice(0, 18),
        manifestCid: s.manifestCid,
        ...(update.tx && { tx: update.tx.hash }),
      });
    }
    this.emit("sale", s);
    return s;
  }

  /**
   * Sends a transaction from this node's wallet, one at a time, and keeps what
   * it cost (its receipt's `gasUsed` and `effectiveGasPrice`) for the state
   * change that records its hash.
   */
  send<T extends { hash: Hex }>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = this.controller!.signal;
    return this.c.chain.exclusive(async () => {
      signal.throwIfAborted();
      const { result, receipts } = await collectReceipts(() => fn(signal));
      for (const r of receipts) {
        this.#costs.set(r.transactionHash, {
          gasUsed: r.gasUsed.toString(),
          effectiveGasPrice: r.effectiveGasPrice.toString(),
        });
      }
      while (this.#costs.size > 256) this.#costs.delete(this.#costs.keys().next().value!);
      return result;
    });
  }

  #takeCost(hash: Hex): { gasUsed?: string; effectiveGasPrice?: string } {
    const cost = this.#costs.get(hash);
    this.#costs.delete(hash);
    return cost ?? {};
  }
}
