/**
 * Mining actions on `KosmosMining`: read the schedule and an epoch's reward, publish an ended epoch as
 * a rewards distribution (the distributor's wallet only), and read published epochs back.
 *
 * ```ts
 * const schedule = await getMiningSchedule(client);
 * const { total, leaves } = epochLeaves({ reward: await getEpochReward(client, epoch), sales });
 * if (leaves.length > 0) await publishEpoch(client, { epoch, root: buildDistribution(leaves).root, total });
 * ```
 */
import { type Address, type Hex, parseEventLogs } from "viem";
import { kosmosMiningAbi } from "../../../../protocol/contracts_generated.ts";
import { type ActionOptions, type ContractCall, type KosmosClient, sendContractCall } from "../client.ts";
import { sentTransaction } from "./sent.ts";
import type { SentRewardTransaction } from "./pools.ts";

export interface MiningSchedule {
  /** Unix seconds epoch 0 starts at. */
  start: number;
  /** Seconds per epoch. */
  epochLength: number;
  /** Tokens each epoch pays before the first halving. */
  initialReward: bigint;
  /** Epochs between two halvings. */
  halvingEpochs: number;
  /** Tokens the contract held when deployed. */
  allocation: bigint;
  /** Who publishes the epochs. */
  distributor: Address;
}

/** The mining contract's schedule. */
export async function getMiningSchedule(client: KosmosClient): Promise<MiningSchedule> {
  const read = <
    F extends "start" | "epochLength" | "initialReward" | "halvingEpochs" | "allocation" | "distributor",
  >(
    functionName: F,
  ) =>
    client.publicClient.readContract({
      address: client.contracts.mining,
      abi: kosmosMiningAbi,
      functionName,
    });
  const [start, epochLength, initialReward, halvingEpochs, allocation, distributor] = await Promise.all([
    read("start"),
    read("epochLength"),
    read("initialReward"),
    read("halvingEpochs"),
    read("allocation"),
    read("distributor"),
  ]);
  return {
    start: Number(start),
    epochLength: Number(epochLength),
    initialReward,
    halvingEpochs: Number(halvingEpochs),
    allocation,
    distributor,
  };
}

/** The most epoch `epoch` may pay: `initialReward >> (epoch / halvingEpochs)`. */
export async function getEpochReward(client: KosmosClient, epoch: bigint): Promise<bigint> {
  return await client.publicClient.readContract({
    address: client.contracts.mining,
    abi: kosmosMiningAbi,
    functionName: "epochReward",
    args: [epoch],
  });
}

/** The distribution epoch `epoch` became; `undefined` when not published. */
export async function getEpochDistribution(client: KosmosClient, epoch: bigint): Promise<bigint | undefined> {
  const id = await client.publicClient.readContract({
    address: client.contracts.mining,
    abi: kosmosMiningAbi,
    functionName: "epochDistribution",
    args: [epoch],
  });
  return id === 0n ? undefined : id;
}

/** The epoch a block at unix time `time` falls in; `undefined` before `start`. */
export function epochAt(
  schedule: Pick<MiningSchedule, "start" | "epochLength">,
  time: number | bigint,
): bigint | undefined {
  const t = BigInt(time);
  const start = BigInt(schedule.start);
  return t < start ? undefined : (t - start) / BigInt(schedule.epochLength);
}

/** First unix second after epoch `epoch`: `start + (epoch + 1) * epochLength`. */
export function epochEndOf(schedule: Pick<MiningSchedule, "start" | "epochLength">, epoch: bigint): bigint {
  return BigInt(schedule.start) + (epoch + 1n) * BigInt(schedule.epochLength);
}

export interface PublishEpochParameters extends ActionOptions {
  epoch: bigint;
  /** Root of `buildDistribution(epochLeaves(…).leaves)`. */
  root: Hex;
  /** `epochLeaves(…).total`, at most the epoch's reward. */
  total: bigint;
}
export interface PublishEpochReturnType extends SentRewardTransaction {
  distributionId: bigint;
}

/** The `publishEpoch(epoch, root, total)` call from the wallet. */
export function getPublishEpochCall(
  client: KosmosClient,
  params: Pick<PublishEpochParameters, "epoch" | "root" | "total">,
): ContractCall {
  return {
    address: client.contracts.mining,
    abi: kosmosMiningAbi,
    functionName: "publishEpoch",
    args: [params.epoch, params.root, params.total],
  };
}

/** Publishes ended epoch `epoch` (the wallet must be the distributor). */
export async function publishEpoch(
  client: KosmosClient,
  params: PublishEpochParameters,
): Promise<PublishEpochReturnType> {
  const receipt = await sendContractCall(client, getPublishEpochCall(client, params), {
    signal: params.signal,
    action: `publish mining epoch ${params.epoch}`,
  });
  const [event] = parseEventLogs({ abi: kosmosMiningAbi, logs: receipt.logs, eventName: "EpochPublished" });
  if (!event) {
    throw new Error(
      `Cannot publish epoch ${params.epoch}: no EpochPublished event in ${receipt.transactionHash}`,
    );
  }
  return { distributionId: event.args.distributionId, ...sentTransaction(receipt) };
}

export interface EpochPublishedLog {
  epoch: bigint;
  distributionId: bigint;
  root: Hex;
  total: bigint;
  transactionHash: Hex;
  blockNumber: bigint;
}

/** The `EpochPublished` events from `fromBlock` (default 0). */
export async function getEpochPublishedLogs(
  client: KosmosClient,
  params: { fromBlock?: bigint } = {},
): Promise<EpochPublishedLog[]> {
  const logs = await client.publicClient.getContractEvents({
    address: client.contracts.mining,
    abi: kosmosMiningAbi,
    eventName: "EpochPublished",
    fromBlock: params.fromBlock ?? 0n,
    toBlock: "latest",
  });
  return logs.map((log) => ({
    epoch: log.args.epoch!,
    distributionId: log.args.distributionId!,
    root: log.args.root!,
    total: log.args.total!,
    transactionHash: log.transactionHash,
    blockNumber: log.blockNumber,
  }));
}
