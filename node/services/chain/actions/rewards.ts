/**
 * Reward claims on `KosmosRewards`: claim one leaf of a distribution (anyone may submit it; the tokens
 * go to the leaf's account), whether a leaf was claimed, and a distribution's root and totals.
 *
 * ```ts
 * const leaf = buildDistribution(leaves).leaves.find((l) => l.account === me)!;
 * if (!(await isRewardClaimed(client, distributionId, leaf.index))) {
 *   await claimReward(client, { distributionId, ...leaf });
 * }
 * ```
 */
import type { Address, Hex } from "viem";
import { kosmosRewardsAbi } from "../../../../protocol/contracts_generated.ts";
import { type ActionOptions, type ContractCall, type KosmosClient, sendContractCall } from "../client.ts";
import { sentTransaction } from "./sent.ts";
import type { SentRewardTransaction } from "./pools.ts";

export interface ClaimRewardParameters extends ActionOptions {
  distributionId: bigint;
  index: bigint;
  account: Address;
  amount: bigint;
  proof: readonly Hex[];
}

/** The `claim(distributionId, index, account, amount, proof)` call from the wallet. */
export function getClaimRewardCall(
  client: KosmosClient,
  params: Pick<ClaimRewardParameters, "distributionId" | "index" | "account" | "amount" | "proof">,
): ContractCall {
  return {
    address: client.contracts.rewards,
    abi: kosmosRewardsAbi,
    functionName: "claim",
    args: [params.distributionId, params.index, params.account, params.amount, params.proof],
  };
}

/** Claims leaf `index` of `distributionId`; the contract refuses a second claim (`AlreadyClaimed`). */
export async function claimReward(
  client: KosmosClient,
  params: ClaimRewardParameters,
): Promise<SentRewardTransaction> {
  const receipt = await sendContractCall(client, getClaimRewardCall(client, params), {
    signal: params.signal,
    action: `claim leaf ${params.index} of distribution ${params.distributionId}`,
  });
  return sentTransaction(receipt);
}

/** Whether leaf `index` of `distributionId` was claimed. */
export async function isRewardClaimed(
  client: KosmosClient,
  distributionId: bigint,
  index: bigint,
): Promise<boolean> {
  return await client.publicClient.readContract({
    address: client.contracts.rewards,
    abi: kosmosRewardsAbi,
    functionName: "isClaimed",
    args: [distributionId, index],
  });
}

export interface RewardDistributionOnChain {
  distributionId: bigint;
  root: Hex;
  total: bigint;
  claimed: bigint;
}

/** Distribution `distributionId`; `undefined` when there is none. */
export async function getRewardDistribution(
  client: KosmosClient,
  distributionId: bigint,
): Promise<RewardDistributionOnChain | undefined> {
  const [root, total, claimed] = await client.publicClient.readContract({
    address: client.contracts.rewards,
    abi: kosmosRewardsAbi,
    functionName: "getDistribution",
    args: [distributionId],
  });
  if (BigInt(root) === 0n) return undefined;
  return { distributionId, root, total, claimed };
}
