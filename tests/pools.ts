/**
 * Pools and rewards as tests check them: what the chain says (escrow sales, pool versions, sale
 * distributions, mining epochs, token balances, read with viem from the contracts' events), and the
 * distributions recomputed from those events with `protocol/rewards.ts`, so a test compares what a
 * node did with what anyone can derive.
 *
 * ```ts
 * const chain = poolChain(anvil.rpcUrl, dev.contracts);
 * const version = await chain.version(listingId); // VersionRegistered
 * const sale = await chain.completed(saleId); // escrow Completed
 * const { total, leaves } = poolSaleLeaves({ toSeller: sale.toSeller, feeBps, ...version });
 * ```
 */
import assert from "node:assert/strict";
import { type Address, createPublicClient, type Hex, http } from "viem";
import {
  kosmosEscrowAbi,
  kosmosMiningAbi,
  kosmosPoolsAbi,
  kosmosRewardsAbi,
  kosmosTokenAbi,
} from "../protocol/contracts_generated.ts";
import { buildDistribution, type RewardAmount } from "../protocol/rewards.ts";

/** The addresses these reads need (a dev chain's `contracts`). */
export interface PoolContracts {
  token: Address;
  escrow: Address;
  rewards: Address;
  pools: Address;
  mining: Address;
}

/** A registered pool version, as `VersionRegistered` says. */
export interface VersionOnChain {
  poolId: bigint;
  listingId: bigint;
  contributors: Address[];
  rows: bigint[];
}

/** A completed escrow sale: its listing (from `Opened`), its seller share and block time (from `Completed`). */
export interface SaleOnChain {
  saleId: Hex;
  listingId: bigint;
  toSeller: bigint;
  /** Seconds, the block time of `Completed`. */
  completedAt: bigint;
}

/** Reads of the token, escrow, rewards, pools and mining contracts on the chain at `rpcUrl`. */
export function poolChain(rpcUrl: string, contracts: PoolContracts) {
  const client = createPublicClient({ transport: http(rpcUrl), pollingInterval: 200 });
  const events = {
    opened: () =>
      client.getContractEvents({
        address: contracts.escrow,
        abi: kosmosEscrowAbi,
        eventName: "Opened",
        fromBlock: 0n,
      }),
    completed: () =>
      client.getContractEvents({
        address: contracts.escrow,
        abi: kosmosEscrowAbi,
        eventName: "Completed",
        fromBlock: 0n,
      }),
    pools: () =>
      client.getContractEvents({
        address: contracts.pools,
        abi: kosmosPoolsAbi,
        eventName: "PoolCreated",
        fromBlock: 0n,
      }),
    versions: () =>
      client.getContractEvents({
        address: contracts.pools,
        abi: kosmosPoolsAbi,
        eventName: "VersionRegistered",
        fromBlock: 0n,
      }),
    saleDistributions: () =>
      client.getContractEvents({
        address: contracts.pools,
        abi: kosmosPoolsAbi,
        eventName: "SaleDistributed",
        fromBlock: 0n,
      }),
    epochs: () =>
      client.getContractEvents({
        address: contracts.mining,
        abi: kosmosMiningAbi,
        eventName: "EpochPublished",
        fromBlock: 0n,
      }),
    claims: () =>
      client.getContractEvents({
        address: contracts.rewards,
        abi: kosmosRewardsAbi,
        eventName: "Claimed",
        fromBlock: 0n,
      }),
  };
  return {
    client,
    events,
    balanceOf: (account: Address) =>
      client.readContract({
        address: contracts.token,
        abi: kosmosTokenAbi,
        functionName: "balanceOf",
        args: [account],
      }),
    /** The version registered for registry listing `listingId`. */
    async version(listingId: bigint): Promise<VersionOnChain> {
      const found = (await events.versions()).find((e) => e.args.listingId === listingId);
      assert.ok(found, `VersionRegistered for listing ${listingId}`);
      const { poolId, contributors, rows } = found.args;
      return { poolId: poolId!, listingId, contributors: [...contributors!], rows: [...rows!] };
    },
    /** Every completed sale of `listingId`, oldest first. */
    async sales(listingId: bigint): Promise<SaleOnChain[]> {
      const opened = new Map((await events.opened()).map((e) => [e.args.saleId!, e.args.listingId!]));
      const out: SaleOnChain[] = [];
      for (const e of await events.completed()) {
        if (opened.get(e.args.saleId!) !== listingId) continue;
        const block = await client.getBlock({ blockNumber: e.blockNumber });
        out.push({
          saleId: e.args.saleId!,
          listingId,
          toSeller: e.args.toSeller!,
          completedAt: block.timestamp,
        });
      }
      return out;
    },
    /** Root, total and claimed amount of distribution `id` on the rewards contract. */
    async distribution(id: bigint): Promise<{ root: Hex; total: bigint; claimed: bigint }> {
      const [root, total, claimed] = await client.readContract({
        address: contracts.rewards,
        abi: kosmosRewardsAbi,
        functionName: "getDistribution",
        args: [id],
      });
      return { root, total, claimed };
    },
    /** The block time of the chain's latest block, in seconds. */
    async now(): Promise<bigint> {
      return (await client.getBlock()).timestamp;
    },
    mining: {
      epochLength: () =>
        client.readContract({ address: contracts.mining, abi: kosmosMiningAbi, functionName: "epochLength" }),
      start: () =>
        client.readContract({ address: contracts.mining, abi: kosmosMiningAbi, functionName: "start" }),
      epochReward: (epoch: bigint) =>
        client.readContract({
          address: contracts.mining,
          abi: kosmosMiningAbi,
          functionName: "epochReward",
          args: [epoch],
        }),
      epochEnd: (epoch: bigint) =>
        client.readContract({
          address: contracts.mining,
          abi: kosmosMiningAbi,
          functionName: "epochEnd",
          args: [epoch],
        }),
    },
  };
}

export type PoolChain = ReturnType<typeof poolChain>;

/** The Merkle root of `leaves`, as the rewards contract stores it. */
export function rootOf(leaves: RewardAmount[]): Hex {
  return buildDistribution(leaves).root;
}

/** `leaves` as a map from account (lowercase) to amount. */
export function amountsByAccount(leaves: RewardAmount[]): Map<string, bigint> {
  return new Map(leaves.map((l) => [l.account.toLowerCase(), l.amount]));
}
