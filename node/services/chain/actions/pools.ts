/**
 * Pool actions on `KosmosPools`: create a pool from the hash of its signed terms, register a published
 * version (a registry listing the wallet owns) with its contributors and their rows, turn a completed
 * sale of a version into a rewards distribution, and read pools, versions and their events back.
 *
 * ```ts
 * const { poolId } = await createPool(client, { termsHash, feeBps: 500 });
 * await registerVersion(client, { poolId, listingId, contributors, rows });
 * const { total, leaves } = poolSaleLeaves({ toSeller, feeBps: 500, contributors, rows });
 * const { root } = buildDistribution(leaves);
 * const { distributionId } = await distributeSale(client, { saleId, listingId, toSeller, root, total });
 * ```
 */
import { type Address, getAddress, type Hex, parseEventLogs } from "viem";
import { kosmosPoolsAbi, kosmosTokenAbi } from "../../../../protocol/contracts_generated.ts";
import { MAX_POOL_FEE_BPS, MAX_VERSION_CONTRIBUTORS } from "../../../../protocol/rewards.ts";
import { type ActionOptions, type ContractCall, type KosmosClient, sendContractCall } from "../client.ts";
import { type SentTransaction, sentTransaction } from "./sent.ts";
import { ensureAllowance } from "./token.ts";

const UINT64_MAX = 2n ** 64n - 1n;

/** What a mined pools, mining or rewards transaction cost and where it is. */
export type SentRewardTransaction = SentTransaction;

export interface CreatePoolParameters extends ActionOptions {
  /** keccak256 of the pool terms' canonical JSON. */
  termsHash: Hex;
  /** The operator's fee, 0 to 5000 basis points. */
  feeBps: number;
}
export interface CreatePoolReturnType extends SentRewardTransaction {
  poolId: bigint;
}

/** The `createPool(termsHash, feeBps)` call from the wallet. */
export function getCreatePoolCall(
  client: KosmosClient,
  params: Pick<CreatePoolParameters, "termsHash" | "feeBps">,
): ContractCall {
  if (!Number.isInteger(params.feeBps) || params.feeBps < 0 || params.feeBps > MAX_POOL_FEE_BPS) {
    throw new RangeError(`Cannot create a pool: feeBps ${params.feeBps} is outside 0..${MAX_POOL_FEE_BPS}`);
  }
  return {
    address: client.contracts.pools,
    abi: kosmosPoolsAbi,
    functionName: "createPool",
    args: [params.termsHash, params.feeBps],
  };
}

/** Creates a pool operated by the wallet. */
export async function createPool(
  client: KosmosClient,
  params: CreatePoolParameters,
): Promise<CreatePoolReturnType> {
  const receipt = await sendContractCall(client, getCreatePoolCall(client, params), {
    signal: params.signal,
    action: "create the pool",
  });
  const [event] = parseEventLogs({ abi: kosmosPoolsAbi, logs: receipt.logs, eventName: "PoolCreated" });
  if (!event) throw new Error(`Cannot create a pool: no PoolCreated event in ${receipt.transactionHash}`);
  return { poolId: event.args.poolId, ...sentTransaction(receipt) };
}

export interface RegisterVersionParameters extends ActionOptions {
  poolId: bigint;
  /** The registry listing of the version, owned by the wallet. */
  listingId: bigint;
  /** Contributors in any order; each at most once. */
  contributors: readonly Address[];
  /** Released rows per contributor, same order; contributors with 0 rows are left out (owed nothing). */
  rows: readonly bigint[];
}

/**
 * The contributors and rows as the contract takes them: zero rows left out, sorted by address.
 * @throws {RangeError} on a length mismatch, no contributor with rows, more than 256, or rows above 2^64-1
 * @throws {TypeError} on a contributor that is not an address or appears twice
 */
export function toVersionContributors(
  contributors: readonly Address[],
  rows: readonly bigint[],
): { contributors: Address[]; rows: bigint[] } {
  if (contributors.length !== rows.length) {
    throw new RangeError(
      `Cannot register a version: ${contributors.length} contributors but ${rows.length} rows`,
    );
  }
  const entries = contributors.map((c, i) => {
    const r = rows[i];
    if (typeof r !== "bigint" || r < 0n || r > UINT64_MAX) {
      throw new RangeError(`Cannot register a version: rows of ${c} must be in 0..2^64-1`);
    }
    return { account: getAddress(c), rows: r };
  }).filter((e) => e.rows > 0n).sort((a, b) => {
    const x = a.account.toLowerCase();
    const y = b.account.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  });
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].account === entries[i - 1].account) {
      throw new TypeError(`Cannot register a version: contributor ${entries[i].account} appears twice`);
    }
  }
  if (entries.length === 0 || entries.length > MAX_VERSION_CONTRIBUTORS) {
    throw new RangeError(
      `Cannot register a version: ${entries.length} contributors with rows, expected 1..${MAX_VERSION_CONTRIBUTORS}`,
    );
  }
  return { contributors: entries.map((e) => e.account), rows: entries.map((e) => e.rows) };
}

