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
