/**
 * The runner of persisted sale state: follows the escrow through the chain
 * indexer's one event stream and a timer, and drives every unfinished
 * purchase and sale one step at a time (one runner per purchase or sale,
 * re-run when kicked meanwhile). Deadlines are measured by the latest block's
 * timestamp and checked whenever the indexer sees a new block.
 *
 * ```ts
 * const runner = new Runner(x, { seller, purchases, sales });
 * runner.start(); // subscribes to the indexer, ticks, resumes
 * ```
 */
import type { IndexedDetail } from "../chain/mod.ts";
import { second } from "../../constants.ts";
import type { MarketComponents, MarketContext, ResolvedMarketInit } from "./context.ts";
import type { MarketStore } from "./store.ts";
import type { Seller } from "./seller.ts";

/** How long after opening a sale the buyer watches the chain closely for the reveal (ms). */
const CLOSE_WATCH_MS = 30 * second;

/** A state machine that moves one purchase or sale a step; true when it moved. */
export interface Steps {
  step(id: string): Promise<boolean>;
}

export class Runner {
  readonly #x: MarketContext;
  readonly #seller: Pick<Seller, "onOpened" | "dropExpiredQuotes">;
  readonly #purchases: Steps;
  readonly #sales: Steps;
  #timer?: ReturnType<typeof setInterval>;
  #closeWatch?: ReturnType<typeof setInterval>;
  #running = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(
    x: MarketContext,
    parts: { seller: Pick<Seller, "onOpened" | "dropExpiredQuotes">; purchases: Steps; sales: Steps },
  ) {
    this.#x = x;
    this.#seller = parts.seller;
    this.#purchases = parts.purchases;
    this.#sales = parts.sales;
  }

  get #c(): MarketComponents {
    return this.#x.c;
  }

  get #init(): ResolvedMarketInit {
    return this.#x.init;
  }

  get #db(): MarketStore {
    return this.#x.store;
  }

  /** Subscribes to the escrow's events and starts the timer (with a chain). */
  start(): void {
    if (this.#c.chain.contracts) {
      this.#c.chain.indexer.addEventListener("indexed", this.#onIndexed);
      this.#timer = setInterval(() => this.tick(), this.#init.tickInterval);
      this.tick();
    }
  }

  /** Stops the timers (before the market's signal is aborted). */
  halt(): void {
    clearInterval(this.#timer);
    this.watchClosely(false);
    this.#timer = undefined;
  }

  /** Drops the subscription to the indexer. */
  unsubscribe(): void {
    try {
      if (this.#c.chain.contracts) this.#c.chain.indexer.removeEventListener("indexed", this.#onIndexed);
    } catch { /* chain already stopped */ }
  }

  /** Resolves when every running step has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }

  /** The one subscription to the escrow: the indexer's batches of new events. */
  #onIndexed = (evt: Event) => {
    const { events } = (evt as CustomEvent<IndexedDetail>).detail;
    this.#x.newBlock(); // a new block: read the chain's time again
    for (const e of events) {
      if (e.contract !== "escrow" || e.name !== "Opened" || !e.saleId) continue;
      try {
        this.#seller.onOpened(e);
      } catch (err) {
        this.#c.log.warn("failed to record an opened sale", { trace: e.saleId.slice(0, 18), error: err });
      }
    }
    this.#seller.dropExpiredQuotes();
    this.tick();
  };

  tick(): void {
    if (!this.#x.controller || this.#x.controller.signal.aborted) return;
    let awaitingReveal = false;
    for (const p of this.#db.listPurchases({ unfinished: true })) {
      if (p.status === "opened" && Date.now() - p.updatedAt < CLOSE_WATCH_MS) awaitingReveal = true;
      if (p.status !== "downloading") this.kickPurchase(p.id);
      else if (!this.#running.has(`p:${p.id}`)) this.kickPurchase(p.id);
    }
    for (const s of this.#db.listSales({ unfinished: true })) this.kickSale(s.saleId);
    this.watchClosely(awaitingReveal);
  }

  /**
   * While this node's own purchase waits for the seller's reveal (its first
   * moments), asks the indexer for new blocks every 100 ms instead of at its
   * usual pace: one cheap call, whatever the number of purchases.
   */
  watchClosely(on: boolean): void {
    if (on && !this.#closeWatch) {
      this.#closeWatch = setInterval(() => {
        this.#c.chain.indexer.sync().catch(() => {});
      }, 100);
    } else if (!on && this.#closeWatch) {
      clearInterval(this.#closeWatch);
      this.#closeWatch = undefined;
    }
  }

  kickPurchase(id: string): void {
    this.#kick(`p:${id}`, () => this.#purchases.step(id));
  }

  kickSale(saleId: string): void {
    this.#kick(`s:${saleId}`, () => this.#sales.step(saleId));
  }

  /** Runs `step` until it reports no progress; one runner per key, re-run when kicked meanwhile. */
  #kick(key: string, step: () => Promise<boolean>): void {
    const running = this.#running.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        while (this.#x.controller && !this.#x.controller.signal.aborted) {
          entry.again = false;
          let progressed = false;
          try {
            progressed = await step();
          } catch (err) {
            if (this.#x.controller?.signal.aborted) break;
            this.#c.log.warn("failed a sale step; will retry", { trace: key.slice(2, 20), error: err });
          }
          if (!progressed && !entry.again) break;
        }
      } finally {
        this.#running.delete(key);
      }
    })();
    this.#running.set(key, entry);
  }
}
