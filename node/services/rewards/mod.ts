/**
 * Earnings and claims: what each pool sale's and each mining epoch's reward distribution owes this
 * node's wallet, recomputed from the chain's events with `protocol/rewards.ts` (`poolSaleLeaves`,
 * `epochLeaves`, `buildDistribution`) and checked against the root and total on `KosmosRewards`
 * (a distribution the events do not imply is `unverifiable` and never claimed); claims with
 * `KosmosRewards.claim`, idempotently (an earning already claimed answers with the earlier claim
 * and sends nothing; claims run one at a time, so a double request sends one transaction). On the
 * node whose wallet is `KosmosMining`'s distributor it also runs the mining publisher, which
 * publishes every ended epoch with sales, in order, once (`publisher.ts`).
 *
 * Tables: `rewards_cursor` (the last block read, per chain and contracts), `rewards_pools`
 * (`PoolCreated`: operator, fee), `rewards_versions` (`VersionRegistered`: contributors and rows per
 * listing), `rewards_sales` (escrow `Opened` listing, `Completed` seller share and block time),
 * `rewards_distributions` (`DistributionCreated`: root, total), `rewards_sale_distributions`
 * (`SaleDistributed`), `rewards_epochs` (`EpochPublished`), `rewards_claims` (this wallet's claims,
 * sent here or found in `Claimed` logs) and `rewards_published` (the epochs the publisher dealt
 * with, published or empty). No protocol, no events.
 *
 * ```ts
 * const rewards = node.components.rewards;
 * const { pools, epochs } = await rewards.listEarnings();
 * const { claimed, alreadyClaimed } = await rewards.claim(pools[0].distributionId);
 * const { status, epochs: published } = await rewards.getMining();
 * ```
 */
import { defineService } from "../../service.ts";
import { Rewards, type RewardsComponents, type RewardsInit } from "./rewards.ts";

export {
  type MiningStatus,
  type RewardClaim,
  Rewards,
  type RewardsComponents,
  type RewardsInit,
  RewardUnverifiableError,
} from "./rewards.ts";
export { deriveEarnings, type Earning, type EarningStatus, epochBounds, epochSales } from "./derive.ts";
export { endedEpochs, epochRewardOf, type MiningSchedule } from "./schedule.ts";
export type { EpochRow } from "./store.ts";

/** The `rewards` service; the mining publisher starts in `start()` when the chain has the contracts. */
export function rewards(init: RewardsInit = {}) {
  return defineService(
    "rewards",
    ["db", "chain", "identity"],
    (c: RewardsComponents) => new Rewards(c, init),
  );
}
