/**
 * What each distribution owes this wallet, recomputed from the chain's events with
 * `protocol/rewards.ts`, and checked against the root and total the chain holds. A pool sale's
 * distribution splits the sale's `toSeller` (escrow `Completed`) minus the pool's fee among the
 * version's contributors (`VersionRegistered`) pro rata to rows (`poolSaleLeaves`); an epoch's
 * splits its published total among the contributors of the versions sold in the epoch
 * (`epochLeaves` over {@link epochSales}). A distribution whose root or total differ from what the
 * events imply is `unverifiable`, and is never claimed.
 */
import type { Address, Hex } from "viem";
import {
  buildDistribution,
  epochLeaves,
  type EpochSale,
  poolSaleLeaves,
  type RewardAmount,
} from "../../../protocol/rewards.ts";
import type { RewardsStore } from "./store.ts";

/** How far a derived earning stands. */
export type EarningStatus = "claimable" | "claimed" | "unverifiable";

/** What one distribution owes this wallet, with the leaf and proof to claim it. */
export interface Earning {
  distributionId: bigint;
  source: "pool" | "mining";
  /** Pool sales: the pool, the escrow sale and the version's listing. */
  poolId?: bigint;
  saleId?: Hex;
  listingId?: bigint;
  /** Mining: the epoch. */
  epoch?: number;
  amount: bigint;
  index: bigint;
  proof: Hex[];
  status: EarningStatus;
  /** Why it is `unverifiable`. */
  reason?: string;
  /** The transaction that claimed it, when this wallet's claim is known. */
  claimTxHash: Hex | null;
}

/** The mining schedule's timing, unix seconds. */
export interface EpochClock {
  start: bigint;
  epochLength: bigint;
}

/** `[from, to)` of `epoch`, unix seconds. */
export function epochBounds(clock: EpochClock, epoch: number): { from: number; to: number } {
  const from = clock.start + BigInt(epoch) * clock.epochLength;
  return { from: Number(from), to: Number(from + clock.epochLength) };
}

/**
 * The sales that count for `epoch`: every escrow sale that completed in the epoch (block time in
 * `[start + epoch × length, start + (epoch + 1) × length)`) of a listing registered as a pool version
 * before the sale completed; a version sold twice counts twice.
 */
export function epochSales(store: RewardsStore, clock: EpochClock, epoch: number): EpochSale[] {
  const { from, to } = epochBounds(clock, epoch);
  return store.listSoldVersions(from, to).map(({ version }) => ({
    contributors: version.contributors,
    rows: version.rows,
  }));
}

/** Every earning of `me` the stored events show, pool sales then epochs, each by distribution id. */
export function deriveEarnings(
  store: RewardsStore,
  me: Address,
  clock: EpochClock | undefined,
): { pools: Earning[]; epochs: Earning[] } {
  const pools: Earning[] = [];
  for (const d of store.listSaleDistributions()) {
    const version = store.getVersion(d.listingId);
    if (!version || !version.contributors.some((c) => sameAddress(c, me))) continue;
    const base = { distributionId: d.distributionId, source: "pool" as const, poolId: d.poolId };
    const sale = store.getSale(d.saleId);
    const pool = store.getPool(d.poolId);
    const earning = { ...base, saleId: d.saleId, listingId: d.listingId };
    if (!pool || version.poolId !== d.poolId) {
      pools.push(unverifiable(earning, `pool ${d.poolId} did not register listing ${d.listingId}`));
      continue;
    }
    if (sale?.toSeller === undefined || sale.listingId !== d.listingId) {
      pools.push(unverifiable(earning, `sale ${d.saleId} is not a completed sale of listing ${d.listingId}`));
      continue;
    }
    const split = poolSaleLeaves({
      toSeller: sale.toSeller,
      feeBps: pool.feeBps,
      contributors: version.contributors,
      rows: version.rows,
    });
    const mine = check(store, me, earning, split.leaves);
    if (mine) pools.push(mine);
  }
  const epochs: Earning[] = [];
  if (clock) {
    for (const e of store.listEpochs()) {
      const sales = epochSales(store, clock, e.epoch);
      if (!sales.some((s) => s.contributors.some((c) => sameAddress(c, me)))) continue;
      const { leaves } = epochLeaves({ reward: e.total, sales });
      const mine = check(
        store,
        me,
        { distributionId: e.distributionId, source: "mining", epoch: e.epoch },
        leaves,
      );
      if (mine) epochs.push(mine);
    }
  }
  return { pools, epochs };
}

type EarningBase = Pick<Earning, "distributionId" | "source" | "poolId" | "saleId" | "listingId" | "epoch">;

/**
 * `base` with this wallet's leaf of `leaves`, checked against the distribution on chain; `undefined`
 * when the events give this wallet nothing (its share rounds to 0).
 */
function check(
  store: RewardsStore,
  me: Address,
  base: EarningBase,
  leaves: RewardAmount[],
): Earning | undefined {
  if (!leaves.some((l) => sameAddress(l.account, me))) return undefined;
  const built = buildDistribution(leaves);
  const leaf = built.leaves.find((l) => sameAddress(l.account, me))!;
  const onChain = store.getDistribution(base.distributionId);
  const claim = store.getClaim(base.distributionId, leaf.index);
  const earning: Earning = {
    ...base,
    amount: leaf.amount,
    index: leaf.index,
    proof: leaf.proof,
    status: claim ? "claimed" : "claimable",
    claimTxHash: claim?.txHash ?? null,
  };
  if (!onChain) {
    return { ...earning, status: "unverifiable", reason: "no such distribution on the rewards contract" };
  }
  if (onChain.root.toLowerCase() !== built.root.toLowerCase()) {
    return {
      ...earning,
      status: claim ? "claimed" : "unverifiable",
      reason: `its root ${onChain.root} is not the root ${built.root} the chain's events imply`,
    };
  }
  if (onChain.total !== built.total) {
    return {
      ...earning,
      status: claim ? "claimed" : "unverifiable",
      reason: `it holds ${onChain.total}, the chain's events imply ${built.total}`,
    };
  }
  return earning;
}

function unverifiable(base: EarningBase, reason: string): Earning {
  return { ...base, amount: 0n, index: 0n, proof: [], status: "unverifiable", reason, claimTxHash: null };
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
