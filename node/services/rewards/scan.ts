/**
 * Reads the chain's events the rewards service derives from, since its cursor: `PoolCreated` and
 * `VersionRegistered` (pools), `SaleDistributed` (pools), `EpochPublished` (mining),
 * `DistributionCreated` and this wallet's `Claimed` (rewards), and the escrow's `Opened` (a sale's
 * listing) and `Completed` (the seller's share and the block time). Every value is checked for its
 * type before it is stored; logs of other contracts or events are ignored.
 */
import {
  type Abi,
  type Address,
  getAddress,
  type Hex,
  isAddress,
  isHex,
  type Log,
  parseEventLogs,
} from "viem";
import {
  kosmosEscrowAbi,
  kosmosMiningAbi,
  kosmosPoolsAbi,
  kosmosRewardsAbi,
} from "../../../protocol/contracts_generated.ts";
import type { KosmosClient } from "../chain/mod.ts";
import type { RewardsStore, ScanBatch } from "./store.ts";

/** Most blocks read per `eth_getLogs`. */
const BATCH_BLOCKS = 2000n;

type Decoded = Log & { eventName: string; args: Record<string, unknown> };

/** The addresses whose events the service reads, as the cursor remembers them. */
export function describeContracts(client: KosmosClient): string {
  const c = client.contracts;
  return JSON.stringify([c.pools, c.mining, c.rewards, c.escrow].map((a) => a?.toLowerCase() ?? null));
}

/** Reads every block after the cursor up to the head into `store`; resolves with the head read to. */
export async function scanRewardEvents(
  client: KosmosClient,
  store: RewardsStore,
  me: Address,
  signal?: AbortSignal,
): Promise<bigint> {
  const { pools, mining, rewards, escrow } = client.contracts;
  const head = await client.publicClient.getBlockNumber({ cacheTime: 0 });
  let cursor = BigInt(store.block);
  const sources: [Address | undefined, Abi][] = [
    [pools, kosmosPoolsAbi],
    [mining, kosmosMiningAbi],
    [rewards, kosmosRewardsAbi],
    [escrow, kosmosEscrowAbi],
  ];
  const addresses = sources.map(([a]) => a).filter((a): a is Address => a !== undefined);
  while (cursor < head) {
    signal?.throwIfAborted();
    const from = cursor + 1n;
    const to = cursor + BATCH_BLOCKS < head ? cursor + BATCH_BLOCKS : head;
    const logs = await client.publicClient.getLogs({ address: addresses, fromBlock: from, toBlock: to });
    const decoded = sources.flatMap(([address, abi]) =>
      address === undefined ? [] : parseEventLogs({
        abi,
        logs: logs.filter((l) => l.address.toLowerCase() === address.toLowerCase()),
        strict: true,
      }) as unknown as Decoded[]
    ).sort((a, b) => Number(a.blockNumber! - b.blockNumber!) || a.logIndex! - b.logIndex!);
    const batch = await toBatch(client, decoded, { pools, mining, rewards, escrow }, me);
    store.store(batch, Number(to));
    cursor = to;
  }
  return head;
}

async function toBatch(
  client: KosmosClient,
  logs: Decoded[],
  at: { pools?: Address; mining?: Address; rewards?: Address; escrow?: Address },
  me: Address,
): Promise<ScanBatch> {
  const batch: ScanBatch = {
    pools: [],
    versions: [],
    opened: [],
    completed: [],
    distributions: [],
    saleDistributions: [],
    epochs: [],
    claims: [],
  };
  const times = new Map<bigint, number>();
  const from = (address: Address | undefined, log: Decoded) =>
    address !== undefined && log.address.toLowerCase() === address.toLowerCase();
  for (const log of logs) {
    const a = log.args;
    if (from(at.pools, log) && log.eventName === "PoolCreated") {
      batch.pools.push({
        poolId: uint(a.poolId),
        operator: address(a.operator),
        feeBps: Number(uint(a.feeBps)),
      });
    } else if (from(at.pools, log) && log.eventName === "VersionRegistered") {
      const contributors = list(a.contributors).map(address);
      const rows = list(a.rows).map(uint);
      if (contributors.length !== rows.length) continue;
      batch.versions.push({
        listingId: uint(a.listingId),
        poolId: uint(a.poolId),
        contributors,
        rows,
        blockNumber: Number(log.blockNumber),
        logIndex: log.logIndex!,
      });
    } else if (from(at.pools, log) && log.eventName === "SaleDistributed") {
      batch.saleDistributions.push({
        distributionId: uint(a.distributionId),
        poolId: uint(a.poolId),
        saleId: hash(a.saleId),
        listingId: uint(a.listingId),
        total: uint(a.total),
      });
    } else if (from(at.mining, log) && log.eventName === "EpochPublished") {
      const epoch = uint(a.epoch);
      if (epoch > BigInt(Number.MAX_SAFE_INTEGER)) continue;
      batch.epochs.push({
        epoch: Number(epoch),
        distributionId: uint(a.distributionId),
        root: hash(a.root),
        total: uint(a.total),
      });
    } else if (from(at.rewards, log) && log.eventName === "DistributionCreated") {
      batch.distributions.push({
        distributionId: uint(a.distributionId),
        funder: address(a.funder),
        root: hash(a.root),
        total: uint(a.total),
      });
    } else if (from(at.rewards, log) && log.eventName === "Claimed") {
      const account = address(a.account);
      if (account !== me) continue;
      batch.claims.push({
        distributionId: uint(a.distributionId),
        index: uint(a.index),
        account,
        amount: uint(a.amount),
        txHash: log.transactionHash!,
      });
    } else if (from(at.escrow, log) && log.eventName === "Opened") {
      batch.opened.push({ saleId: hash(a.saleId), listingId: uint(a.listingId) });
    } else if (from(at.escrow, log) && log.eventName === "Completed") {
      const blockNumber = log.blockNumber!;
      let time = times.get(blockNumber);
      if (time === undefined) {
        time = Number((await client.publicClient.getBlock({ blockNumber })).timestamp);
        times.set(blockNumber, time);
      }
      batch.completed.push({
        saleId: hash(a.saleId),
        toSeller: uint(a.toSeller),
        completedAt: time,
        blockNumber: Number(blockNumber),
        logIndex: log.logIndex!,
      });
    }
  }
  return batch;
}

function uint(value: unknown): bigint {
  if (typeof value === "bigint" && value >= 0n) return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new TypeError(`Expected an unsigned integer in a chain event, got ${typeof value}`);
}

function address(value: unknown): `0x${string}` {
  if (typeof value === "string" && isAddress(value, { strict: false })) return getAddress(value);
  throw new TypeError("Expected an address in a chain event");
}

function hash(value: unknown): Hex {
  if (typeof value === "string" && isHex(value) && value.length === 66) return value.toLowerCase() as Hex;
  throw new TypeError("Expected a 32-byte hash in a chain event");
}

function list(value: unknown): readonly unknown[] {
  if (Array.isArray(value)) return value;
  throw new TypeError("Expected a list in a chain event");
}
