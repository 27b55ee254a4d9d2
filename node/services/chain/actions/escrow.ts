/**
 * Escrow actions for the wallet: the withdrawable balance that completed key
 * sales credited (pull payments) and withdrawing it, per-listing sale
 * delegates, and the bad-data dispute (raise, rule as the arbiter, expire).
 *
 * ```ts
 * if (await getPayoutBalance(client) > 0n) await withdrawPayouts(client);
 * await setSaleDelegate(client, { listingId, delegate });
 * ```
 */
import { type Address, type Hex, isHex, parseEventLogs, size } from "viem";
import { kosmosEscrowAbi } from "../../../../protocol/contracts_generated.ts";
import type { Sale } from "../../../../protocol/quote.ts";
import { type ActionOptions, type KosmosClient, sendContractCall } from "../client.ts";

export interface GetPayoutBalanceParameters {
  /** @default the wallet's address */
  address?: Address;
}
export type GetPayoutBalanceReturnType = bigint;

/** Tokens the escrow holds for `address`, withdrawable now. */
export async function getPayoutBalance(
  client: KosmosClient,
  params: GetPayoutBalanceParameters = {},
): Promise<GetPayoutBalanceReturnType> {
  return await client.publicClient.readContract({
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "balanceOf",
    args: [params.address ?? client.walletClient.account.address],
  });
}

export type WithdrawPayoutsParameters = ActionOptions;
export interface WithdrawPayoutsReturnType {
  amount: bigint;
  hash: Hex;
}

/** Withdraws the wallet's whole escrow balance. Reverts `NothingToWithdraw` when it is zero. */
export async function withdrawPayouts(
  client: KosmosClient,
  params: WithdrawPayoutsParameters = {},
): Promise<WithdrawPayoutsReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "withdraw",
    args: [],
  }, { signal: params.signal, action: "withdraw payouts" });
  const [event] = parseEventLogs({ abi: kosmosEscrowAbi, eventName: "Withdrawn", logs: receipt.logs });
  return { amount: event?.args.amount ?? 0n, hash: receipt.transactionHash };
}

export interface SetSaleDelegateParameters extends ActionOptions {
  /** The wallet's listing the delegate may sell. */
  listingId: bigint;
  /** The wallet that may sign quotes and reveal keys for that listing. */
  delegate: Address;
  /** @default true */
  approved?: boolean;
}
export interface SetSaleDelegateReturnType {
  hash: Hex;
}

/**
 * Approves (or removes) a delegate that sells one of this wallet's listings on the escrow. Reverts
 * `NotListingOwner` unless the wallet owns the listing; a transfer of the listing drops the approval.
 */
export async function setSaleDelegate(
  client: KosmosClient,
  params: SetSaleDelegateParameters,
): Promise<SetSaleDelegateReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "setDelegate",
    args: [params.listingId, params.delegate, params.approved ?? true],
  }, { signal: params.signal, action: `set a sale delegate of listing ${params.listingId}` });
  return { hash: receipt.transactionHash };
}

export interface IsSaleDelegateParameters {
  listingId: bigint;
  delegate: Address;
}
export type IsSaleDelegateReturnType = boolean;

/**
 * Whether `delegate` may sign quotes and reveal keys for listing `listingId` on behalf of its current
 * owner (false for a listing that does not exist).
 */
export async function isSaleDelegate(
  client: KosmosClient,
  params: IsSaleDelegateParameters,
): Promise<IsSaleDelegateReturnType> {
  return await client.publicClient.readContract({
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "isDelegate",
    args: [params.listingId, params.delegate],
  });
}

export interface DisputeSaleParameters extends ActionOptions {
  saleId: Hex;
  /** The sale as last seen (from `Opened`, with `Revealed`'s `disputeDeadline`). */
  sale: Sale;
  /** keccak256 of the evidence the buyer hands the arbiter. */
  evidenceHash: Hex;
}
export interface DisputeSaleReturnType {
  /** The sale with `disputedAt` set, for the later calls. */
  sale: Sale;
  hash: Hex;
}

/** The buyer disputes a revealed sale as bad data inside the dispute window; freezes it for the arbiter. */
export async function disputeSale(
  client: KosmosClient,
  params: DisputeSaleParameters,
): Promise<DisputeSaleReturnType> {
  if (!isHex(params.evidenceHash, { strict: true }) || size(params.evidenceHash) !== 32) {
    throw new TypeError(
      `Cannot dispute sale "${params.saleId.slice(0, 10)}…": evidenceHash must be 32 bytes`,
    );
  }
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "dispute",
    args: [params.saleId, params.sale, params.evidenceHash],
  }, { signal: params.signal, action: `dispute sale ${params.saleId.slice(0, 10)}…` });
  const [event] = parseEventLogs({ abi: kosmosEscrowAbi, eventName: "Disputed", logs: receipt.logs });
  return {
    sale: { ...params.sale, disputedAt: Number(event.args.disputedAt) },
    hash: receipt.transactionHash,
  };
}

export interface ResolveSaleDisputeParameters extends ActionOptions {
  saleId: Hex;
  /** The disputed sale (with `disputedAt`). */
  sale: Sale;
  /** True refunds the buyer; false completes the sale. */
  bad: boolean;
}
export interface ResolveSaleDisputeReturnType {
  bad: boolean;
  hash: Hex;
}

/** The arbiter's ruling on a disputed sale (the registry's arbiter wallet only). */
export async function resolveSaleDispute(
  client: KosmosClient,
  params: ResolveSaleDisputeParameters,
): Promise<ResolveSaleDisputeReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "resolveDispute",
    args: [params.saleId, params.sale, params.bad],
  }, { signal: params.signal, action: `rule on sale ${params.saleId.slice(0, 10)}…` });
  return { bad: params.bad, hash: receipt.transactionHash };
}

export interface ExpireSaleDisputeParameters extends ActionOptions {
  saleId: Hex;
  /** The disputed sale (with `disputedAt`). */
  sale: Sale;
}
export interface ExpireSaleDisputeReturnType {
  hash: Hex;
}

/** Completes a disputed sale for the seller after the arbitration window passed without a ruling. */
export async function expireSaleDispute(
  client: KosmosClient,
  params: ExpireSaleDisputeParameters,
): Promise<ExpireSaleDisputeReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "expireDispute",
    args: [params.saleId, params.sale],
  }, { signal: params.signal, action: `expire the dispute of sale ${params.saleId.slice(0, 10)}…` });
  return { hash: receipt.transactionHash };
}
