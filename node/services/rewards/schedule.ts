/**
 * `KosmosMining`'s schedule as the rewards service reads it: the figures fixed at deployment, the
 * epochs ended at a time, each epoch's reward, and where the schedule stands on the chain's clock.
 */
import type { Address } from "viem";
import type { KosmosClient } from "../chain/mod.ts";

/** `KosmosMining`'s schedule, fixed at deployment. Times unix seconds. */
export interface MiningSchedule {
  start: bigint;
  /** Seconds. */
  epochLength: bigint;
  initialReward: bigint;
  halvingEpochs: bigint;
  allocation: bigint;
  /** Who publishes the epochs. */
  distributor: Address;
}

/** How many epochs have ended at `now` (unix seconds): epochs `0 … n-1`. */
export function endedEpochs(schedule: Pick<MiningSchedule, "start" | "epochLength">, now: bigint): number {
  if (now < schedule.start + schedule.epochLength) return 0;
  return Number((now - schedule.start) / schedule.epochLength);
}

/** Where the schedule stands at the chain's latest block. Times unix seconds. */
export async function readMiningState(client: KosmosClient, schedule: MiningSchedule) {
  const now = (await client.publicClient.getBlock({ blockTag: "latest" })).timestamp;
  const started = now >= schedule.start;
  const epoch = started ? (now - schedule.start) / schedule.epochLength : 0n;
  const halving = schedule.halvingEpochs > 0n
    ? (epoch / schedule.halvingEpochs + 1n) * schedule.halvingEpochs
    : 0n;
  const reward = epochRewardOf(schedule, epoch);
  return {
    currentEpoch: started ? Number(epoch) : null,
    currentReward: reward,
    epochEndsAt: Number(schedule.start + (epoch + 1n) * schedule.epochLength),
    nextHalvingEpoch: Number(halving),
    nextHalvingAt: Number(schedule.start + halving * schedule.epochLength),
  };
}

/** `initialReward >> (epoch / halvingEpochs)`, as `KosmosMining.epochReward` before its cap by what it holds. */
export function epochRewardOf(
  schedule: Pick<MiningSchedule, "initialReward" | "halvingEpochs">,
  epoch: bigint,
) {
  if (schedule.halvingEpochs === 0n) return schedule.initialReward;
  const halvings = epoch / schedule.halvingEpochs;
  return halvings >= 256n ? 0n : schedule.initialReward >> halvings;
}
