/**
 * Token actions: balances, transfers, allowances and EIP-2612 permits of the
 * Kosmos token.
 *
 * ```ts
 * const balance = await getTokenBalance(client);
 * await transferToken(client, { to, amount: 1000n * 10n ** 18n });
 * ```
 */
import type { Address, Hex } from "viem";
import { hexToSignature } from "viem";
import { kosmosTokenAbi } from "../../../../protocol/contracts_generated.ts";
import { type ActionOptions, type KosmosClient, sendContractCall } from "../client.ts";

export interface GetTokenBalanceParameters {
  /** @default the wallet's address */
  address?: Address;
}
export type GetTokenBalanceReturnType = bigint;

/** The token balance of `address`, in the token's smallest unit. */
export async function getTokenBalance(
  client: KosmosClient,
  params: GetTokenBalanceParameters = {},
): Promise<GetTokenBalanceReturnType> {
  return await client.publicClient.readContract({
    address: client.contracts.token,
    abi: kosmosTokenAbi,
    functionName: "balanceOf",
    args: [params.address ?? client.walletClient.account.address],
  });
}

export interface TransferTokenParameters extends ActionOptions {
  to: Address;
  amount: bigint;
}
export interface TransferTokenReturnType {
  hash: Hex;
}

/** Sends `amount` tokens from the wallet to `to`. */
export async function transferToken(
  client: KosmosClient,
  params: TransferTokenParameters,
): Promise<TransferTokenReturnType> {
  if (params.amount <= 0n) throw new RangeError(`Cannot transfer ${params.amount} tokens: not positive`);
  const receipt = await sendContractCall(client, {
    address: client.contracts.token,
    abi: kosmosTokenAbi,
    functionName: "transfer",
    args: [params.to, params.amount],
  }, { signal: params.signal, action: "transfer tokens" });
  return { hash: receipt.transactionHash };
}

export interface EnsureAllowanceParameters extends ActionOptions {
  spender: Address;
  amount: bigint;
}
export interface EnsureAllowanceReturnType {
  /** The approval's transaction, when one was needed. */
  hash?: Hex;
}

/** Approves `spender` for `amount` unless the wallet's allowance already covers it. */
export async function ensureAllowance(
  client: KosmosClient,
  params: EnsureAllowanceParameters,
): Promise<EnsureAllowanceReturnType> {
  const owner = client.walletClient.account.address;
  const allowance = await client.publicClient.readContract({
    address: client.contracts.token,
    abi: kosmosTokenAbi,
    functionName: "allowance",
    args: [owner, params.spender],
  });
  if (allowance >= params.amount) return {};
  const receipt = await sendContractCall(client, {
    address: client.contracts.token,
    abi: kosmosTokenAbi,
    functionName: "approve",
    args: [params.spender, params.amount],
  }, { signal: params.signal, action: "approve tokens" });
  return { hash: receipt.transactionHash };
}

/** EIP-712 types of an EIP-2612 `Permit`, as the token contract hashes them. */
export const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

export interface SignPermitParameters {
  spender: Address;
  value: bigint;
  /** Unix seconds. @default one hour after the latest block's timestamp */
  deadline?: bigint;
}
export interface SignPermitReturnType {
  deadline: bigint;
  v: number;
  r: Hex;
  s: Hex;
}

/** Signs an EIP-2612 permit letting `spender` pull `value` tokens from the wallet. */
export async function signPermit(
  client: KosmosClient,
  params: SignPermitParameters,
): Promise<SignPermitReturnType> {
  const owner = client.walletClient.account.address;
  const [[, name, version, chainId, verifyingContract], nonce, latest] = await Promise.all([
    client.publicClient.readContract({
      address: client.contracts.token,
      abi: kosmosTokenAbi,
      functionName: "eip712Domain",
    }),
    client.publicClient.readContract({
      address: client.contracts.token,
      abi: kosmosTokenAbi,
      functionName: "nonces",
      args: [owner],
    }),
    params.deadline === undefined ? client.publicClient.getBlock({ blockTag: "latest" }) : undefined,
  ]);
  // An hour from the chain's own clock, which can run ahead of this machine's (dev chains, test time travel).
  const deadline = params.deadline ?? (latest!.timestamp + 3600n);
  const signature = await client.walletClient.signTypedData({
    account: client.walletClient.account,
    domain: { name, version, chainId, verifyingContract },
    types: PERMIT_TYPES,
    primaryType: "Permit",
    message: { owner, spender: params.spender, value: params.value, nonce, deadline },
  });
  const { v, r, s } = hexToSignature(signature);
  return { deadline, v: Number(v), r, s };
}
