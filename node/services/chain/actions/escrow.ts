/**
 * Escrow actions for the wallet: the withdrawable balance that completed key
 * sales credited (pull payments), and withdrawing it.
 *
 * ```ts
 * if (await getPayoutBalance(client) > 0n) await withdrawPayouts(client);
 * ```
 */
import { type Address, type Hex, parseEventLogs } from "viem";
import { kosmosEscrowAbi } from "../../../../protocol/contracts_generated.ts";
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
  /** The wallet that may sign quotes and reveal keys for this wallet's listings. */
  delegate: Address;
  /** @default true */
  approved?: boolean;
}
export interface SetSaleDelegateReturnType {
  hash: Hex;
}

/** Approves (or removes) a delegate that sells this wallet's listings on the escrow. */
export async function setSaleDelegate(
  client: KosmosClient,
  params: SetSaleDelegateParameters,
): Promise<SetSaleDelegateReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "setDelegate",
    args: [params.delegate, params.approved ?? true],
  }, { signal: params.signal, action: "set sale delegate" });
  return { hash: receipt.transactionHash };
}

export interface IsSaleDelegateParameters {
  /** @default the wallet's address */
  owner?: Address;
  delegate: Address;
}
export type IsSaleDelegateReturnType = boolean;

/** Whether `delegate` may sign quotes and reveal keys for `owner`'s listings. */
export async function isSaleDelegate(
  client: KosmosClient,
  params: IsSaleDelegateParameters,
): Promise<IsSaleDelegateReturnType> {
  return await client.publicClient.readContract({
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "isDelegate",
    args: [params.owner ?? client.walletClient.account.address, params.delegate],
  });
}
