/**
 * The rewards service's class: reads the events (`scan.ts`), derives this wallet's earnings
 * (`derive.ts`), claims them one transaction per distribution (idempotent: a claim already made
 * answers with the earlier one and sends nothing; claims run one at a time, so a double request
 * sends one transaction), and runs the mining publisher when this wallet is the mining contract's
 * distributor (`publisher.ts`). See `mod.ts`.
 */
import { type Address, type Hex } from "viem";
import { KosmosError, NotFoundError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import {
  type ChainService,
  claimReward,
  estimateCallFee,
  estimateFeesPerGas,
  type FeeEstimate,
  getClaimRewardCall,
  getMiningSchedule,
  isRewardClaimed,
  type KosmosClient,
  toFeeEstimate,
} from "../chain/mod.ts";
import type { Database } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import { deriveEarnings, type Earning, type EpochClock } from "./derive.ts";
import { MiningPublisher } from "./publisher.ts";
import { type MiningSchedule, readMiningState } from "./schedule.ts";
import { describeContracts, scanRewardEvents } from "./scan.ts";
import { compare, type EpochRow, RewardsStore } from "./store.ts";

export interface RewardsComponents {
  db: Database;
  chain: ChainService;
  identity: Identity;
  log: Logger;
}

export interface RewardsInit {
  /** Whether this node publishes mining epochs when its wallet is the distributor. @default true */
  publisher?: boolean;
}

type Options = { signal?: AbortSignal };

/** A distribution whose root or total the chain's events do not imply: it is never claimed. */
export class RewardUnverifiableError extends KosmosError {
  override name = "RewardUnverifiableError";
}

/** One claim: sent now, or made earlier (`txHash` null when made elsewhere and not yet found). */
export interface RewardClaim {
  distributionId: bigint;
  amount: bigint;
  txHash: Hex | null;
}

/** The mining schedule and where it stands now. */
export interface MiningStatus extends MiningSchedule {
  /** The epoch the chain's clock is in; `null` before `start`. */
  currentEpoch: number | null;
  /** Reward of the current epoch (of epoch 0 before `start`). */
  currentReward: bigint;
  /** Unix seconds when the current epoch (or the schedule, before `start`) ends. */
  epochEndsAt: number;
  nextHalvingEpoch: number;
  /** Unix seconds. */
  nextHalvingAt: number;
  /** Allocation minus every epoch published. */
  allocationLeft: bigint;
  /** Whether this node's wallet publishes the epochs. */
  isDistributor: boolean;
}

export class Rewards {
  readonly #c: RewardsComponents;
  readonly #store: RewardsStore;
  readonly #publisher?: MiningPublisher;
  #opened = "";
  #schedule?: Promise<MiningSchedule>;
  #syncing?: Promise<bigint>;
  #claims: Promise<unknown> = Promise.resolve();

  constructor(components: RewardsComponents, init: RewardsInit = {}) {
    this.#c = components;
    this.#store = new RewardsStore(components.db);
    if (init.publisher ?? true) {
      this.#publisher = new MiningPublisher({
        ...components,
        store: this.#store,
        sync: (o) => this.sync(o),
        schedule: () => this.#readSchedule(),
      });
    }
  }

  /** Starts the mining publisher (it checks on every new block whether this wallet distributes). */
  async start(): Promise<void> {
    if (!this.#c.chain.contracts?.mining) return;
    this.#open();
    await this.#publisher?.start();
  }

  async stop(): Promise<void> {
    await this.#publisher?.stop();
  }

  /** This node's wallet, which earns and claims. */
  get address(): Address {
    return this.#c.identity.account.address;
  }

  /** Reads the chain's new events into the tables; resolves with the head read to. */
  sync(options: Options = {}): Promise<bigint> {
    const client = this.#c.chain.client;
    this.#open();
    // One scan at a time; a caller arriving meanwhile waits for it and then scans what is new.
    const run = (this.#syncing ?? Promise.resolve(0n)).catch(() => 0n).then(() =>
      scanRewardEvents(client, this.#store, this.address, options.signal)
    );
    this.#syncing = run;
    return run;
  }

  /** Every earning of this wallet, pool sales and epochs, each checked against the chain. */
  async listEarnings(options: Options = {}): Promise<{ pools: Earning[]; epochs: Earning[] }> {
    await this.sync(options);
    const schedule = await this.#readSchedule().catch(() => undefined);
    return deriveEarnings(this.#store, this.address, schedule as EpochClock | undefined);
  }

  /** The mining schedule, where it stands, and every epoch published. */
  async getMining(options: Options = {}): Promise<{ status: MiningStatus; epochs: EpochRow[] }> {
    await this.sync(options);
    const schedule = await this.#readSchedule();
    const epochs = this.#store.listEpochs();
    const state = await readMiningState(this.#c.chain.client, schedule);
    const published = epochs.reduce((sum, e) => sum + e.total, 0n);
    return {
      status: {
        ...schedule,
        ...state,
        allocationLeft: schedule.allocation > published ? schedule.allocation - published : 0n,
        isDistributor: schedule.distributor.toLowerCase() === this.address.toLowerCase(),
      },
      epochs,
    };
  }

  /**
   * Runs one round of the mining publisher now (it also runs on every new block): deals with every
   * ended epoch not recorded yet, in order; resolves with the epochs it recorded (none when this
   * wallet is not the distributor, or the publisher is off).
   */
  async publishEpochs(options: Options = {}): Promise<number[]> {
    this.#open();
    return await this.#publisher?.publishEnded(options) ?? [];
  }

  /**
   * Claims `distributionId` (or, without it, every claimable earning), one transaction each.
   * An earning already claimed is answered from the earlier claim, and nothing is sent for it.
   * @throws NotFoundError when `distributionId` owes this wallet nothing, or without it, when nothing does
   * @throws RewardUnverifiableError when its root or total do not match the chain's events
   */
  claim(
    distributionId: bigint | undefined,
    options: Options = {},
  ): Promise<{ claimed: RewardClaim[]; alreadyClaimed: RewardClaim[] }> {
    const run = this.#claims.catch(() => {}).then(() => this.#claim(distributionId, options));
    this.#claims = run;
    return run;
  }

  /** What {@link claim} would send and cost; sends nothing. */
  async previewClaim(
    distributionId: bigint | undefined,
    options: Options = {},
  ): Promise<{ fee: FeeEstimate; claims: RewardClaim[]; alreadyClaimed: RewardClaim[] }> {
    const client = this.#c.chain.client;
    const { pending, alreadyClaimed } = await this.#select(client, distributionId, options);
    const calls = pending.map((e) => getClaimRewardCall(client, this.#claimParams(e)));
    const fee = calls.length > 0
      ? await estimateCallFee(client, calls, { action: "claim rewards" })
      : toFeeEstimate(0n, await estimateFeesPerGas(client, "claim rewards"));
    const claims = pending.map((e) => ({ distributionId: e.distributionId, amount: e.amount, txHash: null }));
    return { fee, claims, alreadyClaimed };
  }

  async #claim(distributionId: bigint | undefined, options: Options) {
    const client = this.#c.chain.client;
    const { pending, alreadyClaimed } = await this.#select(client, distributionId, options);
    const claimed: RewardClaim[] = [];
    for (const e of pending) {
      options.signal?.throwIfAborted();
      const sent = await this.#c.chain.exclusive(() =>
        claimReward(client, { ...this.#claimParams(e), signal: options.signal })
      );
      this.#store.putClaim({
        distributionId: e.distributionId,
        index: e.index,
        account: this.address,
        amount: e.amount,
        txHash: sent.txHash,
      });
      this.#c.log.info("claimed a reward", {
        distributionId: e.distributionId.toString(),
        source: e.source,
        amount: e.amount.toString(),
      });
      claimed.push({ distributionId: e.distributionId, amount: e.amount, txHash: sent.txHash });
    }
    return { claimed, alreadyClaimed };
  }

  /** The earnings a claim of `distributionId` (or of all) sends, and those already claimed. */
  async #select(client: KosmosClient, distributionId: bigint | undefined, options: Options) {
    const { pools, epochs } = await this.listEarnings(options);
    const all = [...pools, ...epochs].sort((a, b) => compare(a.distributionId, b.distributionId));
    let chosen = all;
    if (distributionId === undefined && all.length === 0) {
      throw new NotFoundError(
        `This wallet (${this.address}) has no earnings to claim: join a pool, and its sales and mining epochs pay you`,
      );
    }
    if (distributionId !== undefined) {
      chosen = all.filter((e) => e.distributionId === distributionId);
      if (chosen.length === 0) {
        throw new NotFoundError(`Distribution ${distributionId} owes this wallet (${this.address}) nothing`);
      }
      const [e] = chosen;
      if (e.status === "unverifiable") {
        throw new RewardUnverifiableError(
          `Distribution ${distributionId} cannot be verified from the chain's events, so it is not claimed: ${e.reason}`,
        );
      }
    }
    const pending: Earning[] = [];
    const alreadyClaimed: RewardClaim[] = [];
    for (const e of chosen) {
      if (e.status === "unverifiable") continue;
      if (e.status === "claimed") {
        alreadyClaimed.push({ distributionId: e.distributionId, amount: e.amount, txHash: e.claimTxHash });
      } else if (await isRewardClaimed(client, e.distributionId, e.index)) {
        // Claimed by a transaction the scan has not read yet.
        alreadyClaimed.push({ distributionId: e.distributionId, amount: e.amount, txHash: null });
      } else pending.push(e);
    }
    return { pending, alreadyClaimed };
  }

  #claimParams(e: Earning) {
    return {
      distributionId: e.distributionId,
      index: e.index,
      account: this.address,
      amount: e.amount,
      proof: e.proof,
    };
  }

  /** Opens the tables for the chain's contracts (once per deployment). */
  #open(): void {
    const contracts = describeContracts(this.#c.chain.client);
    if (this.#opened === contracts) return;
    this.#store.open(this.#c.chain.chainId, contracts);
    this.#opened = contracts;
  }

  /** The schedule and distributor are immutable: read once per deployment. */
  #readSchedule(): Promise<MiningSchedule> {
    this.#schedule ??= getMiningSchedule(this.#c.chain.client).then((s) => ({
      ...s,
      start: BigInt(s.start),
      epochLength: BigInt(s.epochLength),
      halvingEpochs: BigInt(s.halvingEpochs),
    })).catch((err) => {
      this.#schedule = undefined;
      throw err;
    });
    return this.#schedule;
  }
}
