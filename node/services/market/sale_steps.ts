/**
 * The seller's state machine, persisted in SQLite: an opened sale is revealed,
 * then finalized after the dispute window when the buyer never confirms; a
 * dispute nobody rules on in time is expired (the sale completes for the
 * seller).
 *
 * ```ts
 * const sales = new SaleSteps(x);
 * while (await sales.step(saleId));
 * ```
 */
import { kosmosEscrowAbi } from "../../../protocol/contracts_generated.ts";
import { expireSaleDispute, finalizeSale, revealKey } from "../chain/mod.ts";
import type { MarketComponents, MarketContext } from "./context.ts";
import type { MarketStore } from "./store.ts";

export class SaleSteps {
  readonly #x: MarketContext;
  #arbitrationWindow?: Promise<number>;

  constructor(x: MarketContext) {
    this.#x = x;
  }

  get #c(): MarketComponents {
    return this.#x.c;
  }

  get #db(): MarketStore {
    return this.#x.store;
  }

  /** One step of a sale; true when it moved. */
  async step(saleId: string): Promise<boolean> {
    const s = this.#db.getSale(saleId);
    if (!s || !["quoted", "opened", "revealed", "disputed"].includes(s.status)) return false;
    const client = this.#c.chain.client;
    const events = this.#x.saleEvents(s.saleId);
    if (events.refunded) {
      const why = {
        "not-revealed": "not revealed in time",
        "wrong-key": "the buyer complained",
        "bad-data": "the arbiter found the data bad",
      }[events.refunded.reason];
      this.#x.setSale(saleId, { status: "refunded", error: why });
      return false;
    }
    if (events.completed) {
      this.#x.setSale(saleId, { status: "complete" });
      return false;
    }
    const now = await this.#x.chainNow();
    switch (s.status) {
      case "quoted": {
        // Written by an older version, before quotes were kept in memory.
        if (events.opened) {
          this.#x.setSale(saleId, { status: "opened", sale: events.opened.sale });
          return true;
        }
        if (now > s.quote.deadline) {
          this.#x.setSale(saleId, { status: "failed", error: "the quote expired unopened" });
        }
        return false;
      }
      case "opened": {
        if (events.revealed) {
          this.#x.setSale(saleId, {
            status: "revealed",
            sale: { ...s.sale!, disputeDeadline: events.revealed.disputeDeadline },
          });
          return true;
        }
        if (now > BigInt(s.sale!.revealDeadline)) return false;
        const r = await this.#x.send((signal) =>
          revealKey(client, { saleId: s.saleId, sale: s.sale!, kSale: s.kSale, signal })
        );
        this.#x.setSale(saleId, { status: "revealed", sale: r.sale, tx: { action: "reveal", hash: r.hash } });
        return true;
      }
      case "revealed": {
        if (events.disputed) {
          this.#x.setSale(saleId, {
            status: "disputed",
            sale: { ...s.sale!, disputedAt: events.disputed.disputedAt },
            error: "the buyer disputed the data; awaiting the arbiter",
          });
          return true;
        }
        if (now <= BigInt(s.sale!.disputeDeadline)) return false;
        const r = await this.#x.send((signal) =>
          finalizeSale(client, { saleId: s.saleId, sale: s.sale!, signal })
        );
        this.#x.setSale(saleId, { status: "complete", tx: { action: "finalize", hash: r.hash } });
        return false;
      }
      case "disputed": {
        // Without a ruling in time the sale completes for the seller; anyone may end it, so this node does.
        const window = await this.#getArbitrationWindow();
        if (now <= BigInt(s.sale!.disputedAt) + BigInt(window)) return false;
        const r = await this.#x.send((signal) =>
          expireSaleDispute(client, { saleId: s.saleId, sale: s.sale!, signal })
        );
        this.#x.setSale(saleId, {
          status: "complete",
          error: "the arbiter did not rule in time",
          tx: { action: "finalize", hash: r.hash },
        });
        return false;
      }
    }
    return false;
  }

  /** The escrow's arbitration window in seconds (read once). */
  #getArbitrationWindow(): Promise<number> {
    if (!this.#arbitrationWindow) {
      const client = this.#c.chain.client;
      const read = client.publicClient.readContract({
        address: client.contracts.escrow,
        abi: kosmosEscrowAbi,
        functionName: "arbitrationWindow",
      }).then(Number);
      read.catch(() => {
        if (this.#arbitrationWindow === read) this.#arbitrationWindow = undefined;
      });
      this.#arbitrationWindow = read;
    }
    return this.#arbitrationWindow;
  }
}
