/**
 * Paying a pool version's contributors for each sale. When the escrow's `Completed` event of a sale of a
 * version this node registered is indexed (its listing from the sale's `Opened`), a pending row goes into
 * `pool_distributions`; each pending row is then settled one at a time: the leaves are
 * `poolSaleLeaves({ toSeller, feeBps, contributors, rows })` (`protocol/rewards.ts`, what anyone can
 * recompute from chain events), the escrow balance is withdrawn when the wallet holds less than the
 * total, and `KosmosPools.distributeSale(saleId, listingId, toSeller, root, total)` (approving the pools contract first) creates
 * the rewards distribution. A failure leaves the row pending (retried by the timer and on start); a
 * restart also finds completed sales of its versions that the table lacks.
 *
 * ```ts
 * const d = new Distributions(x);
 * d.onIndexed(detail); // from the chain's "indexed" events
 * await d.settlePending();
 * ```
 */
import type { Hex } from "viem";
import { buildDistribution, poolSaleLeaves } from "../../../protocol/rewards.ts";
import type { Logger } from "../../log.ts";
import {
  type ChainService,
  distributeSale,
  getPool,
  getSaleDistribution,
  getTokenBalance,
  type IndexedDetail,
  type IndexedEvent,
  withdrawPayouts,
} from "../chain/mod.ts";
import type { DistributionRecord, PoolStore } from "./store.ts";

export interface DistributionsContext {
  store: PoolStore;
  chain: ChainService;
  log: Logger;
}

export class Distributions {
  readonly #x: DistributionsContext;
  #running?: Promise<void>;
  #again = false;

  constructor(x: DistributionsContext) {
    this.#x = x;
  }

  /** Records the completed sales of this node's versions among `detail.events`, then settles. */
  onIndexed(detail: IndexedDetail): void {
    let added = false;
    for (const e of detail.events) {
      if (e.contract === "escrow" && e.name === "Completed" && this.#record(e)) added = true;
    }
    if (added) void this.settlePending();
  }

  /** Finds completed sales of this node's versions that the table lacks (after a restart). */
  catchUp(listingIds: readonly bigint[]): void {
    const indexer = this.#x.chain.indexer;
    for (const listingId of listingIds) {
      for (
        const opened of indexer.listEvents({
          contract: "escrow",
          name: "Opened",
          listingId: listingId.toString(),
        })
      ) {
        if (!opened.saleId) continue;
        const [completed] = indexer.listEvents({
          contract: "escrow",
          name: "Completed",
          saleId: opened.saleId,
        });
        if (completed) this.#record(completed, listingId);
      }
    }
  }

  /** Settles every pending distribution, one at a time; a second call while running runs once more after. */
  settlePending(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        for (const d of this.#x.store.listDistributions({ status: "pending" })) {
          if (options.signal?.aborted) return;
          await this.#settle(d, options.signal).catch((err) => {
            this.#x.store.failDistribution(d.saleId, (err as Error).message);
            this.#x.log.warn("failed to distribute a pool sale", {
              saleId: d.saleId.slice(0, 18),
              error: err,
            });
          });
        }
      } while (this.#again);
    })().finally(() => this.#running = undefined);
    return this.#running;
  }

  /** Resolves when the settling under way has ended. */
  async settled(): Promise<void> {
    await this.#running?.catch(() => {});
  }

  #record(completed: IndexedEvent, knownListing?: bigint): boolean {
    const saleId = completed.saleId;
    if (!saleId) return false;
    let listingId = knownListing;
    if (listingId === undefined) {
      const [opened] = this.#x.chain.indexer.listEvents({ contract: "escrow", name: "Opened", saleId });
      if (!opened?.listingId) return false;
      listingId = BigInt(opened.listingId);
    }
    if (!this.#x.store.getVersion(listingId)) return false;
    const toSeller = BigInt(String(completed.args.toSeller ?? "0"));
    const added = this.#x.store.addDistribution(saleId, listingId, toSeller);
    if (added) {
      this.#x.log.info("recorded a pool sale to distribute", {
        saleId: saleId.slice(0, 18),
        listingId: listingId.toString(),
        toSeller: toSeller.toString(),
      });
    }
    return added;
  }

  async #settle(d: DistributionRecord, signal?: AbortSignal): Promise<void> {
    const { store, chain, log } = this.#x;
    const version = store.getVersion(d.listingId);
    if (!version) throw new Error(`No version with listing ${d.listingId}`);
    const client = chain.client;
    const pool = await getPool(client, BigInt(version.poolId));
    if (!pool) throw new Error(`No pool ${version.poolId} on chain`);
    const { total, fee, leaves } = poolSaleLeaves({
      toSeller: d.toSeller,
      feeBps: Number(pool.feeBps),
      contributors: version.contributors.map((c) => c.address),
      rows: version.contributors.map((c) => BigInt(c.rows)),
    });
    if (total === 0n || leaves.length === 0) {
      store.finishDistribution(d.saleId, { status: "empty" });
      log.info("left a pool sale undistributed: nothing for contributors", { saleId: d.saleId.slice(0, 18) });
      return;
    }
    // Sent before and mined, but not recorded here (a restart in between): record it, send nothing.
    const earlier = await getSaleDistribution(client, d.saleId as Hex);
    if (earlier !== undefined) {
      store.finishDistribution(d.saleId, { status: "distributed", distributionId: earlier });
      return;
    }
    const { root } = buildDistribution(leaves);
    const sent = await chain.exclusive(async () => {
      signal?.throwIfAborted();
      // The seller share sits in the escrow until withdrawn; `distributeSale` pulls it from the wallet.
      if ((await getTokenBalance(client)) < total) await withdrawPayouts(client, { signal });
      return await distributeSale(client, {
        saleId: d.saleId as Hex,
        listingId: d.listingId,
        toSeller: d.toSeller,
        root,
        total,
        signal,
      });
    });
    store.finishDistribution(d.saleId, {
      status: "distributed",
      distributionId: sent.distributionId,
      txHash: sent.txHash,
    });
    log.info("distributed a pool sale", {
      saleId: d.saleId.slice(0, 18),
      distributionId: sent.distributionId.toString(),
      total: total.toString(),
      fee: fee.toString(),
      contributors: leaves.length,
    });
  }
}