/** The `registerVersion(poolId, listingId, contributors, rows)` call, contributors sorted as the contract wants. */
export function getRegisterVersionCall(
  client: KosmosClient,
  params: Pick<RegisterVersionParameters, "poolId" | "listingId" | "contributors" | "rows">,
): ContractCall {
  const { contributors, rows } = toVersionContributors(params.contributors, params.rows);
  return {
    address: client.contracts.pools,
    abi: kosmosPoolsAbi,
    functionName: "registerVersion",
    args: [params.poolId, params.listingId, contributors, rows],
  };
}

/** Registers listing `listingId` as a version of pool `poolId`. */
export async function registerVersion(
  client: KosmosClient,
  params: RegisterVersionParameters,
): Promise<SentRewardTransaction> {
  const receipt = await sendContractCall(client, getRegisterVersionCall(client, params), {
    signal: params.signal,
    action: `register listing ${params.listingId} as a version of pool ${params.poolId}`,
  });
  return sentTransaction(receipt);
}

export interface DistributeSaleParameters extends ActionOptions {
  /** The escrow sale (`Completed.saleId`). */
  saleId: Hex;
  /** The version sold (`Opened.listingId`). */
  listingId: bigint;
  /** The seller share of the sale (`Completed.toSeller`). */
  toSeller: bigint;
  /** Root of `buildDistribution(poolSaleLeaves(…).leaves)`. */
  root: Hex;
  /** `poolSaleLeaves(…).total`: `toSeller` minus the pool's fee. */
  total: bigint;
}
export interface DistributeSaleReturnType extends SentRewardTransaction {
  distributionId: bigint;
  /** The approval of the pools contract, when one was needed. */
  approveTxHash?: Hex;
}

/** The `distributeSale(saleId, listingId, toSeller, root, total)` call (the approval of `total` comes first). */
export function getDistributeSaleCall(
  client: KosmosClient,
  params: Pick<DistributeSaleParameters, "saleId" | "listingId" | "toSeller" | "root" | "total">,
): ContractCall {
  return {
    address: client.contracts.pools,
    abi: kosmosPoolsAbi,
    functionName: "distributeSale",
    args: [params.saleId, params.listingId, params.toSeller, params.root, params.total],
  };
}

/** The calls {@link distributeSale} sends, for a fee preview: the approval first when the allowance falls short. */
export async function getDistributeSaleCalls(
  client: KosmosClient,
  params: Pick<DistributeSaleParameters, "saleId" | "listingId" | "toSeller" | "root" | "total">,
): Promise<ContractCall[]> {
  const call = getDistributeSaleCall(client, params);
  const allowance = await client.publicClient.readContract({
    address: client.contracts.token,
    abi: kosmosTokenAbi,
    functionName: "allowance",
    args: [client.walletClient.account.address, client.contracts.pools],
  });
  if (allowance >= params.total) return [call];
  const approve: ContractCall = {
    address: client.contracts.token,
    abi: kosmosTokenAbi,
    functionName: "approve",
    args: [client.contracts.pools, params.total],
  };
  return [approve, call];
}

/**
 * Approves the pools contract for `total` when needed, then distributes the sale: `total` leaves the
 * wallet for a new rewards distribution (the wallet must hold it: withdraw the escrow payout first).
 */
export async function distributeSale(
  client: KosmosClient,
  params: DistributeSaleParameters,
): Promise<DistributeSaleReturnType> {
  const { hash: approveTxHash } = await ensureAllowance(client, {
    spender: client.contracts.pools,
    amount: params.total,
    signal: params.signal,
  });
  const receipt = await sendContractCall(client, getDistributeSaleCall(client, params), {
    signal: params.signal,
    action: `distribute sale ${params.saleId}`,
  });
  const [event] = parseEventLogs({ abi: kosmosPoolsAbi, logs: receipt.logs, eventName: "SaleDistributed" });
  if (!event) {
    throw new Error(
      `Cannot distribute sale ${params.saleId}: no SaleDistributed event in ${receipt.transactionHash}`,
    );
  }
  return {
    distributionId: event.args.distributionId,
    ...(approveTxHash ? { approveTxHash } : {}),
    ...sentTransaction(receipt),
  };
}

