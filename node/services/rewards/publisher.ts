/**
 * The mining publisher: on the node whose wallet is `KosmosMining`'s distributor, after each epoch
 * ends (by the chain's clock, checked on every new block) it splits the epoch's reward among the
 * contributors of the pool versions sold in that epoch (`epochLeaves`, the same derivation every
 * contributor checks) and publishes it with `publishEpoch`. Durable: every epoch it dealt with is a
 * row of `rewards_published` (published, or empty when no rows were sold: nothing is sent then), so a
 * restart catches up on every ended epoch not dealt with, in order, and an epoch already published
 * on chain (a lost answer) is recorded from its `EpochPublished` event, never sent twice.
 */
import { buildDistribution, epochLeaves } from "../../../protocol/rewards.ts";
import type { Logger } from "../../log.ts";
import { type ChainService, getEpochReward, publishEpoch } from "../chain/mod.ts";
import type { Identity } from "../identity/mod.ts";
import { epochSales } from "./derive.ts";
import { endedEpochs, type MiningSchedule } from "./schedule.ts";
import type { RewardsStore } from "./store.ts";

export interface MiningPublisherComponents {
  chain: ChainService;
  identity: Identity;
  log: Logger;
  store: RewardsStore;
  /** Reads new events; resolves with the block read to. */
  sync(options: { signal?: AbortSignal }): Promise<bigint>;
  schedule(): Promise<MiningSchedule>;
}

/** Most epochs one round deals with, so a long-idle chain catches up in steps without holding the wallet. */
const EPOCHS_PER_ROUND = 64;

export class MiningPublisher {
  readonly #c: MiningPublisherComponents;
  #controller?: AbortController;
  #running?: Promise<void>;
  #again = false;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(components: MiningPublisherComponents) {
    this.#c = components;
  }

  /** Checks now and on every block the chain's indexer reads. */
  start(): Promise<void> {
    this.#controller = new AbortController();
    this.#c.chain.indexer.addEventListener("indexed", this.#onBlock);
    this.#onBlock();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    if (!this.#controller) return;
    this.#c.chain.indexer.removeEventListener("indexed", this.#onBlock);
    this.#controller.abort();
    this.#controller = undefined;
    await this.#running;
    await this.#queue.catch(() => {});
    this.#running = undefined;
  }

  /** Runs a round now, or once more after the one running. */
  #onBlock = () => {
    if (this.#running) {
      this.#again = true;
      return;
    }
    const signal = this.#controller?.signal;
    if (!signal || signal.aborted) return;
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.publishEnded({ signal });
        } catch (err) {
          if (signal.aborted) return;
          this.#c.log.warn("failed to publish mining epochs", { error: (err as Error).message });
        }
      } while (this.#again && !signal.aborted);
    })().finally(() => (this.#running = undefined));
  };

  /**
   * Deals with every ended epoch not recorded yet, in order, when this wallet is the distributor;
   * resolves with the epochs it recorded this round.
   */
  publishEnded(options: { signal?: AbortSignal } = {}): Promise<number[]> {
    // One round at a time: two rounds would both find an epoch unrecorded.
    const run = this.#queue.catch(() => {}).then(() => this.#publishEnded(options));
    this.#queue = run;
    return run;
  }

  async #publishEnded(options: { signal?: AbortSignal }): Promise<number[]> {
    const { store, log, chain } = this.#c;
    const schedule = await this.#c.schedule();
    if (schedule.distributor.toLowerCase() !== this.#c.identity.account.address.toLowerCase()) return [];
    const head = await this.#c.sync(options);
    const client = chain.client;
    const now = (await client.publicClient.getBlock({ blockNumber: head })).timestamp;
    const ended = endedEpochs(schedule, now);
    const recorded: number[] = [];
    const onChainEpochs = new Map(store.listEpochs().map((e) => [e.epoch, e]));
    for (let epoch = store.nextUnrecordedEpoch(); epoch < ended; epoch++) {
      if (recorded.length >= EPOCHS_PER_ROUND) break;
      options.signal?.throwIfAborted();
      const onChain = onChainEpochs.get(epoch);
      if (onChain) {
        store.putPublished({
          epoch,
          distributionId: onChain.distributionId,
          total: onChain.total,
          txHash: null,
        });
        recorded.push(epoch);
        continue;
      }
      const sales = epochSales(store, schedule, epoch);
      const reward = sales.length > 0 ? await getEpochReward(client, BigInt(epoch)) : 0n;
      const { total, leaves } = epochLeaves({ reward, sales });
      if (total === 0n) {
        store.putPublished({ epoch, distributionId: null, total: 0n, txHash: null });
        log.debug("recorded an empty mining epoch", { epoch });
        recorded.push(epoch);
        continue;
      }
      const { root } = buildDistribution(leaves);
      const sent = await chain.exclusive(() =>
        publishEpoch(client, { epoch: BigInt(epoch), root, total, signal: options.signal })
      );
      store.putPublished({ epoch, distributionId: sent.distributionId, total, txHash: sent.txHash });
      log.info("published a mining epoch", {
        epoch,
        distributionId: sent.distributionId.toString(),
        total: total.toString(),
        contributors: leaves.length,
      });
      recorded.push(epoch);
    }
    return recorded;
  }
}
