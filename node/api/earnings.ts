/**
 * Earnings (`EarningsApi`): what each pool sale and each mining epoch owes this wallet, claims, and
 * the mining schedule. Records of the `rewards` service mapped to views: ids and amounts as decimal
 * strings, times in ms.
 */
import type {
  ClaimView,
  EarningsApi,
  EarningView,
  MiningEpochView,
  MiningScheduleView,
} from "../../protocol/api/earnings.ts";
import type { Earning, EpochRow, MiningStatus, RewardClaim, Rewards } from "../services/rewards/mod.ts";
import { toFeeView, withGasUsed } from "./fees.ts";

export interface EarningsApiComponents {
  rewards: Rewards;
}

export function createEarningsApi(c: EarningsApiComponents): EarningsApi {
  const { rewards } = c;
  const toId = (id: string | undefined) => (id === undefined ? undefined : BigInt(id));
  return {
    async getEarnings(options = {}) {
      const [{ pools, epochs }, mining] = await Promise.all([
        rewards.listEarnings(options),
        rewards.getMining(options).catch(() => undefined),
      ]);
      const verified = [...pools, ...epochs].filter((e) => e.status !== "unverifiable");
      const sum = (list: Earning[]) => list.reduce((s, e) => s + e.amount, 0n).toString();
      return {
        pools: pools.map(toEarningView),
        epochs: epochs.map(toEarningView),
        schedule: mining ? toScheduleView(mining.status) : null,
        total: sum(verified),
        claimable: sum(verified.filter((e) => e.status === "claimable")),
      };
    },
    async claimEarnings(params, options = {}) {
      return await withGasUsed(async () => {
        const { claimed, alreadyClaimed } = await rewards.claim(toId(params.distributionId), options);
        return { claimed: claimed.map(toClaimView), alreadyClaimed: alreadyClaimed.map(toClaimView) };
      });
    },
    async previewClaimEarnings(params, options = {}) {
      const r = await rewards.previewClaim(toId(params.distributionId), options);
      return {
        preview: true,
        fee: toFeeView(r.fee),
        claims: r.claims.map(toClaimView),
        alreadyClaimed: r.alreadyClaimed.map(toClaimView),
      };
    },
    async getMining(options = {}) {
      const { status, epochs } = await rewards.getMining(options);
      return { schedule: toScheduleView(status), epochs: epochs.map(toEpochView) };
    },
  };
}

export function toEarningView(e: Earning): EarningView {
  return {
    distributionId: e.distributionId.toString(),
    source: e.source,
    ...(e.poolId !== undefined && { poolId: e.poolId.toString() }),
    ...(e.saleId !== undefined && { saleId: e.saleId }),
    ...(e.listingId !== undefined && { listingId: e.listingId.toString() }),
    ...(e.epoch !== undefined && { epoch: e.epoch }),
    amount: e.amount.toString(),
    claimed: e.status === "claimed",
    claimTxHash: e.claimTxHash,
    status: e.status,
    ...(e.reason !== undefined && { reason: e.reason }),
  };
}

function toClaimView(c: RewardClaim): ClaimView {
  return { distributionId: c.distributionId.toString(), amount: c.amount.toString(), txHash: c.txHash };
}

function toEpochView(e: EpochRow): MiningEpochView {
  return {
    epoch: e.epoch,
    distributionId: e.distributionId.toString(),
    root: e.root,
    total: e.total.toString(),
  };
}

function toScheduleView(s: MiningStatus): MiningScheduleView {
  return {
    start: Number(s.start) * 1000,
    epochLength: Number(s.epochLength) * 1000,
    initialReward: s.initialReward.toString(),
    halvingEpochs: Number(s.halvingEpochs),
    allocation: s.allocation.toString(),
    currentEpoch: s.currentEpoch,
    currentReward: s.currentReward.toString(),
    epochEndsAt: s.epochEndsAt * 1000,
    nextHalvingEpoch: s.nextHalvingEpoch,
    nextHalvingAt: s.nextHalvingAt * 1000,
    allocationLeft: s.allocationLeft.toString(),
    distributor: s.distributor,
    isDistributor: s.isDistributor,
  };
}