export interface PoolOnChain {
  poolId: bigint;
  operator: Address;
  feeBps: number;
  /** Unix seconds. */
  createdAt: number;
  termsHash: Hex;
}

/** Pool `poolId`; `undefined` when there is none. */
export async function getPool(client: KosmosClient, poolId: bigint): Promise<PoolOnChain | undefined> {
  const count = await client.publicClient.readContract({
    address: client.contracts.pools,
    abi: kosmosPoolsAbi,
    functionName: "poolCount",
  });
  if (poolId < 1n || poolId > count) return undefined;
  const p = await client.publicClient.readContract({
    address: client.contracts.pools,
    abi: kosmosPoolsAbi,
    functionName: "getPool",
    args: [poolId],
  });
  return {
    poolId,
    operator: p.operator,
    feeBps: p.feeBps,
    createdAt: Number(p.createdAt),
    termsHash: p.termsHash,
  };
}

export interface VersionOnChain {
  listingId: bigint;
  poolId: bigint;
  contributorCount: number;
  /** Unix seconds. */
  registeredAt: number;
  totalRows: bigint;
  /** keccak256(abi.encode(contributors, rows)); the lists are in the `VersionRegistered` event. */
  contributorsHash: Hex;
}

/** The version registered for `listingId`; `undefined` when the listing is no pool version. */
export async function getVersion(
  client: KosmosClient,
  listingId: bigint,
): Promise<VersionOnChain | undefined> {
  const v = await client.publicClient.readContract({
    address: client.contracts.pools,
    abi: kosmosPoolsAbi,
    functionName: "getVersion",
    args: [listingId],
  });
  if (v.poolId === 0n) return undefined;
  return {
    listingId,
    poolId: v.poolId,
    contributorCount: v.contributorCount,
    registeredAt: Number(v.registeredAt),
    totalRows: v.totalRows,
    contributorsHash: v.contributorsHash,
  };
}

/** The distribution sale `saleId` became; `undefined` when it was not distributed. */
export async function getSaleDistribution(client: KosmosClient, saleId: Hex): Promise<bigint | undefined> {
  const id = await client.publicClient.readContract({
    address: client.contracts.pools,
    abi: kosmosPoolsAbi,
    functionName: "saleDistribution",
    args: [saleId],
  });
  return id === 0n ? undefined : id;
}

export interface VersionRegisteredLog {
  poolId: bigint;
  listingId: bigint;
  contributors: Address[];
  rows: bigint[];
  transactionHash: Hex;
  blockNumber: bigint;
}

/** The `VersionRegistered` events (of one pool or listing when given), from `fromBlock` (default 0). */
export async function getVersionRegisteredLogs(
  client: KosmosClient,
  params: { poolId?: bigint; listingId?: bigint; fromBlock?: bigint } = {},
): Promise<VersionRegisteredLog[]> {
  const logs = await client.publicClient.getContractEvents({
    address: client.contracts.pools,
    abi: kosmosPoolsAbi,
    eventName: "VersionRegistered",
    args: { poolId: params.poolId, listingId: params.listingId },
    fromBlock: params.fromBlock ?? 0n,
    toBlock: "latest",
  });
  return logs.map((log) => ({
    poolId: log.args.poolId!,
    listingId: log.args.listingId!,
    contributors: [...log.args.contributors!],
    rows: [...log.args.rows!],
    transactionHash: log.transactionHash,
    blockNumber: log.blockNumber,
  }));
}

export interface SaleDistributedLog {
  poolId: bigint;
  saleId: Hex;
  listingId: bigint;
  distributionId: bigint;
  sellerShare: bigint;
  fee: bigint;
  total: bigint;
  transactionHash: Hex;
  blockNumber: bigint;
}

/** The `SaleDistributed` events (of one pool when given), from `fromBlock` (default 0). */
export async function getSaleDistributedLogs(
  client: KosmosClient,
  params: { poolId?: bigint; fromBlock?: bigint } = {},
): Promise<SaleDistributedLog[]> {
  const logs = await client.publicClient.getContractEvents({
    address: client.contracts.pools,
    abi: kosmosPoolsAbi,
    eventName: "SaleDistributed",
    args: { poolId: params.poolId },
    fromBlock: params.fromBlock ?? 0n,
    toBlock: "latest",
  });
  return logs.map((log) => ({
    poolId: log.args.poolId!,
    saleId: log.args.saleId!,
    listingId: log.args.listingId!,
    distributionId: log.args.distributionId!,
    sellerShare: log.args.sellerShare!,
    fee: log.args.fee!,
    total: log.args.total!,
    transactionHash: log.transactionHash,
    blockNumber: log.blockNumber,
  }));
}
